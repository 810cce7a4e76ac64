/** Small numeric helpers shared by the decoders. Pure functions, no I/O. */

/**
 * Softmax of `values[start, end)`, computed in float64 with the maximum subtracted first so
 * that large logits do not overflow.
 */
export function softmax(
  values: ArrayLike<number>,
  start = 0,
  end: number = values.length,
): Float64Array {
  const out = new Float64Array(end - start);
  let max = -Infinity;
  for (let i = start; i < end; i++) if (values[i] > max) max = values[i];
  let sum = 0;
  for (let i = start; i < end; i++) {
    const e = Math.exp(values[i] - max);
    out[i - start] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** The logistic function 1 / (1 + e^-x). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Index (relative to `start`) of the first largest of `values[start, start + length)`: the
 * argmax every decoder (heatmap peaks, SimCC bins) uses. Ties take the first.
 */
export function argmax(
  values: ArrayLike<number>,
  start = 0,
  length: number = values.length - start,
): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i] > values[start + best]) best = i;
  return best;
}

/**
 * The peak of each of K maps of H × W (row-major, map after map), as K × 3: x, y and the
 * map's maximum. The peak is the first argmax (pixel p at coordinate p), moved by
 * `refine(map, px, py)` and scaled by (scaleX, scaleY); a map whose maximum is ≤ 0 has no
 * peak and gives x = y = 0, as HRNet's `get_max_preds` does. The one peak search of the
 * heatmap and UDP decoders.
 */
export function heatmapPeaks(
  heatmaps: Float32Array,
  k: number,
  h: number,
  w: number,
  refine: (map: Float32Array, px: number, py: number) => [number, number],
  scaleX = 1,
  scaleY = 1,
): Float32Array {
  const plane = h * w;
  const out = new Float32Array(k * 3);
  for (let j = 0; j < k; j++) {
    const map = heatmaps.subarray(j * plane, (j + 1) * plane);
    const best = argmax(map);
    const maxValue = map[best];
    if (maxValue > 0) {
      const px = best % w, py = Math.floor(best / w);
      const [dx, dy] = refine(map, px, py);
      out[3 * j] = (px + dx) * scaleX;
      out[3 * j + 1] = (py + dy) * scaleY;
    }
    out[3 * j + 2] = maxValue;
  }
  return out;
}
