/**
 * Person boxes from files instead of a detector: a COCO detection results file
 * (`[{image_id, category_id, bbox: [x, y, w, h], score}]`) or ground-truth annotations.
 */

import type { Box } from "../types.ts";

/** Boxes by image id, best score first. */
export type BoxesByImage = Map<number, Box[]>;

function sortByScore(map: BoxesByImage): BoxesByImage {
  for (const boxes of map.values()) boxes.sort((a, b) => b.score - a.score);
  return map;
}

function push(map: BoxesByImage, imageId: number, box: Box): void {
  const list = map.get(imageId);
  if (list) list.push(box);
  else map.set(imageId, [box]);
}

/**
 * Reads person boxes (category 1) scoring at least `threshold` from a parsed COCO detection
 * results file. Errors name `source` and the first bad entry.
 *
 * @example Person boxes above a threshold, best first
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDetectionBoxes } from "@posekit/posekit";
 *
 * const detections = [
 *   { image_id: 1, category_id: 1, bbox: [10, 20, 30, 40], score: 0.5 },
 *   { image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 0.9 },
 *   { image_id: 1, category_id: 3, bbox: [0, 0, 50, 50], score: 0.99 }, // a car, not a person
 *   { image_id: 2, category_id: 1, bbox: [0, 0, 5, 5], score: 0.1 }, // below the threshold
 * ];
 * const boxes = parseDetectionBoxes(detections, "detections.json", 0.3);
 * assert.deepEqual([...boxes.keys()], [1]);
 * assert.deepEqual(boxes.get(1), [
 *   { x1: 0, y1: 0, x2: 5, y2: 5, score: 0.9 },
 *   { x1: 10, y1: 20, x2: 40, y2: 60, score: 0.5 }, // [x, y, w, h] → corners
 * ]);
 * assert.throws(() => parseDetectionBoxes({}, "detections.json"), /is a JSON array/);
 * ```
 */
export function parseDetectionBoxes(json: unknown, source: string, threshold = 0): BoxesByImage {
  if (!Array.isArray(json)) {
    throw new Error(`${source}: a COCO detection results file is a JSON array of detections`);
  }
  const map: BoxesByImage = new Map();
  json.forEach((det, index) => {
    const d = det as { image_id?: unknown; category_id?: unknown; bbox?: unknown; score?: unknown };
    const bbox = d?.bbox;
    if (
      typeof d !== "object" || d === null || typeof d.image_id !== "number" ||
      !Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(Number.isFinite) ||
      typeof d.score !== "number" || !Number.isFinite(d.score)
    ) {
      throw new Error(
        `${source}: entry ${index} is not a detection {image_id, category_id, bbox: [x, y, w, h], score}`,
      );
    }
    if ((d.category_id ?? 1) !== 1 || d.score < threshold) return;
    const [x, y, w, h] = bbox as number[];
    push(map, d.image_id, { x1: x, y1: y, x2: x + w, y2: y + h, score: d.score });
  });
  return sortByScore(map);
}

/** The fields of a COCO keypoint annotation and image that ground-truth boxes need. */
export interface GroundTruthForBoxes {
  /** The images (only annotations of listed images give boxes). */
  images: { id: number; width?: number; height?: number }[];
  /** The annotations, as in the COCO file. */
  annotations: {
    image_id: number;
    bbox: number[];
    keypoints?: number[];
    num_keypoints?: number;
    iscrowd?: number;
    category_id?: number;
  }[];
}

/**
 * Ground-truth person boxes of annotations with keypoints, score 1 (the papers' "GT box"
 * setting), exactly as annotated: x1 = x, x2 = x + w, not clipped to the image (a crop reads
 * black beyond the border). With OpenCV-identical crops this reproduces every GT-box
 * reference of ../shared/README.md to the third decimal; mmpose's clipping to
 * [0, width − 1] moves PP-TinyPose 256x192 by 0.005 AP on the dev set, and HRNet's
 * one-pixel-shorter boxes (x1 + w − 1) by 0.02.
 *
 * @example Boxes of the annotated people
 * ```ts
 * import assert from "node:assert/strict";
 * import { groundTruthBoxes } from "@posekit/posekit";
 *
 * const keypoints = [50, 40, 2, ...new Array(48).fill(0)]; // 17 × 3 values: only the nose labelled
 * const boxes = groundTruthBoxes({
 *   images: [{ id: 1 }],
 *   annotations: [
 *     { image_id: 1, bbox: [10, 20, 30, 40], keypoints, num_keypoints: 1 },
 *     { image_id: 1, bbox: [0, 0, 90, 90], keypoints, iscrowd: 1 }, // a crowd
 *     { image_id: 1, bbox: [60, 0, 20, 50], keypoints: new Array(51).fill(0) }, // no keypoints
 *     { image_id: 2, bbox: [10, 20, 30, 40], keypoints }, // image 2 is not listed
 *   ],
 * });
 * // Only the first gives a box: [x, y, w, h] → corners, score 1.
 * assert.deepEqual([...boxes], [[1, [{ x1: 10, y1: 20, x2: 40, y2: 60, score: 1 }]]]);
 * ```
 */
export function groundTruthBoxes(gt: GroundTruthForBoxes): BoxesByImage {
  const imageIds = new Set(gt.images.map((im) => im.id));
  const map: BoxesByImage = new Map();
  for (const ann of gt.annotations) {
    if ((ann.category_id ?? 1) !== 1 || ann.iscrowd) continue;
    if (!ann.keypoints || Math.max(0, ...ann.keypoints) === 0) continue;
    if (!imageIds.has(ann.image_id)) continue;
    const [x, y, w, h] = ann.bbox;
    if (!(w > 0 && h > 0)) continue;
    push(map, ann.image_id, { x1: x, y1: y, x2: x + w, y2: y + h, score: 1 });
  }
  return map;
}
