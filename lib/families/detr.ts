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

import type { ModelManifest } from "../manifest.ts";
import { imageInputSpec } from "./common.ts";
import type { Box, OutputTensor } from "../types.ts";
import {
  type DetectorAdapter,
  type DetectorDecodeOptions,
  type ImageFrame,
  requireOutput,
} from "./adapter.ts";

/** Settings of `decodeDetr` beyond the score threshold. */
export interface DetrDecodeOptions extends DetectorDecodeOptions {
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
  const relativeToInput = options.boxesRelativeTo === "input";
  // Normalized units → image pixels: the normalized box spans the content (or whole input)
  // region, which is the image scaled by frame.scale.
  const spanX = (relativeToInput ? frame.inputWidth : frame.contentWidth) / frame.scale;
  const spanY = (relativeToInput ? frame.inputHeight : frame.contentHeight) / frame.scale;

  const result: Box[] = [];
  for (let q = 0; q < queries; q++) {
    const row = q * numLogits;
    let max = -Infinity;
    for (let c = 0; c < numLogits; c++) max = Math.max(max, logits.data[row + c]);
    let sum = 0;
    for (let c = 0; c < numLogits; c++) sum += Math.exp(logits.data[row + c] - max);
    const score = Math.exp(logits.data[row + personClass] - max) / sum;
    if (!(score >= options.scoreThreshold)) continue;
    const b = q * 4;
    const cx = boxes.data[b] * spanX, cy = boxes.data[b + 1] * spanY;
    const w = boxes.data[b + 2] * spanX, h = boxes.data[b + 3] * spanY;
    result.push({
      x1: clamp(cx - w / 2, 0, frame.imageWidth),
      y1: clamp(cy - h / 2, 0, frame.imageHeight),
      x2: clamp(cx + w / 2, 0, frame.imageWidth),
      y2: clamp(cy + h / 2, 0, frame.imageHeight),
      score,
    });
  }
  return result.sort((a, b) => b.score - a.score);
}

/** Builds the DETR detector adapter from its manifest. */
export function createDetrAdapter(manifest: ModelManifest): DetectorAdapter {
  const personClass = numberOption(manifest, "personClass");
  const boxesRelativeTo = manifest.options?.boxesRelativeTo ?? "content";
  if (boxesRelativeTo !== "content" && boxesRelativeTo !== "input") {
    throw new Error(
      `model ${manifest.file}: options.boxesRelativeTo must be "content" or "input", ` +
        `not ${JSON.stringify(boxesRelativeTo)}`,
    );
  }
  return {
    task: "detector",
    manifest,
    input: imageInputSpec(manifest, "shorter-side"),
    decode(outputs, frame, options) {
      return decodeDetr(
        requireOutput(outputs, manifest, "logits"),
        requireOutput(outputs, manifest, "boxes"),
        frame,
        { ...options, personClass, boxesRelativeTo },
      );
    },
  };
}

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

function numberOption(manifest: ModelManifest, key: string): number | undefined {
  const value = manifest.options?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new Error(`model ${manifest.file}: options.${key} must be an integer`);
  }
  return value;
}

function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value;
}
