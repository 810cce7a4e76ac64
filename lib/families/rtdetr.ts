/**
 * Real-time DETRs exported with their post-processor in the graph: RT-DETR, D-FINE, DEIM,
 * DEIMv2 (the format of `deimv2_atto_coco.onnx`). Set prediction: no NMS.
 *
 * Inputs: the image (plain resize to the input size, RGB, /255 by default) and
 * `orig_target_sizes` [B, 2] int64 = (width, height) of the original image, which the
 * post-processor scales the boxes with. Outputs (roles): `labels` [B, Q] (int64, COCO-80
 * contiguous ids), `boxes` [B, Q, 4] x1, y1, x2, y2 in original image pixels, `scores` [B, Q]
 * (`lib/codecs/detr_postprocessed.ts`).
 *
 * Manifest options: `personLabel` (default 0, COCO-80's person), `sizeInput` (name of the
 * size input, default "orig_target_sizes").
 */

import { decodePostprocessedDetr } from "../codecs/detr_postprocessed.ts";
import { int64Input } from "../runtime/session.ts";
import { type DetectorAdapter, type FamilyDescriptor, requireOutput } from "./family.ts";
import { imageInputSpec, indexOption, stringOption } from "./manifest_fields.ts";

const SIZE_INPUT = "orig_target_sizes";

/** RT-DETR / D-FINE / DEIM / DEIMv2 with the post-processor inside the graph. */
export const rtdetrFamily: FamilyDescriptor<"rtdetr"> = {
  name: "rtdetr",
  task: "detector",
  summary: "RT-DETR, D-FINE, DEIM, DEIMv2 exported with their post-processor " +
    "(inputs images + orig_target_sizes; outputs labels, boxes, scores)",
  outputRoles: ["labels", "boxes", "scores"],
  extraInputs: [SIZE_INPUT],
  recognize(graph) {
    const labels = graph.output("labels"), boxes = graph.output("boxes");
    const scores = graph.output("scores");
    const sizes = graph.inputs.find((t) => t.name === SIZE_INPUT);
    if (!labels || !boxes || !scores || !sizes) return;
    return {
      input: {
        name: graph.image.name,
        width: graph.inputWidth ?? 640,
        height: graph.inputHeight ?? 640,
        resize: "stretch",
        colorOrder: "rgb",
        mean: [0, 0, 0],
        std: [255, 255, 255],
        dynamicBatch: graph.dynamicBatch,
      },
      outputs: { labels: labels.name, boxes: boxes.name, scores: scores.name },
    };
  },
  createAdapter(manifest): DetectorAdapter {
    const image = imageInputSpec(manifest, "stretch");
    const personLabel = indexOption(manifest, "personLabel", 0);
    const sizeInput = stringOption(manifest, "sizeInput", SIZE_INPUT);
    return {
      task: "detector",
      manifest,
      input: {
        ...image,
        // The post-processor scales normalized boxes by the original image size.
        extraInputs: (frame, batch) => ({
          [sizeInput]: int64Input(
            Array.from({ length: batch }, () => [frame.imageWidth, frame.imageHeight]).flat(),
            [batch, 2],
          ),
        }),
      },
      decode(outputs, frame, settings) {
        const labels = requireOutput(outputs, manifest, "labels");
        const boxes = requireOutput(outputs, manifest, "boxes");
        const scores = requireOutput(outputs, manifest, "scores");
        try {
          return decodePostprocessedDetr(labels, boxes, scores, {
            personLabel,
            scoreThreshold: settings.scoreThreshold,
            imageWidth: frame.imageWidth,
            imageHeight: frame.imageHeight,
            names: {
              labels: manifest.outputs.labels ?? "labels",
              boxes: manifest.outputs.boxes ?? "boxes",
              scores: manifest.outputs.scores ?? "scores",
            },
          });
        } catch (error) {
          throw new Error(`model ${manifest.file}: ${(error as Error).message}`);
        }
      },
    };
  },
};
