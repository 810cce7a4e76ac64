/**
 * The One-Euro filter (Casiez, Roussel, Vogel: "1€ Filter: A Simple Speed-based Low-pass
 * Filter for Noisy Input in Interactive Systems", CHI 2012), the filter MediaPipe smooths
 * landmarks with.
 *
 * A first-order low-pass filter whose cutoff rises with the signal's speed:
 * `cutoff = minCutoff + beta · |filtered derivative|`. At rest the low `minCutoff` removes
 * jitter; in fast motion the higher cutoff removes lag. Each step, with dt the time since the
 * previous sample and `α(fc) = r / (r + 1)`, `r = 2π · fc · dt`:
 *
 *     dx̂ = α(dCutoff) · (x − x̂prev) / dt + (1 − α(dCutoff)) · dx̂prev
 *     x̂  = α(minCutoff + beta · |dx̂|) · x + (1 − α(…)) · x̂prev
 *
 * The first sample passes unchanged, with derivative 0.
 *
 * Defaults are for keypoints in image pixels at video rates (the paper's suggested start:
 * `minCutoff` 1 Hz, `dCutoff` 1 Hz; `beta` then tuned for speed in px/s): with
 * `beta = 0.007` a limb moving at 500 px/s raises the cutoff from 1 Hz to 4.5 Hz. Measured in
 * tests/one_euro_test.ts at 30 fps: on a still point with Gaussian noise the jitter's standard
 * deviation drops about 3× (σ 1–4 px: 2.8–3.2×), and a 50 px step is 90% followed within 5
 * frames (13 frames with `beta` 0, the plain low-pass at 1 Hz). Because `beta`
 * is per pixel per second, small people (few pixels) move slowly in pixels and get a lower
 * cutoff: raise `beta` for small subjects or when lag shows.
 */

/** One-Euro parameters. */
export interface OneEuroOptions {
  /** Cutoff frequency at rest, Hz: lower removes more jitter, adds lag. Default 1. */
  minCutoff?: number;
  /** Cutoff increase per unit of speed (Hz per px/s): higher follows fast motion. Default 0.007. */
  beta?: number;
  /** Cutoff frequency for the derivative, Hz. Default 1. */
  dCutoff?: number;
}

/** The default parameters (see the module comment for why). */
export const ONE_EURO_DEFAULTS: Readonly<Required<OneEuroOptions>> = Object.freeze({
  minCutoff: 1,
  beta: 0.007,
  dCutoff: 1,
});

/** The exponential smoothing factor of a first-order low-pass at `cutoffHz` for a step of `dt` s. */
export function smoothingFactor(cutoffHz: number, dt: number): number {
  const r = 2 * Math.PI * cutoffHz * dt;
  return r / (r + 1);
}

function resolveOptions(options: OneEuroOptions): Required<OneEuroOptions> {
  const resolved = { ...ONE_EURO_DEFAULTS, ...options };
  const { minCutoff, beta, dCutoff } = resolved;
  if (!(minCutoff > 0) || !(beta >= 0) || !(dCutoff > 0)) {
    throw new RangeError(
      `One-Euro: need minCutoff > 0, beta ≥ 0, dCutoff > 0; got ${minCutoff}, ${beta}, ${dCutoff}`,
    );
  }
  return resolved;
}

/** A One-Euro filter for one scalar signal. *
 * @example Smoothing a step
 * ```ts
 * import assert from "node:assert/strict";
 * import { ONE_EURO_DEFAULTS, OneEuroFilter } from "@posekit/posekit";
 *
 * const filter = new OneEuroFilter(); // minCutoff 1 Hz, beta 0.007, dCutoff 1 Hz
 * assert.deepEqual(filter.options, ONE_EURO_DEFAULTS);
 * assert.equal(filter.filter(10, 0), 10); // the first sample passes as is
 * assert.equal(filter.filter(10, 1 / 30), 10);
 * // A 1 px step at 30 fps: speed 30 px/s → ẋ 5.19 → cutoff 1.036 Hz → α 0.178.
 * const x = filter.filter(11, 2 / 30);
 * assert.ok(Math.abs(x - 10.178) < 1e-3);
 * ```
 */
export class OneEuroFilter {
  /** The parameters in use, defaults filled in. */
  readonly options: Readonly<Required<OneEuroOptions>>;
  #value = 0;
  #derivative = 0;
  #time = NaN;

  /** A filter with `options` (defaults: `ONE_EURO_DEFAULTS`); throws on a bad parameter. */
  constructor(options: OneEuroOptions = {}) {
    this.options = resolveOptions(options);
  }

  /**
   * Filters `value` sampled at `time` seconds. A time not after the previous one returns the
   * previous estimate unchanged (a repeated timestamp carries no new rate information).
   */
  filter(value: number, time: number): number {
    if (!Number.isFinite(value) || !Number.isFinite(time)) {
      throw new RangeError(`One-Euro: value ${value} at time ${time} is not finite`);
    }
    if (Number.isNaN(this.#time)) {
      this.#value = value;
      this.#derivative = 0;
      this.#time = time;
      return value;
    }
    const dt = time - this.#time;
    if (!(dt > 0)) return this.#value;
    const { minCutoff, beta, dCutoff } = this.options;
    const aD = smoothingFactor(dCutoff, dt);
    this.#derivative = aD * ((value - this.#value) / dt) + (1 - aD) * this.#derivative;
    const a = smoothingFactor(minCutoff + beta * Math.abs(this.#derivative), dt);
    this.#value = a * value + (1 - a) * this.#value;
    this.#time = time;
    return this.#value;
  }

  /** Forgets the history: the next sample passes unchanged. */
  reset(): void {
    this.#time = NaN;
  }
}

/**
 * One-Euro filters for a K × 3 keypoint array (x, y, score per keypoint): x and y of each
 * keypoint are filtered independently, scores pass unchanged.
 *
 * @example Smoothing one keypoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeypointOneEuroFilter } from "@posekit/posekit";
 *
 * const filter = new KeypointOneEuroFilter({ minCutoff: 1, beta: 0 });
 * filter.filter(Float32Array.of(10, 20, 0.9), 0); // x, y, score of K = 1 keypoint
 * const [x, y, score] = filter.filter(Float32Array.of(12, 20, 0.8), 1 / 30);
 * assert.ok(x > 10 && x < 12); // moved part of the way
 * assert.equal(y, 20);
 * assert.equal(score, Math.fround(0.8)); // scores pass unchanged
 * ```
 */
export class KeypointOneEuroFilter {
  /** The parameters in use, defaults filled in. */
  readonly options: Readonly<Required<OneEuroOptions>>;
  #filters: OneEuroFilter[] = [];

  /** Filters with `options` (defaults: `ONE_EURO_DEFAULTS`); throws on a bad parameter. */
  constructor(options: OneEuroOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** Filtered copy of `keypoints` sampled at `time` seconds. */
  filter(keypoints: Float32Array, time: number): Float32Array {
    if (keypoints.length % 3 !== 0) {
      throw new RangeError(`One-Euro: ${keypoints.length} values are not K × 3 keypoints`);
    }
    const k = keypoints.length / 3;
    if (this.#filters.length === 0) {
      this.#filters = Array.from({ length: 2 * k }, () => new OneEuroFilter(this.options));
    } else if (this.#filters.length !== 2 * k) {
      throw new RangeError(`One-Euro: ${k} keypoints after ${this.#filters.length / 2}`);
    }
    const out = new Float32Array(keypoints);
    for (let j = 0; j < k; j++) {
      out[3 * j] = this.#filters[2 * j].filter(keypoints[3 * j], time);
      out[3 * j + 1] = this.#filters[2 * j + 1].filter(keypoints[3 * j + 1], time);
    }
    return out;
  }
}
