/**
 * UDP codec: Unbiased Data Processing for top-down heatmap models ("The Devil is in the
 * Details: Delving into Unbiased Data Processing for Human Pose Estimation", Huang et al.,
 * CVPR 2020), as mmpose implements it (`get_udp_warp_matrix`, the `UDPHeatmap` codec,
 * `refine_keypoints_dark_udp`). Used by ViTPose and mmpose's `*_udp` configs. Pure functions.
 *
 * The paper measures image sizes in unit lengths between pixel centres: an image of w pixels
 * spans w − 1. So the crop region (width `region.width`) maps onto the input's w_in − 1, and
 * the heatmap's w_hm − 1 onto the input's w_in − 1. Everything then lines up exactly: the
 * region's left edge is input pixel 0 and heatmap pixel 0, its right edge input pixel w_in − 1
 * and heatmap pixel w_hm − 1, and a horizontal mirror of any of them is x → size − 1 − x.
 *
 * Coordinates: pixel p at coordinate p (as in `lib/affine.ts`).
 */

import { heatmapPeaks } from "../math/numeric.ts";
import { gaussianBlurHeatmap, gaussianKernel } from "./gaussian.ts";

/** Options of `decodeUdpHeatmaps`. */
export interface UdpDecodeOptions {
  /**
   * "dark-udp" (default, what mmpose's UDPHeatmap always does): one Newton step on the
   * log of the blurred heatmap from the argmax. "none": the integer argmax.
   */
  refine?: "dark-udp" | "none";
  /** Gaussian blur kernel size (odd) of the DARK modulation; default 11 (sigma-2 targets). */
  blurKernel?: number;
}

/**
 * Keypoints from K UDP heatmaps of H × W (row-major, channel after channel) as K × 3: x, y
 * in crop INPUT pixels and score = the heatmap's maximum.
 *
 * Heatmap → input uses the UDP scale (inputWidth − 1)/(W − 1), (inputHeight − 1)/(H − 1):
 * heatmap pixel (W − 1, H − 1) is input pixel (inputWidth − 1, inputHeight − 1). Composed with
 * the inverse of `udpCropTransform` this is exactly mmpose's result (mmpose's decode multiplies
 * by input/(W − 1) and its post-process divides by input again, using input rather than
 * input − 1 as its unit: the product, heatmap → image, is the same region.width/(W − 1)).
 *
 * "dark-udp" follows mmpose's `refine_keypoints_dark_udp`: blur (zero padding, rescaled to the
 * original maximum), clip to [0.001, 50], log, edge padding, central differences with step 1,
 * x ← x − (Hessian + eps·I)⁻¹·gradient; applied at every argmax, borders included.
 *
 * A heatmap whose maximum is ≤ 0 gives (0, 0) and is not refined (posekit's heatmap decoder
 * does the same; mmpose writes −1 there), with that maximum as its score.
 */
export function decodeUdpHeatmaps(
  heatmaps: Float32Array,
  k: number,
  h: number,
  w: number,
  inputWidth: number,
  inputHeight: number,
  options: UdpDecodeOptions = {},
): Float32Array {
  const plane = h * w;
  if (!(k > 0 && h > 1 && w > 1) || heatmaps.length < k * plane) {
    throw new Error(`decodeUdpHeatmaps: ${heatmaps.length} values for ${k}×${h}×${w} heatmaps`);
  }
  if (!(inputWidth > 1 && inputHeight > 1)) {
    throw new Error(`decodeUdpHeatmaps: input ${inputWidth}×${inputHeight} must exceed 1×1`);
  }
  const refine = options.refine ?? "dark-udp";
  if (refine !== "dark-udp" && refine !== "none") {
    throw new Error(`decodeUdpHeatmaps: refine "${refine}" is not "dark-udp" or "none"`);
  }
  const blurKernel = options.blurKernel ?? 11;
  gaussianKernel(blurKernel); // validates the size
  return heatmapPeaks(
    heatmaps,
    k,
    h,
    w,
    (hm, px, py) => refine === "dark-udp" ? darkUdpStep(hm, h, w, px, py, blurKernel) : [0, 0],
    (inputWidth - 1) / (w - 1),
    (inputHeight - 1) / (h - 1),
  );
}

/** float32 machine epsilon, which mmpose adds to the Hessian's diagonal before inverting. */
const FLOAT32_EPS = 2 ** -23;

/** mmpose's `refine_keypoints_dark_udp` offset for one heatmap at integer peak (px, py). */
function darkUdpStep(
  hm: Float32Array,
  h: number,
  w: number,
  px: number,
  py: number,
  kernelSize: number,
): [number, number] {
  const blurred = gaussianBlurHeatmap(hm, h, w, kernelSize);
  // Edge padding: a neighbour outside the map reads the nearest border pixel.
  const at = (x: number, y: number) => {
    const xx = Math.min(Math.max(x, 0), w - 1), yy = Math.min(Math.max(y, 0), h - 1);
    return Math.log(Math.min(Math.max(blurred[yy * w + xx], 1e-3), 50));
  };
  const i0 = at(px, py);
  const ix1 = at(px + 1, py), ix1_ = at(px - 1, py);
  const iy1 = at(px, py + 1), iy1_ = at(px, py - 1);
  const ix1y1 = at(px + 1, py + 1), ix1_y1_ = at(px - 1, py - 1);
  const dx = 0.5 * (ix1 - ix1_);
  const dy = 0.5 * (iy1 - iy1_);
  const dxx = ix1 - 2 * i0 + ix1_ + FLOAT32_EPS;
  const dyy = iy1 - 2 * i0 + iy1_ + FLOAT32_EPS;
  const dxy = 0.5 * (ix1y1 - ix1 - iy1 + 2 * i0 - ix1_ - iy1_ + ix1_y1_);
  const det = dxx * dyy - dxy * dxy;
  if (det === 0 || !Number.isFinite(det)) return [0, 0];
  // −H⁻¹·g with H⁻¹ = [dyy, −dxy; −dxy, dxx] / det.
  return [-(dyy * dx - dxy * dy) / det, -(dxx * dy - dxy * dx) / det];
}
