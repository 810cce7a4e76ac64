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
 * Pose score = person score × mean of the keypoint scores above 0.2 (0 when none is), the
 * same rule as the top-down pipeline's, so both kinds of results rank alike in COCO AP.
 *
 * Preprocessing is DETR's: "shorter-side" resize (default 800, longer side ≤ 1333), RGB,
 * ImageNet mean/std in 0–255 units, unless the manifest says otherwise.
 *
 * Manifest options:
 * - `personClass` (number): person index among the C+1 logits; default 0 when C = 1 and
 *   1 otherwise (91-class COCO DETR).
 * - `includeBackground` (boolean, default false): as in the two-stage readout.
 */

import { COCO_FLIP_PAIRS } from "../coco_keypoints.ts";
import type { ModelManifest } from "../manifest.ts";
import { imageInputSpec } from "./common.ts";
import { softmax } from "../math.ts";
import type { ModelOutputs, Pose } from "../types.ts";
import type { DetectorDecodeOptions, EndToEndAdapter, ImageFrame } from "./adapter.ts";
import { booleanOption, prtrOutput, prtrReadout } from "./prtr.ts";

/** Keypoint scores at or below this do not count towards the pose score. */
export const POSE_SCORE_KEYPOINT_THRESHOLD = 0.2;

/** Settings of `decodePrtrSequential` beyond the score threshold. */
export interface PrtrSequentialDecodeOptions extends DetectorDecodeOptions {
  numKeypoints: number;
  /** Person class index among the C+1 logits; default 0 when C = 1, else 1. */
  personClass?: number;
  includeBackground?: boolean;
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
  // DETR convention: normalized units span the unpadded image.
  const spanX = frame.contentWidth / frame.scale, spanY = frame.contentHeight / frame.scale;

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
      { includeBackground: options.includeBackground },
    );
    let confident = 0, sum = 0;
    for (let j = 0; j < J; j++) {
      keypoints[j * 3] *= spanX;
      keypoints[j * 3 + 1] *= spanY;
      const s = keypoints[j * 3 + 2];
      if (s > POSE_SCORE_KEYPOINT_THRESHOLD) {
        sum += s;
        confident++;
      }
    }
    const b = p * 4;
    const cx = boxes.data[b] * spanX, cy = boxes.data[b + 1] * spanY;
    const w = boxes.data[b + 2] * spanX, h = boxes.data[b + 3] * spanY;
    poses.push({
      box: {
        x1: clamp(cx - w / 2, 0, frame.imageWidth),
        y1: clamp(cy - h / 2, 0, frame.imageHeight),
        x2: clamp(cx + w / 2, 0, frame.imageWidth),
        y2: clamp(cy + h / 2, 0, frame.imageHeight),
        score: personScore,
      },
      keypoints,
      score: personScore * (confident > 0 ? sum / confident : 0),
    });
  }
  return poses.sort((a, b) => b.score - a.score);
}

/** Builds the sequential PRTR adapter from its manifest. */
export function createPrtrSequentialAdapter(manifest: ModelManifest): EndToEndAdapter {
  const input = imageInputSpec(manifest, "shorter-side");
  const personClass = manifest.options?.personClass;
  if (personClass !== undefined && (typeof personClass !== "number" || personClass < 0)) {
    throw new Error(`model ${manifest.file}: options.personClass must be a class index`);
  }
  const includeBackground = booleanOption(manifest, "includeBackground") ?? false;
  const numKeypoints = manifest.keypoints?.length ?? 17;
  return {
    task: "end2end",
    manifest,
    input,
    numKeypoints,
    flipPairs: manifest.flipPairs ?? (numKeypoints === 17 ? COCO_FLIP_PAIRS : []),
    decode(outputs: ModelOutputs, frame: ImageFrame, options: DetectorDecodeOptions): Pose[] {
      return decodePrtrSequential(
        {
          logits: prtrOutput(outputs, manifest, "logits", "pred_logits"),
          boxes: prtrOutput(outputs, manifest, "boxes", "pred_boxes"),
          kptLogits: prtrOutput(outputs, manifest, "kpt_logits", "pred_kpt_logits"),
          kptCoords: prtrOutput(outputs, manifest, "kpt_coords", "pred_kpt_coord"),
        },
        frame,
        { ...options, numKeypoints, personClass, includeBackground },
      );
    },
  };
}

function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value;
}
