/**
 * Optimal assignment (the linear sum assignment problem) for a rectangular cost matrix with
 * no more rows than columns: every row gets its own column and the total cost is minimal.
 *
 * Shortest augmenting paths with row and column potentials (the Jonker–Volgenant /
 * Kuhn–Munkres family), O(rows² · cols). PRTR matches J keypoint types (rows) to Q queries
 * (columns) with it, as scipy's `linear_sum_assignment` does in the paper's code.
 */

/**
 * Assigns each row a distinct column minimizing the summed cost.
 *
 * @param cost row-major `rows × cols` costs; all finite
 * @returns the column assigned to each row
 * @throws when `rows > cols`, when the sizes do not match `cost.length`, or on non-finite costs
 */
export function hungarian(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new Error(`hungarian: invalid size ${rows}×${cols}`);
  }
  if (cost.length !== rows * cols) {
    throw new Error(`hungarian: cost has ${cost.length} values, expected ${rows}×${cols}`);
  }
  if (rows > cols) {
    throw new Error(
      `hungarian: ${rows} rows cannot each get a distinct column out of ${cols}; ` +
        `expected rows ≤ cols (transpose the cost matrix)`,
    );
  }
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i])) throw new Error(`hungarian: cost[${i}] is ${cost[i]}`);
  }

  // 1-based arrays with a virtual column 0 that holds the row being inserted.
  const rowPotential = new Float64Array(rows + 1);
  const colPotential = new Float64Array(cols + 1);
  const rowOfCol = new Int32Array(cols + 1); // 0 = free
  const previousCol = new Int32Array(cols + 1);
  const minSlack = new Float64Array(cols + 1);
  const visited = new Uint8Array(cols + 1);

  for (let row = 1; row <= rows; row++) {
    rowOfCol[0] = row;
    let col0 = 0;
    minSlack.fill(Infinity);
    visited.fill(0);
    // Dijkstra-like growth of the alternating tree until it reaches a free column.
    do {
      visited[col0] = 1;
      const i0 = rowOfCol[col0];
      const base = (i0 - 1) * cols - 1;
      let delta = Infinity;
      let col1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (visited[j]) continue;
        const reduced = cost[base + j] - rowPotential[i0] - colPotential[j];
        if (reduced < minSlack[j]) {
          minSlack[j] = reduced;
          previousCol[j] = col0;
        }
        if (minSlack[j] < delta) {
          delta = minSlack[j];
          col1 = j;
        }
      }
      for (let j = 0; j <= cols; j++) {
        if (visited[j]) {
          rowPotential[rowOfCol[j]] += delta;
          colPotential[j] -= delta;
        } else {
          minSlack[j] -= delta;
        }
      }
      col0 = col1;
    } while (rowOfCol[col0] !== 0);
    // Flip the augmenting path back to the root.
    do {
      const col1 = previousCol[col0];
      rowOfCol[col0] = rowOfCol[col1];
      col0 = col1;
    } while (col0 !== 0);
  }

  const assignment = new Int32Array(rows);
  for (let j = 1; j <= cols; j++) {
    if (rowOfCol[j] !== 0) assignment[rowOfCol[j] - 1] = j - 1;
  }
  return assignment;
}
