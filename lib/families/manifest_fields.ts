/**
 * The one set of readers for what families take from a manifest: typed options, the
 * whole-image input spec, the crop spec, and keypoint metadata. Errors name the model file
 * and the field.
 */

import { COCO_FLIP_PAIRS, flipPermutation } from "../coco/keypoints.ts";
import type { ImageResize, ModelManifest } from "../models/manifest.ts";
import type { CropSpec, ImageInputSpec } from "./family.ts";

/** A number option, or `fallback`; `check` (with its wording) validates the value. */
export function numberOption(
  manifest: ModelManifest,
  key: string,
  fallback: number,
  check?: [(n: number) => boolean, string],
): number;
export function numberOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
  check?: [(n: number) => boolean, string],
): number | undefined;
export function numberOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
  check?: [(n: number) => boolean, string],
): number | undefined {
  const value = manifest.options?.[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || (check && !check[0](value))) {
    throw new Error(
      `model ${manifest.file}: options.${key} must be ${check ? check[1] : "a number"}, ` +
        `got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** An integer option ≥ 0 (class indices, labels), or `fallback`. */
export function indexOption(manifest: ModelManifest, key: string, fallback: number): number;
export function indexOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
): number | undefined;
export function indexOption(
  manifest: ModelManifest,
  key: string,
  fallback?: number,
): number | undefined {
  return numberOption(manifest, key, fallback, [
    (n) => Number.isInteger(n) && n >= 0,
    "an integer ≥ 0",
  ]);
}

/** A boolean option, or `fallback`. */
export function booleanOption(manifest: ModelManifest, key: string, fallback: boolean): boolean {
  const value = manifest.options?.[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new Error(`model ${manifest.file}: options.${key} must be true or false`);
  }
  return value;
}

/** A string option that must be one of `allowed`, or `fallback`. */
export function choiceOption<const T extends string>(
  manifest: ModelManifest,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = manifest.options?.[key];
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new Error(
      `model ${manifest.file}: options.${key} must be ${
        allowed.map((a) => `"${a}"`).join(" or ")
      }, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** A string option (any value), or `fallback`. */
export function stringOption(manifest: ModelManifest, key: string, fallback: string): string {
  const value = manifest.options?.[key];
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value === "") {
    throw new Error(`model ${manifest.file}: options.${key} must be a non-empty string`);
  }
  return value;
}

function requireInputFields(manifest: ModelManifest, fields: readonly string[]): void {
  const where = `model ${manifest.file}`;
  if (!manifest.input) throw new Error(`${where}: the manifest has no "input"`);
  for (const field of fields) {
    if ((manifest.input as unknown as Record<string, unknown>)[field] === undefined) {
      throw new Error(`${where}: the manifest lacks input.${field}`);
    }
  }
}

/**
 * The whole-image input spec: letterbox (pad value default 114; `letterbox-centred` pads
 * both sides), DETR's shorter-side resize (800, longer side at most 1333 by default), or a
 * plain stretch. `fallback` applies when the manifest names no resize.
 */
export function imageInputSpec(manifest: ModelManifest, fallback: ImageResize): ImageInputSpec {
  requireInputFields(manifest, ["name", "colorOrder", "mean", "std"]);
  const input = manifest.input;
  const where = `model ${manifest.file}`;
  const normalization = { colorOrder: input.colorOrder, mean: input.mean, std: input.std };
  const resize = input.resize ?? fallback;
  const fixedSize = () => {
    if (!(input.width > 0 && input.height > 0)) {
      throw new Error(`${where}: input.width and input.height must be positive for "${resize}"`);
    }
    return { width: input.width, height: input.height };
  };
  switch (resize) {
    case "letterbox":
    case "letterbox-centred":
      return {
        name: input.name,
        resize: {
          kind: "letterbox",
          ...fixedSize(),
          padValue: input.padValue ?? 114,
          centred: resize === "letterbox-centred",
        },
        normalization,
      };
    case "stretch":
      return { name: input.name, resize: { kind: "stretch", ...fixedSize() }, normalization };
    case "shorter-side":
      return {
        name: input.name,
        resize: {
          kind: "shorter-side",
          shorterSide: input.shorterSide ?? 800,
          longerSideMax: input.longerSideMax ?? 1333,
        },
        normalization,
      };
    default:
      throw new Error(`${where}: input.resize "${resize}" is not a known resize`);
  }
}

/**
 * A keypoint model's crop spec: input name and size, normalization, options `padding`
 * (default 1.25), `aspectRatio` (default the input's width / height) and `flipShift` (default
 * true for the standard transform, false for UDP), and the crop transform
 * (`input.cropTransform`, default "standard").
 */
export function cropSpec(manifest: ModelManifest): CropSpec {
  requireInputFields(manifest, ["name", "width", "height", "colorOrder", "mean", "std"]);
  const input = manifest.input;
  if (!(input.width > 0 && input.height > 0)) {
    throw new Error(
      `model ${manifest.file}: input.width and input.height must be the crop size in pixels`,
    );
  }
  const transform = input.cropTransform ?? "standard";
  return {
    name: input.name,
    width: input.width,
    height: input.height,
    normalization: { colorOrder: input.colorOrder, mean: input.mean, std: input.std },
    padding: numberOption(manifest, "padding", 1.25, [(n) => n > 0, "a positive number"]),
    aspectRatio: numberOption(manifest, "aspectRatio", input.width / input.height, [
      (n) => n > 0,
      "a positive number (width / height)",
    ]),
    transform,
    flipShift: booleanOption(manifest, "flipShift", transform === "standard"),
  };
}

/** Keypoint count and flip pairs (COCO's for 17 keypoints unless the manifest lists its own). */
export function keypointLayout(
  manifest: ModelManifest,
): { numKeypoints: number; flipPairs: readonly (readonly [number, number])[] } {
  const numKeypoints = manifest.keypoints?.length ?? 17;
  const flipPairs = manifest.flipPairs ?? (numKeypoints === 17 ? COCO_FLIP_PAIRS : []);
  try {
    flipPermutation(numKeypoints, flipPairs); // validates the pairs once, at load
  } catch (error) {
    throw new Error(`model ${manifest.file}: ${(error as Error).message}`);
  }
  return { numKeypoints, flipPairs };
}
