/**
 * Affine geometry of the top-down crop: person box → crop region → 2×3 transforms between
 * image pixels and crop (network input) pixels. Pure functions, no I/O.
 *
 * Conventions follow the standard top-down protocol (HRNet / SimpleBaseline / PRTR): the crop
 * region is centred on the box, widened to the network's aspect ratio, enlarged by `padding`,
 * and mapped onto the network input so that the region's centre lands on (W/2, H/2) with
 * one uniform scale. Pixel p of the crop is at coordinate p (no half-pixel shift), as in
 * `cv2.warpAffine` with HRNet's `get_affine_transform`.
 */

import type { Box } from "../types.ts";

/** A crop region in image pixels: centre and size (width/height match the network's aspect). */
export interface CropRegion {
  /** Centre x, image pixels. */
  cx: number;
  /** Centre y, image pixels. */
  cy: number;
  /** Width, image pixels. */
  width: number;
  /** Height, image pixels. */
  height: number;
}

/**
 * 2×3 affine matrix [a, b, c, d, e, f] mapping (x, y) to (a·x + b·y + c, d·x + e·y + f).
 */
export type Affine = Float64Array;

/**
 * The crop region for a person box: the box widened (never shrunk) to `aspect` = width/height,
 * then enlarged by `padding` (1.25 in the standard protocol).
 */
export function boxToCropRegion(box: Box, aspect: number, padding = 1.25): CropRegion {
  let width = box.x2 - box.x1;
  let height = box.y2 - box.y1;
  const cx = box.x1 + width * 0.5;
  const cy = box.y1 + height * 0.5;
  if (width > aspect * height) height = width / aspect;
  else if (width < aspect * height) width = height * aspect;
  return { cx, cy, width: width * padding, height: height * padding };
}

/**
 * The transform from image pixels to crop pixels for a `outWidth`×`outHeight` crop of
 * `region`. The scale comes from the region width, as HRNet's get_affine_transform does.
 */
export function imageToCropTransform(
  region: CropRegion,
  outWidth: number,
  outHeight: number,
): Affine {
  const s = outWidth / region.width;
  return Float64Array.of(
    s,
    0,
    outWidth * 0.5 - s * region.cx,
    0,
    s,
    outHeight * 0.5 - s * region.cy,
  );
}

/** The inverse of an affine transform. Throws on a singular matrix. */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (det === 0 || !Number.isFinite(det)) throw new Error("affine transform is not invertible");
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  return Float64Array.of(ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f));
}

/** Composition: the transform that applies `first`, then `second`. */
export function composeAffine(second: Affine, first: Affine): Affine {
  const [a1, b1, c1, d1, e1, f1] = first;
  const [a2, b2, c2, d2, e2, f2] = second;
  return Float64Array.of(
    a2 * a1 + b2 * d1,
    a2 * b1 + b2 * e1,
    a2 * c1 + b2 * f1 + c2,
    d2 * a1 + e2 * d1,
    d2 * b1 + e2 * e1,
    d2 * c1 + e2 * f1 + f2,
  );
}

/** Applies `m` to the point (x, y). */
export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/**
 * Maps keypoints (K × 3: x, y, score) in place with `m`, leaving scores untouched.
 * Returns the same array.
 */
export function transformKeypoints(m: Affine, keypoints: Float32Array): Float32Array {
  for (let i = 0; i + 2 < keypoints.length; i += 3) {
    const x = keypoints[i], y = keypoints[i + 1];
    keypoints[i] = m[0] * x + m[1] * y + m[2];
    keypoints[i + 1] = m[3] * x + m[4] * y + m[5];
  }
  return keypoints;
}

/**
 * The unbiased image → crop transform (mmpose `get_udp_warp_matrix`, no rotation): the
 * region's left/top edge (cx − width/2, cy − height/2) goes to input pixel (0, 0), its
 * right/bottom edge to (inputWidth − 1, inputHeight − 1), its centre to
 * ((inputWidth − 1)/2, (inputHeight − 1)/2). Scales are (inputWidth − 1)/width along x and
 * (inputHeight − 1)/height along y, which differ slightly even when the region has the
 * input's aspect ratio (192×256: 191/192 vs 255/256 of it), as in mmpose.
 *
 * Returns the same 2×3 `Affine` as `imageToCropTransform`; its inverse (`invertAffine`) maps
 * crop input pixels back to image pixels.
 */
export function udpCropTransform(
  region: CropRegion,
  inputWidth: number,
  inputHeight: number,
): Affine {
  if (!(region.width > 0 && region.height > 0)) {
    throw new Error(`udpCropTransform: region ${region.width}×${region.height} has no area`);
  }
  if (!(inputWidth > 1 && inputHeight > 1)) {
    throw new Error(`udpCropTransform: input ${inputWidth}×${inputHeight} must exceed 1×1`);
  }
  const sx = (inputWidth - 1) / region.width;
  const sy = (inputHeight - 1) / region.height;
  return Float64Array.of(
    sx,
    0,
    sx * (0.5 * region.width - region.cx),
    0,
    sy,
    sy * (0.5 * region.height - region.cy),
  );
}
