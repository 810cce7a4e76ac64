/**
 * TransPose-style dependency areas (Yang et al., "TransPose: Keypoint Localization via
 * Transformer", ICCV 2021): the model's last self-attention Softmax is exposed as an extra
 * output (`prepareSelfAttention`), and for each predicted keypoint the attention row of the
 * token that holds it says which image regions the prediction depends on (`keypointAttention`,
 * then `dependencyOf`).
 *
 * The tokens are the attention's length N laid over the crop as a grid of s × s pixel cells,
 * s being the model's feature stride: manifest option `attentionStride`, else the one integer
 * s with (W / s) × (H / s) = N for the W × H crop (8 for TransPose-R at 256×192, 4 for
 * TransPose-H, 16 for ViTPose). Rows of several heads are averaged, as PyTorch's
 * nn.MultiheadAttention reports them. With the flip test, the unflipped crop's attention is
 * used.
 */

import { findSelfAttention } from "./attention_graph.ts";
import type { ExplainGraph, KeypointAttention } from "./types.ts";
import type { CropSpec } from "../families/family.ts";
import type { ModelManifest } from "../models/manifest.ts";
import { readGraph, withGraphOutputs } from "../runtime/onnx_rewrite.ts";
import type { OutputTensor } from "../types.ts";

/** The output role the exposed attention gets in the manifest. */
export const ATTENTION_ROLE = "attention";

/** The file name of a manifest's model, for notes. */
function fileOf(manifest: ModelManifest): string {
  return manifest.file || manifest.name;
}

/**
 * The model with its last self-attention Softmax added to the graph outputs (as role
 * `attention`), or the model unchanged with a one-line note saying why there are no
 * dependency areas (no such Softmax; see `attention_graph.ts` for the patterns recognized).
 *
 * @example A hand-encoded self-attention, y = Softmax(x · xᵀ) · x
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ModelManifest, prepareSelfAttention, readGraph } from "@posekit/posekit";
 *
 * // Protobuf by hand: length-delimited fields, each shorter than 128 bytes (one length byte).
 * const field = (n: number, body: number[]) => [(n << 3) | 2, body.length, ...body];
 * const str = (n: number, s: string) => field(n, [...new TextEncoder().encode(s)]);
 * // GraphProto.node 1, a NodeProto: input 1, output 2, op_type 4.
 * const node = (op: string, inputs: string[], output: string) =>
 *   field(1, [...inputs.flatMap((i) => str(1, i)), ...str(2, output), ...str(4, op)]);
 * const graph = [
 *   ...node("Transpose", ["x"], "keys"), // no perm: xᵀ
 *   ...node("MatMul", ["x", "keys"], "logits"),
 *   ...node("Softmax", ["logits"], "attention"),
 *   ...node("MatMul", ["attention", "x"], "y"),
 *   ...field(11, str(1, "x")), // the graph's input and output, by name only
 *   ...field(12, str(1, "y")),
 * ];
 * const bytes = Uint8Array.from(field(7, graph)); // ModelProto.graph
 * const manifest: ModelManifest = {
 *   name: "tiny", task: "keypoints", family: "heatmap", file: "tiny.onnx",
 *   input: { name: "x", width: 8, height: 8, colorOrder: "rgb", mean: [0, 0, 0], std: [1, 1, 1] },
 *   outputs: { heatmaps: "y" },
 * };
 *
 * const prepared = prepareSelfAttention(bytes, manifest);
 * assert.deepEqual(prepared.manifest.outputs, { heatmaps: "y", attention: "attention" });
 * assert.deepEqual(readGraph(prepared.bytes).outputs, ["y", "attention"]);
 * assert.match(prepared.notes[0], /dependency areas from self-attention Softmax "attention"/);
 * // Bytes that are no model come back as they were, with a note saying why.
 * assert.match(prepareSelfAttention(new Uint8Array(), manifest).notes[0], /graph unreadable/);
 * ```
 */
export function prepareSelfAttention(bytes: Uint8Array, manifest: ModelManifest): ExplainGraph {
  if (manifest.outputs[ATTENTION_ROLE]) return { bytes, manifest, notes: [] };
  const file = fileOf(manifest);
  let graph;
  try {
    graph = readGraph(bytes);
  } catch {
    return { bytes, manifest, notes: [`${file}: graph unreadable, no dependency areas`] };
  }
  const match = findSelfAttention(graph);
  if (!match) {
    return {
      bytes,
      manifest,
      notes: [
        `${file}: no self-attention Softmax in the graph: --explain shows its confidence maps, ` +
        `no dependency areas`,
      ],
    };
  }
  const exposed = withGraphOutputs(bytes, [{
    name: match.output,
    elementType: graph.elementTypes.get(match.output) ?? 1,
  }]);
  const node = match.softmax.name || match.output;
  return {
    bytes: exposed,
    manifest: { ...manifest, outputs: { ...manifest.outputs, [ATTENTION_ROLE]: match.output } },
    notes: [
      `${file}: dependency areas from self-attention Softmax "${node}" (the last of ` +
      `${match.count}; scale ${match.scale} the product)`,
    ],
  };
}

/**
 * The token grid of an attention of length `tokens` over a `width` × `height` crop: the given
 * stride, or the one that tiles the crop into exactly `tokens` cells; undefined when none does.
 */
export function tokenGrid(
  tokens: number,
  width: number,
  height: number,
  stride?: number,
): { stride: number; gridWidth: number; gridHeight: number } | undefined {
  const candidates = stride ? [stride] : [Math.round(Math.sqrt((width * height) / tokens))];
  for (const s of candidates) {
    if (!(s >= 1)) continue;
    const gridWidth = Math.ceil(width / s), gridHeight = Math.ceil(height / s);
    if (gridWidth * gridHeight === tokens) return { stride: s, gridWidth, gridHeight };
  }
  return undefined;
}

/**
 * Each keypoint's attention row from a crop's attention output ([.., N, N], leading axes
 * heads; query token then key token): the row of the token holding the keypoint (crop pixel
 * (x, y) is in token (⌊(x + ½) / s⌋, ⌊(y + ½) / s⌋), clamped to the grid), averaged over
 * heads. Returns a one-line reason instead when the attention does not fit the crop.
 */
export function keypointAttention(
  attention: OutputTensor,
  input: Pick<CropSpec, "width" | "height">,
  keypoints: Float32Array,
  stride?: number,
): KeypointAttention | string {
  const dims = attention.dims;
  const n = dims[dims.length - 1];
  if (dims.length < 2 || dims[dims.length - 2] !== n || !(n > 0)) {
    return `the attention [${dims.join(",")}] is not square over its last two axes`;
  }
  const heads = attention.data.length / (n * n);
  if (!Number.isInteger(heads) || heads < 1) {
    return `the attention holds ${attention.data.length} values, not whole ${n}×${n} maps`;
  }
  const grid = tokenGrid(n, input.width, input.height, stride);
  if (!grid) {
    return `the attention's ${n} tokens do not tile the ${input.width}×${input.height} crop ` +
      `(set options.attentionStride in the manifest)`;
  }
  const { gridWidth, gridHeight } = grid;
  const k = Math.floor(keypoints.length / 3);
  const tokens = new Int32Array(k);
  const rows = new Float32Array(k * n);
  const cell = (v: number, size: number) =>
    Math.min(size - 1, Math.max(0, Math.floor((v + 0.5) / grid.stride))) || 0;
  for (let j = 0; j < k; j++) {
    const token = cell(keypoints[3 * j + 1], gridHeight) * gridWidth +
      cell(keypoints[3 * j], gridWidth);
    tokens[j] = token;
    const row = rows.subarray(j * n, (j + 1) * n);
    for (let h = 0; h < heads; h++) {
      const from = (h * n + token) * n;
      for (let u = 0; u < n; u++) row[u] += attention.data[from + u];
    }
    if (heads > 1) { for (let u = 0; u < n; u++) row[u] /= heads; }
  }
  return { gridWidth, gridHeight, stride: grid.stride, heads, tokens, rows };
}

/** A keypoint's dependency in crop pixels. */
export interface CropDependency {
  /** The token of the row's maximum (first on ties). */
  peakToken: number;
  /** Its centre in crop pixels. */
  peak: [number, number];
  /** Tokens whose attention is at least δ × the row's maximum. */
  tokens: number;
  /** Their area in crop pixels (tokens × stride²). */
  areaCropPx: number;
  /** 1 for each token of the area, else 0 (N values). */
  mask: Uint8Array;
}

/**
 * Keypoint `j`'s dependency area: the tokens whose attention is at least `delta` × the row's
 * maximum, and the row's peak (a token centre, (c + (s − 1)/2) along each axis in "pixel p at
 * coordinate p" units).
 */
export function dependencyOf(
  attention: KeypointAttention,
  j: number,
  delta: number,
): CropDependency {
  const n = attention.gridWidth * attention.gridHeight;
  const row = attention.rows.subarray(j * n, (j + 1) * n);
  let peakToken = 0;
  for (let u = 1; u < n; u++) if (row[u] > row[peakToken]) peakToken = u;
  const threshold = delta * row[peakToken];
  const mask = new Uint8Array(n);
  let tokens = 0;
  for (let u = 0; u < n; u++) {
    if (row[u] >= threshold) {
      mask[u] = 1;
      tokens++;
    }
  }
  const s = attention.stride, centre = (s - 1) / 2;
  return {
    peakToken,
    peak: [
      (peakToken % attention.gridWidth) * s + centre,
      Math.floor(peakToken / attention.gridWidth) * s + centre,
    ],
    tokens,
    areaCropPx: tokens * s * s,
    mask,
  };
}
