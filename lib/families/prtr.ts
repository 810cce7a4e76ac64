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
 */

import { flipPermutation } from "../coco/keypoints.ts";
import { hungarian } from "../math/hungarian.ts";
import type { ModelManifest } from "../models/manifest.ts";
import { softmax } from "../math/numeric.ts";
import type { ModelOutputs, OutputTensor } from "../types.ts";
import { type FamilyDescriptor, type KeypointAdapter, requireOutput } from "./family.ts";
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
  const readout = (outputs: ModelOutputs) => {
    const logits = prtrOutput(outputs, manifest, "logits", "pred_logits");
    const coords = prtrOutput(outputs, manifest, "coords", "pred_coords");
    const q = prtrQueryCount(logits, coords, numKeypoints);
    return prtrReadout(logits.data, coords.data, q, numKeypoints, readoutOptions);
  };
  return {
    task: "keypoints",
    manifest,
    input,
    numKeypoints,
    flipPairs,
    decode(outputs: ModelOutputs, flipped?: ModelOutputs): Float32Array {
      let keypoints = readout(outputs);
      if (flipped) {
        keypoints = fusePrtrFlip(keypoints, readout(flipped), flipPairs, {
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
  };
}
