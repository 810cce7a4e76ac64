/**
 * Sequential (end-to-end) PRTR: one model from the whole image to people and their keypoints
 * (Li et al., CVPR 2021, "sequential Transformers"). A DETR-style person head is followed by
 * a keypoint Transformer per person query.
 *
 * Outputs (roles, with default names):
 * - `logits` (`pred_logits`) [B,P,C+1]: person-head class logits, the last being no-object;
 * - `boxes` (`pred_boxes`) [B,P,4]: normalized cx, cy, w, h of the unpadded input image;
 * - `kpt_logits` (`pred_kpt_logits`) [B,P,Q,J+1]: keypoint-query logits, background last;
 * - `kpt_coords` (`pred_kpt_coord`) [B,P,Q,2]: (x, y) normalized to the unpadded input image.
 *
 * Decoding: person score = softmax over all C+1 logits (no-object included, as DETR) at the
 * person class; people below the score threshold are dropped. Keypoints use the two-stage
 * readout (`prtrReadout`: type softmax, Hungarian matching of types to queries) per person;
 * normalized coordinates × the image size give image pixels, as the boxes do.
 * Pose score = person score × mean of the keypoint scores above the pipeline's keypoint
 * threshold (default 0.2; `lib/pose_score.ts`), the top-down pipeline's rule.
 *
 * Preprocessing is DETR's: "shorter-side" resize (default 800, longer side ≤ 1333), RGB,
 * ImageNet mean/std in 0–255 units, unless the manifest says otherwise.
 *
 * Manifest options:
 * - `personClass` (number): person index among the C+1 logits; default 0 when C = 1 and
 *   1 otherwise (91-class COCO DETR).
 * - `boxesRelativeTo` ("content" default, or "input"): as DETR's, for boxes and keypoints.
 * - `includeBackground`, `backgroundColumn`, `matchOn`: as in the two-stage readout. The
 *   paper's sequential notebook matches raw logits with the first column as background:
 *   `"backgroundColumn": "first", "matchOn": "logit"`.
 */

import { normalizedCentreBoxToImage } from "../geometry/frame.ts";
import type { ModelManifest } from "../models/manifest.ts";
import { softmax } from "../math/numeric.ts";
import { rescorePose } from "../coco/pose_score.ts";
import type { ModelOutputs, Pose } from "../types.ts";
import { detrStyleInput } from "./detr.ts";
import type { DecodeSettings, EndToEndAdapter, FamilyDescriptor } from "./family.ts";
import type { ImageFrame } from "../geometry/frame.ts";
import { cocoKeypointFields, staticDim } from "./recognition_defaults.ts";
import { choiceOption, imageInputSpec, indexOption, keypointLayout } from "./manifest_fields.ts";
import { prtrOutput, prtrReadout, type PrtrReadoutOptions, prtrReadoutOptions } from "./prtr.ts";

/** Settings of `decodePrtrSequential`. */
export interface PrtrSequentialDecodeOptions extends DecodeSettings, PrtrReadoutOptions {
  numKeypoints: number;
  /** Person class index among the C+1 logits; default 0 when C = 1, else 1. */
  personClass?: number;
  /** What normalized boxes and keypoints are relative to (as DETR's); default "content". */
  relativeTo?: "content" | "input";
}

/** The four output tensors of a sequential PRTR model. */
export interface PrtrSequentialOutputs {
  logits: { data: Float32Array; dims: readonly number[] };
  boxes: { data: Float32Array; dims: readonly number[] };
  kptLogits: { data: Float32Array; dims: readonly number[] };
  kptCoords: { data: Float32Array; dims: readonly number[] };
}

/**
 * People with keypoints in image pixels, best pose score first (first batch item only).
 */
export function decodePrtrSequential(
  outputs: PrtrSequentialOutputs,
  frame: ImageFrame,
  options: PrtrSequentialDecodeOptions,
): Pose[] {
  const { logits, boxes, kptLogits, kptCoords } = outputs;
  const J = options.numKeypoints;
  const ld = logits.dims, kd = kptLogits.dims, cd = kptCoords.dims;
  const people = ld[ld.length - 2], numLogits = ld[ld.length - 1];
  const queries = kd[kd.length - 2];
  const shapesAgree = ld.length >= 2 && kd.length >= 3 && cd.length >= 3 &&
    boxes.dims[boxes.dims.length - 1] === 4 && boxes.dims[boxes.dims.length - 2] === people &&
    kd[kd.length - 3] === people && kd[kd.length - 1] === J + 1 &&
    cd[cd.length - 3] === people && cd[cd.length - 2] === queries && cd[cd.length - 1] === 2;
  if (!shapesAgree) {
    throw new Error(
      `PRTR sequential: expected logits [B,P,C+1], boxes [B,P,4], keypoint logits ` +
        `[B,P,Q,${J + 1}] and keypoint coordinates [B,P,Q,2]; got [${ld.join(",")}], ` +
        `[${boxes.dims.join(",")}], [${kd.join(",")}], [${cd.join(",")}]`,
    );
  }
  const personClass = options.personClass ?? (numLogits === 2 ? 0 : 1);
  if (!(personClass >= 0 && personClass < numLogits - 1)) {
    throw new Error(
      `PRTR sequential: person class ${personClass} is not one of the ${numLogits - 1} ` +
        `classes (the last of ${numLogits} logits is no-object); set options.personClass`,
    );
  }
  // DETR convention: normalized units span the unpadded image (or, for a fixed-size export
  // fed a letterboxed image, the whole input).
  const input = options.relativeTo === "input";
  const spanX = (input ? frame.inputWidth : frame.contentWidth) / frame.scaleX;
  const spanY = (input ? frame.inputHeight : frame.contentHeight) / frame.scaleY;

  const poses: Pose[] = [];
  for (let p = 0; p < people; p++) {
    const personScore = softmax(logits.data, p * numLogits, (p + 1) * numLogits)[personClass];
    if (!(personScore >= options.scoreThreshold)) continue;
    const kptStart = p * queries * (J + 1), coordStart = p * queries * 2;
    const keypoints = prtrReadout(
      kptLogits.data.subarray(kptStart, kptStart + queries * (J + 1)),
      kptCoords.data.subarray(coordStart, coordStart + queries * 2),
      queries,
      J,
      options,
    );
    for (let j = 0; j < J; j++) {
      keypoints[j * 3] *= spanX;
      keypoints[j * 3 + 1] *= spanY;
    }
    const b = p * 4, d = boxes.data;
    poses.push({
      box: normalizedCentreBoxToImage(
        frame,
        d[b],
        d[b + 1],
        d[b + 2],
        d[b + 3],
        personScore,
        options.relativeTo,
      ),
      keypoints,
      score: rescorePose(personScore, keypoints, options.keypointScoreThreshold),
    });
  }
  return poses.sort((a, b) => b.score - a.score);
}

/** Sequential PRTR: whole image in, people with keypoints out (no detector). */
export const prtrSequentialFamily: FamilyDescriptor<"prtr-sequential"> = {
  name: "prtr-sequential",
  task: "end2end",
  summary: "sequential (end-to-end) PRTR: person queries, then keypoint queries per person",
  outputRoles: ["logits", "boxes", "kpt_logits", "kpt_coords"],
  recognize(graph) {
    const kptLogits = graph.output("pred_kpt_logits"), kptCoord = graph.output("pred_kpt_coord");
    if (!kptLogits || !kptCoord) return;
    const logits = graph.output("pred_logits"), boxes = graph.output("pred_boxes");
    if (!logits || !boxes) {
      throw new Error(`a PRTR sequential model also needs "pred_logits" and "pred_boxes" outputs`);
    }
    const joints = staticDim(kptLogits.shape[kptLogits.shape.length - 1]);
    return {
      input: detrStyleInput(graph),
      outputs: {
        logits: logits.name,
        boxes: boxes.name,
        kpt_logits: kptLogits.name,
        kpt_coords: kptCoord.name,
      },
      ...cocoKeypointFields(joints === undefined ? undefined : joints - 1),
      ...(graph.inputWidth && graph.inputHeight ? { options: { boxesRelativeTo: "input" } } : {}),
    };
  },
  createAdapter: (manifest) => createPrtrSequentialAdapter(manifest),
};

/** Builds the sequential PRTR adapter from its manifest. */
export function createPrtrSequentialAdapter(manifest: ModelManifest): EndToEndAdapter {
  const input = imageInputSpec(manifest, "shorter-side");
  const personClass = indexOption(manifest, "personClass");
  const readoutOptions = prtrReadoutOptions(manifest);
  const { numKeypoints } = keypointLayout(manifest);
  const relativeTo = choiceOption(manifest, "boxesRelativeTo", ["content", "input"], "content");
  return {
    task: "end2end",
    manifest,
    input,
    numKeypoints,
    decode(outputs: ModelOutputs, frame: ImageFrame, settings: DecodeSettings): Pose[] {
      return decodePrtrSequential(
        {
          logits: prtrOutput(outputs, manifest, "logits", "pred_logits"),
          boxes: prtrOutput(outputs, manifest, "boxes", "pred_boxes"),
          kptLogits: prtrOutput(outputs, manifest, "kpt_logits", "pred_kpt_logits"),
          kptCoords: prtrOutput(outputs, manifest, "kpt_coords", "pred_kpt_coord"),
        },
        frame,
        { ...settings, ...readoutOptions, numKeypoints, personClass, relativeTo },
      );
    },
  };
}
