/**
 * Real models of every new family reproduce the reference AP that ../shared/README.md
 * gives for them on person_keypoints_val2017_dev.json (pycocotools, standard top-down
 * protocol; GT boxes unless a detector is named) to its third decimal: ±0.001, where the
 * issue asked for ±0.005 (GT boxes) and ±0.01 (detectors).
 *
 * On 42 people a crop one grey level off moves AP by 0.005, so this holds only because the
 * crops and detector inputs are bit-identical to OpenCV's (tests/preprocess_test.ts) and GT
 * boxes are the annotated boxes, unclipped (lib/boxes.ts).
 */

import { assertAlmostEquals } from "./support/assert.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { groundTruthBoxes } from "../lib/coco/boxes.ts";
import { toCocoResults } from "../lib/coco/results.ts";
import { parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import { evaluateKeypoints } from "../lib/eval/cocoeval.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { type PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import type { RgbImage } from "../lib/types.ts";

const ignore = ignoreWithoutShared(...DEV_ANNOTATIONS) || ignoreWithoutShared("models");

interface DevSet {
  json: Parameters<typeof groundTruthBoxes>[0] & { images: { id: number; file_name: string }[] };
  images: Map<number, RgbImage>;
}

let devSet: Promise<DevSet> | undefined;

/** The dev annotations and their decoded images, read once for all tests of this file. */
function loadDevSet(): Promise<DevSet> {
  devSet ??= (async () => {
    const json = JSON.parse(await Deno.readTextFile(requireShared(...DEV_ANNOTATIONS)));
    const images = new Map<number, RgbImage>();
    for (const image of json.images) {
      images.set(image.id, await readImageFile(requireShared("coco", "val2017", image.file_name)));
    }
    return { json, images };
  })();
  return devSet;
}

/** AP of a pipeline on the dev set, with GT boxes or the pipeline's own people. */
async function devSetAp(
  options: PipelineOptions,
  boxes: "gt" | "model",
  backend: "wasm" | "native",
): Promise<number> {
  const { json, images } = await loadDevSet();
  const gt = parseGroundTruth(json, "dev");
  const gtBoxes = groundTruthBoxes(json);
  const pipeline = await PosePipeline.create({
    modelDirs: [requireShared("models")],
    backend,
    ...(boxes === "gt" ? { detector: false } : {}),
    ...options,
  });
  const results = [];
  try {
    for (const [id, image] of images) {
      const poses = await pipeline.run(image, boxes === "gt" ? gtBoxes.get(id) ?? [] : "detector");
      results.push(...toCocoResults(id, poses));
    }
  } finally {
    await pipeline.close();
  }
  return evaluateKeypoints(gt, parseResults(results, "pipeline", gt).results).stats.AP;
}

/** Name, options, boxes, backend, reference AP, tolerance. */
type Case = [string, PipelineOptions, "gt" | "model", "wasm" | "native", number, number];

const cases: Case[] = [
  [
    "PP-TinyPose 256x192, GT boxes, flip",
    { pose: "pp_tinypose_256x192" },
    "gt",
    "wasm",
    0.694,
    0.001,
  ],
  [
    "PP-TinyPose 256x192, GT boxes, no flip",
    { pose: "pp_tinypose_256x192", flip: false },
    "gt",
    "wasm",
    0.694,
    0.001,
  ],
  [
    "PP-TinyPose 128x96, GT boxes, flip",
    { pose: "pp_tinypose_128x96" },
    "gt",
    "wasm",
    0.603,
    0.001,
  ],
  [
    "PP-TinyPose 128x96, GT boxes, no flip",
    { pose: "pp_tinypose_128x96", flip: false },
    "gt",
    "wasm",
    0.596,
    0.001,
  ],
  [
    "DEIMv2-Femto + PP-TinyPose 256x192, flip",
    { detector: "deimv2_femto_coco", pose: "pp_tinypose_256x192" },
    "model",
    "wasm",
    0.661,
    0.001,
  ],
  [
    "DEIMv2-Atto + PP-TinyPose 256x192, flip",
    { detector: "deimv2_atto_coco", pose: "pp_tinypose_256x192" },
    "model",
    "wasm",
    0.606,
    0.001,
  ],
  // The reference ran native onnxruntime. This int8 (QDQ) model is the one whose kernels
  // differ between the runtimes: WASM measures 0.3902, native 0.3834.
  [
    "YOLO11n-pose int8, one-stage, native onnxruntime",
    { pose: "yolo11n_pose_int8", scoreThreshold: 0.25 },
    "model",
    "native",
    0.383,
    0.001,
  ],
  [
    "YOLO11n-pose int8, one-stage, WASM",
    { pose: "yolo11n_pose_int8", scoreThreshold: 0.25 },
    "model",
    "wasm",
    0.383,
    0.01,
  ],
];

for (const [name, options, boxes, backend, reference, tolerance] of cases) {
  Deno.test({
    name: `${name}: AP matches the reference ${reference} within ${tolerance}`,
    ignore,
    sanitizeResources: false,
    async fn() {
      const ap = await devSetAp(options, boxes, backend);
      assertAlmostEquals(ap, reference, tolerance, `AP ${ap.toFixed(4)}`);
    },
  });
}
