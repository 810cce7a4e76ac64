/**
 * RTMDet person detector, as exported by mmdeploy "end2end" (NMS inside the graph).
 *
 * Output roles: `dets` [B, N, 5] = x1, y1, x2, y2, score in network input pixels, and
 * `labels` [B, N] class ids. Only batch item 0 is read.
 *
 * Manifest options: `personClass` (number, default 0): the label id of "person".
 *
 * Input: letterbox (keep the aspect ratio, pad bottom/right with `input.padValue`, default
 * 114), normalized with the manifest's colorOrder/mean/std.
 */

import { inputBoxToImage } from "../geometry/frame.ts";
import type { Box, OutputTensor } from "../types.ts";
import { type DetectorAdapter, type FamilyDescriptor, requireOutput } from "./family.ts";
import type { ImageFrame } from "../geometry/frame.ts";
import { imageInputSpec, indexOption } from "./manifest_fields.ts";
import { letterboxInput } from "./recognition_defaults.ts";

/** Options of `decodeRtmdet`. */
export interface RtmdetDecodeOptions {
  /** Drop boxes whose score is below this. */
  scoreThreshold: number;
  /** Label id of the person class (default 0). */
  personLabel?: number;
}

/**
 * Person boxes from RTMDet end2end outputs, in image pixels, best first.
 *
 * Keeps rows whose label is `personLabel` and whose score is at least `scoreThreshold`;
 * maps input pixels to image pixels through `frame` (the letterbox pads only bottom/right)
 * and clips to the image, dropping boxes left empty.
 */
export function decodeRtmdet(
  dets: OutputTensor,
  labels: OutputTensor,
  frame: ImageFrame,
  opts: RtmdetDecodeOptions,
): Box[] {
  const personLabel = opts.personLabel ?? 0;
  if (dets.dims.length !== 3 || dets.dims[2] !== 5) {
    throw new Error(`rtmdet: "dets" must be [B, N, 5], got [${dets.dims.join(", ")}]`);
  }
  const n = dets.dims[1];
  if (labels.dims.length !== 2 || labels.dims[1] !== n) {
    throw new Error(
      `rtmdet: "labels" must be [B, ${n}] like "dets", got [${labels.dims.join(", ")}]`,
    );
  }
  const boxes: Box[] = [];
  for (let i = 0; i < n; i++) {
    if (labels.data[i] !== personLabel) continue;
    const row = dets.data.subarray(5 * i, 5 * i + 5);
    const score = row[4];
    if (!(score >= opts.scoreThreshold)) continue;
    const box = inputBoxToImage(frame, row[0], row[1], row[2], row[3], score);
    if (box) boxes.push(box);
  }
  return boxes.sort((a, b) => b.score - a.score);
}

/** RTMDet, mmdeploy end2end export (NMS inside the graph). */
export const rtmdetFamily: FamilyDescriptor<"rtmdet"> = {
  name: "rtmdet",
  task: "detector",
  summary: "RTMDet person detector, mmdeploy end2end export (NMS in the graph)",
  outputRoles: ["dets", "labels"],
  recognize(graph) {
    const dets = graph.output("dets"), labels = graph.output("labels");
    if (!dets || !labels || dets.shape.length !== 3 || labels.shape.length !== 2) return;
    const last = dets.shape[2];
    if (typeof last === "number" && last > 0 && last !== 5) {
      throw new Error(`"dets" has ${last} values per box, not 5`);
    }
    return {
      input: letterboxInput(graph, "bgr", [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]),
      outputs: { dets: dets.name, labels: labels.name },
    };
  },
  createAdapter(manifest): DetectorAdapter {
    const input = imageInputSpec(manifest, "letterbox");
    const personLabel = indexOption(manifest, "personClass", 0);
    return {
      task: "detector",
      manifest,
      input,
      decode(outputs, frame, settings) {
        return decodeRtmdet(
          requireOutput(outputs, manifest, "dets"),
          requireOutput(outputs, manifest, "labels"),
          frame,
          { scoreThreshold: settings.scoreThreshold, personLabel },
        );
      },
    };
  },
};
