/**
 * Coordinate-regression codec: keypoint heads that output coordinates directly (PCT exported
 * with its codebook decoder inside the graph, RLE, DeepPose-style heads), optionally with one
 * score per keypoint. Pure functions.
 *
 * Decoding follows mmpose's `RegressionLabel.decode`: normalized coordinates are multiplied by
 * the input size (keypoints · [w, h], so normalized 1 is input pixel w, the encoder having
 * divided pixels by w), scores are 1 when the model gives none. Coordinates returned: crop
 * INPUT pixels, pixel p at coordinate p.
 *
 * Flip test as mmpose's `flip_coordinates(shift_coords=True)`: the mirrored crop's x becomes
 * W − 1 − x in pixels (1 − x − 1/W normalized), the exact mirror of `warpCropToTensor`'s
 * (column u written at W − 1 − u), left/right swapped, then averaged with the original. With
 * `shiftCoords: false` it is W − x (1 − x), PRTR's default reading in `families/prtr.ts`.
 */

import type { OutputTensor } from "../types.ts";
import { flipPermutation } from "../coco/keypoints.ts";

/** Options of `decodeRegression`. */
export interface RegressionDecodeOptions {
  /** K keypoints. */
  numKeypoints: number;
  /** Crop (network input) size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** "normalized": x, y in [0, 1] of the input (× inputWidth, × inputHeight); "pixels": as is. */
  coordinates: "normalized" | "pixels";
  /** "sigmoid" when the scores output holds logits; default "none" (already probabilities). */
  scoreActivation?: "none" | "sigmoid";
  /** Batch item to decode; default 0. */
  batchIndex?: number;
  /** Output names, for messages; default "keypoints" and "scores". */
  coordsName?: string;
  scoresName?: string;
}

/**
 * Keypoints of one batch item as K × 3: x, y in crop input pixels and a score.
 *
 * @param coords [B, K, 2] (x, y per keypoint)
 * @param scores optional [B, K] or [B, K, 1]; without it every score is 1 (as mmpose)
 * @throws an Error naming the output and the expected shape on wrong dims or short data, and
 *   on an unknown `coordinates` / `scoreActivation`.
 */
export function decodeRegression(
  coords: OutputTensor,
  scores: OutputTensor | undefined,
  options: RegressionDecodeOptions,
): Float32Array {
  const k = options.numKeypoints;
  const b = options.batchIndex ?? 0;
  const coordsName = options.coordsName ?? "keypoints";
  const scoresName = options.scoresName ?? "scores";
  const { coordinates } = options;
  const activation = options.scoreActivation ?? "none";
  if (coordinates !== "normalized" && coordinates !== "pixels") {
    throw new Error(`regression: coordinates "${coordinates}" is not "normalized" or "pixels"`);
  }
  if (activation !== "none" && activation !== "sigmoid") {
    throw new Error(`regression: scoreActivation "${activation}" is not "none" or "sigmoid"`);
  }
  const cd = coords.dims;
  if (cd.length !== 3 || cd[1] !== k || cd[2] !== 2 || !(b >= 0 && b < cd[0])) {
    throw new Error(
      `regression output "${coordsName}" must be [B, ${k}, 2] with batch item ${b}, ` +
        `got [${cd.join(", ")}]`,
    );
  }
  requireLength(coords, cd[0] * k * 2, coordsName);
  let scoreData: Float32Array | undefined;
  if (scores) {
    const sd = scores.dims;
    const ok = (sd.length === 2 || (sd.length === 3 && sd[2] === 1)) && sd[0] === cd[0] &&
      sd[1] === k;
    if (!ok) {
      throw new Error(
        `regression output "${scoresName}" must be [${cd[0]}, ${k}] or [${cd[0]}, ${k}, 1] ` +
          `(as "${coordsName}" [${cd.join(", ")}]), got [${sd.join(", ")}]`,
      );
    }
    requireLength(scores, cd[0] * k, scoresName);
    scoreData = scores.data.subarray(b * k, (b + 1) * k);
  }
  const xy = coords.data.subarray(b * k * 2, (b + 1) * k * 2);
  const sx = coordinates === "normalized" ? options.inputWidth : 1;
  const sy = coordinates === "normalized" ? options.inputHeight : 1;
  const out = new Float32Array(k * 3);
  for (let j = 0; j < k; j++) {
    out[3 * j] = xy[2 * j] * sx;
    out[3 * j + 1] = xy[2 * j + 1] * sy;
    const s = scoreData ? scoreData[j] : 1;
    out[3 * j + 2] = activation === "sigmoid" ? 1 / (1 + Math.exp(-s)) : s;
  }
  return out;
}

function requireLength(tensor: OutputTensor, needed: number, name: string): void {
  if (tensor.data.length < needed) {
    throw new Error(
      `regression output "${name}" [${tensor.dims.join(", ")}] has only ${tensor.data.length} ` +
        `values`,
    );
  }
}

/**
 * Flip-test fusion of two `decodeRegression` results (K × 3, crop input pixels): `mirrored`
 * comes from the horizontally mirrored crop. Its x is mirrored back (W − 1 − x, or W − x with
 * `shiftCoords: false`), its left/right keypoints of `flipPairs` swapped, then x, y and score
 * are averaged with `original`.
 *
 * @throws on arrays of different sizes, a flip pair outside K or a keypoint in two pairs.
 */
export function fuseFlippedRegression(
  original: Float32Array,
  mirrored: Float32Array,
  flipPairs: readonly (readonly [number, number])[],
  inputWidth: number,
  options: { shiftCoords?: boolean } = {},
): Float32Array {
  const k = original.length / 3;
  if (mirrored.length !== original.length || !Number.isInteger(k)) {
    throw new Error(
      `regression flip test: keypoint arrays of ${original.length} and ${mirrored.length} values`,
    );
  }
  const mirrorX = (options.shiftCoords ?? true) ? inputWidth - 1 : inputWidth;
  const source = flipPermutation(k, flipPairs);
  const fused = new Float32Array(original.length);
  for (let j = 0; j < k; j++) {
    const m = 3 * source[j];
    fused[3 * j] = 0.5 * (original[3 * j] + (mirrorX - mirrored[m]));
    fused[3 * j + 1] = 0.5 * (original[3 * j + 1] + mirrored[m + 1]);
    fused[3 * j + 2] = 0.5 * (original[3 * j + 2] + mirrored[m + 2]);
  }
  return fused;
}
