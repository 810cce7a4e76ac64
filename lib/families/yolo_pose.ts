/**
 * YOLO-pose (Ultralytics YOLOv8-pose and YOLO11-pose exports): one-stage, whole image in,
 * people with keypoints out, no detector and no crops.
 *
 * Output role: `output` (default name `output0`) [1, 5 + 3K, N]: per anchor cx, cy, w, h in
 * input pixels, the person score, then K × (x, y, visibility) in input pixels
 * (`lib/codecs/yolo_pose.ts`). Input: Ultralytics' centred letterbox (pad 114), RGB, /255.
 *
 * The person score is the export's own (no rescoring by keypoints), and the flip test does
 * not apply: the model sees the whole image once.
 *
 * Manifest options: `nmsIou` (class-agnostic NMS IoU, default 0.65 — the value the shared
 * reference uses; Ultralytics' val default is 0.7, its predict default 0.7 too), `maxDetections`
 * (default 300, further capped by the pipeline's max people).
 */

import { centredLetterbox } from "../geometry/frame.ts";
import { decodeYoloPose, unletterboxPerson } from "../codecs/yolo_pose.ts";
import type { Pose } from "../types.ts";
import { type EndToEndAdapter, type FamilyDescriptor, requireOutput } from "./family.ts";
import { cocoKeypointFields } from "./recognition_defaults.ts";
import { imageInputSpec, keypointLayout, numberOption } from "./manifest_fields.ts";

/** Ultralytics pose export: `output0` [1, 56, N] for COCO's 17 keypoints. */
export const yoloPoseFamily: FamilyDescriptor<"yolo-pose"> = {
  name: "yolo-pose",
  task: "end2end",
  summary: "YOLO-pose one-stage models (Ultralytics YOLOv8/YOLO11-pose export, output0)",
  outputRoles: ["output"],
  recognize(graph) {
    if (graph.outputs.length !== 1) return;
    const out = graph.outputs[0];
    // [1, 56, N]: 4 box values, 1 score, 17 × 3 keypoint values, channel-major.
    if (out.shape.length !== 3 || out.shape[1] !== 56) return;
    return {
      input: {
        name: graph.image.name,
        width: graph.inputWidth ?? 640,
        height: graph.inputHeight ?? 640,
        resize: "letterbox-centred",
        padValue: 114,
        colorOrder: "rgb",
        mean: [0, 0, 0],
        std: [255, 255, 255],
        dynamicBatch: graph.dynamicBatch,
      },
      outputs: { output: out.name },
      ...cocoKeypointFields(17),
    };
  },
  createAdapter(manifest): EndToEndAdapter {
    const input = imageInputSpec(manifest, "letterbox-centred");
    const { numKeypoints } = keypointLayout(manifest);
    const nmsIou = numberOption(manifest, "nmsIou", 0.65, [(n) => n > 0 && n <= 1, "in (0, 1]"]);
    const maxDetections = numberOption(manifest, "maxDetections", 300, [
      (n) => Number.isInteger(n) && n > 0,
      "a positive integer",
    ]);
    return {
      task: "end2end",
      manifest,
      input,
      numKeypoints,
      decode(outputs, frame, settings): Pose[] {
        const output = requireOutput(outputs, manifest, "output");
        let people;
        try {
          people = decodeYoloPose(output.data, output.dims, {
            scoreThreshold: settings.scoreThreshold,
            iouThreshold: nmsIou,
            maxDetections,
            numKeypoints,
            outputName: manifest.outputs.output ?? "output",
          });
        } catch (error) {
          throw new Error(`model ${manifest.file}: ${(error as Error).message}`);
        }
        // Back to image pixels, boxes and keypoints clipped as Ultralytics' scale_boxes and
        // scale_coords do; a box left without area has nothing to show.
        const letterbox = centredLetterbox(
          frame.imageWidth,
          frame.imageHeight,
          frame.inputWidth,
          frame.inputHeight,
        );
        const poses: Pose[] = [];
        for (const person of people) {
          const { box, keypoints, score } = unletterboxPerson(letterbox, person);
          if (box.x2 > box.x1 && box.y2 > box.y1) poses.push({ box, keypoints, score });
        }
        return poses;
      },
    };
  },
};
