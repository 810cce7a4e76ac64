/**
 * Codec for DETR-family detectors exported with their post-processor inside the graph
 * (RT-DETR, D-FINE, DEIM, DEIMv2: `labels`, `boxes`, `scores`). Pure functions.
 *
 * The in-graph post-processor already did the work of DETR's PostProcess: sigmoid scores,
 * top-Q selection over queries × classes, centre-size → corner conversion and scaling by the
 * `orig_target_sizes` input. So `boxes` are x1, y1, x2, y2 in ORIGINAL image pixels and no
 * NMS is needed (set prediction). `labels` are int64 in the model and arrive here as float32
 * (exact for class ids). Coordinates returned: image pixels.
 */

import type { Box, OutputTensor } from "../types.ts";

/** Options of `decodePostprocessedDetr`. */
export interface PostprocessedDetrOptions {
  /** The person class id (0 in COCO-80 contiguous labels). */
  personLabel: number;
  /** Keep person boxes scoring at least this. */
  scoreThreshold: number;
  /** The original image size the boxes refer to (what `orig_target_sizes` held). */
  imageWidth: number;
  imageHeight: number;
  /** Batch item to decode; default 0. */
  batchIndex?: number;
  /** Output names, for messages; default "labels", "boxes", "scores". */
  names?: { labels?: string; boxes?: string; scores?: string };
}

/**
 * Person boxes of one batch item in image pixels, best first (equal scores keep query
 * order), clipped to [0, imageWidth] × [0, imageHeight]; boxes with nothing left after
 * clipping are dropped. No NMS.
 *
 * @param labels [N, Q] class ids
 * @param boxes [N, Q, 4] x1, y1, x2, y2 in original image pixels
 * @param scores [N, Q]
 * @throws an Error naming the output and the expected shape when the dims disagree or the
 *   data is shorter than they say.
 */
export function decodePostprocessedDetr(
  labels: OutputTensor,
  boxes: OutputTensor,
  scores: OutputTensor,
  options: PostprocessedDetrOptions,
): Box[] {
  const names = {
    labels: options.names?.labels ?? "labels",
    boxes: options.names?.boxes ?? "boxes",
    scores: options.names?.scores ?? "scores",
  };
  const sd = scores.dims;
  if (sd.length !== 2) {
    throw new Error(`DETR output "${names.scores}" must be [N, Q], got [${sd.join(", ")}]`);
  }
  const [n, q] = sd;
  const expect = (tensor: OutputTensor, name: string, want: number[]) => {
    const d = tensor.dims;
    if (d.length !== want.length || d.some((v, i) => v !== want[i])) {
      throw new Error(
        `DETR output "${name}" must be [${want.join(", ")}] (as "${names.scores}" ` +
          `[${sd.join(", ")}]), got [${d.join(", ")}]`,
      );
    }
    const needed = want.reduce((a, b) => a * b, 1);
    if (tensor.data.length < needed) {
      throw new Error(
        `DETR output "${name}" [${d.join(", ")}] has only ${tensor.data.length} values`,
      );
    }
  };
  expect(scores, names.scores, [n, q]);
  expect(labels, names.labels, [n, q]);
  expect(boxes, names.boxes, [n, q, 4]);
  const b = options.batchIndex ?? 0;
  if (!(Number.isInteger(b) && b >= 0 && b < n)) {
    throw new Error(`DETR outputs hold ${n} images; batch item ${b} does not exist`);
  }
  const { imageWidth: w, imageHeight: h } = options;
  if (!(w > 0 && h > 0)) {
    throw new Error(`DETR decode: image size ${w}×${h} has no pixels`);
  }
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const people: Box[] = [];
  for (let i = b * q; i < (b + 1) * q; i++) {
    const score = scores.data[i];
    if (labels.data[i] !== options.personLabel || !(score >= options.scoreThreshold)) continue;
    const box: Box = {
      x1: clip(boxes.data[4 * i], w),
      y1: clip(boxes.data[4 * i + 1], h),
      x2: clip(boxes.data[4 * i + 2], w),
      y2: clip(boxes.data[4 * i + 3], h),
      score,
    };
    if (box.x2 > box.x1 && box.y2 > box.y1) people.push(box);
  }
  // Array.prototype.sort is stable: equal scores keep query order.
  return people.sort((a, c) => c.score - a.score);
}
