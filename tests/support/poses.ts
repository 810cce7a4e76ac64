/** Test helpers for comparing poses exactly. */

import type { Pose } from "../../lib/types.ts";

/**
 * Poses with their keypoints as exact bit patterns, for `assertEquals`: a -0 against a 0, or a
 * change in the last bit, shows.
 */
export function poseBits(poses: Pose[]): unknown[] {
  return poses.map((p) => ({
    box: p.box,
    score: p.score,
    keypoints: Array.from(
      new Uint32Array(p.keypoints.buffer, p.keypoints.byteOffset, p.keypoints.length),
    ),
  }));
}

/**
 * A person facing the camera, for synthetic scenes: each COCO keypoint's position as
 * fractions (x, y) of the person's body rectangle.
 */
export const FIGURE: readonly [number, number][] = [
  [0.5, 0.08],
  [0.58, 0.05],
  [0.42, 0.05],
  [0.67, 0.09],
  [0.33, 0.09],
  [0.75, 0.25],
  [0.25, 0.25],
  [0.86, 0.4],
  [0.14, 0.4],
  [0.88, 0.55],
  [0.12, 0.55],
  [0.65, 0.6],
  [0.35, 0.6],
  [0.68, 0.78],
  [0.32, 0.78],
  [0.7, 0.94],
  [0.3, 0.94],
];
