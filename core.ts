/**
 * posekit's portable core: everything between bytes and results — families, codecs,
 * geometry, crops, preprocessing, the pipeline, drawing, tracking, evaluation and COCO
 * results — with no `Deno.*`, no `node:` module and no FFI, so that the same code runs in
 * Deno, in a page and in tests. Models and onnxruntime-web's WebAssembly come in as bytes or
 * URLs through a `RuntimePlatform`; images are decoded by an `ImageDecoder` whose
 * WebAssembly comes in the same way. In Deno, import `mod.ts` instead: it adds files,
 * downloads, ffmpeg, workers and the native backend, and fills in the platform.
 *
 * ```ts ignore
 * import * as ort from "onnxruntime-web";
 * import { loadModelFrom, PosePipeline, Runtime, type RuntimePlatform } from "@posekit/posekit/core";
 *
 * ort.env.wasm.wasmPaths = "/ort/"; // where the page serves onnxruntime-web's dist/ files
 * const platform: RuntimePlatform = {
 *   cores: navigator.hardwareConcurrency,
 *   name: "this browser",
 *   wasm: async (threads) => {
 *     ort.env.wasm.numThreads = threads;
 *     return { ort, threads };
 *   },
 *   webgpu: async () => ort,
 *   readModel: async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer()),
 * };
 * const runtime = await Runtime.start({ platform, backend: "wasm", threads: 2 });
 * const fetchModel = async (path: string) =>
 *   loadModelFrom({ path, bytes: await platform.readModel!(path) }, runtime);
 * const pipeline = PosePipeline.fromModels({
 *   runtime,
 *   detector: await fetchModel("/models/rtmdet_nano_person.onnx"),
 *   pose: await fetchModel("/models/simplepose_nano_256x192.onnx"),
 * });
 * ```
 *
 * @module
 */

// The pipeline, built from loaded models.
/** The top-down (or end-to-end) pose pipeline; build it with `PosePipeline.fromModels`. */
export { PosePipeline } from "./lib/pipeline.ts";
/** The models and settings of `PosePipeline.fromModels`. */
export type { PipelineModels, PipelineSettings } from "./lib/pipeline.ts";
/** The execution runtime on a platform's onnxruntime-web; one model session. */
export { ModelSession, Runtime } from "./lib/runtime/runtime.ts";
/** What a platform gives the runtime, and the runtime's options and choices. */
export type { Ort, RuntimePlatform, SessionOptions } from "./lib/runtime/runtime.ts";
/** Loads a model from its bytes (a manifest, or recognized from the graph). */
export { loadModelFrom } from "./lib/models/load.ts";
/** A model's bytes and what names it. */
export type { ModelSource } from "./lib/models/load.ts";
/** The JPEG/PNG decoder, its WebAssembly given by the platform. */
export { ImageDecoder } from "./lib/image/decode.ts";
/** Where the decoder's WebAssembly comes from. */
export type { CodecWasm, WasmSource } from "./lib/image/decode.ts";
/** Poses for a stream of frames (a camera, a video element), with track ids. */
export { framePoses } from "./lib/video_poses.ts";
/** Options of `framePoses`. */
export type { FramePipeline, FramePoseOptions } from "./lib/video_poses.ts";
/** A decoded video frame, and what is known of a video stream. */
export type { VideoFrame, VideoInfo } from "./lib/video/frame.ts";
/** The format of image bytes, sniffed from their first bytes. */
export { sniffImageFormat } from "./lib/image/diagnose.ts";
/** Image formats posekit reads. */
export type { ImageFormat } from "./lib/image/diagnose.ts";

// The pipeline.
/** The top-down (or end-to-end) pose pipeline; create it with `PosePipeline.create`. */
export { DEFAULT_DETECTOR, DEFAULT_POSE } from "./lib/pipeline.ts";
/**
 * Options of `PosePipeline.create`, stage timings, per-image warnings, box sources, and how a
 * pipeline shares one image's people with another worker.
 */
export type { BoxSource, ImageWarnings, KeypointHandOff, StageTimings } from "./lib/pipeline.ts";
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
/** Backends: what to ask for, what runs, what the runtime reports; sessions and tensors. */
export type {
  Backend,
  InferenceSession,
  RuntimeInfo,
  RuntimeOptions,
  TensorInfo,
} from "./lib/runtime/runtime.ts";
/** What `backend` may ask for, and onnxruntime-web's two backends. */
export type { Backend as WebBackend, BackendChoice } from "./lib/runtime/backend.ts";
/** Model inputs: tensors by input name. */
export type { InputTensor, ModelInputs } from "./lib/runtime/session.ts";
/** A loaded model and how to find models. */
export type { LoadedModel } from "./lib/models/load.ts";
/** Model manifests: the shipped catalog and validation of user manifests. */
export { findManifest, listManifests, validateManifest } from "./lib/models/catalog.ts";
/** The manifest format. */
export type {
  ImageResize,
  ManifestInput,
  ModelManifest,
  ModelTask,
} from "./lib/models/manifest.ts";

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
  ImageInputSpec,
  KeypointAdapter,
  ModelAdapter,
  RecognizedManifest,
} from "./lib/families/family.ts";
export type { ImageFrame, ImageResizeSpec } from "./lib/geometry/frame.ts";
/** Whole-image geometry: where an image lands in a model input, and back. */
export { imageFrame } from "./lib/geometry/frame.ts";
export { DEFAULT_MAX_PIXELS, ImageDecodeError } from "./lib/image/decode.ts";
export { readImageSize } from "./lib/image/diagnose.ts";
/** Options of the decoders and of `encodeJpeg`. */
export type { DecodeOptions } from "./lib/image/decode.ts";
export type { JpegEncodeOptions } from "./lib/image/encode.ts";
/** What `DecodeOptions.jpegDecoder` takes. */
export type { JpegDecoder } from "./lib/image/decode.ts";
/** Draws boxes and skeletons on an image; encodes images for writing. */
export { BOX_COLOR, drawPoses, encodeJpeg, encodePng } from "./lib/image/draw.ts";
/** How `drawPoses` draws. */
export type { DrawOptions, Rgb } from "./lib/image/draw.ts";
// Explanations (`PosePipeline.explain`, `predict --explain`).
/** An image's poses with what the keypoint model looked at in each crop. */
export type { ExplainedImage, ExplainedPerson } from "./lib/pipeline.ts";
/** A person's crop: its box, region and the crop → image transform. */
export type { CropGeometry } from "./lib/geometry/crops.ts";
/** A crop region and the 2×3 affine transforms of the crop geometry. */
export type { Affine, CropRegion } from "./lib/geometry/affine.ts";
/** What one crop's outputs say: confidence maps, attention rows, PRTR's query readout. */
export type {
  ConfidenceMaps,
  CropExplanation,
  ExplainGraph,
  KeypointAttention,
  QueryReadout,
} from "./lib/explain/types.ts";
/** The family hooks that prepare a model for explanations. */
export type { FamilyExplainHooks } from "./lib/families/family.ts";
/** Explanations as records (`<stem>.explain.json`) and PRTR's query table (`queries.json`). */
export {
  DEFAULT_DEPENDENCY_DELTA,
  dependencyInImage,
  explainRecord,
  QueryTable,
} from "./lib/explain/report.ts";
export type {
  DependencyRecord,
  ExplainKeypointRecord,
  ExplainPersonRecord,
  ExplainRecord,
  QueryTableRecord,
} from "./lib/explain/report.ts";
/** Explanations as pictures. */
export {
  attentionPicture,
  confidenceMapPicture,
  mapInImage,
  queryPicture,
  queryTablePicture,
} from "./lib/explain/pictures.ts";
export type { PictureOptions } from "./lib/explain/pictures.ts";
/** A model's last self-attention Softmax, and exposing it as an output. */
export { prepareSelfAttention } from "./lib/explain/attention.ts";
export { findSelfAttention } from "./lib/explain/attention_graph.ts";
export type { SelfAttentionMatch } from "./lib/explain/attention_graph.ts";
export { readGraph, withGraphOutputs } from "./lib/runtime/onnx_rewrite.ts";
export type {
  ExtraOutput,
  GraphNode,
  GraphSummary,
  NodeAttribute,
} from "./lib/runtime/onnx_rewrite.ts";
/** One frame's poses and how `videoPoses` runs. */
export type { FramePoses, VideoPose } from "./lib/video_poses.ts";

// Tracking and smoothing.
/** Person tracking across frames (Kalman boxes, camera motion, ByteTrack-style matching on IoU + OKS). */
export { PoseTracker } from "./lib/track/tracker.ts";
/** Tracked poses and boxes, and the tracker's options. */
export type {
  FrameSize,
  PoseTrackerOptions,
  TrackBoxOptions,
  TrackedBox,
  TrackedPose,
} from "./lib/track/tracker.ts";
/** Tracking metrics (MOTA, IDF1, ID switches, HOTA) from per-frame ids and boxes. */
export {
  clearMetrics,
  hotaMetrics,
  identityMetrics,
  trackingMetrics,
} from "./lib/track/metrics.ts";
/** Frames, ids and the metrics' results. */
export type {
  ClearMetrics,
  EvalFrame,
  HotaMetrics,
  IdBoxes,
  IdentityMetrics,
  PersonIdentity,
  SimilarityFrame,
  TrackingMetrics,
} from "./lib/track/metrics.ts";
/** One-Euro filtering (Casiez et al., CHI 2012) of a value and of keypoints. */
export { KeypointOneEuroFilter, ONE_EURO_DEFAULTS, OneEuroFilter } from "./lib/track/one_euro.ts";
/** One-Euro parameters. */
export type { OneEuroOptions } from "./lib/track/one_euro.ts";

// Outputs.
/** Streaming JSON Lines results (one record per image or frame), resumable. */
export { jsonlRecordForImage, recordKey } from "./lib/output/jsonl.ts";
/** JSON Lines records, and the header line that names a run's models and options. */
export type {
  HeaderDifference,
  HeaderValue,
  JsonlHeader,
  JsonlPerson,
  JsonlRecord,
} from "./lib/output/jsonl.ts";
/** What `mergeJsonlFiles` gives. */
export type { DuplicateCount, MergedResult, MergeOrder } from "./lib/output/merge.ts";
/** Splitting a batch into shards ("2/8"): parsing and selecting this shard's inputs. */
export { parseShard, selectShard, ShardError } from "./lib/output/shard.ts";
/** One shard of a batch. */
export type { Shard } from "./lib/output/shard.ts";

// Person boxes from files.
/** Person boxes from a COCO detection results file or from ground-truth annotations. */
export { groundTruthBoxes, parseDetectionBoxes } from "./lib/coco/boxes.ts";
/** Person boxes per image id, and what `groundTruthBoxes` reads. */
export type { BoxesByImage, GroundTruthForBoxes } from "./lib/coco/boxes.ts";

// COCO results.
/** COCO keypoint results: conversion, image ids, and atomic writing. */
export {
  formatResultsJson,
  imageIdForPath,
  imageIdFromFileName,
  toCocoResults,
} from "./lib/coco/results.ts";
/** One COCO keypoint result entry. */
export type { CocoKeypointResult } from "./lib/coco/results.ts";

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
/** `eval --report`: keypoint error classes, AP with errors fixed, slices, bootstrap intervals. */
export { buildEvalReport, perImageCsv, reportSummary } from "./lib/eval/report.ts";
/** The report's data and options, and the order of its fixes. */
export type {
  CumulativeStep,
  EvalReport,
  EvalReportOptions,
  ImageDiagnosis,
  ScoreCurve,
  SliceBin,
  SliceKind,
} from "./lib/eval/report.ts";
/** The order of the report's fixes and cumulative steps, and its slices. */
export { CUMULATIVE_STEPS, FIX_ORDER, SLICES } from "./lib/eval/report.ts";
/** Keypoint error classes, in the order counts list them. */
export { ERROR_CLASSES } from "./lib/eval/diagnosis.ts";
/** One keypoint class and the diagnosis of each keypoint. */
export type { ErrorClass, KeypointDiagnosis } from "./lib/eval/diagnosis.ts";
/** Bootstrap intervals of the ten stats. */
export type { BootstrapIntervals } from "./lib/eval/bootstrap.ts";
/** The grouping of results and ground truth the report's variants are computed on. */
export type { EvalCells, ResultSet, Selection } from "./lib/eval/variants.ts";
/** The report as one offline HTML page (inline SVG charts). */
export { renderReportHtml } from "./lib/eval/report_html.ts";
/** The report page's inputs. */
export type { GalleryItem, ReportPage } from "./lib/eval/report_html.ts";
/** Keypoint names, sigmas and left/right mirrors for evaluation (COCO's by default). */
export { evalKeypointLayout, mirrorsFromNames } from "./lib/eval/layout.ts";
/** A keypoint layout for evaluation. */
export type { EvalKeypointLayout } from "./lib/eval/layout.ts";

// Constants.
/** COCO keypoint names, flip pairs, skeleton and OKS sigmas; the flip permutation. */
export {
  COCO_FLIP_PAIRS,
  COCO_KEYPOINT_NAMES,
  COCO_KEYPOINT_SIGMAS,
  COCO_SKELETON,
  flipPermutation,
} from "./lib/coco/keypoints.ts";
