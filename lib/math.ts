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
