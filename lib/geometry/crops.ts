/**
 * Person crops, the one place that owns them: boxes → crop regions → crop transforms
 * (standard or UDP, as the family's crop spec says) → one NCHW tensor with mirrored copies
 * for the flip test → keypoints back in image coordinates.
 */

import {
  type Affine,
  boxToCropRegion,
  type CropRegion,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "./affine.ts";
import { udpCropTransform } from "./affine.ts";
import type { CropSpec } from "../families/family.ts";
import { warpCropToTensor } from "../image/preprocess.ts";
import type { Box, RgbImage } from "../types.ts";

/** The image → crop transform of a region under a crop spec. */
export function cropTransform(region: CropRegion, spec: CropSpec): Affine {
  return spec.transform === "udp"
    ? udpCropTransform(region, spec.width, spec.height)
    : imageToCropTransform(region, spec.width, spec.height);
}

/** One box's crop geometry. */
export interface CropGeometry {
  /** The person box. */
  box: Box;
  /** The region of the image the crop shows (the box widened and enlarged). */
  region: CropRegion;
  /** Crop input pixels → image pixels. */
  cropToImage: Affine;
}

/**
 * The crop geometry of each box, or null for a box that cannot be cropped (no area,
 * non-finite or absurdly large values, a score that is not finite): such a box is skipped,
 * not fatal for its image.
 */
export function cropGeometry(box: Box, spec: CropSpec): CropGeometry | null {
  const values = [box.x1, box.y1, box.x2, box.y2];
  // Beyond 2^31 px a box is no real person box, and float maths would lose all precision.
  if (!values.every((v) => Number.isFinite(v) && Math.abs(v) < 2 ** 31)) return null;
  // Its score becomes the person's: one that is not finite could be neither ranked nor written.
  if (!Number.isFinite(box.score)) return null;
  if (!(box.x2 > box.x1 && box.y2 > box.y1)) return null;
  const region = boxToCropRegion(box, spec.aspectRatio, spec.padding);
  try {
    return { box, region, cropToImage: invertAffine(cropTransform(region, spec)) };
  } catch {
    return null;
  }
}

/**
 * The crops of `geometries` as one NCHW tensor: crop i at batch index i·(flip ? 2 : 1), its
 * mirrored copy right after it. Sampling is bilinear, straight from the image.
 */
export function cropsToTensor(
  image: RgbImage,
  geometries: readonly CropGeometry[],
  spec: CropSpec,
  flip: boolean,
): Float32Array {
  const itemSize = 3 * spec.width * spec.height;
  const perBox = flip ? 2 : 1;
  const tensor = new Float32Array(geometries.length * perBox * itemSize);
  geometries.forEach((g, i) => {
    const at = i * perBox * itemSize;
    warpCropToTensor(image, g.cropToImage, spec.width, spec.height, spec.normalization, tensor, at);
    // The mirrored crop samples the same points, column u landing at W − 1 − u: reversing
    // each row of the crop gives it bit for bit, without sampling the image again.
    if (flip) mirrorRows(tensor, at, at + itemSize, spec.width, 3 * spec.height);
  });
  return tensor;
}

/** Copies `rows` rows of `width` values from `from` to `to`, each row reversed. */
function mirrorRows(data: Float32Array, from: number, to: number, width: number, rows: number) {
  for (let r = 0; r < rows; r++) {
    const src = from + r * width, dst = to + r * width + width - 1;
    for (let u = 0; u < width; u++) data[dst - u] = data[src + u];
  }
}

/** Keypoints (K × 3) from crop input pixels to image pixels, in place. */
export function cropKeypointsToImage(
  geometry: CropGeometry,
  keypoints: Float32Array,
): Float32Array {
  return transformKeypoints(geometry.cropToImage, keypoints);
}
