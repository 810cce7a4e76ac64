/**
 * What recognition assumes of a bare graph when no manifest says otherwise: the usual
 * exports' preprocessing and COCO's keypoint metadata. Shared by the family descriptors.
 */

import { COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES, COCO_SKELETON } from "../coco/keypoints.ts";
import type { ManifestInput } from "../models/manifest.ts";
import type { ColorOrder } from "../types.ts";
import type { GraphInfo } from "./family.ts";

/** A fixed dimension's size, else undefined (symbolic names, -1, 0). */
export function staticDim(dim: number | string | undefined): number | undefined {
  return typeof dim === "number" && dim > 0 ? dim : undefined;
}

/** COCO keypoint metadata for a bare graph with 17 keypoint outputs (or an unknown count). */
export function cocoKeypointFields(numKeypoints: number | undefined): {
  keypoints: string[];
  flipPairs: [number, number][];
  skeleton: [number, number][];
} {
  if (numKeypoints !== undefined && numKeypoints !== 17) {
    throw new Error(
      `it predicts ${numKeypoints} keypoints; only COCO's 17 can be assumed, so keypoint ` +
        `names and flip pairs must come from a manifest ("keypoints", "flipPairs", "skeleton")`,
    );
  }
  return {
    keypoints: [...COCO_KEYPOINT_NAMES],
    flipPairs: COCO_FLIP_PAIRS.map(([a, b]) => [a, b] as [number, number]),
    skeleton: COCO_SKELETON.map(([a, b]) => [a, b] as [number, number]),
  };
}

/**
 * A keypoint model's crop input: the graph's fixed size or the family's default, RGB with
 * ImageNet mean/std in 0–255 units (mmpose's and most exports' preprocessing).
 */
export function imagenetCropInput(
  graph: GraphInfo,
  defaultWidth: number,
  defaultHeight: number,
): ManifestInput {
  return {
    name: graph.image.name,
    width: graph.inputWidth ?? defaultWidth,
    height: graph.inputHeight ?? defaultHeight,
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    dynamicBatch: graph.dynamicBatch,
  };
}

/** A detector's bottom/right letterbox input (pad 114) at the graph's size, else 640. */
export function letterboxInput(
  graph: GraphInfo,
  colorOrder: ColorOrder,
  mean: [number, number, number],
  std: [number, number, number],
): ManifestInput {
  return {
    name: graph.image.name,
    width: graph.inputWidth ?? 640,
    height: graph.inputHeight ?? 640,
    resize: "letterbox",
    padValue: 114,
    colorOrder,
    mean,
    std,
    dynamicBatch: graph.dynamicBatch,
  };
}
