/**
 * A manifest for a bare .onnx file, guessed from its input and output names and shapes.
 *
 * Recognized families (output roles in parentheses, the names every adapter agrees on):
 * - rtmdet end2end: outputs `dets` [B,N,5] and `labels` [B,N] (`dets`, `labels`)
 * - yolox: one output [B,N,5+C] (`output`)
 * - detr: `pred_logits` + `pred_boxes` (`logits`, `boxes`)
 * - prtr (two-stage keypoint model): `pred_logits` [B,Q,J+1] + `pred_coords` [B,Q,2]
 *   (`logits`, `coords`)
 * - prtr-sequential: `pred_kpt_logits` + `pred_kpt_coord` + `pred_logits` + `pred_boxes`
 *   (`kpt_logits`, `kpt_coords`, `logits`, `boxes`)
 * - simcc (RTMPose): `simcc_x` + `simcc_y` (`simcc_x`, `simcc_y`)
 * - heatmap: one output [B,17,H/4,W/4] (`heatmaps`)
 *
 * Preprocessing comes from each family's usual export; anything else needs a manifest.
 */

import { COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES, COCO_SKELETON } from "../coco_keypoints.ts";
import type { ManifestInput, ModelManifest } from "../manifest.ts";
import type { TensorInfo } from "../runtime.ts";

/** ImageNet mean/std in 0–255 units, RGB order (also RTMPose's). */
const IMAGENET_RGB = {
  colorOrder: "rgb" as const,
  mean: [123.675, 116.28, 103.53] as [number, number, number],
  std: [58.395, 57.12, 57.375] as [number, number, number],
};

/** Family defaults for dynamic input sizes (width × height in pixels). */
const DEFAULT_SIZES = {
  rtmdet: { width: 640, height: 640 },
  yolox: { width: 640, height: 640 },
  simcc: { width: 192, height: 256 },
  heatmap: { width: 192, height: 256 },
  prtr: { width: 288, height: 384 },
};

/**
 * Guesses a manifest from a model's inputs and outputs (as `ModelSession` lists them).
 * Throws an Error listing the model's tensors and what a manifest must declare when the
 * family cannot be recognized.
 */
export function inferManifest(
  fileName: string,
  inputs: TensorInfo[],
  outputs: TensorInfo[],
): ModelManifest {
  const fail = (reason: string): never => {
    throw new Error(unrecognizedMessage(fileName, inputs, outputs, reason));
  };
  const imageInputs = inputs.filter((t) => t.shape.length === 4);
  if (inputs.length !== 1 || imageInputs.length !== 1) {
    fail("expected exactly one image input [B,3,H,W]");
  }
  const input = imageInputs[0];
  if (staticDim(input.shape[1]) !== undefined && input.shape[1] !== 3) {
    fail(`the input has ${input.shape[1]} channels, not 3`);
  }
  const inputH = staticDim(input.shape[2]);
  const inputW = staticDim(input.shape[3]);
  const dynamicBatch = staticDim(input.shape[0]) === undefined;
  const byName = new Map(outputs.map((t) => [t.name, t]));
  const base = {
    name: fileName.replace(/^.*[\\/]/, "").replace(/\.onnx$/i, ""),
    file: fileName.replace(/^.*[\\/]/, ""),
    description: `inferred by posekit from the model's inputs and outputs`,
  };

  // Keypoint metadata for K keypoints: COCO's when K is 17 (or unknown).
  const cocoKeypoints = (k: number | undefined) => {
    if (k !== undefined && k !== 17) {
      fail(
        `it predicts ${k} keypoints; only COCO's 17 can be assumed, so keypoint names and ` +
          `flip pairs must come from a manifest ("keypoints", "flipPairs", "skeleton")`,
      );
    }
    return {
      keypoints: [...COCO_KEYPOINT_NAMES],
      flipPairs: COCO_FLIP_PAIRS.map(([a, b]) => [a, b] as [number, number]),
      skeleton: COCO_SKELETON.map(([a, b]) => [a, b] as [number, number]),
    };
  };
  const cropInput = (size: { width: number; height: number }): ManifestInput => ({
    name: input.name,
    width: inputW ?? size.width,
    height: inputH ?? size.height,
    ...IMAGENET_RGB,
    mean: [...IMAGENET_RGB.mean],
    std: [...IMAGENET_RGB.std],
    dynamicBatch,
  });

  // rtmdet end2end (mmdeploy): NMS inside the graph.
  const dets = byName.get("dets"), labels = byName.get("labels");
  if (dets && labels && dets.shape.length === 3 && labels.shape.length === 2) {
    const last = staticDim(dets.shape[2]);
    if (last !== undefined && last !== 5) fail(`"dets" has ${last} values per box, not 5`);
    return {
      ...base,
      task: "detector",
      family: "rtmdet",
      input: {
        name: input.name,
        width: inputW ?? DEFAULT_SIZES.rtmdet.width,
        height: inputH ?? DEFAULT_SIZES.rtmdet.height,
        resize: "letterbox",
        padValue: 114,
        colorOrder: "bgr",
        mean: [103.53, 116.28, 123.675],
        std: [57.375, 57.12, 58.395],
        dynamicBatch,
      },
      outputs: { dets: dets.name, labels: labels.name },
    };
  }

  // PRTR sequential (end to end): person queries, then keypoint queries per person.
  const kptLogits = byName.get("pred_kpt_logits"), kptCoord = byName.get("pred_kpt_coord");
  const predLogits = byName.get("pred_logits"), predBoxes = byName.get("pred_boxes");
  if (kptLogits && kptCoord) {
    if (!predLogits || !predBoxes) {
      fail(`a PRTR sequential model also needs "pred_logits" and "pred_boxes" outputs`);
    }
    const joints = staticDim(kptLogits.shape[kptLogits.shape.length - 1]);
    return {
      ...base,
      task: "end2end",
      family: "prtr-sequential",
      input: detrStyleInput(input.name, inputW, inputH, dynamicBatch),
      outputs: {
        logits: predLogits!.name,
        boxes: predBoxes!.name,
        kpt_logits: kptLogits.name,
        kpt_coords: kptCoord.name,
      },
      ...cocoKeypoints(joints === undefined ? undefined : joints - 1),
      ...(inputW && inputH ? { options: { boxesRelativeTo: "input" } } : {}),
    };
  }

  // DETR person detector.
  if (predLogits && predBoxes) {
    return {
      ...base,
      task: "detector",
      family: "detr",
      input: detrStyleInput(input.name, inputW, inputH, dynamicBatch),
      outputs: { logits: predLogits.name, boxes: predBoxes.name },
      ...(inputW && inputH ? { options: { boxesRelativeTo: "input" } } : {}),
    };
  }

  // PRTR two-stage: keypoint queries on a person crop.
  const predCoords = byName.get("pred_coords");
  if (predLogits && predCoords) {
    const joints = staticDim(predLogits.shape[predLogits.shape.length - 1]);
    return {
      ...base,
      task: "keypoints",
      family: "prtr",
      input: cropInput(DEFAULT_SIZES.prtr),
      outputs: { logits: predLogits.name, coords: predCoords.name },
      ...cocoKeypoints(joints === undefined ? undefined : joints - 1),
      options: { padding: 1.25 },
    };
  }

  // SimCC (RTMPose).
  const simccX = byName.get("simcc_x"), simccY = byName.get("simcc_y");
  if (simccX && simccY) {
    const lengthX = staticDim(simccX.shape[simccX.shape.length - 1]);
    const lengthY = staticDim(simccY.shape[simccY.shape.length - 1]);
    const k = staticDim(simccX.shape[simccX.shape.length - 2]);
    let width = inputW, height = inputH;
    let splitRatio = 2;
    if (width && lengthX) splitRatio = lengthX / width;
    else if (height && lengthY) splitRatio = lengthY / height;
    width ??= lengthX ? lengthX / splitRatio : DEFAULT_SIZES.simcc.width;
    height ??= lengthY ? lengthY / splitRatio : DEFAULT_SIZES.simcc.height;
    return {
      ...base,
      task: "keypoints",
      family: "simcc",
      input: { ...cropInput({ width, height }), width, height },
      outputs: { simcc_x: simccX.name, simcc_y: simccY.name },
      ...cocoKeypoints(k),
      options: { splitRatio, padding: 1.25 },
    };
  }

  // One output left: a YOLOX grid [B,N,5+C] or a heatmap [B,K,h,w].
  if (outputs.length === 1) {
    const out = outputs[0];
    if (out.shape.length === 3) {
      const last = staticDim(out.shape[2]);
      if (last !== undefined && last < 6) {
        fail(`its one output [${shapeText(out.shape)}] is too narrow for YOLOX's [B,N,5+C]`);
      }
      return {
        ...base,
        task: "detector",
        family: "yolox",
        input: {
          name: input.name,
          width: inputW ?? DEFAULT_SIZES.yolox.width,
          height: inputH ?? DEFAULT_SIZES.yolox.height,
          resize: "letterbox",
          padValue: 114,
          colorOrder: "bgr",
          mean: [0, 0, 0],
          std: [1, 1, 1],
          dynamicBatch,
        },
        outputs: { output: out.name },
      };
    }
    if (out.shape.length === 4) {
      const k = staticDim(out.shape[1]);
      if (k !== undefined && k !== 17) {
        fail(
          `its one output [${shapeText(out.shape)}] would be heatmaps, but posekit only ` +
            `assumes 17 COCO keypoint channels`,
        );
      }
      const h = staticDim(out.shape[2]), w = staticDim(out.shape[3]);
      if (inputH && inputW && h && w && (inputH !== 4 * h || inputW !== 4 * w)) {
        fail(
          `heatmaps ${w}x${h} are not a quarter of the input ${inputW}x${inputH} ` +
            `(the stride posekit assumes)`,
        );
      }
      const size = {
        width: inputW ?? (w ? 4 * w : DEFAULT_SIZES.heatmap.width),
        height: inputH ?? (h ? 4 * h : DEFAULT_SIZES.heatmap.height),
      };
      return {
        ...base,
        task: "keypoints",
        family: "heatmap",
        input: cropInput(size),
        outputs: { heatmaps: out.name },
        ...cocoKeypoints(17),
        options: { padding: 1.25 },
      };
    }
  }
  return fail("its outputs match no family posekit knows");
}

/** DETR-style whole-image input: shorter-side resize, or letterbox for a fixed-size export. */
function detrStyleInput(
  name: string,
  width: number | undefined,
  height: number | undefined,
  dynamicBatch: boolean,
): ManifestInput {
  const normalization = {
    colorOrder: IMAGENET_RGB.colorOrder,
    mean: [...IMAGENET_RGB.mean] as [number, number, number],
    std: [...IMAGENET_RGB.std] as [number, number, number],
  };
  if (width && height) {
    return {
      name,
      width,
      height,
      resize: "letterbox",
      padValue: 0,
      ...normalization,
      dynamicBatch,
    };
  }
  return {
    name,
    width: 0,
    height: 0,
    resize: "shorter-side",
    shorterSide: 800,
    longerSideMax: 1333,
    ...normalization,
    dynamicBatch,
  };
}

/** A dimension's size when it is fixed, else undefined (symbolic names, -1, 0). */
function staticDim(dim: number | string | undefined): number | undefined {
  return typeof dim === "number" && dim > 0 ? dim : undefined;
}

function shapeText(shape: (number | string)[]): string {
  return shape.join(",");
}

function unrecognizedMessage(
  fileName: string,
  inputs: TensorInfo[],
  outputs: TensorInfo[],
  reason: string,
): string {
  const list = (tensors: TensorInfo[]) =>
    tensors.length
      ? tensors.map((t) => `    ${t.name} [${shapeText(t.shape)}] ${t.type}`).join("\n")
      : "    (none)";
  return [
    `cannot tell what kind of model ${fileName} is: ${reason}.`,
    `  inputs:`,
    list(inputs),
    `  outputs:`,
    list(outputs),
    `Write a manifest JSON for it (see models/README.md) declaring: "task" (detector, ` +
    `keypoints or end2end), "family" (rtmdet, yolox, detr, heatmap, simcc, prtr, ` +
    `prtr-sequential), "input" {"name", "width", "height", "colorOrder", "mean", "std"; ` +
    `detectors also "resize"}, and "outputs" mapping the family's roles to output names ` +
    `(rtmdet: dets, labels; yolox: output; detr: logits, boxes; heatmap: heatmaps; ` +
    `simcc: simcc_x, simcc_y; prtr: logits, coords; prtr-sequential: logits, boxes, ` +
    `kpt_logits, kpt_coords).`,
  ].join("\n");
}
