import { hungarian } from "../lib/math/hungarian.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { seededRandom } from "../lib/math/random.ts";

/** The minimum total cost over every way to give each row a distinct column. */
function bruteForceMinimum(cost: Float64Array, rows: number, cols: number): number {
  const used = new Uint8Array(cols);
  let best = Infinity;
  const visit = (row: number, total: number) => {
    if (row === rows) {
      best = Math.min(best, total);
      return;
    }
    for (let c = 0; c < cols; c++) {
      if (used[c]) continue;
      used[c] = 1;
      visit(row + 1, total + cost[row * cols + c]);
      used[c] = 0;
    }
  };
  visit(0, 0);
  return best;
}

/** Checks that `assignment` gives every row a distinct in-range column; returns its cost. */
function assignmentCost(
  assignment: Int32Array,
  cost: Float64Array,
  rows: number,
  cols: number,
): number {
  assertEquals(assignment.length, rows);
  assertEquals(new Set(assignment).size, rows, "columns must be distinct");
  let total = 0;
  for (let r = 0; r < rows; r++) {
    assert(assignment[r] >= 0 && assignment[r] < cols, `row ${r} got column ${assignment[r]}`);
    total += cost[r * cols + assignment[r]];
  }
  return total;
}

Deno.test("hungarian: a hand-worked 3×3 case", () => {
  // Rows 0 and 1 both want column 1. By hand over the 6 permutations the optimum is
  // row 0 → 1, row 1 → 0, row 2 → 2 with total 1 + 2 + 2 = 5 (the next best is 6).
  // deno-fmt-ignore
  const cost = Float64Array.of(
    4, 1, 3,
    2, 0, 5,
    3, 2, 2,
  );
  assertEquals(Array.from(hungarian(cost, 3, 3)), [1, 0, 2]);
});

Deno.test("hungarian: rectangular, each row takes its cheapest free column", () => {
  // deno-fmt-ignore
  const cost = Float64Array.of(
    10, 1, 10, 10,
    1, 10, 10, 10,
  );
  assertEquals(Array.from(hungarian(cost, 2, 4)), [1, 0]);
});

Deno.test("hungarian: gives up a row's favourite when the total is lower", () => {
  // PRTR-like costs (−probability): both rows prefer column 0, and row 0 loses less by
  // moving to column 1 (0.2) than row 1 would (0.4).
  // deno-fmt-ignore
  const cost = Float64Array.of(
    -0.6, -0.4,
    -0.5, -0.1,
  );
  // Options: (0→0, 1→1) = −0.7; (0→1, 1→0) = −0.9.
  assertEquals(Array.from(hungarian(cost, 2, 2)), [1, 0]);
});

Deno.test("hungarian: negative costs, single row, empty matrix", () => {
  assertEquals(Array.from(hungarian(Float64Array.of(3, -2, 5, -1), 1, 4)), [1]);
  assertEquals(Array.from(hungarian(Float64Array.of(-5, -5, -7, -1), 2, 2)), [1, 0]);
  assertEquals(hungarian(new Float64Array(0), 0, 3).length, 0);
});

Deno.test("hungarian: optimal total equals brute force on random matrices", () => {
  const next = seededRandom(20210617);
  let cases = 0;
  for (let rows = 1; rows <= 5; rows++) {
    for (let cols = rows; cols <= 7; cols++) {
      for (let trial = 0; trial < 12; trial++) {
        const cost = new Float64Array(rows * cols);
        const kind = trial % 3;
        for (let i = 0; i < cost.length; i++) {
          // Continuous values, few distinct integers (many ties), or one repeated value.
          cost[i] = kind === 0
            ? next() * 20 - 10
            : kind === 1
            ? Math.floor(next() * 3)
            : trial === 2
            ? 1
            : Math.floor(next() * 2) * 0.5;
        }
        const assignment = hungarian(cost, rows, cols);
        const total = assignmentCost(assignment, cost, rows, cols);
        assertAlmostEquals(
          total,
          bruteForceMinimum(cost, rows, cols),
          1e-9,
          `${rows}×${cols} trial ${trial}`,
        );
        cases++;
      }
    }
  }
  assert(cases > 200);
});

Deno.test("hungarian: larger random matrices are valid and no worse than greedy or swaps", () => {
  // Too large for brute force: check the assignment is a local optimum under every pairwise
  // exchange and every move to an unused column (an optimal assignment always is).
  const next = seededRandom(7);
  for (const [rows, cols] of [[17, 100], [17, 17], [30, 45]]) {
    const cost = Float64Array.from({ length: rows * cols }, () => -next());
    const a = hungarian(cost, rows, cols);
    const total = assignmentCost(a, cost, rows, cols);
    const used = new Set(a);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (used.has(c)) continue;
        assert(cost[r * cols + c] >= cost[r * cols + a[r]] - 1e-12, "moving a row helps");
      }
      for (let s = r + 1; s < rows; s++) {
        const swapped = cost[r * cols + a[s]] + cost[s * cols + a[r]];
        assert(swapped >= cost[r * cols + a[r]] + cost[s * cols + a[s]] - 1e-12, "swap helps");
      }
    }
    // And never worse than taking rows greedily in order.
    const taken = new Set<number>();
    let greedy = 0;
    for (let r = 0; r < rows; r++) {
      let best = -1;
      for (let c = 0; c < cols; c++) {
        if (!taken.has(c) && (best < 0 || cost[r * cols + c] < cost[r * cols + best])) best = c;
      }
      taken.add(best);
      greedy += cost[r * cols + best];
    }
    assert(total <= greedy + 1e-12);
  }
});

Deno.test("hungarian: clear errors for impossible or malformed input", () => {
  assertThrows(() => hungarian(new Float64Array(6), 3, 2), Error, "rows ≤ cols");
  assertThrows(() => hungarian(new Float64Array(5), 2, 3), Error, "expected 2×3");
  assertThrows(() => hungarian(Float64Array.of(0, NaN), 1, 2), Error, "cost[1] is NaN");
  assertThrows(() => hungarian(Float64Array.of(0, Infinity), 1, 2), Error, "Infinity");
});
