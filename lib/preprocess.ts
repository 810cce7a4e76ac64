/**
 * Image → network input tensors, in one pass: each output value is sampled from the RGB
 * image, normalized and written straight into the NCHW float tensor (no intermediate images).
 */

import type { Affine } from "./affine.ts";
import type { ImageFrame, ImageInputSpec } from "./families/family.ts";
import { imageFrame } from "./frame.ts";
import type { Normalization, RgbImage } from "./types.ts";

/** Per network channel: which RGB channel to read, and value·scale + bias. */
function channelPlan(
  norm: Normalization,
): { source: Int32Array; scale: Float32Array; bias: Float32Array } {
  const source = norm.colorOrder === "rgb" ? Int32Array.of(0, 1, 2) : Int32Array.of(2, 1, 0);
  const scale = new Float32Array(3);
  const bias = new Float32Array(3);
  for (let c = 0; c < 3; c++) {
    scale[c] = 1 / norm.std[c];
    bias[c] = -norm.mean[c] / norm.std[c];
  }
  return { source, scale, bias };
}

/**
 * Warps `image` into a crop with bilinear sampling and writes it, normalized, into `dst`
 * (NCHW, one batch item of 3 × outHeight × outWidth starting at `offset`).
 *
 * `cropToImage` maps crop pixel (u, v) to image coordinates. Pixels outside the image read
 * as 0 (black), like `cv2.warpAffine` with a constant border. With `mirror`, column u is
 * written where column outWidth−1−u would be: the horizontally flipped crop of the flip test.
 */
export function warpCropToTensor(
  image: RgbImage,
  cropToImage: Affine,
  outWidth: number,
  outHeight: number,
  norm: Normalization,
  dst: Float32Array,
  offset = 0,
  mirror = false,
): void {
  const { width, height, data } = image;
  const { source, scale, bias } = channelPlan(norm);
  const plane = outWidth * outHeight;
  const [a, b, c, d, e, f] = cropToImage;
  const rowStride = width * 3;
  const s0 = source[0], s1 = source[1], s2 = source[2];
  for (let v = 0; v < outHeight; v++) {
    let sx = b * v + c;
    let sy = e * v + f;
    const rowBase = offset + v * outWidth;
    for (let u = 0; u < outWidth; u++, sx += a, sy += d) {
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      let r = 0, g = 0, bl = 0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
        // Fast path: all four neighbours inside.
        const p = y0 * rowStride + x0 * 3;
        const q = p + rowStride;
        const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        r = data[p] * w00 + data[p + 3] * w01 + data[q] * w10 + data[q + 3] * w11;
        g = data[p + 1] * w00 + data[p + 4] * w01 + data[q + 1] * w10 + data[q + 4] * w11;
        bl = data[p + 2] * w00 + data[p + 5] * w01 + data[q + 2] * w10 + data[q + 5] * w11;
      } else if (x0 >= -1 && y0 >= -1 && x0 < width && y0 < height) {
        // Border: neighbours outside the image count as black.
        for (let dy = 0; dy < 2; dy++) {
          const yy = y0 + dy;
          if (yy < 0 || yy >= height) continue;
          const wy = dy ? fy : 1 - fy;
          for (let dx = 0; dx < 2; dx++) {
            const xx = x0 + dx;
            if (xx < 0 || xx >= width) continue;
            const w = wy * (dx ? fx : 1 - fx);
            const p = yy * rowStride + xx * 3;
            r += data[p] * w;
            g += data[p + 1] * w;
            bl += data[p + 2] * w;
          }
        }
      }
      const rgb0 = s0 === 0 ? r : s0 === 1 ? g : bl;
      const rgb1 = s1 === 0 ? r : s1 === 1 ? g : bl;
      const rgb2 = s2 === 0 ? r : s2 === 1 ? g : bl;
      const i = rowBase + (mirror ? outWidth - 1 - u : u);
      dst[i] = rgb0 * scale[0] + bias[0];
      dst[i + plane] = rgb1 * scale[1] + bias[1];
      dst[i + 2 * plane] = rgb2 * scale[2] + bias[2];
    }
  }
}

/**
 * Resizes the whole image for a detector (bilinear, half-pixel centres and clamped edges as
 * `cv2.resize` with INTER_LINEAR), pads bottom/right with the spec's pad value, normalizes,
 * and returns the NCHW tensor data (batch 1) with its frame.
 */
export function imageToTensor(
  image: RgbImage,
  spec: ImageInputSpec,
): { data: Float32Array; dims: [number, number, number, number]; frame: ImageFrame } {
  const frame = imageFrame(spec.resize, image.width, image.height);
  const { inputWidth: W, inputHeight: H, contentWidth: cw, contentHeight: ch } = frame;
  const { padX, padY } = frame;
  const { source, scale, bias } = channelPlan(spec.normalization);
  const plane = W * H;
  const out = new Float32Array(3 * plane);
  const pad = spec.resize.kind === "letterbox" ? spec.resize.padValue : 0;
  for (let c = 0; c < 3; c++) out.fill(pad * scale[c] + bias[c], c * plane, (c + 1) * plane);

  const { width, height, data } = image;
  const sx = width / cw, sy = height / ch;
  // Horizontal sampling positions and weights, computed once per column.
  const xOffset0 = new Int32Array(cw),
    xOffset1 = new Int32Array(cw),
    xWeight = new Float32Array(cw);
  for (let u = 0; u < cw; u++) {
    const x = Math.min(Math.max((u + 0.5) * sx - 0.5, 0), width - 1);
    const x0 = Math.floor(x);
    xOffset0[u] = x0 * 3;
    xOffset1[u] = Math.min(x0 + 1, width - 1) * 3;
    xWeight[u] = x - x0;
  }
  for (let v = 0; v < ch; v++) {
    const y = Math.min(Math.max((v + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(y);
    const wy = y - y0;
    const row0 = y0 * width * 3;
    const row1 = Math.min(y0 + 1, height - 1) * width * 3;
    const base = (v + padY) * W + padX;
    for (let u = 0; u < cw; u++) {
      const wx = xWeight[u];
      const p00 = row0 + xOffset0[u], p01 = row0 + xOffset1[u];
      const p10 = row1 + xOffset0[u], p11 = row1 + xOffset1[u];
      for (let c = 0; c < 3; c++) {
        const k = source[c];
        const top = data[p00 + k] + (data[p01 + k] - data[p00 + k]) * wx;
        const bottom = data[p10 + k] + (data[p11 + k] - data[p10 + k]) * wx;
        out[c * plane + base + u] = (top + (bottom - top) * wy) * scale[c] + bias[c];
      }
    }
  }
  return { data: out, dims: [1, 3, H, W], frame };
}
