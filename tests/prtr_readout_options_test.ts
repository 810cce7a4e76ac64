/**
 * PRTR readout options: which column is background and what the matching maximizes. The
 * two-stage code (`get_final_preds_match`) takes a softmax over the type columns with the
 * last (background) column left out; the sequential notebook matches raw logits with the
 * first column left out. Each case below is worked by hand so the two readings disagree.
 */

import { assertAlmostEquals, assertEquals } from "./support/assert.ts";
import { prtrReadout } from "../lib/families/prtr.ts";

/** Which query each keypoint type took: the readout's x holds the query index here. */
function queriesOf(readout: Float32Array): number[] {
  return Array.from({ length: readout.length / 3 }, (_, j) => readout[3 * j]);
}

// Coordinates encode the query index: query q sits at (q, 0).
const coords = (q: number) => Array.from({ length: q }, (_, i) => [i, 0]).flat();

Deno.test("matchOn: raw logits keep each query's offset, probabilities remove it", () => {
  // J = 2 types, Q = 3 queries, background last (logit 0). Type softmaxes:
  // q0 [0, −1] → (0.731, 0.269); q1 [1, 0.9] → (0.525, 0.475); q2 [10, 9.5] → (0.622, 0.378).
  // Probability: best t0→q0, t1→q1 (0.731 + 0.475 = 1.206; next 1.109).
  // Logit: best t0→q2, t1→q1 (10 + 0.9 = 10.9; next t0→q1, t1→q2 = 10.5).
  const logits = [0, -1, 0, 1, 0.9, 0, 10, 9.5, 0];
  assertEquals(queriesOf(prtrReadout(logits, coords(3), 3, 2)), [0, 1]);
  const byLogit = prtrReadout(logits, coords(3), 3, 2, { matchOn: "logit" });
  assertEquals(queriesOf(byLogit), [2, 1]);
  // Scores stay probabilities: type 0 at q2 is e^10 / (e^10 + e^9.5).
  assertAlmostEquals(byLogit[2], 1 / (1 + Math.exp(-0.5)), 1e-6);
});

Deno.test("backgroundColumn first: the notebook's out_logits[..., 1:] reading", () => {
  // Columns (c0, c1, c2). Background last → types c0, c1: q0 (0.993, 0.007), q1 (0.119,
  // 0.881) → t0→q0. Background first → types c1, c2, raw logits: q0 (0, 1), q1 (2, 2.5):
  // t0→q0 + t1→q1 = 2.5 < t0→q1 + t1→q0 = 3 → t0→q1.
  const logits = [5, 0, 1, 0, 2, 2.5];
  assertEquals(queriesOf(prtrReadout(logits, coords(2), 2, 2)), [0, 1]);
  const notebook = prtrReadout(logits, coords(2), 2, 2, {
    backgroundColumn: "first",
    matchOn: "logit",
  });
  assertEquals(queriesOf(notebook), [1, 0]);
  // Type 0 at q1: softmax over (2, 2.5) at 2.
  assertAlmostEquals(notebook[2], 1 / (1 + Math.exp(0.5)), 1e-6);
});
