import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { decodeDetr, detrFamily } from "../lib/families/detr.ts";
import type { DetectorAdapter } from "../lib/families/family.ts";
import type { ImageFrame } from "../lib/geometry/frame.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import type { Box, OutputTensor } from "../lib/types.ts";
import { imageToTensor } from "../lib/image/preprocess.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import {
  buildDetrPersonModel,
  createImage,
  drawPersonBody,
  imageToInput,
} from "./support/synthetic_models.ts";

// onnxruntime-web's threaded WASM sometimes never returns from a run of the synthetic graphs in
// Deno (see tests/prtr_test.ts); they are tiny, so they run on one thread (the first session of
// the process fixes the thread count).
const ONE_THREAD = { backend: "wasm", threads: 1 } as const;

/** The DETR family's adapter for a manifest. */
function createDetrAdapter(manifest: ModelManifest): DetectorAdapter {
  return detrFamily.createAdapter(manifest, {}) as DetectorAdapter;
}

/** Decode settings with the given score threshold (DETR does not rescore keypoints). */
function settings(scoreThreshold: number) {
  return { scoreThreshold, keypointScoreThreshold: 0 };
}

/**
 * A 600×400 image under DETR's shorter-side resize (800, at most 1333): scale 2, the network
 * sees 1200×800 with no padding, so normalized 1.0 is 600 image pixels across and 400 down.
 */
const SHORTER_SIDE_FRAME: ImageFrame = {
  imageWidth: 600,
  imageHeight: 400,
  inputWidth: 1200,
  inputHeight: 800,
  scaleX: 2,
  scaleY: 2,
  padX: 0,
  padY: 0,
  contentWidth: 1200,
  contentHeight: 800,
};

/** COCO DETR logits (92 per query) that are 0 except the listed class logits. */
function cocoLogits(rows: Record<number, number>[]): OutputTensor {
  const data = new Float32Array(rows.length * 92);
  rows.forEach((row, q) => {
    for (const [c, v] of Object.entries(row)) data[q * 92 + Number(c)] = v;
  });
  return { data, dims: [1, rows.length, 92] };
}

function boxes(rows: number[][]): OutputTensor {
  return { data: Float32Array.from(rows.flat()), dims: [1, rows.length, 4] };
}

function assertBox(actual: Box, expected: Box, tolerance = 1e-4): void {
  for (const key of ["x1", "y1", "x2", "y2", "score"] as const) {
    assertAlmostEquals(actual[key], expected[key], tolerance, key);
  }
}

Deno.test("decodeDetr: person score is the softmax probability of class 1 over all 92 logits", () => {
  // With 91 other logits at 0 (each exp = 1), a person logit of ln(91) gives 91/(91+91) = 0.5,
  // ln(273) gives 273/(273+91) = 0.75, and all-zero logits give 1/92 ≈ 0.011.
  const logits = cocoLogits([{ 1: Math.log(91) }, { 1: Math.log(273) }, {}]);
  const result = decodeDetr(
    logits,
    boxes([[0.5, 0.5, 0.2, 0.5], [0.3, 0.4, 0.2, 0.2], [0.5, 0.5, 1, 1]]),
    SHORTER_SIDE_FRAME,
    { scoreThreshold: 0.3 },
  );
  assertEquals(result.length, 2);
  // Best first: query 1 (0.75) before query 0 (0.5); the 1/92 query is below the threshold.
  // Query 1: cx 0.3·600 = 180, w 0.2·600 = 120 → 120..240; cy 0.4·400 = 160, h 80 → 120..200.
  assertBox(result[0], { x1: 120, y1: 120, x2: 240, y2: 200, score: 0.75 });
  // Query 0: cx 300, w 120 → 240..360; cy 200, h 200 → 100..300.
  assertBox(result[1], { x1: 240, y1: 100, x2: 360, y2: 300, score: 0.5 });
});

Deno.test("decodeDetr: the no-object logit takes probability away from the person", () => {
  // Person logit ln(91), no-object (class 91) logit ln(182): 91 / (90 + 91 + 182) = 91/363.
  const result = decodeDetr(
    cocoLogits([{ 1: Math.log(91), 91: Math.log(182) }]),
    boxes([[0.5, 0.5, 0.1, 0.1]]),
    SHORTER_SIDE_FRAME,
    { scoreThreshold: 0 },
  );
  assertAlmostEquals(result[0].score, 91 / 363, 1e-6);
});

Deno.test("decodeDetr: boxes past the image edge are clipped to it", () => {
  // cx 0.95·600 = 570 ± 60 → 510..630 → 510..600; cy 0.1·400 = 40 ± 80 → −40..120 → 0..120.
  const result = decodeDetr(
    cocoLogits([{ 1: 10 }]),
    boxes([[0.95, 0.1, 0.2, 0.4]]),
    SHORTER_SIDE_FRAME,
    { scoreThreshold: 0.5 },
  );
  assertEquals(result.length, 1);
  assertBox(result[0], { x1: 510, y1: 0, x2: 600, y2: 120, score: result[0].score });
});

Deno.test("decodeDetr: a score equal to the threshold is kept, one just below is dropped", () => {
  // Person-only logits: [0, 0] gives exactly 1/2; [-0.01, 0] gives a little less.
  const logits: OutputTensor = { data: Float32Array.of(0, 0, -0.01, 0), dims: [1, 2, 2] };
  const twoBoxes = boxes([[0.5, 0.5, 0.1, 0.1], [0.5, 0.5, 0.1, 0.1]]);
  const kept = decodeDetr(logits, twoBoxes, SHORTER_SIDE_FRAME, { scoreThreshold: 0.5 });
  assertEquals(kept.length, 1);
  assertEquals(kept[0].score, 0.5);
});

Deno.test("decodeDetr: a person-only model (2 logits) uses class 0 unless told otherwise", () => {
  // softmax([2, 0])[0] = 1 / (1 + e^-2); softmax([0, 2])[0] = 1 / (1 + e^2).
  const logits: OutputTensor = { data: Float32Array.of(2, 0, 0, 2), dims: [1, 2, 2] };
  const twoBoxes = boxes([[0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.1, 0.1]]);
  const result = decodeDetr(logits, twoBoxes, SHORTER_SIDE_FRAME, { scoreThreshold: 0 });
  assertAlmostEquals(result[0].score, 1 / (1 + Math.exp(-2)), 1e-6);
  assertAlmostEquals(result[1].score, 1 / (1 + Math.exp(2)), 1e-6);
  // The first query's box: 300 ± 150, 200 ± 100.
  assertBox(result[0], { x1: 150, y1: 100, x2: 450, y2: 300, score: result[0].score });
  // An explicit personClass 0 gives the same; class 1 is the no-object class and is refused.
  assertEquals(
    decodeDetr(logits, twoBoxes, SHORTER_SIDE_FRAME, { scoreThreshold: 0, personClass: 0 }),
    result,
  );
  assertThrows(
    () => decodeDetr(logits, twoBoxes, SHORTER_SIDE_FRAME, { scoreThreshold: 0, personClass: 1 }),
    Error,
    "personClass",
  );
});

Deno.test("decodeDetr: an unknown class count needs personClass", () => {
  const logits: OutputTensor = { data: new Float32Array(81), dims: [1, 1, 81] };
  assertThrows(
    () =>
      decodeDetr(logits, boxes([[0.5, 0.5, 0.1, 0.1]]), SHORTER_SIDE_FRAME, { scoreThreshold: 0 }),
    Error,
    "personClass",
  );
  // With it, class 5 of 80 + no-object: exp(0)/81 for every class.
  const result = decodeDetr(logits, boxes([[0.5, 0.5, 0.1, 0.1]]), SHORTER_SIDE_FRAME, {
    scoreThreshold: 0,
    personClass: 5,
  });
  assertAlmostEquals(result[0].score, 1 / 81, 1e-6);
});

Deno.test("decodeDetr: boxes relative to the whole input include the letterbox padding", () => {
  // A 600×400 image letterboxed into 640×640: scale 16/15, content 640×427, padding below.
  const frame: ImageFrame = {
    imageWidth: 600,
    imageHeight: 400,
    inputWidth: 640,
    inputHeight: 640,
    scaleX: 640 / 600,
    scaleY: 640 / 600,
    padX: 0,
    padY: 0,
    contentWidth: 640,
    contentHeight: 427,
  };
  const logits = cocoLogits([{ 1: 10 }]);
  const box = boxes([[0.5, 0.25, 0.2, 0.1]]);
  // Relative to the input: normalized 1.0 = 640 input px = 600 image px on both axes.
  // cx 300 ± 60, cy 150 ± 30.
  const [input] = decodeDetr(logits, box, frame, { scoreThreshold: 0, boxesRelativeTo: "input" });
  assertBox(input, { x1: 240, y1: 120, x2: 360, y2: 180, score: input.score });
  // Relative to the content (the default): normalized 1.0 down = 427 input px = 400.3125 image px.
  const [content] = decodeDetr(logits, box, frame, { scoreThreshold: 0 });
  const span = 427 * 600 / 640;
  assertBox(content, {
    x1: 240,
    y1: 0.2 * span,
    x2: 360,
    y2: 0.3 * span,
    score: content.score,
  });
});

Deno.test("decodeDetr: mismatched outputs are reported", () => {
  assertThrows(
    () =>
      decodeDetr(cocoLogits([{}, {}]), boxes([[0.5, 0.5, 0.1, 0.1]]), SHORTER_SIDE_FRAME, {
        scoreThreshold: 0,
      }),
    Error,
    "query count",
  );
});

const MANIFEST: ModelManifest = {
  name: "detr_test",
  task: "detector",
  family: "detr",
  file: "detr_test.onnx",
  input: {
    name: "images",
    width: 0,
    height: 0,
    resize: "shorter-side",
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
  },
  outputs: { logits: "class_logits", boxes: "box_out" },
};

Deno.test("detrFamily.createAdapter: DETR's preprocessing and the manifest's output names", () => {
  const adapter = createDetrAdapter(MANIFEST);
  assertEquals(adapter.task, "detector");
  assertEquals(adapter.input.name, "images");
  assertEquals(adapter.input.resize, {
    kind: "shorter-side",
    shorterSide: 800,
    longerSideMax: 1333,
  });
  assertEquals(adapter.input.normalization, {
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
  });
  const result = adapter.decode(
    { class_logits: cocoLogits([{ 1: Math.log(273) }]), box_out: boxes([[0.5, 0.5, 0.2, 0.5]]) },
    SHORTER_SIDE_FRAME,
    settings(0.3),
  );
  assertBox(result[0], { x1: 240, y1: 100, x2: 360, y2: 300, score: 0.75 });
  assertThrows(
    () => adapter.decode({ class_logits: cocoLogits([{}]) }, SHORTER_SIDE_FRAME, settings(0)),
    Error,
    `"box_out"`,
  );
});

Deno.test("detrFamily.createAdapter: manifest options reach the decoder", () => {
  const adapter = createDetrAdapter({
    ...MANIFEST,
    input: { ...MANIFEST.input, shorterSide: 640, longerSideMax: 1000 },
    options: { personClass: 3 },
  });
  assertEquals(adapter.input.resize, {
    kind: "shorter-side",
    shorterSide: 640,
    longerSideMax: 1000,
  });
  const result = adapter.decode(
    { class_logits: cocoLogits([{ 3: Math.log(91) }]), box_out: boxes([[0.5, 0.5, 0.2, 0.5]]) },
    SHORTER_SIDE_FRAME,
    settings(0),
  );
  assertAlmostEquals(result[0].score, 0.5, 1e-6);
  assertThrows(
    () => createDetrAdapter({ ...MANIFEST, options: { boxesRelativeTo: "image" } }),
    Error,
    "boxesRelativeTo",
  );
  assertThrows(
    () => createDetrAdapter({ ...MANIFEST, options: { personClass: 1.5 } }),
    Error,
    "personClass",
  );
});

Deno.test("detrFamily.createAdapter: a fixed-size letterbox export", () => {
  const adapter = createDetrAdapter({
    ...MANIFEST,
    input: { ...MANIFEST.input, resize: "letterbox", width: 640, height: 640 },
  });
  assertEquals(adapter.input.resize, {
    kind: "letterbox",
    width: 640,
    height: 640,
    padValue: 114,
    centred: false,
  });
  assert(adapter.manifest.family === "detr");
});

// The synthetic DETR (tests/support/synthetic_models.ts) run by onnxruntime-web: person i is the
// rectangle of blue level i; its box is the rectangle's pixel-edge extent, normalized by the
// input size; its person logit is 10 − i with every other logit 0.

/** A 150×100 picture with person 0 over [20, 40) × [10, 70) and person 1 over [90, 130) × [30, 90). */
function twoPeople() {
  const image = createImage(150, 100);
  drawPersonBody(image, 0, 20, 10, 20, 60);
  drawPersonBody(image, 1, 90, 30, 40, 60);
  return image;
}

Deno.test("synthetic DETR through onnxruntime: boxes and scores worked out by hand", async () => {
  const { bytes, manifest } = buildDetrPersonModel({ numQueries: 6 });
  const adapter = createDetrAdapter(manifest);
  const session = await ModelSession.load(bytes, manifest.file, ONE_THREAD);
  try {
    // The picture as it is (no resize): image pixels are input pixels.
    const input = imageToInput(twoPeople(), adapter.input.normalization);
    const outputs = await session.run(adapter.input.name, input.data, input.dims);
    assertEquals(outputs.pred_logits.dims, [1, 6, 92]);
    const frame: ImageFrame = {
      imageWidth: 150,
      imageHeight: 100,
      inputWidth: 150,
      inputHeight: 100,
      scaleX: 1,
      scaleY: 1,
      padX: 0,
      padY: 0,
      contentWidth: 150,
      contentHeight: 100,
    };
    const result = adapter.decode(outputs, frame, settings(0.5));
    // Scores: e^L / (e^L + 91) with the 91 other logits at 0; the four empty queries have
    // person probability 1 / (e^10 + 91) and are dropped.
    assertEquals(result.length, 2);
    assertBox(result[0], {
      x1: 20,
      y1: 10,
      x2: 40,
      y2: 70,
      score: Math.exp(10) / (Math.exp(10) + 91),
    });
    assertBox(result[1], {
      x1: 90,
      y1: 30,
      x2: 130,
      y2: 90,
      score: Math.exp(9) / (Math.exp(9) + 91),
    });
  } finally {
    await session.release();
  }
});

Deno.test("synthetic DETR: a shorter-side resized input maps back to image pixels", async () => {
  // Shorter side 200 (longer at most 400): the 150×100 picture becomes 300×200, scale 2.
  const { bytes, manifest } = buildDetrPersonModel({ numQueries: 4, numClasses: 1 });
  const adapter = createDetrAdapter({
    ...manifest,
    input: { ...manifest.input, shorterSide: 200, longerSideMax: 400 },
  });
  const session = await ModelSession.load(bytes, manifest.file, ONE_THREAD);
  try {
    const { data, dims, frame } = imageToTensor(twoPeople(), adapter.input);
    assertEquals(dims, [1, 3, 200, 300]);
    const outputs = await session.run(adapter.input.name, data, dims);
    const result = adapter.decode(outputs, frame, settings(0.5));
    assertEquals(result.length, 2);
    // Person-only logits [L, 0]: score e^L / (e^L + 1). The bilinear resize blurs each edge
    // by about one input pixel, half an image pixel.
    assertBox(result[0], { x1: 20, y1: 10, x2: 40, y2: 70, score: 1 / (1 + Math.exp(-10)) }, 0.6);
    assertBox(result[1], { x1: 90, y1: 30, x2: 130, y2: 90, score: 1 / (1 + Math.exp(-9)) }, 0.6);
  } finally {
    await session.release();
  }
});
