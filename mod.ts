/**
 * posekit: top-down multi-person 2D human pose estimation with ONNX models on
 * onnxruntime-web (WASM SIMD, or WebGPU on a real GPU), in Deno.
 *
 * ```ts ignore
 * import { PosePipeline, toCocoResults } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create({ modelDirs: ["../shared/models"] });
 * const poses = await pipeline.runBytes(await Deno.readFile("skier.jpg"));
 * console.log(toCocoResults(785, poses));
 * await pipeline.close();
 * ```
 *
 * Data flows one way: image → person boxes → crops → keypoint model → poses in image
 * pixels → COCO keypoint results → OKS evaluation. Each step is exported on its own, and
 * the pure steps (evaluation, OKS, drawing, results, tracking, smoothing, geometry) need no
 * model and no permissions:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawPoses, objectKeypointSimilarity, type Pose, toCocoResults } from "@posekit/posekit";
 *
 * // A pose as the pipeline returns it: a box and K × 3 keypoint values (x, y, score).
 * const keypoints = Float32Array.from({ length: 17 * 3 }, (_, i) => i % 3 === 2 ? 0.9 : 20 + i);
 * const pose: Pose = { box: { x1: 10, y1: 10, x2: 80, y2: 90, score: 0.9 }, keypoints, score: 0.9 };
 *
 * const [result] = toCocoResults(1, [pose]); // what COCO tools read
 * assert.deepEqual(result.bbox, [10, 10, 70, 80]);
 *
 * // Against itself as ground truth (all keypoints labelled), OKS is 1.
 * const labels = Float64Array.from(keypoints, (v, i) => i % 3 === 2 ? 2 : v);
 * assert.equal(objectKeypointSimilarity(keypoints, { keypoints: labels, area: 5600, bbox: [10, 10, 70, 80] }), 1);
 *
 * const image = { width: 100, height: 100, data: new Uint8Array(100 * 100 * 3) };
 * const drawn = drawPoses(image, [pose]); // a copy with the box, limbs and keypoints
 * assert.equal(drawn.data.length, image.data.length);
 * ```
 *
 * Deno only for now: the WebAssembly binaries and model files are read from disk
 * (`Deno.readFile`), videos go through ffmpeg, workers are Deno workers.
 *
 * @module
 */

// The pipeline.
/** The top-down (or end-to-end) pose pipeline; create it with `PosePipeline.create`. */
export { DEFAULT_DETECTOR, DEFAULT_POSE, PosePipeline } from "./lib/pipeline.ts";
/**
 * Options of `PosePipeline.create`, stage timings, per-image warnings, box sources, and how a
 * pipeline shares one image's people with another worker.
 */
export type {
  BoxSource,
  ImageWarnings,
  KeypointHandOff,
  PipelineOptions,
  StageTimings,
} from "./lib/pipeline.ts";
/** Core data types: decoded images, person boxes, poses, model outputs. */
export type {
  Box,
  ColorOrder,
  ModelOutputs,
  Normalization,
  OutputTensor,
  Pose,
  RgbImage,
} from "./lib/types.ts";

// Runtime and models.
/** The execution runtime a pipeline runs on (backend, threads, notes). */
export { Runtime } from "./lib/runtime.ts";
/** Backends: what to ask for, what runs, what the runtime reports; sessions and tensors. */
export type {
  Backend,
  InferenceSession,
  RuntimeInfo,
  RuntimeOptions,
  TensorInfo,
} from "./lib/runtime.ts";
/** What `backend` may ask for, and onnxruntime-web's two backends. */
export type { Backend as WebBackend, BackendChoice } from "./lib/gpu.ts";
/** Model inputs: tensors by input name. */
export type { InputTensor, ModelInputs } from "./lib/session.ts";
/** Loads one model (resolve, download if needed, check it runs) with its family adapter. */
export { loadModel } from "./lib/models/load.ts";
/** A loaded model and how to find models. */
export type { LoadedModel, LoadOptions } from "./lib/models/load.ts";
/** Model manifests: the shipped catalog and validation of user manifests. */
export { findManifest, listManifests, validateManifest } from "./lib/models/catalog.ts";
/** Every catalog model and where its file is. */
export { catalogAvailability } from "./lib/models/availability.ts";
/** One row of `catalogAvailability`. */
export type { ModelAvailability } from "./lib/models/availability.ts";
/** Finds (or downloads and verifies) a model file for a manifest name or path. */
export { resolveModel } from "./lib/models/resolve.ts";
/** Options and result of `resolveModel`. */
export type { Environment, ResolvedModel, ResolveOptions } from "./lib/models/resolve.ts";
/** Download progress callback: bytes received, and the total when known. */
export type { DownloadProgress } from "./lib/models/download.ts";
/** The manifest format. */
export type { ImageResize, ManifestInput, ModelManifest, ModelTask } from "./lib/manifest.ts";

// Model families.
/** The family registry: every family, lookup by name, adapter for a manifest. */
export { createAdapter, FAMILIES, FAMILY_NAMES, findFamily } from "./lib/families/registry.ts";
/** A family name, as manifests write it. */
export type { ModelFamily } from "./lib/families/registry.ts";
/** The manifest of a bare .onnx file, from its inputs and outputs. */
export { recognizeModel } from "./lib/families/recognize.ts";
/** The adapter interface a model family implements, and what adapters are given. */
export type {
  AdapterOptions,
  CropSpec,
  DecodeSettings,
  DetectorAdapter,
  EndToEndAdapter,
  FamilyDescriptor,
  GraphInfo,
  ImageFrame,
  ImageInputSpec,
  ImageResizeSpec,
  KeypointAdapter,
  ModelAdapter,
  RecognizedManifest,
} from "./lib/families/family.ts";
/** Whole-image geometry: where an image lands in a model input, and back. */
export { imageFrame } from "./lib/frame.ts";

// Images in and out.
/** Decodes JPEG/PNG bytes to RGB (EXIF orientation applied); reads an image file. */
export {
  decodeImage,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  readImageFile,
  readImageSize,
} from "./lib/image.ts";
/** Options of the decoders and of `encodeJpeg`. */
export type { DecodeOptions, JpegEncodeOptions } from "./lib/image.ts";
/** The system's libjpeg-turbo through FFI, the faster JPEG decoder of `--backend native`. */
export { TurboJpegDecoder } from "./lib/turbojpeg.ts";
/** What `DecodeOptions.jpegDecoder` takes. */
export type { JpegDecoder } from "./lib/turbojpeg.ts";
/** Draws boxes and skeletons on an image; encodes images for writing. */
export { BOX_COLOR, drawPoses, encodeJpeg, encodePng } from "./lib/draw.ts";
/** How `drawPoses` draws. */
export type { DrawOptions, Rgb } from "./lib/draw.ts";
/** Expands files, directories (recursively) and globs into inputs; reads one input. */
export { expandInputs, InputReadError, readInput } from "./lib/inputs.ts";
/** What `expandInputs` found, and options of `readInput`. */
export type { ExpandedInputs, InputError, ReadInputOptions } from "./lib/inputs.ts";

// Videos.
/** Poses for each frame of a video, with tracking and smoothing. */
export { videoPoses } from "./lib/video_poses.ts";
/** One frame's poses and how `videoPoses` runs. */
export type { FramePoses, VideoPose, VideoPoseOptions } from "./lib/video_poses.ts";
/** Decodes a video's frames with ffmpeg. */
export { readVideoFrames } from "./lib/video/read.ts";
/** A decoded frame and options of `readVideoFrames`. */
export type { ReadVideoOptions, VideoFrame } from "./lib/video/read.ts";
/** What ffprobe says of a video; the error every video function throws. */
export { probeVideo, VideoError } from "./lib/video/probe.ts";
/** The result of `probeVideo`. */
export type { VideoInfo } from "./lib/video/probe.ts";
/** Writes RGB frames to an H.264 .mp4 file. */
export { VideoWriter } from "./lib/video/write.ts";
/** Options of `VideoWriter.open`. */
export type { VideoWriterOptions } from "./lib/video/write.ts";

// Tracking and smoothing.
/** Person tracking across frames (optimal assignment on OKS or IoU). */
export { PoseTracker } from "./lib/track/tracker.ts";
/** Tracked poses and boxes, and the tracker's options. */
export type {
  PoseTrackerOptions,
  TrackBoxOptions,
  TrackedBox,
  TrackedPose,
} from "./lib/track/tracker.ts";
/** One-Euro filtering (Casiez et al., CHI 2012) of a value and of keypoints. */
export { KeypointOneEuroFilter, ONE_EURO_DEFAULTS, OneEuroFilter } from "./lib/track/one_euro.ts";
/** One-Euro parameters. */
export type { OneEuroOptions } from "./lib/track/one_euro.ts";

// Workers.
/** A pool of pipeline workers processing images in parallel, results in input order. */
export { PosePool } from "./lib/workers/pool.ts";
/** Options of the pool and of its closing, its items and results, per-worker statistics. */
export type {
  PoolCloseOptions,
  PoolItem,
  PoolOptions,
  PoolResult,
  WorkerStats,
} from "./lib/workers/pool.ts";

// Outputs.
/** Streaming JSON Lines results (one record per image or frame), resumable. */
export { jsonlRecordForImage, JsonlWriter, readJsonlProgress } from "./lib/output/jsonl.ts";
/** JSON Lines records, writer options and resume progress. */
export type {
  JsonlPerson,
  JsonlProgress,
  JsonlRecord,
  JsonlWriterOptions,
} from "./lib/output/jsonl.ts";
/** Merges JSON Lines files (shards, resumed runs) into one COCO results file. */
export { mergeJsonlFiles } from "./lib/output/merge.ts";
/** What `mergeJsonlFiles` gives. */
export type { MergedResult, MergeOrder, MergeResult, TornLine } from "./lib/output/merge.ts";
/** Splitting a batch into shards ("2/8"): parsing and selecting this shard's inputs. */
export { parseShard, selectShard, ShardError } from "./lib/output/shard.ts";
/** One shard of a batch. */
export type { Shard } from "./lib/output/shard.ts";

// Person boxes from files.
/** Person boxes from a COCO detection results file or from ground-truth annotations. */
export { groundTruthBoxes, parseDetectionBoxes } from "./lib/boxes.ts";
/** Person boxes per image id, and what `groundTruthBoxes` reads. */
export type { BoxesByImage, GroundTruthForBoxes } from "./lib/boxes.ts";

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
/** Evaluation inputs, options and results. */
export type {
  AreaRange,
  EvaluateOptions,
  GroundTruthAnnotation,
  GroundTruthSet,
  ImageBreakdown,
  KeypointBreakdown,
  KeypointEvaluation,
  KeypointResult,
  KeypointStats,
} from "./lib/eval/cocoeval.ts";
/** Parse and check ground-truth and results JSON for evaluation. */
export { parseGroundTruth, parseResults } from "./lib/eval/coco_json.ts";
/** Parsed ground truth and results. */
export type { CocoGroundTruth, CocoImage, ParsedResults } from "./lib/eval/coco_json.ts";
/** pycocotools' 10-line summary, a compact table, and the per-keypoint breakdown. */
export { formatKeypointTable, formatSummary, formatTable } from "./lib/eval/summary.ts";

// Constants.
/** COCO keypoint names, flip pairs, skeleton and OKS sigmas; the flip permutation. */
export {
  COCO_FLIP_PAIRS,
  COCO_KEYPOINT_NAMES,
  COCO_KEYPOINT_SIGMAS,
  COCO_SKELETON,
  flipPermutation,
} from "./lib/coco_keypoints.ts";
