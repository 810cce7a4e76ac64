import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { decodeRtmdet, rtmdetFamily } from "../lib/families/rtmdet.ts";
import type { DetectorAdapter } from "../lib/families/family.ts";
import type { ImageFrame } from "../lib/geometry/frame.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { imageToTensor } from "../lib/image/preprocess.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import type { Box, OutputTensor } from "../lib/types.ts";

/** A 640×480 image letterboxed into 320×320: scale 0.5, content 320×240, padding below. */
const FRAME: ImageFrame = {
  imageWidth: 640,
  imageHeight: 480,
  inputWidth: 320,
  inputHeight: 320,
  scaleX: 0.5,
  scaleY: 0.5,
  padX: 0,
  padY: 0,
  contentWidth: 320,
  contentHeight: 240,
};

/** The RTMDet family's adapter for a manifest. */
function createRtmdetAdapter(manifest: ModelManifest): DetectorAdapter {
  return rtmdetFamily.createAdapter(manifest, {}) as DetectorAdapter;
}

function outputs(rows: number[][], labels: number[]): { dets: OutputTensor; labels: OutputTensor } {
  return {
    dets: { data: Float32Array.from(rows.flat()), dims: [1, rows.length, 5] },
    labels: { data: Float32Array.from(labels), dims: [1, labels.length] },
  };
}

const MANIFEST: ModelManifest = {
  name: "rtmdet_test",
  task: "detector",
  family: "rtmdet",
  file: "rtmdet_test.onnx",
  input: {
    name: "input",
    width: 320,
    height: 320,
    resize: "letterbox",
    colorOrder: "bgr",
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
  },
  outputs: { dets: "out_boxes", labels: "out_labels" },
};

Deno.test("decodeRtmdet keeps persons above the threshold, in image pixels, best first", () => {
  const { dets, labels } = outputs(
    [
      [10, 20, 110, 220, 0.6], // person
      [0, 0, 50, 50, 0.95], // label 1: not a person
      [30, 40, 60, 80, 0.9], // person, the best one
      [5, 5, 25, 25, 0.2], // person below the threshold
    ],
    [0, 1, 0, 0],
  );
  const boxes = decodeRtmdet(dets, labels, FRAME, { scoreThreshold: 0.3 });
  // Input pixels / 0.5 = image pixels; the letterbox has no offset.
  const expected: Box[] = [
    { x1: 60, y1: 80, x2: 120, y2: 160, score: dets.data[14] },
    { x1: 20, y1: 40, x2: 220, y2: 440, score: dets.data[4] },
  ];
  assertEquals(boxes, expected);
});

Deno.test("decodeRtmdet: the person label is configurable", () => {
  const { dets, labels } = outputs([[10, 20, 110, 220, 0.6], [0, 0, 50, 50, 0.95]], [0, 2]);
  const boxes = decodeRtmdet(dets, labels, FRAME, { scoreThreshold: 0.3, personLabel: 2 });
  assertEquals(boxes.map((b) => [b.x1, b.y1, b.x2, b.y2]), [[0, 0, 100, 100]]);
});

Deno.test("decodeRtmdet clips to the image and drops boxes lying in the padding", () => {
  const { dets, labels } = outputs(
    [
      [300, 200, 330, 260, 0.8], // → 600,400,660,520 → clipped to 640×480
      [-10, -4, 20, 30, 0.7], // → −20,−8,40,60 → clipped at 0
      [10, 250, 50, 300, 0.9], // → y from 500: entirely below the image
    ],
    [0, 0, 0],
  );
  const boxes = decodeRtmdet(dets, labels, FRAME, { scoreThreshold: 0.1 });
  assertEquals(boxes.map((b) => [b.x1, b.y1, b.x2, b.y2]), [[600, 400, 640, 480], [0, 0, 40, 60]]);
});

Deno.test("decodeRtmdet: zero detections and malformed shapes", () => {
  const empty = outputs([], []);
  assertEquals(decodeRtmdet(empty.dets, empty.labels, FRAME, { scoreThreshold: 0 }), []);
  const { dets } = outputs([[0, 0, 1, 1, 1]], [0]);
  assertThrows(
    () =>
      decodeRtmdet(dets, { data: new Float32Array(2), dims: [1, 2] }, FRAME, { scoreThreshold: 0 }),
    Error,
    '"labels" must be',
  );
  assertThrows(
    () =>
      decodeRtmdet({ data: new Float32Array(4), dims: [1, 1, 4] }, dets, FRAME, {
        scoreThreshold: 0,
      }),
    Error,
    '"dets" must be',
  );
});

Deno.test("rtmdetFamily.createAdapter: input spec from the manifest and outputs by role", () => {
  const adapter = createRtmdetAdapter({ ...MANIFEST, options: { personClass: 1 } });
  assertEquals(adapter.task, "detector");
  assertEquals(adapter.input, {
    name: "input",
    resize: { kind: "letterbox", width: 320, height: 320, padValue: 114, centred: false },
    normalization: {
      colorOrder: "bgr",
      mean: [103.53, 116.28, 123.675],
      std: [57.375, 57.12, 58.395],
    },
  });
  const { dets, labels } = outputs([[10, 20, 110, 220, 0.6], [2, 4, 6, 8, 0.7]], [0, 1]);
  const boxes = adapter.decode({ out_boxes: dets, out_labels: labels }, FRAME, {
    scoreThreshold: 0.5,
    keypointScoreThreshold: 0,
  });
  assertEquals(boxes.map((b) => [b.x1, b.y1, b.x2, b.y2]), [[4, 8, 12, 16]]);
  assertThrows(
    () => adapter.decode({ dets, labels }, FRAME, { scoreThreshold: 0, keypointScoreThreshold: 0 }),
    Error,
    "role",
  );
});

Deno.test("rtmdetFamily.createAdapter: manifest errors name the field; every known resize is accepted", () => {
  const noMean = { ...MANIFEST, input: { ...MANIFEST.input, mean: undefined } };
  assertThrows(() => createRtmdetAdapter(noMean as unknown as ModelManifest), Error, "input.mean");
  const shorter: ModelManifest = {
    ...MANIFEST,
    input: { ...MANIFEST.input, resize: "shorter-side" },
  };
  // The export takes any H and W, so DETR-style resizing is the manifest's choice to make.
  assertEquals(createRtmdetAdapter(shorter).input.resize.kind, "shorter-side");
  // "stretch" (RT-DETR's plain resize) is a known resize now; a made-up one is refused by name.
  const stretch: ModelManifest = { ...MANIFEST, input: { ...MANIFEST.input, resize: "stretch" } };
  assertEquals(createRtmdetAdapter(stretch).input.resize, {
    kind: "stretch",
    width: 320,
    height: 320,
  });
  const unknown = { ...MANIFEST, input: { ...MANIFEST.input, resize: "crop" } };
  assertThrows(() => createRtmdetAdapter(unknown as unknown as ModelManifest), Error, '"crop"');
  const badOption: ModelManifest = { ...MANIFEST, options: { personClass: "person" } };
  assertThrows(() => createRtmdetAdapter(badOption), Error, "personClass");
});

function iou(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const ih = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const area = (r: Box) => (r.x2 - r.x1) * (r.y2 - r.y1);
  return (iw * ih) / (area(a) + area(b) - iw * ih);
}

const MODEL = ["models", "rtmdet_nano_person.onnx"];
const IMAGE = ["coco", "val2017", "000000000785.jpg"];

Deno.test({
  name: "real RTMDet-nano: output shapes on a blank input, and the person of COCO image 785",
  ignore: ignoreWithoutShared(...MODEL) || ignoreWithoutShared(...IMAGE),
  async fn() {
    const session = await ModelSession.load(requireShared(...MODEL));
    try {
      const manifest: ModelManifest = JSON.parse(
        await Deno.readTextFile(new URL("../models/rtmdet_nano_person.json", import.meta.url)),
      );
      const adapter = createRtmdetAdapter(manifest);

      const blank = await session.run("input", new Float32Array(3 * 320 * 320), [1, 3, 320, 320]);
      const n = blank.dets.dims[1];
      assertEquals(blank.dets.dims, [1, n, 5]);
      assertEquals(blank.labels.dims, [1, n]);

      const image = await readImageFile(requireShared(...IMAGE));
      const { data, dims, frame } = imageToTensor(image, adapter.input);
      const boxes = adapter.decode(await session.run("input", data, dims), frame, {
        scoreThreshold: 0.3,
        keypointScoreThreshold: 0,
      });
      // COCO's only person annotation in image 785, bbox [x, y, w, h].
      const truth = { x1: 280.79, y1: 44.73, x2: 280.79 + 218.7, y2: 44.73 + 346.68, score: 1 };
      assert(boxes.length >= 1, "no person found");
      assert(iou(boxes[0], truth) > 0.8, `best box ${JSON.stringify(boxes[0])} misses the person`);
      for (const b of boxes) {
        assert(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= image.width && b.y2 <= image.height);
      }
      assertAlmostEquals(frame.scaleX, 320 / 640, 1e-12);
      assertAlmostEquals(frame.scaleY, 320 / 640, 1e-12);
      assertEquals([frame.padX, frame.padY], [0, 0]);
    } finally {
      await session.release();
    }
  },
});
