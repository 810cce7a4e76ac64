/**
 * The One-Euro filter against the paper's definitions (Casiez et al., CHI 2012) and hand-worked
 * values: with beta = 0 it is a first-order low-pass whose step response and noise reduction
 * follow from α alone; with the defaults, jitter on a still point drops and a step is followed
 * within the documented lag (30 fps, seeded Gaussian noise).
 */

import {
  KeypointOneEuroFilter,
  ONE_EURO_DEFAULTS,
  OneEuroFilter,
  smoothingFactor,
} from "../lib/track/one_euro.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { seededRandom } from "../lib/math/random.ts";

const FPS = 30;

/** Standard normal samples (Box–Muller) from a seeded PRNG. */
function seededGaussian(seed: number): () => number {
  const random = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Standard deviation of raw and filtered samples of `truth + σ·noise`, after a warm-up second. */
function jitter(filter: OneEuroFilter, sigma: number, seed: number): { raw: number; out: number } {
  const noise = seededGaussian(seed);
  const truth = 240;
  let raw = 0, out = 0, n = 0;
  for (let i = 0; i < 30 * FPS; i++) {
    const x = truth + sigma * noise();
    const y = filter.filter(x, i / FPS);
    if (i < FPS) continue;
    raw += (x - truth) ** 2;
    out += (y - truth) ** 2;
    n++;
  }
  return { raw: Math.sqrt(raw / n), out: Math.sqrt(out / n) };
}

/** Frames after a step from 0 to `step` (the step frame counts as 1) until 90% is reached. */
function framesTo90Percent(filter: OneEuroFilter, step: number): number {
  for (let i = 0; i < FPS; i++) filter.filter(0, i / FPS);
  for (let k = 1; k <= 10 * FPS; k++) {
    if (filter.filter(step, (FPS + k - 1) / FPS) >= 0.9 * step) return k;
  }
  return Infinity;
}

Deno.test("smoothingFactor is the paper's α = 1 / (1 + τ/Te), τ = 1 / (2π fc)", () => {
  // fc = 1 Hz, Te = 1/30 s: τ/Te = 30 / (2π) = 4.774648…, α = 0.173170719…
  assertAlmostEquals(smoothingFactor(1, 1 / 30), 0.1731707195, 1e-9);
  // fc = 5 Hz, Te = 0.01 s: τ/Te = 100 / (10π) = 3.183098…, α = 0.239057…
  assertAlmostEquals(smoothingFactor(5, 0.01), 1 / (1 + 100 / (10 * Math.PI)), 1e-12);
});

Deno.test("the first sample passes unchanged; a constant stays exactly constant", () => {
  const filter = new OneEuroFilter();
  assertEquals(filter.filter(123.5, 0), 123.5);
  for (let i = 1; i < 50; i++) assertEquals(filter.filter(123.5, i / FPS), 123.5);
});

Deno.test("with beta 0 it is exponential smoothing: the step response is 1 − (1 − α)^k", () => {
  const alpha = 0.1731707195; // fc 1 Hz at 30 fps, as above
  const filter = new OneEuroFilter({ minCutoff: 1, beta: 0 });
  filter.filter(0, 0);
  for (let k = 1; k <= 20; k++) {
    assertAlmostEquals(filter.filter(100, k / FPS), 100 * (1 - (1 - alpha) ** k), 1e-6, `k=${k}`);
  }
  // 90% needs (1 − α)^k ≤ 0.1: k ≥ ln 0.1 / ln 0.82683 = 12.1, so 13 frames.
  assertEquals(framesTo90Percent(new OneEuroFilter({ beta: 0 }), 50), 13);
});

Deno.test("with beta 0 white noise shrinks by √((2 − α) / α) = 3.25 (first-order low-pass)", () => {
  const { raw, out } = jitter(new OneEuroFilter({ beta: 0 }), 2, 7);
  assertAlmostEquals(raw / out, 3.248, 0.25, "noise std ratio");
});

Deno.test("defaults: jitter on a still point drops about 3× for σ = 1, 2, 4 px", () => {
  assertEquals({ ...ONE_EURO_DEFAULTS }, { minCutoff: 1, beta: 0.007, dCutoff: 1 });
  for (const [sigma, seed] of [[1, 1], [2, 2], [4, 3]]) {
    const { raw, out } = jitter(new OneEuroFilter(), sigma, seed);
    assertAlmostEquals(raw, sigma, 0.1 * sigma, "the test noise has the stated σ");
    // Measured: 2.8–3.2×; the speed term raises the cutoff a little above 1 Hz on noise.
    assert(raw / out > 2.5, `σ ${sigma}: jitter ${raw.toFixed(2)} → ${out.toFixed(2)} px`);
  }
});

Deno.test("defaults: a step of 50 px or more is 90% followed within 5 frames at 30 fps", () => {
  // Measured: 8 frames for 10 px, 5 for 50 px, 3 for 200 px; beta 0 needs 13 for any size.
  assert(framesTo90Percent(new OneEuroFilter(), 50) <= 5, "50 px");
  assert(framesTo90Percent(new OneEuroFilter(), 200) <= 5, "200 px");
  assert(framesTo90Percent(new OneEuroFilter(), 50) < 13, "faster than the plain low-pass");
});

Deno.test("a repeated timestamp returns the previous estimate; bad parameters are refused", () => {
  const filter = new OneEuroFilter({ beta: 0 });
  filter.filter(0, 0);
  const y = filter.filter(10, 1 / FPS);
  assertEquals(filter.filter(99, 1 / FPS), y);
  filter.reset();
  assertEquals(filter.filter(7, 5), 7);
  assertThrows(() => new OneEuroFilter({ minCutoff: 0 }), RangeError);
  assertThrows(() => new OneEuroFilter({ beta: -1 }), RangeError);
  assertThrows(() => filter.filter(NaN, 6), RangeError);
});

Deno.test("KeypointOneEuroFilter filters each x and y on its own and keeps scores", () => {
  const keypoints = new KeypointOneEuroFilter();
  const scalars = Array.from({ length: 4 }, () => new OneEuroFilter());
  const noise = seededGaussian(11);
  for (let i = 0; i < 20; i++) {
    const input = Float32Array.from([
      10 + noise(),
      20 + noise(),
      0.9,
      300 + 5 * i + noise(),
      40 + noise(),
      0.1 * (i % 3),
    ]);
    const out = keypoints.filter(input, i / FPS);
    assertEquals(out[2], input[2]);
    assertEquals(out[5], input[5]);
    for (const [c, index] of [0, 1, 3, 4].entries()) {
      assertAlmostEquals(out[index], scalars[c].filter(input[index], i / FPS), 1e-3);
    }
  }
  assertThrows(() => keypoints.filter(new Float32Array(9), 1), RangeError);
});
