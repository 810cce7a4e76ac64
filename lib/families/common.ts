/**
 * Pieces every whole-image family (detectors, end-to-end models) reads from its manifest in
 * the same way: the input spec, number options, and clipping boxes to the image.
 */

import type { ImageResize, ModelManifest } from "../manifest.ts";
import type { Box } from "../types.ts";
import { COCO_FLIP_PAIRS } from "../coco_keypoints.ts";
import type { ImageFrame, ImageInputSpec, KeypointAdapter } from "./adapter.ts";

/**
 * The whole-image input spec from a manifest: letterbox (pad value default 114) or DETR's
 * shorter-side resize (800, longer side at most 1333 by default). `fallback` applies when the
 * manifest names no resize. Errors name the model file and the missing field.
 */
export function imageInputSpec(manifest: ModelManifest, fallback: ImageResize): ImageInputSpec {
  const input = manifest.input;
  const where = `model ${manifest.file}`;
  if (!input) throw new Error(`${where}: the manifest has no "input"`);
  for (const field of ["name", "colorOrder", "mean", "std"] as const) {
    if (input[field] === undefined) throw new Error(`${where}: the manifest lacks input.${field}`);
  }
  const normalization = { colorOrder: input.colorOrder, mean: input.mean, std: input.std };
  const resize = input.resize ?? fallback;
  if (resize === "letterbox") {
    if (!(input.width > 0 && input.height > 0)) {
      throw new Error(`${where}: input.width and input.height must be positive for a letterbox`);
    }
    return {
      inputName: input.name,
      resize: {
        kind: "letterbox",
        width: input.width,
        height: input.height,
        padValue: input.padValue ?? 114,
      },
      normalization,
    };
  }
  if (resize !== "shorter-side") {
    throw new Error(`${where}: input.resize "${resize}" is not "letterbox" or "shorter-side"`);
  }
  return {
    inputName: input.name,
    resize: {
      kind: "shorter-side",
      shorterSide: input.shorterSide ?? 800,
      longerSideMax: input.longerSideMax ?? 1333,
    },
    normalization,
  };
}

/** A number-valued manifest option, or `fallback`; throws when it has another type. */
export function numberOption(manifest: ModelManifest, key: string, fallback: number): number;
export function numberOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
): number | undefined;
export function numberOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
): number | undefined {
  const value = manifest.options?.[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new Error(`model ${manifest.file}: option "${key}" must be a number, got ${value}`);
  }
  return value;
}

/** Clips a box in image pixels to the image; null when nothing of it is left. */
export function clipBox(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  score: number,
  frame: ImageFrame,
): Box | null {
  const box: Box = {
    x1: Math.min(Math.max(x1, 0), frame.imageWidth),
    y1: Math.min(Math.max(y1, 0), frame.imageHeight),
    x2: Math.min(Math.max(x2, 0), frame.imageWidth),
    y2: Math.min(Math.max(y2, 0), frame.imageHeight),
    score,
  };
  // A box entirely in the padding (or degenerate) has no pixels to crop.
  return box.x2 > box.x1 && box.y2 > box.y1 ? box : null;
}

/** The crop-side fields every top-down keypoint adapter shares. */
export type KeypointCropFields = Pick<
  KeypointAdapter,
  | "task"
  | "manifest"
  | "inputName"
  | "inputWidth"
  | "inputHeight"
  | "normalization"
  | "padding"
  | "dynamicBatch"
  | "numKeypoints"
  | "flipPairs"
>;

/**
 * Reads a keypoint model's crop spec from its manifest: input name and size, normalization,
 * `padding` (option, default 1.25), batch, keypoint count and flip pairs (COCO's for 17
 * keypoints unless the manifest lists its own). Errors name the model file and the field.
 */
export function keypointCropFields(manifest: ModelManifest): KeypointCropFields {
  const input = manifest.input;
  const where = `model ${manifest.file}`;
  if (!input) throw new Error(`${where}: the manifest has no "input"`);
  for (const field of ["name", "width", "height", "colorOrder", "mean", "std"] as const) {
    if (input[field] === undefined) throw new Error(`${where}: the manifest lacks input.${field}`);
  }
  if (!(input.width > 0 && input.height > 0)) {
    throw new Error(`${where}: input.width and input.height must be the crop size in pixels`);
  }
  const padding = numberOption(manifest, "padding", 1.25);
  if (!(padding > 0)) throw new Error(`${where}: option "padding" must be a positive number`);
  const numKeypoints = manifest.keypoints?.length ?? 17;
  return {
    task: "keypoints",
    manifest,
    inputName: input.name,
    inputWidth: input.width,
    inputHeight: input.height,
    normalization: { colorOrder: input.colorOrder, mean: input.mean, std: input.std },
    padding,
    dynamicBatch: input.dynamicBatch ?? false,
    numKeypoints,
    flipPairs: manifest.flipPairs ?? (numKeypoints === 17 ? COCO_FLIP_PAIRS : []),
  };
}
