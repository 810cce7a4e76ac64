/**
 * The messages between the page (`app.ts`, which draws) and its pipeline worker
 * (`pipeline_worker.ts`, which decodes and runs the models): each request carries an `id`, and
 * its answer the same `id` with the result or the error's message.
 */

import type {
  BackendChoice,
  Box,
  BoxSource,
  ModelManifest,
  Pose,
  RgbImage,
  StageTimings,
} from "../core.ts";

/** One catalog model the server has, as `/api/models.json` lists it. */
export interface ServedModel {
  name: string;
  task: ModelManifest["task"];
  url: string;
  manifest: ModelManifest;
}

/** What runs, as the page shows it. */
export interface WorkerRuntime {
  backend: string;
  threads: number;
  adapter?: string;
  notes: string[];
}

/** A request of the page to the worker, without its id. */
export type PipelineRequest =
  /** onnxruntime-web's build and the runtime: once, first (both are fixed for the page's life). */
  | { type: "start"; backend: BackendChoice; threads?: number }
  /**
   * The pipeline of these models and score threshold: its key names it in the requests below,
   * so that a run keeps its own models while another run starts with others (models stay
   * loaded between asks).
   */
  | { type: "pipeline"; pose: ServedModel; detector?: ServedModel; scoreThreshold: number }
  /** An image file: decoded, run, drawn and scaled to at most `side` pixels a side. */
  | {
    type: "image";
    pipeline: string;
    bytes: Uint8Array;
    name: string;
    keypointThreshold: number;
    side: number;
  }
  /** The pipeline's steps on a frame the page took (video and camera). */
  | { type: "detect"; pipeline: string; image: RgbImage; scoreThreshold: number }
  | { type: "run"; pipeline: string; image: RgbImage; boxes: BoxSource }
  | { type: "keypointsFor"; pipeline: string; image: RgbImage; boxes: Box[] };

/** The answers, by request type. */
export interface PipelineAnswers {
  start: WorkerRuntime;
  pipeline: { key: string; scoreThreshold: number; needsBoxes: boolean };
  image: {
    poses: Pose[];
    /** The image with its poses drawn, at most `side` pixels a side. */
    drawn: ImageBitmap;
    /** The image's own size. */
    width: number;
    height: number;
    /** Milliseconds per stage for this image (decoding not included). */
    stages: StageTimings;
  };
  detect: Box[];
  run: Pose[];
  keypointsFor: Pose[];
}

/** A request as posted: with its id. */
export type ToPipelineWorker = PipelineRequest & { id: number };

/** An answer as posted. */
export type FromPipelineWorker =
  | { id: number; ok: true; value: PipelineAnswers[PipelineRequest["type"]] }
  | { id: number; ok: false; error: string };
