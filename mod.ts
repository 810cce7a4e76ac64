/**
 * posekit: top-down multi-person 2D human pose estimation with ONNX models on
 * onnxruntime-web (WASM SIMD, or WebGPU on a real GPU).
 *
 * ```ts
 * import { PosePipeline, toCocoResults } from "./mod.ts";
 *
 * const pipeline = await PosePipeline.create({ modelDirs: ["../shared/models"] });
 * const poses = await pipeline.runBytes(await Deno.readFile("skier.jpg"));
 * console.log(toCocoResults(785, poses));
 * await pipeline.close();
 * ```
 *
 * Data flows one way: image → person boxes → crops → keypoint model → poses in image
 * pixels → COCO keypoint results → OKS evaluation. Each step is exported on its own.
 *
 * @module
 */

// The pipeline.
/** The top-down (or end-to-end) pose pipeline; create it with `PosePipeline.create`. */
export { PosePipeline } from "./lib/pipeline.ts";
/** Loads one model (resolve, download if needed, check it runs) with its family adapter. */
export { loadModel } from "./lib/models/load.ts";
/** Default detector and keypoint model manifest names. */
export { DEFAULT_DETECTOR, DEFAULT_POSE } from "./lib/pipeline.ts";
/** Options of `PosePipeline.create`, stage timings, loaded models and box sources. */
export type { BoxSource, LoadedModel, PipelineOptions, StageTimings } from "./lib/pipeline.ts";
/** Core data types: decoded images, person boxes, poses, model outputs. */
export type { Box, ModelOutputs, OutputTensor, Pose, RgbImage } from "./lib/types.ts";
/** Backends: what to ask for, what runs, and what the runtime reports. */
export type { Backend, BackendChoice, RuntimeInfo } from "./lib/runtime.ts";
/** The execution runtime a pipeline runs on (backend, threads, notes). */
export { Runtime } from "./lib/runtime.ts";

// Images in and out.
/** Decodes JPEG/PNG bytes to RGB (EXIF orientation applied); reads an image file. */
export { decodeImage, ImageDecodeError, readImageFile } from "./lib/image.ts";
/** Draws boxes and skeletons on an image; encodes images for writing. */
export { drawPoses, encodeJpeg, encodePng } from "./lib/draw.ts";
/** Expands files, directories (recursively) and globs into image paths. */
export { expandInputs } from "./lib/inputs.ts";

// Person boxes from files.
/** Person boxes from a COCO detection results file or from ground-truth annotations. */
export { groundTruthBoxes, parseDetectionBoxes } from "./lib/boxes.ts";

// COCO results.
/** COCO keypoint results: conversion, image ids, and atomic writing. */
export {
  formatResultsJson,
  imageIdForPath,
  imageIdFromFileName,
  toCocoResults,
  writeResultsAtomic,
} from "./lib/coco_results.ts";
/** One COCO keypoint result entry. */
export type { CocoKeypointResult } from "./lib/coco_results.ts";

// Evaluation.
/** COCO keypoint evaluation (OKS AP), identical to pycocotools' COCOeval. */
export { evaluateKeypoints, objectKeypointSimilarity } from "./lib/eval/cocoeval.ts";
/** Parse and check ground-truth and results JSON for evaluation. */
export { parseGroundTruth, parseResults } from "./lib/eval/coco_json.ts";
/** pycocotools' 10-line summary, a compact table, and the per-keypoint breakdown. */
export { formatKeypointTable, formatSummary, formatTable } from "./lib/eval/summary.ts";

// Models.
/** Model manifests: the shipped catalog and validation of user manifests. */
export { findManifest, listManifests, validateManifest } from "./lib/models/catalog.ts";
/** Finds (or downloads and verifies) a model file for a manifest name or path. */
export { resolveModel } from "./lib/models/resolve.ts";
/** The manifest format. */
export type { ModelFamily, ModelManifest, ModelTask } from "./lib/manifest.ts";
/** The adapter interface a model family implements. */
export type {
  DetectorAdapter,
  EndToEndAdapter,
  KeypointAdapter,
  ModelAdapter,
} from "./lib/families/family.ts";

// Constants.
/** COCO keypoint names, flip pairs, skeleton and OKS sigmas. */
export {
  COCO_FLIP_PAIRS,
  COCO_KEYPOINT_NAMES,
  COCO_KEYPOINT_SIGMAS,
  COCO_SKELETON,
} from "./lib/coco_keypoints.ts";
