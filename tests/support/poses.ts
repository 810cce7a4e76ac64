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
