/** The 17 COCO person keypoints and the metadata that goes with them. */

/** Keypoint names in COCO order. */
export const COCO_KEYPOINT_NAMES: readonly string[] = [
  "nose",
  "left_eye",
  "right_eye",
  "left_ear",
  "right_ear",
  "left_shoulder",
  "right_shoulder",
  "left_elbow",
  "right_elbow",
  "left_wrist",
  "right_wrist",
  "left_hip",
  "right_hip",
  "left_knee",
  "right_knee",
  "left_ankle",
  "right_ankle",
];

/** Left/right pairs (0-based) swapped when an image is mirrored. */
export const COCO_FLIP_PAIRS: readonly (readonly [number, number])[] = [
  [1, 2],
  [3, 4],
  [5, 6],
  [7, 8],
  [9, 10],
  [11, 12],
  [13, 14],
  [15, 16],
];

/** COCO's skeleton (the annotation file's, converted to 0-based indices). */
export const COCO_SKELETON: readonly (readonly [number, number])[] = [
  [15, 13],
  [13, 11],
  [16, 14],
  [14, 12],
  [11, 12],
  [5, 11],
  [6, 12],
  [5, 6],
  [5, 7],
  [6, 8],
  [7, 9],
  [8, 10],
  [1, 2],
  [0, 1],
  [0, 2],
  [1, 3],
  [2, 4],
  [3, 5],
  [4, 6],
];

/** Per-keypoint OKS sigmas, as in pycocotools' COCOeval (kpt_oks_sigmas). */
export const COCO_KEYPOINT_SIGMAS: Float64Array = Float64Array.from([
  .26,
  .25,
  .25,
  .35,
  .35,
  .79,
  .79,
  .72,
  .72,
  .62,
  .62,
  1.07,
  1.07,
  .87,
  .87,
  .89,
  .89,
].map((s) => s / 10));

/**
 * The channel permutation of a horizontal flip: `source[k]` is the keypoint whose mirrored
 * output becomes keypoint k (each pair swapped, the rest kept). The one flip permutation
 * every decoder uses. Throws on a pair outside `numKeypoints` or a keypoint in two pairs.
 *
 * @example Swapping left and right
 * ```ts
 * import assert from "node:assert/strict";
 * import { COCO_FLIP_PAIRS, flipPermutation } from "@posekit/posekit";
 *
 * // Five keypoints: nose, then two left/right pairs.
 * assert.deepEqual([...flipPermutation(5, [[1, 2], [3, 4]])], [0, 2, 1, 4, 3]);
 * // COCO: the nose stays, left_eye (1) takes right_eye (2), and so on.
 * assert.deepEqual([...flipPermutation(17, COCO_FLIP_PAIRS).subarray(0, 5)], [0, 2, 1, 4, 3]);
 * ```
 */
export function flipPermutation(
  numKeypoints: number,
  flipPairs: readonly (readonly [number, number])[],
): Int32Array {
  const source = Int32Array.from({ length: numKeypoints }, (_, k) => k);
  const seen = new Set<number>();
  for (const [a, b] of flipPairs) {
    for (const k of [a, b]) {
      if (!(Number.isInteger(k) && k >= 0 && k < numKeypoints)) {
        throw new Error(`flip pair [${a}, ${b}] is outside ${numKeypoints} keypoints`);
      }
      if (seen.has(k)) throw new Error(`keypoint ${k} is in two flip pairs`);
      seen.add(k);
    }
    source[a] = b;
    source[b] = a;
  }
  return source;
}
