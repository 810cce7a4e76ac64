/**
 * Coordinate-regression codec (PCT / RLE / DeepPose-style outputs): decoding to crop input
 * pixels as mmpose's RegressionLabel (keypoints · input size) and the flip-test fusion, with
 * values worked out by hand.
 */

import { decodeRegression, fuseFlippedRegression } from "../lib/codecs/regression.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";

const OPTIONS = {
  numKeypoints: 3,
  inputWidth: 192,
  inputHeight: 256,
  coordinates: "normalized" as const,
};

// Three keypoints, normalized: (0.5, 0.25), (0.25, 0.5), (0.75, 0.5). Times (192, 256):
// (96, 64), (48, 128), (144, 128).
const NORMALIZED = { data: Float32Array.of(0.5, 0.25, 0.25, 0.5, 0.75, 0.5), dims: [1, 3, 2] };

Deno.test("Regression decode: normalized coordinates × input size, scores 1 without an output", () => {
  assertEquals([...decodeRegression(NORMALIZED, undefined, OPTIONS)], [
    96,
    64,
    1,
    48,
    128,
    1,
    144,
    128,
    1,
  ]);
  // Pixel coordinates come back as they are.
  const pixels = { data: Float32Array.of(96, 64, 48, 128, 144, 128), dims: [1, 3, 2] };
  const decoded = decodeRegression(pixels, undefined, { ...OPTIONS, coordinates: "pixels" });
  assertEquals([...decoded], [96, 64, 1, 48, 128, 1, 144, 128, 1]);
});

Deno.test("Regression decode: scores [B, K] or [B, K, 1], sigmoid only when they are logits", () => {
  const probabilities = { data: Float32Array.of(0.5, 0.75, 0.25), dims: [1, 3] };
  const kp = decodeRegression(NORMALIZED, probabilities, OPTIONS);
  assertEquals([kp[2], kp[5], kp[8]], [0.5, 0.75, 0.25]);
  // Logits 0, ln 3, −ln 3: sigmoid 1/2, 3/4, 1/4.
  const logits = { data: Float32Array.of(0, Math.log(3), -Math.log(3)), dims: [1, 3, 1] };
  const fromLogits = decodeRegression(NORMALIZED, logits, {
    ...OPTIONS,
    scoreActivation: "sigmoid",
  });
  assertAlmostEquals(fromLogits[2], 0.5, 1e-6);
  assertAlmostEquals(fromLogits[5], 0.75, 1e-6);
  assertAlmostEquals(fromLogits[8], 0.25, 1e-6);
});

Deno.test("Regression decode: batch item 1 of a batch of 2", () => {
  const coords = {
    data: Float32Array.of(0, 0, 0, 0, 0, 0, 0.5, 0.5, 1, 1, 0.25, 0.75),
    dims: [2, 3, 2],
  };
  const scores = { data: Float32Array.of(0, 0, 0, 0.5, 0.25, 0.125), dims: [2, 3] };
  const kp = decodeRegression(coords, scores, { ...OPTIONS, batchIndex: 1 });
  // (0.5·192, 0.5·256) = (96, 128); (192, 256); (48, 192).
  assertEquals([...kp], [96, 128, 0.5, 192, 256, 0.25, 48, 192, 0.125]);
});

Deno.test("Regression decode: wrong shapes and options are errors naming the output", () => {
  const wrongD = { data: new Float32Array(9), dims: [1, 3, 3] };
  assertThrows(
    () => decodeRegression(wrongD, undefined, { ...OPTIONS, coordsName: "pred_joints" }),
    Error,
    'regression output "pred_joints" must be [B, 3, 2] with batch item 0, got [1, 3, 3]',
  );
  assertThrows(
    () => decodeRegression({ data: new Float32Array(8), dims: [1, 4, 2] }, undefined, OPTIONS),
    Error,
    "got [1, 4, 2]",
  );
  assertThrows(
    () => decodeRegression(NORMALIZED, undefined, { ...OPTIONS, batchIndex: 1 }),
    Error,
    "batch item 1",
  );
  assertThrows(
    () => decodeRegression(NORMALIZED, { data: new Float32Array(6), dims: [2, 3] }, OPTIONS),
    Error,
    'output "scores" must be [1, 3] or [1, 3, 1]',
  );
  assertThrows(
    () => decodeRegression(NORMALIZED, { data: new Float32Array(3), dims: [1, 3, 2] }, OPTIONS),
    Error,
    "got [1, 3, 2]",
  );
  assertThrows(
    () => decodeRegression({ data: new Float32Array(4), dims: [1, 3, 2] }, undefined, OPTIONS),
    Error,
    "has only 4 values",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => decodeRegression(NORMALIZED, undefined, { ...OPTIONS, coordinates: "norm" as any }),
    Error,
    'coordinates "norm"',
  );
});

Deno.test("Regression flip test: mirror back with W − 1 − x, swap pairs, average", () => {
  // Original crop (192 wide): (96, 64), left (48, 128), right (144, 128).
  const original = Float32Array.of(96, 64, 0.5, 48, 128, 0.75, 144, 128, 0.25);
  // The mirrored crop writes column u at 191 − u, and a network reads the mirrored person's
  // right keypoint as its left one: keypoint 1 ("left") at 191 − 144 = 47, keypoint 2 at
  // 191 − 48 = 143; keypoint 0 is read at 91 (5 px off the exact mirror 95) and y 60.
  const mirrored = Float32Array.of(91, 60, 0.7, 47, 128, 0.35, 143, 128, 0.55);
  const fused = fuseFlippedRegression(original, mirrored, [[1, 2]], 192);
  // 0: x (96 + (191 − 91))/2 = 98, y (64 + 60)/2 = 62, score (0.5 + 0.7)/2 = 0.6.
  // 1: from mirrored 2: x (48 + (191 − 143))/2 = 48, score (0.75 + 0.55)/2 = 0.65.
  // 2: from mirrored 1: x (144 + (191 − 47))/2 = 144, score (0.25 + 0.35)/2 = 0.3.
  const expected = [98, 62, 0.6, 48, 128, 0.65, 144, 128, 0.3];
  expected.forEach((v, i) => assertAlmostEquals(fused[i], v, 1e-6, `value ${i}`));
  // Without the shift the mirror is W − x: keypoint 0's x is (96 + (192 − 91))/2 = 98.5.
  const unshifted = fuseFlippedRegression(original, mirrored, [[1, 2]], 192, {
    shiftCoords: false,
  });
  assertEquals(unshifted[0], 98.5);
  assertEquals(unshifted[3], 48.5);
});

Deno.test("Regression flip test: refuses mismatched arrays and pairs outside K", () => {
  const a = new Float32Array(9);
  assertThrows(() => fuseFlippedRegression(a, new Float32Array(6), [], 192), Error, "9 and 6");
  assertThrows(() => fuseFlippedRegression(a, a, [[1, 3]], 192), Error, "outside 3 keypoints");
  assertThrows(() => fuseFlippedRegression(a, a, [[0, 1], [1, 2]], 192), Error, "two flip pairs");
});
