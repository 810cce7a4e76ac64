/** The Gaussian kernel and heatmap blur that DARK and DARK-UDP refinement share. */

/**
 * OpenCV's `getGaussianKernel(size, 0)`: its fixed small kernels, else sigma from the size.
 * (The same as `lib/families/heatmap.ts`'s, kept here so that the codecs do not depend on
 * `lib/families/`; the heatmap family can import this one.)
 */
export function gaussianKernel(size: number): Float64Array {
  if (!(Number.isInteger(size) && size > 0 && size % 2 === 1)) {
    throw new Error(`Gaussian kernel size must be a positive odd integer, got ${size}`);
  }
  const fixed: Record<number, number[]> = {
    1: [1],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
  };
  if (fixed[size]) return Float64Array.from(fixed[size]);
  const sigma = ((size - 1) * 0.5 - 1) * 0.3 + 0.8;
  const kernel = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const d = i - (size - 1) / 2;
    kernel[i] = Math.exp(-(d * d) / (2 * sigma * sigma));
    sum += kernel[i];
  }
  for (let i = 0; i < size; i++) kernel[i] /= sum;
  return kernel;
}

/**
 * mmpose's `gaussian_blur` for one H × W heatmap: zero padding, separable Gaussian
 * (`gaussianKernel`), then rescaled so that its maximum equals the original maximum.
 */
export function gaussianBlurHeatmap(
  hm: ArrayLike<number>,
  h: number,
  w: number,
  kernelSize = 11,
): Float64Array {
  const kernel = gaussianKernel(kernelSize);
  const r = (kernelSize - 1) / 2;
  const rows = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = Math.max(-r, -x); i <= Math.min(r, w - 1 - x); i++) {
        s += kernel[i + r] * hm[y * w + x + i];
      }
      rows[y * w + x] = s;
    }
  }
  const out = new Float64Array(h * w);
  let originalMax = -Infinity, blurredMax = -Infinity;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = Math.max(-r, -y); i <= Math.min(r, h - 1 - y); i++) {
        s += kernel[i + r] * rows[(y + i) * w + x];
      }
      out[y * w + x] = s;
      if (s > blurredMax) blurredMax = s;
      if (hm[y * w + x] > originalMax) originalMax = hm[y * w + x];
    }
  }
  const factor = originalMax / blurredMax;
  for (let i = 0; i < out.length; i++) out[i] *= factor;
  return out;
}
