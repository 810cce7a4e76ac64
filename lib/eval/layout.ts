/**
 * The keypoint layout an evaluation needs beyond the coordinates: names (for tables and
 * plots), OKS sigmas, and each keypoint's mirror, which tells an inverted keypoint (a left
 * wrist put on the right wrist) from one taken from someone else.
 */

import { COCO_KEYPOINT_NAMES, COCO_KEYPOINT_SIGMAS } from "../coco/keypoints.ts";

/** Names, sigmas and mirrors of the K keypoints being evaluated. */
export interface EvalKeypointLayout {
  /** K names. */
  names: readonly string[];
  /** K OKS sigmas (pycocotools' `kpt_oks_sigmas`). */
  sigmas: ArrayLike<number>;
  /** `mirror[i]`: the keypoint that keypoint i becomes in a mirror image; i itself when none. */
  mirror: Int32Array;
}

/**
 * Mirrors from the names: `left_X` and `right_X` are each other's mirror when both exist
 * (any case); every other keypoint is its own. Names are the one thing every keypoint set
 * has, so no separate pair list can disagree with them.
 *
 * @example COCO's first five keypoints
 * ```ts
 * import assert from "node:assert/strict";
 * import { mirrorsFromNames } from "./layout.ts";
 *
 * const names = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"];
 * assert.deepEqual([...mirrorsFromNames(names)], [0, 2, 1, 4, 3]);
 * ```
 */
export function mirrorsFromNames(names: readonly string[]): Int32Array {
  const index = new Map(names.map((name, i) => [name.toLowerCase(), i]));
  return Int32Array.from(names, (name, i) => {
    const match = /^(left|right)_(.+)$/i.exec(name);
    if (!match) return i;
    const other = `${match[1].toLowerCase() === "left" ? "right" : "left"}_${match[2]}`;
    return index.get(other.toLowerCase()) ?? i;
  });
}

/**
 * A layout from names and sigmas (COCO's 17 by default), mirrors from the names.
 * @throws when the two lists differ in length
 *
 * @example COCO's layout, and one of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { evalKeypointLayout } from "@posekit/posekit";
 *
 * const coco = evalKeypointLayout();
 * assert.equal(coco.names.length, 17);
 * assert.equal(coco.names[9], "left_wrist");
 * assert.equal(coco.mirror[9], 10); // left_wrist ↔ right_wrist
 * assert.equal(coco.mirror[0], 0); // the nose is its own mirror
 *
 * const hands = evalKeypointLayout(["head", "left_hand", "right_hand"], [0.1, 0.05, 0.05]);
 * assert.deepEqual([...hands.mirror], [0, 2, 1]);
 * assert.throws(() => evalKeypointLayout(["head"], [0.1, 0.05]), /1 keypoint names but 2 sigmas/);
 * ```
 */
export function evalKeypointLayout(
  names: readonly string[] = COCO_KEYPOINT_NAMES,
  sigmas: ArrayLike<number> = COCO_KEYPOINT_SIGMAS,
): EvalKeypointLayout {
  if (names.length !== sigmas.length) {
    throw new Error(`${names.length} keypoint names but ${sigmas.length} sigmas`);
  }
  return { names, sigmas, mirror: mirrorsFromNames(names) };
}
