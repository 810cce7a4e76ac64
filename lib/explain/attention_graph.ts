/**
 * Finding a model's last self-attention Softmax in its ONNX graph, so that `--explain` can
 * ask for the attention as an extra output (TransPose's dependency areas).
 *
 * Recognized pattern (default ONNX domain, main graph), read backwards from a Softmax:
 *
 * 1. `Softmax` over the last axis (attribute `axis` = −1, or rank − 1 where the rank is the
 *    key transpose's; opset < 13 defaults to 1, which is never the key axis here).
 * 2. Between it and the product, any chain of elementwise `Mul`/`Div` by a constant (the
 *    1/√d scale after the product), `Add`/`Sub` (a mask or a relative position bias), `Where`
 *    (masking), `Cast` and `Identity`.
 * 3. `MatMul(Q, Kᵀ)` with neither operand constant, where Kᵀ comes (through `Mul`/`Div` by a
 *    constant: a scale applied to the keys, as PyTorch's scaled_dot_product_attention export
 *    does) from a `Transpose` whose `perm` moves the last axis away (the feature axis of the
 *    keys): `[0,1,3,2]` of multi-head [B,h,N,d] keys, `[0,2,1]`, or `[1,2,0]` of
 *    nn.MultiheadAttention's [N,B·h,d]. Q may be scaled by a constant too (the scale before
 *    the product, as nn.MultiheadAttention does).
 * 4. Self-attention: Q and K derive from one tensor through projections only (`MatMul`/`Gemm`
 *    with a constant operand, elementwise ops with a constant, `Reshape`, `Transpose`,
 *    `Split`, `Slice`, `Gather`/`Squeeze`/`Unsqueeze`, `Cast`, `Identity`): a packed QKV
 *    projection, or `src + pos` shared by queries and keys. Cross-attention (queries from a
 *    decoder, keys from an encoder's memory) does not match.
 *
 * Other Softmax nodes (over channels, over heatmap pixels, a classifier's) do not match:
 * their input is no such product. Exports that fuse attention into one operator
 * (`com.microsoft.Attention`, `MultiHeadAttention`) have no Softmax node to expose and are
 * not recognized either.
 */

import type { GraphNode, GraphSummary } from "../runtime/onnx_rewrite.ts";

/** A self-attention Softmax found in a graph. */
export interface SelfAttentionMatch {
  /** The Softmax node. */
  softmax: GraphNode;
  /** Its output: the attention, [.., N, N] over (query token, key token). */
  output: string;
  /** The product of queries and transposed keys. */
  matmul: GraphNode;
  /** Where the scale sits: on the queries or keys ("before"), on the product ("after"). */
  scale: "before" | "after" | "both" | "none";
  /** How many self-attention Softmax nodes the graph has (the last one is `softmax`). */
  count: number;
}

/** Elementwise steps allowed between the product and the Softmax. */
const AFTER_PRODUCT = new Set(["Mul", "Div", "Add", "Sub", "Where", "Cast", "Identity"]);

/** Operators that carry a tensor through a projection (see rule 4 of the module comment). */
const PROJECTIONS = new Set([
  "MatMul",
  "Gemm",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Reshape",
  "Transpose",
  "Split",
  "Slice",
  "Gather",
  "Squeeze",
  "Unsqueeze",
  "Flatten",
  "Cast",
  "Identity",
]);

/** How far back the walks look (nodes); real exports need fewer than ten. */
const MAX_STEPS = 24;

/** Lookups over a graph summary: producers and constant values. */
class GraphIndex {
  readonly producer = new Map<string, GraphNode>();
  readonly constants: Set<string>;

  constructor(readonly graph: GraphSummary) {
    this.constants = new Set(graph.initializers);
    for (const node of graph.nodes) {
      for (const output of node.outputs) this.producer.set(output, node);
      // A value computed from constants only (a Constant node, a Cast of a weight, a bias
      // gathered from a table with constant indices) is a constant too.
      const fromConstants = node.inputs.every((input) => input === "" || this.constants.has(input));
      const generator = node.opType.startsWith("Random");
      if (isDefaultDomain(node) && fromConstants && !generator) {
        for (const output of node.outputs) this.constants.add(output);
      }
    }
  }

  isConstant(value: string): boolean {
    return this.constants.has(value) && !this.graph.inputs.includes(value);
  }

  /** The non-constant inputs of `node`. */
  dataInputs(node: GraphNode): string[] {
    return node.inputs.filter((input) => input !== "" && !this.isConstant(input));
  }
}

function isDefaultDomain(node: GraphNode): boolean {
  return node.domain === "" || node.domain === "ai.onnx";
}

/**
 * The last self-attention Softmax of a graph (see the module comment for the pattern), or
 * undefined when it has none.
 *
 * @example The smallest self-attention, Softmax(x · xᵀ) · x
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSelfAttention, type GraphNode, type GraphSummary } from "@posekit/posekit";
 *
 * // A summary as readGraph(bytes) gives it, written by hand here.
 * const node = (index: number, opType: string, inputs: string[], output: string): GraphNode =>
 *   ({ index, name: "", opType, domain: "", inputs, outputs: [output], attributes: new Map() });
 * const graph: GraphSummary = {
 *   nodes: [
 *     node(0, "Transpose", ["x"], "keys"), // no perm: the axes reversed, xᵀ
 *     node(1, "MatMul", ["x", "keys"], "logits"), // queries and keys from one tensor
 *     node(2, "Softmax", ["logits"], "attention"), // opset 13: over the last axis
 *     node(3, "MatMul", ["attention", "x"], "y"),
 *   ],
 *   initializers: new Set(),
 *   inputs: ["x"],
 *   outputs: ["y"],
 *   elementTypes: new Map(),
 *   opset: 13,
 * };
 * const match = findSelfAttention(graph);
 * assert.equal(match?.output, "attention");
 * assert.equal(match?.matmul.index, 1);
 * assert.equal(match?.scale, "none"); // no 1/√d scale in this graph
 * // A Softmax over the input itself is no attention.
 * const softmaxOnly = { ...graph, nodes: [node(0, "Softmax", ["x"], "y")] };
 * assert.equal(findSelfAttention(softmaxOnly), undefined);
 * ```
 */
export function findSelfAttention(graph: GraphSummary): SelfAttentionMatch | undefined {
  const index = new GraphIndex(graph);
  let last: Omit<SelfAttentionMatch, "count"> | undefined;
  let count = 0;
  for (const node of graph.nodes) {
    if (node.opType !== "Softmax" || !isDefaultDomain(node) || node.outputs.length === 0) continue;
    const match = matchSoftmax(index, node);
    if (match) {
      count++;
      last = match;
    }
  }
  return last && { ...last, count };
}

/** The pattern from one Softmax node, or undefined. */
function matchSoftmax(
  index: GraphIndex,
  softmax: GraphNode,
): Omit<SelfAttentionMatch, "count"> | undefined {
  const product = findProduct(index, softmax.inputs[0], 0, false);
  if (!product) return undefined;
  const { matmul, scaledAfter } = product;
  const [queries, keys] = matmul.inputs;
  if (!queries || !keys || index.isConstant(queries) || index.isConstant(keys)) return undefined;
  const keySide = unscale(index, keys);
  const transpose = index.producer.get(keySide.value);
  if (!transpose || transpose.opType !== "Transpose" || !isDefaultDomain(transpose)) {
    return undefined;
  }
  const perm = transpose.attributes.get("perm")?.ints;
  // Without perm, Transpose reverses the axes: the last axis moves too (rank ≥ 2).
  const rank = perm?.length;
  if (perm && perm[perm.length - 1] === perm.length - 1) return undefined;
  const axis = softmaxAxis(index.graph.opset, softmax);
  if (!(axis === -1 || (rank !== undefined && axis === rank - 1))) return undefined;
  const querySide = unscale(index, queries);
  const keySource = transpose.inputs[0];
  if (!keySource || !sharesSource(index, querySide.value, keySource)) return undefined;
  const before = keySide.scaled || scaledOnTheWay(index, queries) ||
    scaledOnTheWay(index, keySource);
  return {
    softmax,
    output: softmax.outputs[0],
    matmul,
    scale: before && scaledAfter ? "both" : before ? "before" : scaledAfter ? "after" : "none",
  };
}

/** The Softmax's axis: the attribute, else the opset's default (−1 from 13 on, else 1). */
function softmaxAxis(opset: number, softmax: GraphNode): number {
  return softmax.attributes.get("axis")?.int ?? (opset >= 13 || opset === 0 ? -1 : 1);
}

/**
 * The MatMul that `value` comes from through the elementwise steps allowed after the product
 * (trying each data input of a step, nearest first), or undefined.
 */
function findProduct(
  index: GraphIndex,
  value: string,
  depth: number,
  scaled: boolean,
): { matmul: GraphNode; scaledAfter: boolean } | undefined {
  if (depth > MAX_STEPS) return undefined;
  const node = index.producer.get(value);
  if (!node || !isDefaultDomain(node)) return undefined;
  if (node.opType === "MatMul") return { matmul: node, scaledAfter: scaled };
  if (!AFTER_PRODUCT.has(node.opType)) return undefined;
  const inputs = node.opType === "Where"
    ? node.inputs.slice(1).filter((input) => !index.isConstant(input))
    : node.opType === "Div"
    ? index.dataInputs(node).filter((input) => input === node.inputs[0])
    : index.dataInputs(node);
  const isScale = (node.opType === "Mul" || node.opType === "Div") && inputs.length === 1;
  for (const input of inputs) {
    const found = findProduct(index, input, depth + 1, scaled || isScale);
    if (found) return found;
  }
  return undefined;
}

/** `value` with any `Mul`/`Div` by a constant (a scale) stepped over. */
function unscale(index: GraphIndex, value: string): { value: string; scaled: boolean } {
  let scaled = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    const node = index.producer.get(value);
    if (!node || !isDefaultDomain(node) || (node.opType !== "Mul" && node.opType !== "Div")) break;
    const data = index.dataInputs(node);
    if (data.length !== 1 || (node.opType === "Div" && data[0] !== node.inputs[0])) break;
    value = data[0];
    scaled = true;
  }
  return { value, scaled };
}

/** Steps that only move or relabel values (between a scale and the product). */
const RESHAPES = new Set(["Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Cast"]);

/**
 * True when `value` comes, through reshapes only, from a `Mul`/`Div` by a constant: a scale
 * applied to the queries (or keys) before the heads were split off.
 */
function scaledOnTheWay(index: GraphIndex, value: string): boolean {
  for (let step = 0; step < MAX_STEPS; step++) {
    const node = index.producer.get(value);
    if (!node || !isDefaultDomain(node)) return false;
    const data = index.dataInputs(node);
    if (data.length !== 1) return false;
    if (node.opType === "Mul" || (node.opType === "Div" && data[0] === node.inputs[0])) {
      return true;
    }
    if (!RESHAPES.has(node.opType)) return false;
    value = data[0];
  }
  return false;
}

/** Every value `value` comes from through projections (itself included). */
function projectionSources(index: GraphIndex, value: string): Set<string> {
  const seen = new Set<string>([value]);
  let frontier = [value];
  for (let step = 0; step < MAX_STEPS && frontier.length > 0; step++) {
    const next: string[] = [];
    for (const current of frontier) {
      const node = index.producer.get(current);
      if (!node || !isDefaultDomain(node) || !PROJECTIONS.has(node.opType)) continue;
      const data = index.dataInputs(node);
      // An elementwise op of two computed tensors (a residual, src + pos) is where the
      // tokens come from, not a projection: stop there.
      if (data.length !== 1) continue;
      if (!seen.has(data[0])) {
        seen.add(data[0]);
        next.push(data[0]);
      }
    }
    frontier = next;
  }
  return seen;
}

/** True when `queries` and `keys` derive from one tensor through projections. */
function sharesSource(index: GraphIndex, queries: string, keys: string): boolean {
  const fromQueries = projectionSources(index, queries);
  for (const source of projectionSources(index, keys)) if (fromQueries.has(source)) return true;
  return false;
}
