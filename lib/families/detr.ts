/**
 * DETR person detector (facebookresearch/detr, or a person-only fine-tune).
 *
 * Outputs (roles): `logits` = `pred_logits` [B,Q,C+1], the last class being "no object";
 * `boxes` = `pred_boxes` [B,Q,4], normalized cx,cy,w,h of the unpadded input image.
 *
 * Manifest options:
 * - `personClass` (number): index of the person class among the C+1 logits. Default 1 for
 *   COCO DETR (92 logits: 91 COCO category ids + no-object) and 0 for a person-only model
 *   (2 logits); other class counts must set it.
 * - `boxesRelativeTo` ("content" | "input"): what the normalized boxes are relative to.
 *   Default "content" (the resized image without padding, as DETR's own postprocess assumes);
 *   "input" for a fixed-size export fed a letterboxed image, where the network sees the padding
 *   as part of the picture.
 *
 * DETR has no NMS: its set prediction already gives one box per person.
 */

import type { ManifestInput } from "../models/manifest.ts";
import { normalizedCentreBoxToImage } from "../geometry/frame.ts";
import { softmax } from "../math/numeric.ts";
import type { Box, OutputTensor } from "../types.ts";
import {
  type DetectorAdapter,
  type FamilyDescriptor,
  type GraphInfo,
  requireOutput,
} from "./family.ts";
import type { ImageFrame } from "../geometry/frame.ts";
import { choiceOption, imageInputSpec, indexOption } from "./manifest_fields.ts";

/** Settings of `decodeDetr`. */
export interface DetrDecodeOptions {
  /** Drop boxes below this person probability. */
  scoreThreshold: number;
  /** Person class index among the C+1 logits; default from C+1 (92 → 1, 2 → 0). */
  personClass?: number;
  /** What the normalized boxes are relative to; default "content". */
  boxesRelativeTo?: "content" | "input";
}

/** The person class for a logit count, or undefined when it cannot be guessed. */
export function defaultPersonClass(numLogits: number): number | undefined {
  if (numLogits === 92) return 1;
  if (numLogits === 2) return 0;
  return undefined;
}

/**
 * Person boxes from DETR outputs, in image pixels, best first.
 *
 * Score = softmax probability of the person class over all C+1 logits (no-object included),
 * as DETR's PostProcess computes it. Boxes below `scoreThreshold` are dropped, the rest are
 * converted from normalized cx,cy,w,h to x1,y1,x2,y2 in image pixels through `frame` and
 * clipped to the image. Only the first batch item is read.
 */
export function decodeDetr(
  logits: OutputTensor,
  boxes: OutputTensor,
  frame: ImageFrame,
  options: DetrDecodeOptions,
): Box[] {
  const { queries, numLogits } = detrShape(logits, boxes);
  const personClass = options.personClass ?? defaultPersonClass(numLogits);
  if (personClass === undefined || personClass < 0 || personClass >= numLogits - 1) {
    throw new Error(
      `DETR: cannot tell the person class among ${numLogits} logits ` +
        `(${numLogits - 1} classes + no-object); set options.personClass in the manifest`,
    );
  }
  const result: Box[] = [];
  for (let q = 0; q < queries; q++) {
    const score = softmax(logits.data, q * numLogits, (q + 1) * numLogits)[personClass];
    if (!(score >= options.scoreThreshold)) continue;
    const b = q * 4, d = boxes.data;
    result.push(
      normalizedCentreBoxToImage(
        frame,
        d[b],
        d[b + 1],
        d[b + 2],
        d[b + 3],
        score,
        options.boxesRelativeTo,
      ),
    );
  }
  return result.sort((a, b) => b.score - a.score);
}

/**
 * DETR-style whole-image input of a bare graph: shorter-side resize, or letterbox (pad 0)
 * for a fixed-size export; ImageNet mean/std, RGB. Shared by DETR and PRTR sequential.
 */
export function detrStyleInput(graph: GraphInfo): ManifestInput {
  const fixed = graph.inputWidth !== undefined && graph.inputHeight !== undefined;
  return {
    name: graph.image.name,
    width: graph.inputWidth ?? 0,
    height: graph.inputHeight ?? 0,
    ...(fixed
      ? { resize: "letterbox" as const, padValue: 0 }
      : { resize: "shorter-side" as const, shorterSide: 800, longerSideMax: 1333 }),
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    dynamicBatch: graph.dynamicBatch,
  };
}

/** DETR (facebookresearch/detr): `pred_logits` + `pred_boxes`, no NMS. */
export const detrFamily: FamilyDescriptor<"detr"> = {
  name: "detr",
  task: "detector",
  summary: "DETR person detector (pred_logits, pred_boxes; set prediction, no NMS)",
  outputRoles: ["logits", "boxes"],
  recognize(graph) {
    const logits = graph.output("pred_logits"), boxes = graph.output("pred_boxes");
    if (!logits || !boxes) return;
    const fixed = graph.inputWidth !== undefined && graph.inputHeight !== undefined;
    return {
      input: detrStyleInput(graph),
      outputs: { logits: logits.name, boxes: boxes.name },
      ...(fixed ? { options: { boxesRelativeTo: "input" } } : {}),
    };
  },
  createAdapter(manifest): DetectorAdapter {
    const personClass = indexOption(manifest, "personClass");
    const boxesRelativeTo = choiceOption(
      manifest,
      "boxesRelativeTo",
      ["content", "input"] as const,
      "content",
    );
    return {
      task: "detector",
      manifest,
      input: imageInputSpec(manifest, "shorter-side"),
      decode(outputs, frame, settings) {
        return decodeDetr(
          requireOutput(outputs, manifest, "logits"),
          requireOutput(outputs, manifest, "boxes"),
          frame,
          { scoreThreshold: settings.scoreThreshold, personClass, boxesRelativeTo },
        );
      },
    };
  },
};

/** Query count and logit count, after checking that the two outputs agree. */
function detrShape(
  logits: OutputTensor,
  boxes: OutputTensor,
): { queries: number; numLogits: number } {
  const ld = logits.dims, bd = boxes.dims;
  if (ld.length < 2 || bd.length < 2 || bd[bd.length - 1] !== 4) {
    throw new Error(
      `DETR: expected logits [B,Q,C+1] and boxes [B,Q,4], got [${ld.join(",")}] and ` +
        `[${bd.join(",")}]`,
    );
  }
  const queries = ld[ld.length - 2];
  const numLogits = ld[ld.length - 1];
  if (bd[bd.length - 2] !== queries || numLogits < 2) {
    throw new Error(
      `DETR: logits [${ld.join(",")}] and boxes [${bd.join(",")}] disagree on the query count`,
    );
  }
  return { queries, numLogits };
}
