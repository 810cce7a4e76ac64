/**
 * Non-maximum suppression: greedy box NMS (detectors) and OKS-NMS (top-down pose results).
 *
 * Pure functions on typed arrays; boxes are packed as x1, y1, x2, y2 per box.
 */

import { COCO_KEYPOINT_SIGMAS } from "../coco/keypoints.ts";

/** Intersection over union of boxes `i` and `j` of a packed x1,y1,x2,y2 array (0 when empty). */
export function boxIou(boxes: ArrayLike<number>, i: number, j: number): number {
  const ax1 = boxes[4 * i], ay1 = boxes[4 * i + 1], ax2 = boxes[4 * i + 2], ay2 = boxes[4 * i + 3];
  const bx1 = boxes[4 * j], by1 = boxes[4 * j + 1], bx2 = boxes[4 * j + 2], by2 = boxes[4 * j + 3];
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const areaA = Math.max(0, ax2 - ax1) * Math.max(0, ay2 - ay1);
  const areaB = Math.max(0, bx2 - bx1) * Math.max(0, by2 - by1);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/** `indices` sorted by score, best first; equal scores keep their order (stable). */
function byScoreDescending(indices: number[], scores: ArrayLike<number>): number[] {
  // Array.prototype.sort is stable, so ties stay in ascending index order.
  return indices.sort((a, b) => scores[b] - scores[a]);
}

/** Greedy NMS over `order` (already best first); returns the kept indices in that order. */
function greedyNms(
  boxes: ArrayLike<number>,
  order: readonly number[],
  iouThreshold: number,
): number[] {
  const suppressed = new Uint8Array(order.length);
  const kept: number[] = [];
  for (let a = 0; a < order.length; a++) {
    if (suppressed[a]) continue;
    const i = order[a];
    kept.push(i);
    for (let b = a + 1; b < order.length; b++) {
      if (!suppressed[b] && boxIou(boxes, i, order[b]) > iouThreshold) suppressed[b] = 1;
    }
  }
  return kept;
}

/**
 * Greedy box NMS (torchvision semantics): visit boxes best first and drop every later box
 * whose IoU with a kept box is greater than `iouThreshold`.
 *
 * @param boxes N × 4 packed x1, y1, x2, y2.
 * @param scores N scores.
 * @returns Indices of the kept boxes, best first; equal scores keep index order.
 */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  const n = scores.length;
  if (boxes.length !== 4 * n) {
    throw new Error(`nms: ${boxes.length} box values for ${n} scores (expected ${4 * n})`);
  }
  const order = byScoreDescending(Array.from({ length: n }, (_, i) => i), scores);
  return Int32Array.from(greedyNms(boxes, order, iouThreshold));
}

/**
 * Class-wise NMS: boxes only suppress boxes of the same class (each class gets its own
 * greedy NMS, as in mmcv's `batched_nms` and YOLOX's class-aware NMS).
 *
 * @param boxes N × 4 packed x1, y1, x2, y2.
 * @param scores N scores.
 * @param classes N class ids.
 * @returns Indices of the kept boxes over all classes, best first; equal scores keep index order.
 */
export function classwiseNms(
  boxes: Float32Array,
  scores: Float32Array,
  classes: ArrayLike<number>,
  iouThreshold: number,
): Int32Array {
  const n = scores.length;
  if (boxes.length !== 4 * n || classes.length !== n) {
    throw new Error(
      `classwiseNms: ${boxes.length / 4} boxes, ${n} scores and ${classes.length} classes`,
    );
  }
  const order = byScoreDescending(Array.from({ length: n }, (_, i) => i), scores);
  // Split the sorted order by class; each class list stays best first.
  const perClass = new Map<number, number[]>();
  for (const i of order) {
    const list = perClass.get(classes[i]);
    if (list) list.push(i);
    else perClass.set(classes[i], [i]);
  }
  const kept: number[] = [];
  for (const list of perClass.values()) kept.push(...greedyNms(boxes, list, iouThreshold));
  return Int32Array.from(byScoreDescending(kept.sort((a, b) => a - b), scores));
}

/** One top-down pose result as OKS-NMS sees it. */
export interface OksNmsPose {
  /** K × 3: x, y, score per keypoint. */
  keypoints: Float32Array;
  score: number;
  /** Object area for OKS: the person box's width × height. */
  area: number;
}

/**
 * OKS between pose `a` (the kept one) and pose `b`, exactly as HRNet's / mmpose's `oks_iou`:
 * the mean over keypoints of exp(−d² / vars / ((areaA + areaB) / 2 + eps) / 2) with
 * vars = (2σ)².
 *
 * With `inVisThreshold`, only keypoints whose score in `b` is above it count. (HRNet writes
 * `list(vg > t) and list(vd > t)`; Python's `and` of two non-empty lists yields the second
 * one, so the kept pose's own scores never matter. Reproduced as is.) No counted keypoint
 * gives 0.
 */
export function oksIou(
  a: Float32Array,
  b: Float32Array,
  areaA: number,
  areaB: number,
  sigmas: ArrayLike<number> = COCO_KEYPOINT_SIGMAS,
  inVisThreshold?: number,
): number {
  const k = a.length / 3;
  if (b.length !== a.length || !Number.isInteger(k)) {
    throw new Error(`oksIou: keypoint arrays of length ${a.length} and ${b.length}`);
  }
  if (sigmas.length < k) throw new Error(`oksIou: ${sigmas.length} sigmas for ${k} keypoints`);
  // np.spacing(1): the gap between 1 and the next float64.
  const meanArea = (areaA + areaB) / 2 + Number.EPSILON;
  let sum = 0;
  let count = 0;
  for (let j = 0; j < k; j++) {
    if (inVisThreshold !== undefined && !(b[3 * j + 2] > inVisThreshold)) continue;
    const dx = b[3 * j] - a[3 * j];
    const dy = b[3 * j + 1] - a[3 * j + 1];
    const variance = (sigmas[j] * 2) ** 2;
    sum += Math.exp(-((dx * dx + dy * dy) / variance / meanArea / 2));
    count++;
  }
  return count > 0 ? sum / count : 0;
}

/**
 * OKS-NMS of the standard top-down protocol (HRNet's / mmpose's `oks_nms`): visit poses by
 * score, best first; keep the pose and drop every remaining pose whose OKS with it is greater
 * than `threshold`.
 *
 * Equal scores: the later index comes first, as numpy's `scores.argsort()[::-1]` orders them
 * (a stable ascending sort, reversed).
 *
 * @returns Indices of the kept poses, best first.
 */
export function oksNms(
  poses: readonly OksNmsPose[],
  threshold = 0.9,
  sigmas: ArrayLike<number> = COCO_KEYPOINT_SIGMAS,
  inVisThreshold?: number,
): number[] {
  let order = poses.map((_, i) => i).sort((a, b) => poses[a].score - poses[b].score).reverse();
  const keep: number[] = [];
  while (order.length > 0) {
    const i = order[0];
    keep.push(i);
    const kept = poses[i];
    order = order.slice(1).filter((j) =>
      oksIou(
        kept.keypoints,
        poses[j].keypoints,
        kept.area,
        poses[j].area,
        sigmas,
        inVisThreshold,
      ) <=
        threshold
    );
  }
  return keep;
}
