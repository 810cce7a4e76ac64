/**
 * Person boxes from files instead of a detector: a COCO detection results file
 * (`[{image_id, category_id, bbox: [x, y, w, h], score}]`) or ground-truth annotations.
 */

import type { Box } from "./types.ts";

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
  /** The images, with their sizes when known (boxes are clipped to them). */
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
 * setting). Boxes are clipped to the image as mmpose's COCO loader does
 * (x1 = clip(x, 0, width − 1), x2 = clip(x1 + w, 0, width − 1)), and empty ones dropped.
 * HRNet's loader also shortens the box by one pixel (x1 + w − 1); on the shared dev set
 * that moves no-flip AP from 0.555 to 0.565, away from the reference.
 */
export function groundTruthBoxes(gt: GroundTruthForBoxes): BoxesByImage {
  const sizes = new Map(gt.images.map((im) => [im.id, im]));
  const map: BoxesByImage = new Map();
  for (const ann of gt.annotations) {
    if ((ann.category_id ?? 1) !== 1 || ann.iscrowd) continue;
    if (!ann.keypoints || Math.max(0, ...ann.keypoints) === 0) continue;
    const size = sizes.get(ann.image_id);
    if (!size) continue;
    const [x, y, w, h] = ann.bbox;
    const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
    // An image without a usable width/height (not required by every GT writer) is not clipped
    // on that side, rather than giving NaN boxes that no crop can use.
    const limit = (side: number | undefined) =>
      typeof side === "number" && side > 0 ? side - 1 : Infinity;
    const maxX = limit(size.width), maxY = limit(size.height);
    const x1 = clip(x, maxX), y1 = clip(y, maxY);
    const x2 = clip(x1 + w, maxX), y2 = clip(y1 + h, maxY);
    if (w * h <= 0 || x2 <= x1 || y2 <= y1) continue;
    push(map, ann.image_id, { x1, y1, x2, y2, score: 1 });
  }
  return map;
}
