/**
 * Two-stage PRTR keypoint models ("Pose Recognition with Cascade Transformers", Li et al.,
 * CVPR 2021): a keypoint Transformer reads one person crop and answers with Q queries, each
 * a class distribution over the J keypoint types plus background and one coordinate.
 *
 * Outputs (roles, with PRTR's own names as defaults):
 * - `logits` (default name `pred_logits`) [B,Q,J+1], the last column being background;
 * - `coords` (default name `pred_coords`) [B,Q,2], (x/W, y/H) normalized to the crop.
 *
 * Readout (the paper code's `get_final_preds_match`): per query, a softmax over the J type
 * logits (background excluded; with option `includeBackground` the softmax covers all J+1
 * and the J type columns are kept); cost = −probability; the optimal (Hungarian) matching of
 * the J types to distinct queries; keypoint j = its query's coordinates × (W, H), score = its
 * probability.
 *
 * Flip test: the mirrored crop is read the same way, its x mirrored back in normalized crop
 * units as x → 1 − x (PRTR's `fliplr_joints` with width 1 and `pixel_align=False`, i.e.
 * W − x pixels rather than the exact W − 1 − x; option `flipPixelAlign: true` uses the exact
 * mirror), left/right types swapped, then coordinates and scores are averaged with the
 * unflipped readout.
 *
 * Manifest options:
 * - `includeBackground` (boolean, default false): background logit inside the softmax.
 * - `backgroundColumn` ("last" default, or "first"): where the background logit is.
 * - `matchOn` ("probability" default, or "logit"): what the Hungarian matching maximizes.
 * - `flipPixelAlign` (boolean, default false): exact pixel mirror in the flip test.
 * - `padding` (number, default 1.25): box enlargement before cropping. The crop keeps the
 *   input's aspect ratio (4:3 h:w in the paper, 384×288 or 512×384).
 *
 * Explanations (`--explain`): the query matched to each keypoint and each query's class
 * distribution; with the optional output `aux_coords` [B,L,Q,2] (the intermediate decoder
 * layers' normalized coordinates, models/README.md says how to export it), each matched
 * query's path through the layers.
 */

import { flipPermutation } from "../coco/keypoints.ts";
import { hungarian } from "../math/hungarian.ts";
import type { ModelManifest } from "../models/manifest.ts";
import { softmax } from "../math/numeric.ts";
import type { ModelOutputs, OutputTensor } from "../types.ts";
import {
  type FamilyDescriptor,
  type KeypointAdapter,
  optionalOutput,
  requireOutput,
} from "./family.ts";
import type { CropExplanation, QueryReadout } from "../explain/types.ts";
import { cocoKeypointFields, imagenetCropInput, staticDim } from "./recognition_defaults.ts";
import { booleanOption, choiceOption, cropSpec, keypointLayout } from "./manifest_fields.ts";

/** How class probabilities are computed from the J+1 logits, and what is matched. */
export interface PrtrReadoutOptions {
  /** Softmax over all J+1 logits (then keep the J type columns); default false. */
  includeBackground?: boolean;
  /**
   * Which column is background: "last" (default, the two-stage code's layout) or "first"
   * (the sequential notebook's `out_logits[..., 1:]`).
   */
  backgroundColumn?: "first" | "last";
  /**
   * What the Hungarian matching maximizes: the type's softmax "probability" (default,
   * `get_final_preds_match`) or its raw "logit" (the sequential notebook). Scores are the
   * probabilities either way.
   */
  matchOn?: "probability" | "logit";
}

/** The readout options a manifest sets (`includeBackground`, `backgroundColumn`, `matchOn`). */
export function prtrReadoutOptions(manifest: ModelManifest): PrtrReadoutOptions {
  return {
    includeBackground: booleanOption(manifest, "includeBackground", false),
    backgroundColumn: choiceOption(manifest, "backgroundColumn", ["first", "last"], "last"),
    matchOn: choiceOption(manifest, "matchOn", ["probability", "logit"], "probability"),
  };
}

/** PRTR's matching readout with what explains it. */
export interface PrtrMatch {
  /** J × 3: x, y (normalized, as the model gave them) and score. */
  keypoints: Float32Array;
  /** The query matched to each keypoint type (J, 0-based). */
  queryOfType: Int32Array;
}

/**
 * PRTR's matching readout for one set of queries.
 *
 * @param logits Q × (J+1) logits, query-major, background last
 * @param coords Q × 2 normalized coordinates, query-major
 * @returns J × 3 values: x, y (normalized, as the model gave them) and score (the matched
 *   query's probability for that type)
 * @throws when there are fewer queries than keypoint types
 */
export function prtrReadout(
  logits: ArrayLike<number>,
  coords: ArrayLike<number>,
  numQueries: number,
  numKeypoints: number,
  options: PrtrReadoutOptions = {},
): Float32Array {
  return prtrMatch(logits, coords, numQueries, numKeypoints, options).keypoints;
}

/** `prtrReadout`, with the query each keypoint type was matched to. */
export function prtrMatch(
  logits: ArrayLike<number>,
  coords: ArrayLike<number>,
  numQueries: number,
  numKeypoints: number,
  options: PrtrReadoutOptions = {},
): PrtrMatch {
  const J = numKeypoints, Q = numQueries, width = J + 1;
  if (Q < J) {
    throw new Error(`PRTR: ${Q} queries cannot be matched to ${J} keypoint types (need Q ≥ J)`);
  }
  if (logits.length < Q * width || coords.length < Q * 2) {
    throw new Error(
      `PRTR: expected ${Q}×${width} logits and ${Q}×2 coordinates, got ${logits.length} and ` +
        `${coords.length} values`,
    );
  }
  // Type columns start after a leading background column, else at 0.
  const first = options.backgroundColumn === "first" ? 1 : 0;
  const probability = new Float64Array(J * Q); // type-major: the cost matrix's layout
  const cost = new Float64Array(J * Q);
  for (let q = 0; q < Q; q++) {
    const start = q * width;
    const p = options.includeBackground
      ? softmax(logits, start, start + width).subarray(first, first + J)
      : softmax(logits, start + first, start + first + J);
    for (let j = 0; j < J; j++) {
      probability[j * Q + q] = p[j];
      cost[j * Q + q] = options.matchOn === "logit" ? -logits[start + first + j] : -p[j];
    }
  }
  const queryOfType = hungarian(cost, J, Q);
  const out = new Float32Array(J * 3);
  for (let j = 0; j < J; j++) {
    const q = queryOfType[j];
    out[j * 3] = coords[q * 2];
    out[j * 3 + 1] = coords[q * 2 + 1];
    out[j * 3 + 2] = probability[j * Q + q];
  }
  return { keypoints: out, queryOfType };
}

/**
 * Each query's class distribution for explanations: the softmax over all J + 1 logits, in
 * keypoint order with background last (whichever column the model puts it in). Q × (J + 1).
 */
export function prtrClassProbabilities(
  logits: ArrayLike<number>,
  numQueries: number,
  numKeypoints: number,
  backgroundColumn: "first" | "last" = "last",
): Float32Array {
  const width = numKeypoints + 1;
  const out = new Float32Array(numQueries * width);
  for (let q = 0; q < numQueries; q++) {
    const p = softmax(logits, q * width, (q + 1) * width);
    for (let c = 0; c < width; c++) {
      // With background first, type j is column j + 1 and background column 0.
      out[q * width + c] = backgroundColumn === "first" ? p[(c + 1) % width] : p[c];
    }
  }
  return out;
}

/**
 * Fuses a readout with the readout of the mirrored crop (both J × 3, normalized): the mirrored
 * x becomes 1 − x (or 1 − x − 1/inputWidth with `pixelAlign`), left/right types swap, and
 * coordinates and scores are averaged.
 */
export function fusePrtrFlip(
  original: Float32Array,
  mirrored: Float32Array,
  flipPairs: readonly (readonly [number, number])[],
  options: { pixelAlign?: boolean; inputWidth?: number } = {},
): Float32Array {
  const J = original.length / 3;
  if (mirrored.length !== original.length) {
    throw new Error("PRTR flip test: the mirrored crop's readout has a different size");
  }
  if (options.pixelAlign && !(options.inputWidth! > 0)) {
    throw new Error("PRTR flip test: pixelAlign needs the input width");
  }
  const shift = options.pixelAlign ? 1 / options.inputWidth! : 0;
  const source = flipPermutation(J, flipPairs);
  const fused = new Float32Array(original.length);
  for (let j = 0; j < J; j++) {
    const m = source[j] * 3;
    fused[j * 3] = 0.5 * (original[j * 3] + (1 - mirrored[m] - shift));
    fused[j * 3 + 1] = 0.5 * (original[j * 3 + 1] + mirrored[m + 1]);
    fused[j * 3 + 2] = 0.5 * (original[j * 3 + 2] + mirrored[m + 2]);
  }
  return fused;
}

/** Query count from logits [..,Q,J+1] and coords [..,Q,2], after checking they agree with J. */
export function prtrQueryCount(
  logits: OutputTensor,
  coords: OutputTensor,
  numKeypoints: number,
): number {
  const ld = logits.dims, cd = coords.dims;
  const q = ld[ld.length - 2];
  if (
    ld.length < 2 || cd.length < 2 || ld[ld.length - 1] !== numKeypoints + 1 ||
    cd[cd.length - 1] !== 2 || cd[cd.length - 2] !== q
  ) {
    throw new Error(
      `PRTR: expected logits [..,Q,${numKeypoints + 1}] (${numKeypoints} keypoint types + ` +
        `background) and coordinates [..,Q,2], got [${ld.join(",")}] and [${cd.join(",")}]`,
    );
  }
  return q;
}

/**
 * The output for `role`: the manifest's mapping when it has one, else the model's output
 * called `defaultName` (PRTR's own output names).
 */
export function prtrOutput(
  outputs: ModelOutputs,
  manifest: ModelManifest,
  role: string,
  defaultName: string,
): OutputTensor {
  if (manifest.outputs?.[role] !== undefined) return requireOutput(outputs, manifest, role);
  return requireOutput(outputs, { ...manifest, outputs: { [role]: defaultName } }, role);
}

/** Two-stage PRTR: a keypoint Transformer on one person crop. */
export const prtrFamily: FamilyDescriptor<"prtr"> = {
  name: "prtr",
  task: "keypoints",
  summary: "two-stage PRTR keypoint Transformer (pred_logits [B,Q,J+1], pred_coords [B,Q,2])",
  outputRoles: ["logits", "coords"],
  optionalRoles: ["aux_coords"],
  recognize(graph) {
    const logits = graph.output("pred_logits"), coords = graph.output("pred_coords");
    if (!logits || !coords) return;
    const joints = staticDim(logits.shape[logits.shape.length - 1]);
    return {
      input: imagenetCropInput(graph, 288, 384),
      outputs: { logits: logits.name, coords: coords.name },
      ...cocoKeypointFields(joints === undefined ? undefined : joints - 1),
      options: { padding: 1.25 },
    };
  },
  createAdapter: (manifest) => createPrtrAdapter(manifest),
};

/** Builds the two-stage PRTR keypoint adapter from its manifest. */
export function createPrtrAdapter(manifest: ModelManifest): KeypointAdapter {
  const input = cropSpec(manifest);
  const { numKeypoints, flipPairs } = keypointLayout(manifest);
  const readoutOptions = prtrReadoutOptions(manifest);
  const pixelAlign = booleanOption(manifest, "flipPixelAlign", false);
  const match = (outputs: ModelOutputs) => {
    const logits = prtrOutput(outputs, manifest, "logits", "pred_logits");
    const coords = prtrOutput(outputs, manifest, "coords", "pred_coords");
    const q = prtrQueryCount(logits, coords, numKeypoints);
    return {
      logits,
      numQueries: q,
      ...prtrMatch(logits.data, coords.data, q, numKeypoints, readoutOptions),
    };
  };
  return {
    task: "keypoints",
    manifest,
    input,
    numKeypoints,
    flipPairs,
    decode(outputs: ModelOutputs, flipped?: ModelOutputs): Float32Array {
      let keypoints = match(outputs).keypoints;
      if (flipped) {
        keypoints = fusePrtrFlip(keypoints, match(flipped).keypoints, flipPairs, {
          pixelAlign,
          inputWidth: input.width,
        });
      }
      // Normalized crop units → crop pixels.
      for (let j = 0; j < numKeypoints; j++) {
        keypoints[j * 3] *= input.width;
        keypoints[j * 3 + 1] *= input.height;
      }
      return keypoints;
    },
    explain(outputs: ModelOutputs): CropExplanation {
      // The unflipped crop's matching: the queries of the mirrored crop answer for the
      // mirrored person, and their indices mean the same only where the model is symmetric.
      const { logits, numQueries, queryOfType, keypoints } = match(outputs);
      const readout: QueryReadout = {
        numQueries,
        queryOfKeypoint: queryOfType,
        classProbabilities: prtrClassProbabilities(
          logits.data,
          numQueries,
          numKeypoints,
          readoutOptions.backgroundColumn,
        ),
      };
      const aux = optionalOutput(outputs, manifest, AUX_COORDS_ROLE);
      const notes: string[] = [];
      if (aux) {
        const paths = queryPaths(aux, queryOfType, keypoints, numQueries, input);
        if (typeof paths === "string") notes.push(`model ${manifest.file}: ${paths}`);
        else readout.paths = paths;
      }
      return { queries: readout, ...(notes.length ? { notes } : {}) };
    },
  };
}

/** Output role of the intermediate decoder layers' coordinates (`--explain` draws paths). */
export const AUX_COORDS_ROLE = "aux_coords";

/**
 * Each matched query's coordinates through the decoder layers, from the auxiliary output
 * [B, L, Q, 2] (normalized, the L intermediate layers in order) and the final readout:
 * J × (L + 1) × 2 crop pixels. Returns a one-line reason instead when the shape is not that.
 */
export function queryPaths(
  aux: OutputTensor,
  queryOfType: Int32Array,
  final: Float32Array,
  numQueries: number,
  input: { width: number; height: number },
): { points: number; data: Float32Array } | string {
  const dims = aux.dims;
  const layers = dims.length >= 3 ? dims[dims.length - 3] : 0;
  if (
    dims.length < 3 || dims[dims.length - 1] !== 2 || dims[dims.length - 2] !== numQueries ||
    aux.data.length < layers * numQueries * 2
  ) {
    return `"${AUX_COORDS_ROLE}" should be [B,L,${numQueries},2] (the intermediate decoder ` +
      `layers' coordinates), got [${dims.join(",")}]`;
  }
  const J = queryOfType.length, points = layers + 1;
  const data = new Float32Array(J * points * 2);
  for (let j = 0; j < J; j++) {
    const q = queryOfType[j];
    for (let l = 0; l < layers; l++) {
      const at = (l * numQueries + q) * 2, to = (j * points + l) * 2;
      data[to] = aux.data[at] * input.width;
      data[to + 1] = aux.data[at + 1] * input.height;
    }
    const last = (j * points + layers) * 2;
    data[last] = final[j * 3] * input.width;
    data[last + 1] = final[j * 3 + 1] * input.height;
  }
  return { points, data };
}
