import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { decodeYolox, decodeYoloxDetections, yoloxFamily } from "../lib/families/yolox.ts";
import type { DetectorAdapter } from "../lib/families/family.ts";
import type { ImageFrame } from "../lib/geometry/frame.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { imageToTensor } from "../lib/image/preprocess.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import type { Box, OutputTensor } from "../lib/types.ts";

const NUM_CLASSES = 3;
const ROW = 5 + NUM_CLASSES;

/** A 128×128 image in a 64×64 input (scale 0.5): 8² + 4² + 2² = 84 anchor points. */
const FRAME: ImageFrame = {
  imageWidth: 128,
  imageHeight: 128,
  inputWidth: 64,
  inputHeight: 64,
  scaleX: 0.5,
  scaleY: 0.5,
  padX: 0,
  padY: 0,
  contentWidth: 64,
  contentHeight: 64,
};

/** The YOLOX family's adapter for a manifest. */
function createYoloxAdapter(manifest: ModelManifest): DetectorAdapter {
  return yoloxFamily.createAdapter(manifest, {}) as DetectorAdapter;
}
/** Each stride's grid: its side in cells and the index of its first anchor point. */
const GRID = [
  { stride: 8, size: 8, first: 0 },
  { stride: 16, size: 4, first: 64 },
  { stride: 32, size: 2, first: 80 },
];
const ANCHORS = 84;

/** An all-zero [1, n, 5 + 3] output with the given rows set (row index → values). */
function output(n: number, rows: Record<number, number[]>): OutputTensor {
  const data = new Float32Array(n * ROW);
  for (const [i, values] of Object.entries(rows)) data.set(values, Number(i) * ROW);
  return { data, dims: [1, n, ROW] };
}

/** A row with box values, objectness and the three class scores. */
const row = (
  box: number[],
  objectness: number,
  classes: number[],
) => [...box, objectness, ...classes];

const f32 = Math.fround;

Deno.test("decodeYolox: one anchor at each stride decodes to (x + gridX)·s, exp(w)·s", () => {
  for (const { stride, size, first } of GRID) {
    const gx = size - 1, gy = Math.floor(size / 2); // a cell away from the origin
    const index = first + gy * size + gx; // row-major within the stride's grid
    const [x, y, w, h] = [0.25, 0.5, Math.log(2), 0];
    const out = output(ANCHORS, { [index]: row([x, y, w, h], 0.8, [0.5, 0.1, 0]) });
    const boxes = decodeYolox(out, FRAME, { scoreThreshold: 0.3 });
    const cx = (x + gx) * stride, cy = (y + gy) * stride, bw = 2 * stride, bh = stride;
    // Input pixels / scale 0.5 = image pixels, then clipped to 128×128.
    const clip = (v: number) => Math.min(Math.max(v, 0), 128);
    assertEquals(boxes.length, 1, `stride ${stride}`);
    const b = boxes[0];
    assertAlmostEquals(b.x1, clip((cx - bw / 2) * 2), 1e-4, `x1 at stride ${stride}`);
    assertAlmostEquals(b.y1, clip((cy - bh / 2) * 2), 1e-4, `y1 at stride ${stride}`);
    assertAlmostEquals(b.x2, clip((cx + bw / 2) * 2), 1e-4, `x2 at stride ${stride}`);
    assertAlmostEquals(b.y2, clip((cy + bh / 2) * 2), 1e-4, `y2 at stride ${stride}`);
    // Score = objectness × person class score.
    assertEquals(b.score, f32(f32(0.8) * f32(0.5)));
  }
});

Deno.test("decodeYolox: the threshold applies to objectness × class score", () => {
  // Class score 0.5 alone passes 0.3, but 0.5 × 0.5 = 0.25 does not.
  const out = output(ANCHORS, { 10: row([0, 0, 0, 0], 0.5, [0.5, 0, 0]) });
  assertEquals(decodeYolox(out, FRAME, { scoreThreshold: 0.3 }), []);
  assertEquals(decodeYolox(out, FRAME, { scoreThreshold: 0.2 }).length, 1);
});

Deno.test("decodeYolox: boxes of another class do not suppress persons (class-wise NMS)", () => {
  // Decoded outputs: cx, cy, w, h in input pixels. Both boxes nearly coincide (IoU 0.9).
  const out = output(2, {
    0: row([30, 30, 20, 20], 0.9, [0, 1, 0]), // class 1, score 0.9
    1: row([31, 30, 20, 20], 0.8, [1, 0, 0]), // person, score 0.8
  });
  const persons = decodeYolox(out, FRAME, { scoreThreshold: 0.1, decoded: true });
  assertEquals(persons.map((b) => [b.x1, b.y1, b.x2, b.y2]), [[42, 40, 82, 80]]);
  // Class-agnostic NMS lets the better box of class 1 remove the person.
  assertEquals(
    decodeYolox(out, FRAME, { scoreThreshold: 0.1, decoded: true, classAgnostic: true }),
    [],
  );
  // All classes survive in the full detections.
  const all = decodeYoloxDetections(out, FRAME, { scoreThreshold: 0.1, decoded: true });
  assertEquals(all.map((d) => d.classId), [1, 0]);
});

Deno.test("decodeYolox: overlapping persons are NMSed at nmsIou", () => {
  const out = output(3, {
    0: row([30, 30, 20, 20], 0.7, [1, 0, 0]),
    1: row([31, 30, 20, 20], 0.9, [1, 0, 0]), // IoU with box 0: 19·20 / (2·400 − 380) ≈ 0.90
    2: row([40, 30, 20, 20], 0.8, [1, 0, 0]), // IoU with box 1: 11·20 / (800 − 220) ≈ 0.38
  });
  const scores = (boxes: Box[]) => boxes.map((b) => b.score);
  const opts = { scoreThreshold: 0.1, decoded: true };
  assertEquals(scores(decodeYolox(out, FRAME, { ...opts, nmsIou: 0.45 })), [f32(0.9), f32(0.8)]);
  assertEquals(scores(decodeYolox(out, FRAME, { ...opts, nmsIou: 0.3 })), [f32(0.9)]);
  assertEquals(scores(decodeYolox(out, FRAME, { ...opts, nmsIou: 0.95 })), [
    f32(0.9),
    f32(0.8),
    f32(0.7),
  ]);
});

Deno.test("decodeYoloxDetections: an anchor confident for two classes yields both", () => {
  const out = output(1, { 0: row([30, 30, 20, 20], 1, [0.6, 0, 0.7]) });
  const all = decodeYoloxDetections(out, FRAME, { scoreThreshold: 0.5, decoded: true });
  assertEquals(all.map((d) => [d.classId, d.box.score]), [[2, f32(0.7)], [0, f32(0.6)]]);
  // Class-agnostic decoding takes each anchor's best class only.
  const agnostic = decodeYoloxDetections(out, FRAME, {
    scoreThreshold: 0.5,
    decoded: true,
    classAgnostic: true,
  });
  assertEquals(agnostic.map((d) => d.classId), [2]);
});

Deno.test("decodeYolox equals the person boxes of the all-class decode (random outputs)", () => {
  let seed = 3;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 20; trial++) {
    const data = new Float32Array(ANCHORS * ROW);
    for (let a = 0; a < ANCHORS; a++) {
      data.set([rand(), rand(), rand() - 0.5, rand() - 0.5, rand()], a * ROW);
      for (let c = 0; c < NUM_CLASSES; c++) data[a * ROW + 5 + c] = rand();
    }
    const out = { data, dims: [1, ANCHORS, ROW] };
    for (const classAgnostic of [false, true]) {
      const opts = { scoreThreshold: 0.2, nmsIou: 0.45, classAgnostic };
      const expected = decodeYoloxDetections(out, FRAME, opts)
        .filter((d) => d.classId === 0)
        .map((d) => d.box);
      assertEquals(decodeYolox(out, FRAME, opts), expected);
    }
  }
});

Deno.test("decodeYolox: a grid that does not match the input size says so", () => {
  assertThrows(() => decodeYolox(output(80, {}), FRAME, { scoreThreshold: 0.1 }), Error, "decoded");
  assertThrows(
    () => decodeYolox(output(84, {}), FRAME, { scoreThreshold: 0.1, personClass: 3 }),
    Error,
    "person class 3",
  );
});

const MANIFEST: ModelManifest = {
  name: "yolox_test",
  task: "detector",
  family: "yolox",
  file: "yolox_test.onnx",
  input: {
    name: "images",
    width: 64,
    height: 64,
    resize: "letterbox",
    padValue: 100,
    colorOrder: "bgr",
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
  outputs: { output: "raw" },
};

Deno.test("yoloxFamily.createAdapter: input spec and options from the manifest", () => {
  const adapter = createYoloxAdapter({
    ...MANIFEST,
    options: { decoded: true, nmsIou: 0.95, personClass: 2 },
  });
  assertEquals(adapter.input, {
    name: "images",
    resize: { kind: "letterbox", width: 64, height: 64, padValue: 100, centred: false },
    normalization: { colorOrder: "bgr", mean: [0, 0, 0], std: [1, 1, 1] },
  });
  const out = output(2, {
    0: row([30, 30, 20, 20], 0.9, [0, 0, 1]),
    1: row([31, 30, 20, 20], 0.8, [0, 0, 1]),
  });
  // personClass 2, and nmsIou 0.95 keeps both overlapping boxes.
  assertEquals(
    adapter.decode({ raw: out }, FRAME, { scoreThreshold: 0.1, keypointScoreThreshold: 0 }).length,
    2,
  );
  assertThrows(
    () => createYoloxAdapter({ ...MANIFEST, options: { nmsIou: "high" } }),
    Error,
    "nmsIou",
  );
});

function iou(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const ih = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const area = (r: Box) => (r.x2 - r.x1) * (r.y2 - r.y1);
  return (iw * ih) / (area(a) + area(b) - iw * ih);
}

const MODEL = ["models", "yolox_nano.onnx"];
const IMAGE = ["coco", "val2017", "000000000785.jpg"];

Deno.test({
  name: "real YOLOX-nano: output shape on a blank input, and the person of COCO image 785",
  ignore: ignoreWithoutShared(...MODEL) || ignoreWithoutShared(...IMAGE),
  async fn() {
    const session = await ModelSession.load(requireShared(...MODEL));
    try {
      const manifest: ModelManifest = JSON.parse(
        await Deno.readTextFile(new URL("../models/yolox_nano.json", import.meta.url)),
      );
      const adapter = createYoloxAdapter(manifest);

      const blank = await session.run("images", new Float32Array(3 * 416 * 416), [1, 3, 416, 416]);
      assertEquals(blank.output.dims, [1, 3549, 85]);

      const image = await readImageFile(requireShared(...IMAGE));
      const { data, dims, frame } = imageToTensor(image, adapter.input);
      const boxes = adapter.decode(await session.run("images", data, dims), frame, {
        scoreThreshold: 0.3,
        keypointScoreThreshold: 0,
      });
      const truth = { x1: 280.79, y1: 44.73, x2: 280.79 + 218.7, y2: 44.73 + 346.68, score: 1 };
      assert(boxes.length >= 1, "no person found");
      assert(iou(boxes[0], truth) > 0.8, `best box ${JSON.stringify(boxes[0])} misses the person`);
    } finally {
      await session.release();
    }
  },
});
