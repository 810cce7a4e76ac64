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
 * This module is posekit for Deno: the portable core (`core.ts`, which a page imports) and
 * what only Deno does — model files found and downloaded by name, images and results read
 * and written as files, videos through ffmpeg, worker pools, native onnxruntime and JPEG
 * decoding. `PosePipeline`, `Runtime` and `ModelSession` here are the core's with Deno's
 * platform filled in.
 *
 * @module
 */

// Everything portable (see core.ts); the Deno classes below take the place of the core's.
export * from "./core.ts";
/**
 * The core's classes, which the Deno ones of the same name extend (a pipeline from loaded
 * models, a runtime on any platform).
 */
export {
  ModelSession as CoreModelSession,
  PosePipeline as CorePosePipeline,
  Runtime as CoreRuntime,
} from "./core.ts";

// The pipeline, loaded by name.
/** The pose pipeline with models loaded by name (`PosePipeline.create`) and `runBytes`. */
export { PosePipeline } from "./lib/deno/pipeline.ts";
export type { PipelineOptions } from "./lib/deno/pipeline.ts";

// Runtime and models.
/** The execution runtime on Deno's platform (backend, threads, notes); one model session. */
export { DENO_PLATFORM, ModelSession, Runtime } from "./lib/deno/runtime.ts";
/** Loads one model (resolve, download if needed, check it runs) with its family adapter. */
export { loadModel } from "./lib/deno/models/load_file.ts";
export type { LoadOptions } from "./lib/deno/models/load_file.ts";
/** Every catalog model and where its file is. */
export { catalogAvailability } from "./lib/deno/models/availability.ts";
/** One row of `catalogAvailability`. */
export type { ModelAvailability } from "./lib/deno/models/availability.ts";
/** Finds (or downloads and verifies) a model file for a manifest name or path. */
export { resolveModel } from "./lib/deno/models/resolve.ts";
/** Options and result of `resolveModel`. */
export type { Environment, ResolvedModel, ResolveOptions } from "./lib/deno/models/resolve.ts";
/** Download progress callback: bytes received, and the total when known. */
export type { DownloadProgress } from "./lib/deno/models/download.ts";

// Images in and out.
/** Decodes JPEG/PNG bytes to RGB (EXIF orientation applied); reads an image file. */
export { decodeImage, readImageFile } from "./lib/deno/image_file.ts";
/** The system's libjpeg-turbo through FFI, the faster JPEG decoder of `--backend native`. */
export { TurboJpegDecoder } from "./lib/deno/turbojpeg.ts";
/** Expands files, directories (recursively) and globs into inputs; reads one input. */
export { expandInputs } from "./lib/deno/inputs.ts";
export { InputReadError, readInput } from "./lib/deno/read_input.ts";
/** What `expandInputs` found, and options of `readInput`. */
export type { ExpandedInputs, InputError } from "./lib/deno/inputs.ts";
export type { ReadInputOptions } from "./lib/deno/read_input.ts";

// Videos.
/** Poses for each frame of a video, with tracking and smoothing. */
export { videoPoses } from "./lib/deno/video/poses.ts";
export type { VideoPoseOptions } from "./lib/deno/video/poses.ts";
/** What a live read has decoded and delivered (`videoPoses` with `live`). */
export type { LiveCounts } from "./lib/deno/video/live.ts";
/** Decodes a video's frames with ffmpeg. */
export { readVideoFrames } from "./lib/deno/video/read.ts";
/** A decoded frame and options of `readVideoFrames`. */
export type { ReadVideoOptions, VideoFrame } from "./lib/deno/video/read.ts";
/** What ffprobe says of a video; the error every video function throws. */
export { probeVideo, VideoError } from "./lib/deno/video/probe.ts";
/** The result and options of `probeVideo`. */
export type { ProbeVideoOptions, VideoInfo } from "./lib/deno/video/probe.ts";
/** Writes RGB frames to an H.264 .mp4 file. */
export { VideoWriter } from "./lib/deno/video/write.ts";
/** Options of `VideoWriter.open`. */
export type { VideoWriterOptions } from "./lib/deno/video/write.ts";

// Workers.
/** A pool of pipeline workers processing images in parallel, results in input order. */
export { PosePool } from "./lib/deno/workers/pool.ts";
/** Options of the pool and of its closing, its items and results, per-worker statistics. */
export type {
  PoolCloseOptions,
  PoolItem,
  PoolOptions,
  PoolResult,
  WorkerStats,
} from "./lib/deno/workers/pool.ts";
export {
  JsonlOutput,
  JsonlSettingsError,
  JsonlWriter,
  readJsonlProgress,
} from "./lib/deno/jsonl_file.ts";
export type {
  JsonlOutputOptions,
  JsonlProgress,
  JsonlWriterOptions,
  ReadJsonlProgressOptions,
} from "./lib/deno/jsonl_file.ts";
/**
 * Merges JSON Lines files (shards, resumed runs) into one COCO results file: in memory, or
 * streamed in bounded memory (sorted on disk when big).
 */
export { mergeJsonlFiles, mergeJsonlStream, writeMergedResults } from "./lib/deno/merge_files.ts";
export type { MergeOptions, MergeResult, MergeSummary, TornLine } from "./lib/deno/merge_files.ts";
export { writeResultsAtomic } from "./lib/deno/files.ts";
/** `--explain`: explanation records and pictures written into a folder over a run. */
export { ExplainWriter } from "./lib/deno/explain_files.ts";
export type { ExplainWriterOptions } from "./lib/deno/explain_files.ts";
