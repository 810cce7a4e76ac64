import {
  boxToCropRegion,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "../lib/geometry/affine.ts";
import type { ImageFrame } from "../lib/geometry/frame.ts";
import { createPrtrAdapter, fusePrtrFlip, prtrReadout } from "../lib/families/prtr.ts";
import { createPrtrSequentialAdapter } from "../lib/families/prtr_sequential.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { imageToTensor, warpCropToTensor } from "../lib/image/preprocess.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import { DEFAULT_KEYPOINT_SCORE_THRESHOLD } from "../lib/coco/pose_score.ts";
import type { ModelOutputs, RgbImage } from "../lib/types.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import {
  buildPrtrKeypointModel,
  buildPrtrSequentialModel,
  createImage,
  drawSyntheticPerson,
  imageToInput,
  mirrorImage,
  prtrQueryLayout,
  type SyntheticPerson,
} from "./support/synthetic_models.ts";

// onnxruntime-web's WASM threads sometimes never finish a run of these synthetic graphs in
// Deno (seen with 2 threads on 2 busy cores, most often with the sequential PRTR model); the
// models are tiny, so this file runs them on one thread (the first session of the process
// fixes the thread count, so every session here asks for one).
const ONE_THREAD = { backend: "wasm", threads: 1 } as const;

/** Whole-image decode settings: a person threshold and the pipeline's default keypoint one. */
function settings(
  scoreThreshold: number,
  keypointScoreThreshold = DEFAULT_KEYPOINT_SCORE_THRESHOLD,
) {
  return { scoreThreshold, keypointScoreThreshold };
}

// ---------------------------------------------------------------------------------------------
// The readout alone, on hand-made numbers.

// Three queries, two keypoint types (+ background). exp(logits):
//   q0: (3, 1 | bg ≈ 0)   q1: (1, 1 | bg 6)   q2: (1, 3 | bg 36)
// Background excluded: q0 = (0.75, 0.25), q1 = (0.5, 0.5), q2 = (0.25, 0.75); the best
// matching is type 0 → q0, type 1 → q2 (0.75 + 0.75 beats every other pair).
// Background included: q0 = (0.75, 0.25), q1 = (1/8, 1/8), q2 = (1/40, 3/40); the best
// matching becomes type 0 → q0, type 1 → q1 (0.75 + 0.125 > 0.75 + 0.075).
// deno-fmt-ignore
const HAND_LOGITS = Float32Array.of(
  Math.log(3), 0, -100,
  0, 0, Math.log(6),
  0, Math.log(3), Math.log(36),
);
const HAND_COORDS = Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6);

function assertKeypoints(actual: Float32Array, expected: number[], tolerance: number, what = "") {
  assertEquals(actual.length, expected.length, `${what} length`);
  expected.forEach((v, i) =>
    assertAlmostEquals(actual[i], v, tolerance, `${what} [${Math.floor(i / 3)}].${"xys"[i % 3]}`)
  );
}

Deno.test("prtr readout: softmax without the background logit (paper default)", () => {
  const readout = prtrReadout(HAND_LOGITS, HAND_COORDS, 3, 2);
  assertKeypoints(readout, [0.1, 0.2, 0.75, 0.5, 0.6, 0.75], 1e-6);
});

Deno.test("prtr readout: with the background logit inside the softmax", () => {
  const readout = prtrReadout(HAND_LOGITS, HAND_COORDS, 3, 2, { includeBackground: true });
  assertKeypoints(readout, [0.1, 0.2, 0.75, 0.3, 0.4, 0.125], 1e-6);
});

Deno.test("prtr readout: the optimal matching, not each type's best query", () => {
  // Type probabilities per query (rows sum to 1):
  //   q0: (0.6, 0.4, 0)   q1: (0.5, 0.1, 0.4)   q2: (0.05, 0.05, 0.9)
  // Types 0 and 1 both prefer q0. Over all 6 matchings the best is 0 → q1, 1 → q0, 2 → q2
  // (0.5 + 0.4 + 0.9 = 1.8; next 0 → q0, 1 → q1, 2 → q2 = 1.6).
  const ln = Math.log;
  // deno-fmt-ignore
  const logits = Float32Array.of(
    ln(0.6), ln(0.4), -50, -50,
    ln(0.5), ln(0.1), ln(0.4), -50,
    ln(0.05), ln(0.05), ln(0.9), -50,
  );
  const readout = prtrReadout(logits, HAND_COORDS, 3, 3);
  assertKeypoints(readout, [0.3, 0.4, 0.5, 0.1, 0.2, 0.4, 0.5, 0.6, 0.9], 1e-6);
});

Deno.test("prtr readout: fewer queries than types is an error", () => {
  assertThrows(() => prtrReadout(new Float32Array(6), new Float32Array(4), 2, 3), Error, "Q ≥ J");
});

Deno.test("prtr flip fusion: mirror x back, swap left/right, average", () => {
  const original = Float32Array.of(0.2, 0.3, 0.9, 0.4, 0.5, 0.8, 0.6, 0.7, 0.6);
  const mirrored = Float32Array.of(0.75, 0.3, 0.7, 0.45, 0.5, 0.6, 0.65, 0.7, 0.4);
  // Type 0 is unpaired; types 1 and 2 are a pair, so type 1 takes the mirror's type 2.
  //   0: x (0.2 + (1 − 0.75)) / 2, y (0.3 + 0.3) / 2, score (0.9 + 0.7) / 2
  //   1: x (0.4 + (1 − 0.65)) / 2, y (0.5 + 0.7) / 2, score (0.8 + 0.4) / 2
  //   2: x (0.6 + (1 − 0.45)) / 2, y (0.7 + 0.5) / 2, score (0.6 + 0.6) / 2
  const expected = [0.225, 0.3, 0.8, 0.375, 0.6, 0.6, 0.575, 0.6, 0.6];
  assertKeypoints(fusePrtrFlip(original, mirrored, [[1, 2]]), expected, 1e-6);
  // The exact pixel mirror for a 10-pixel-wide crop: mirrored x is 1/10 smaller.
  const aligned = expected.map((v, i) => (i % 3 === 0 ? v - 0.05 : v));
  assertKeypoints(
    fusePrtrFlip(original, mirrored, [[1, 2]], { pixelAlign: true, inputWidth: 10 }),
    aligned,
    1e-6,
  );
});

// ---------------------------------------------------------------------------------------------
// The adapter on real onnxruntime outputs of the synthetic keypoint Transformer.

/**
 * A person facing the camera in a 288×384 crop, in COCO keypoint order: every left keypoint
 * (odd index) lies right of its right partner.
 */
const CROP_SKELETON: readonly [number, number][] = [
  [144, 60], // nose
  [156, 50], // left eye
  [132, 50], // right eye
  [170, 58], // left ear
  [118, 58], // right ear
  [190, 110], // left shoulder
  [98, 110], // right shoulder
  [205, 170], // left elbow
  [83, 170], // right elbow
  [215, 225], // left wrist
  [73, 225], // right wrist
  [175, 230], // left hip
  [113, 230], // right hip
  [180, 290], // left knee
  [108, 290], // right knee
  [185, 345], // left ankle
  [103, 345], // right ankle
];

/** The skeleton scaled by `k` and moved to (ox, oy), rounded to whole pixels. */
function placedPerson(ox: number, oy: number, k: number, personIndex = 0): SyntheticPerson {
  const r = (v: number) => Math.round(v * k);
  return {
    body: [ox + r(60), oy + r(35), r(170), r(325)],
    keypoints: CROP_SKELETON.map(([x, y]) => [ox + r(x), oy + r(y)] as [number, number]),
    personIndex,
    markerSize: k >= 0.9 ? 5 : 3,
  };
}

/**
 * Scores the default query layout gives (see `prtrQueryLayout`): the matching reads type 0
 * from query B (0.5), type 1 from query A (0.4), every other type from its own query (0.9).
 */
const LAYOUT_SCORES = [0.5, 0.4, ...new Array(15).fill(0.9)];

const COCO_PAIRS: readonly [number, number][] = [
  [1, 2],
  [3, 4],
  [5, 6],
  [7, 8],
  [9, 10],
  [11, 12],
  [13, 14],
  [15, 16],
];

function partnerOf(j: number): number {
  for (const [a, b] of COCO_PAIRS) {
    if (a === j) return b;
    if (b === j) return a;
  }
  return j;
}

async function runOn(
  session: ModelSession,
  name: string,
  image: RgbImage,
  manifest: ModelManifest,
) {
  const norm = {
    colorOrder: manifest.input.colorOrder,
    mean: manifest.input.mean,
    std: manifest.input.std,
  };
  const input = imageToInput(image, norm);
  return await session.run(name, input.data, input.dims);
}

Deno.test("prtr adapter: decodes a synthetic crop through onnxruntime, flip test included", async () => {
  const model = buildPrtrKeypointModel();
  const adapter = createPrtrAdapter(model.manifest);
  assertEquals([adapter.input.width, adapter.input.height, adapter.input.padding], [
    288,
    384,
    1.25,
  ]);
  assertEquals(adapter.numKeypoints, 17);
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  const crop = createImage(288, 384);
  const person = placedPerson(0, 0, 1);
  drawSyntheticPerson(crop, person);
  const outputs = await runOn(session, adapter.input.name, crop, model.manifest);
  assertEquals(outputs.pred_logits.dims, [1, 100, 18]);
  assertEquals(outputs.pred_coords.dims, [1, 100, 2]);

  // Plain readout: marker centres exactly, scores from the layout.
  const expected = CROP_SKELETON.flatMap(([x, y], j) => [x, y, LAYOUT_SCORES[j]]);
  assertKeypoints(adapter.decode(outputs), expected, 1e-3, "plain");

  // Flip test. On the mirrored crop the model reports type a (left) at the mirrored marker of
  // its partner b: x = W−1−x_b. Mirrored back as 1 − x (W − x pixels) that is x_b + 1, and it
  // lands on type b after the swap: the fused x is x + 0.5 with PRTR's mirror, x with the
  // exact one. Scores average with the partner's: (s_j + s_partner) / 2.
  const mirroredOutputs = await runOn(
    session,
    adapter.input.name,
    mirrorImage(crop),
    model.manifest,
  );
  const fusedScore = (j: number) => (LAYOUT_SCORES[j] + LAYOUT_SCORES[partnerOf(j)]) / 2;
  const fusedPaper = CROP_SKELETON.flatMap(([x, y], j) => [x + 0.5, y, fusedScore(j)]);
  assertKeypoints(adapter.decode(outputs, mirroredOutputs), fusedPaper, 1e-3, "flip");
  const aligned = createPrtrAdapter({ ...model.manifest, options: { flipPixelAlign: true } });
  const fusedExact = CROP_SKELETON.flatMap(([x, y], j) => [x, y, fusedScore(j)]);
  assertKeypoints(aligned.decode(outputs, mirroredOutputs), fusedExact, 1e-3, "aligned flip");

  // includeBackground: every matched query has background odds 0.05, so scores shrink by 1.05.
  const withBackground = createPrtrAdapter({
    ...model.manifest,
    options: { includeBackground: true },
  });
  const expectedBg = CROP_SKELETON.flatMap(([x, y], j) => [x, y, LAYOUT_SCORES[j] / 1.05]);
  assertKeypoints(withBackground.decode(outputs), expectedBg, 1e-3, "with background");
  await session.release();
});

Deno.test("prtr adapter: a missing marker is read from a distractor", async () => {
  const model = buildPrtrKeypointModel();
  const adapter = createPrtrAdapter(model.manifest);
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  const crop = createImage(288, 384);
  const person = placedPerson(0, 0, 1);
  drawSyntheticPerson(crop, {
    ...person,
    keypoints: person.keypoints.map((p, j) => (j === 9 ? null : p)),
  });
  const keypoints = adapter.decode(await runOn(session, adapter.input.name, crop, model.manifest));
  // Its own query's logits are all zero (1/17 each), so the matching takes a distractor that
  // favours type 9 with probability 0.3 (`prtrQueryLayout`), and its fixed coordinates.
  assertAlmostEquals(keypoints[9 * 3 + 2], 0.3, 1e-5);
  const layout = prtrQueryLayout(17, 100);
  const favoured = layout.source
    .map((source, q) => (source < 0 && layout.probabilities[q][9] === 0.3 ? q : -1))
    .filter((q) => q >= 0);
  assert(
    favoured.some((q) =>
      Math.abs(keypoints[27] - layout.distractorCoords[q][0] * 288) < 1e-3 &&
      Math.abs(keypoints[28] - layout.distractorCoords[q][1] * 384) < 1e-3
    ),
    "left wrist should come from a distractor favouring it",
  );
  for (const j of [0, 5, 10, 16]) {
    assertAlmostEquals(keypoints[j * 3], CROP_SKELETON[j][0], 1e-3);
    assertAlmostEquals(keypoints[j * 3 + 2], LAYOUT_SCORES[j], 1e-5);
  }
  await session.release();
});

Deno.test("prtr adapter: keypoints survive a real affine crop of a larger image", async () => {
  // The crop comes from the pipeline's own geometry and bilinear warp, at a slight downscale
  // (person at full size) and a ~2× upscale (person at half size); keypoints mapped back to the
  // image must land on the drawn marker centres.
  const model = buildPrtrKeypointModel();
  const adapter = createPrtrAdapter(model.manifest);
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  let worst = 0;
  for (const [k, ox, oy] of [[1, 150, 40], [0.5, 37, 21]] as const) {
    const image = createImage(640, 480);
    const person = placedPerson(ox, oy, k);
    drawSyntheticPerson(image, person);
    const [x0, y0, w, h] = person.body;
    const region = boxToCropRegion(
      { x1: x0, y1: y0, x2: x0 + w, y2: y0 + h, score: 1 },
      adapter.input.width / adapter.input.height,
      adapter.input.padding,
    );
    const cropToImage = invertAffine(imageToCropTransform(region, 288, 384));
    const run = async (mirror: boolean) => {
      const data = new Float32Array(3 * 288 * 384);
      warpCropToTensor(image, cropToImage, 288, 384, adapter.input.normalization, data, 0, mirror);
      return await session.run(adapter.input.name, data, [1, 3, 384, 288]);
    };
    const aligned = createPrtrAdapter({ ...model.manifest, options: { flipPixelAlign: true } });
    const plain = adapter.decode(await run(false));
    const fused = aligned.decode(await run(false), await run(true));
    for (const keypoints of [plain, fused]) {
      transformKeypoints(cropToImage, keypoints);
      person.keypoints.forEach((point, j) => {
        const error = Math.hypot(keypoints[j * 3] - point![0], keypoints[j * 3 + 1] - point![1]);
        worst = Math.max(worst, error);
      });
    }
  }
  assert(worst < 0.15, `worst keypoint error ${worst.toFixed(3)} px`);
  await session.release();
});

Deno.test("prtr adapter: manifest and output errors name what is wrong", () => {
  const model = buildPrtrKeypointModel({ width: 48, height: 64 });
  assertThrows(
    () => createPrtrAdapter({ ...model.manifest, input: { ...model.manifest.input, width: 0 } }),
    Error,
    "input.width",
  );
  assertThrows(
    () => createPrtrAdapter({ ...model.manifest, options: { includeBackground: "yes" } }),
    Error,
    "options.includeBackground",
  );
  const adapter = createPrtrAdapter(model.manifest);
  const coords = { data: new Float32Array(200), dims: [1, 100, 2] };
  assertThrows(
    () => adapter.decode({ pred_coords: coords } as ModelOutputs),
    Error,
    `output "pred_logits"`,
  );
  assertThrows(
    () =>
      adapter.decode({
        pred_logits: { data: new Float32Array(1700), dims: [1, 100, 17] },
        pred_coords: coords,
      }),
    Error,
    "17 keypoint types + background",
  );
});

// ---------------------------------------------------------------------------------------------
// Sequential (end-to-end) PRTR.

/** Two people: person 0 (blue 255) at 0.6 scale, person 1 (blue 170) at 0.5 scale. */
function twoPeople(): { image: RgbImage; people: SyntheticPerson[] } {
  const image = createImage(400, 300);
  const people = [placedPerson(10, 10, 0.6, 0), placedPerson(200, 50, 0.5, 1)];
  for (const person of people) drawSyntheticPerson(image, person);
  return { image, people };
}

function meanAbove(scores: number[], threshold: number): number {
  const kept = scores.filter((s) => s > threshold);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

Deno.test("prtr sequential: people and keypoints from the whole image", async () => {
  const model = buildPrtrSequentialModel();
  const adapter = createPrtrSequentialAdapter(model.manifest);
  assertEquals(adapter.input.resize, {
    kind: "shorter-side",
    shorterSide: 512,
    longerSideMax: 853,
  });
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  const { image, people } = twoPeople();

  // At the image's own size (scale 1) everything is exact.
  const input = imageToInput(image, adapter.input.normalization);
  const outputs = await session.run(adapter.input.name, input.data, input.dims);
  const frame: ImageFrame = {
    imageWidth: 400,
    imageHeight: 300,
    inputWidth: 400,
    inputHeight: 300,
    scaleX: 1,
    scaleY: 1,
    padX: 0,
    padY: 0,
    contentWidth: 400,
    contentHeight: 300,
  };
  const poses = adapter.decode(outputs, frame, settings(0.5));
  assertEquals(poses.length, 2);
  // Person logits (L, 0) with L = 10, 9: person score e^L / (e^L + 1).
  const personScores = [10, 9].map((l) => Math.exp(l) / (Math.exp(l) + 1));
  const keypointMean = meanAbove(LAYOUT_SCORES, 0.2);
  // The pipeline's keypoint threshold reaches the rescoring: at 0.45 the 0.4 keypoint no
  // longer counts, the mean is (0.5 + 15 · 0.9) / 16.
  const stricter = adapter.decode(outputs, frame, settings(0.5, 0.45));
  stricter.forEach((pose, i) =>
    assertAlmostEquals(pose.score, personScores[i] * (0.5 + 15 * 0.9) / 16, 1e-5)
  );
  people.forEach((person, i) => {
    const pose = poses[i];
    const [x0, y0, w, h] = person.body;
    assertAlmostEquals(pose.box.score, personScores[i], 1e-6);
    assertAlmostEquals(pose.score, personScores[i] * keypointMean, 1e-5);
    const box = [pose.box.x1, pose.box.y1, pose.box.x2, pose.box.y2];
    [x0, y0, x0 + w, y0 + h].forEach((v, c) => assertAlmostEquals(box[c], v, 1e-3));
    const expected = person.keypoints.flatMap((p, j) => [p![0], p![1], LAYOUT_SCORES[j]]);
    assertKeypoints(pose.keypoints, expected, 1e-3, `person ${i}`);
  });

  // Through the real shorter-side resize (×512/300): boxes within a pixel, keypoints within
  // half a pixel (the model's "pixel p at p" normalization shifts them by 0.5·(1 − 1/scale)).
  const resized = imageToTensor(image, adapter.input);
  const resizedOutputs = await session.run(adapter.input.name, resized.data, resized.dims);
  const resizedPoses = adapter.decode(resizedOutputs, resized.frame, settings(0.5));
  assertEquals(resizedPoses.length, 2);
  people.forEach((person, i) => {
    const pose = resizedPoses[i];
    const [x0, y0, w, h] = person.body;
    const box = [pose.box.x1, pose.box.y1, pose.box.x2, pose.box.y2];
    [x0, y0, x0 + w, y0 + h].forEach((v, c) => assertAlmostEquals(box[c], v, 1, `box ${c}`));
    person.keypoints.forEach((p, j) => {
      const error = Math.hypot(pose.keypoints[j * 3] - p![0], pose.keypoints[j * 3 + 1] - p![1]);
      assert(error < 0.5, `person ${i} keypoint ${j} off by ${error.toFixed(3)} px`);
    });
  });
  await session.release();
});

Deno.test("prtr sequential: threshold, person class and shape errors", () => {
  const logits = { data: Float32Array.of(2, 0, -1, 1), dims: [1, 2, 2] };
  const boxes = {
    data: Float32Array.of(0.5, 0.5, 0.2, 0.4, 0.25, 0.25, 0.1, 0.1),
    dims: [1, 2, 4],
  };
  // One keypoint type, one query per person: the readout is that query.
  const kptLogits = { data: Float32Array.of(1, 0, 1, 0), dims: [1, 2, 1, 2] };
  const kptCoords = { data: Float32Array.of(0.5, 0.25, 0.1, 0.2), dims: [1, 2, 1, 2] };
  const manifest = buildPrtrSequentialModel().manifest;
  // One keypoint type has no left/right pairs: the model's 17-keypoint flip pairs are refused.
  assertThrows(
    () => createPrtrSequentialAdapter({ ...manifest, keypoints: ["centre"] }),
    Error,
    "flip pair [1, 2] is outside 1 keypoints",
  );
  const adapter = createPrtrSequentialAdapter({
    ...manifest,
    keypoints: ["centre"],
    flipPairs: [],
  });
  const frame: ImageFrame = {
    imageWidth: 200,
    imageHeight: 100,
    inputWidth: 400,
    inputHeight: 200,
    scaleX: 2,
    scaleY: 2,
    padX: 0,
    padY: 0,
    contentWidth: 400,
    contentHeight: 200,
  };
  const outputs = {
    pred_logits: logits,
    pred_boxes: boxes,
    pred_kpt_logits: kptLogits,
    pred_kpt_coord: kptCoords,
  };
  // Person scores: softmax(2, 0)[0] = 0.881; softmax(−1, 1)[0] = 0.119.
  const poses = adapter.decode(outputs, frame, settings(0.5));
  assertEquals(poses.length, 1);
  const s = 1 / (1 + Math.exp(-2));
  assertAlmostEquals(poses[0].box.score, s, 1e-6);
  // Box cx 0.5·200, cy 0.5·100, w 0.2·200, h 0.4·100; keypoint (0.5·200, 0.25·100), score 1.
  const box = [poses[0].box.x1, poses[0].box.y1, poses[0].box.x2, poses[0].box.y2];
  [80, 30, 120, 70].forEach((v, i) => assertAlmostEquals(box[i], v, 1e-4));
  assertKeypoints(poses[0].keypoints, [100, 25, 1], 1e-5);
  assertAlmostEquals(poses[0].score, s, 1e-6);
  // Both people above a low threshold, best first.
  assertEquals(adapter.decode(outputs, frame, settings(0.1)).length, 2);
  // Person class 1 would be the no-object column.
  const wrongClass = createPrtrSequentialAdapter({
    ...manifest,
    keypoints: ["c"],
    flipPairs: [],
    options: { personClass: 1 },
  });
  assertThrows(
    () => wrongClass.decode(outputs, frame, settings(0)),
    Error,
    "personClass",
  );
  // Keypoint logits for 2 types while the manifest says 1.
  assertThrows(
    () =>
      adapter.decode(
        { ...outputs, pred_kpt_logits: { data: new Float32Array(6), dims: [1, 2, 1, 3] } },
        frame,
        settings(0),
      ),
    Error,
    "keypoint logits",
  );
});
