/**
 * The module a `PosePool` worker runs: one `PosePipeline` per worker, fed one image at a time
 * by the pool. Reading and decoding happen here, not on the main thread, so that N workers
 * decode in parallel. The read of a queued image starts as soon as its message is handled;
 * where the model runs off this thread (native, WebGPU) its decoding overlaps the inference of
 * the image before it. A queued image the pool asks back ("cancel") is given back unstarted.
 *
 * The messages exchanged with the pool are typed in this file (`ToWorker`, `FromWorker`) and
 * are plain structured-clone data; keypoint arrays travel as transferables.
 */

import { decodeImage, type DecodeOptions } from "../image.ts";
import { readInput } from "../inputs.ts";
import { type PipelineOptions, PosePipeline, type StageTimings } from "../pipeline.ts";
import type { RuntimeInfo } from "../runtime.ts";
import type { Box, Pose, RgbImage } from "../types.ts";

/** Pipeline options a worker can receive: everything that survives structured cloning. */
export type WorkerPipelineOptions = Omit<PipelineOptions, "onDownloadProgress">;

/** Memory figures of one worker, in bytes, as `Deno.memoryUsage()` gives them. */
export interface WorkerMemory {
  /** Resident set size. Deno workers are threads, so this is the whole process's figure. */
  rss: number;
  /** This worker's own V8 heap plus memory held outside it (WebAssembly memories, buffers). */
  heapAndExternal: number;
}

/** Messages the pool sends a worker. */
export type ToWorker =
  | {
    type: "init";
    options: WorkerPipelineOptions;
    /** How images are decoded (the pixel limit). */
    decode?: DecodeOptions;
    /** Forward model download progress (to the pool's `onDownloadProgress`). */
    reportDownloads: boolean;
  }
  | {
    type: "job";
    id: number;
    path: string;
    /** `undefined`: the detector finds the people. */
    boxes?: Box[];
    /** Already-read bytes (stdin, an archive member); otherwise the worker reads `path`. */
    bytes?: Uint8Array;
  }
  /** Give job `id` back if it has not started (the pool hands it to an idle worker). */
  | { type: "cancel"; id: number };

/** Messages a worker sends the pool. */
export type FromWorker =
  | {
    type: "ready";
    needsBoxes: boolean;
    /** The worker pipeline's notes for the user (backend choice, repaired models). */
    notes: string[];
    /** Where the worker's models run. */
    runtime: RuntimeInfo;
    /** The detector (if any) and keypoint model manifest names. */
    models: string[];
    /** The keypoint model's skeleton, for drawing. */
    skeleton?: [number, number][];
    /** The pipeline's timings at start (all zero): the stage names to sum. */
    timings: StageTimings;
    memory: WorkerMemory;
  }
  | { type: "loadError"; message: string }
  /** Job `id` was given back unstarted; no result will come for it from this worker. */
  | { type: "cancelled"; id: number }
  | { type: "download"; model: string; received: number; total: number | undefined }
  | {
    type: "result";
    id: number;
    poses?: Pose[];
    error?: string;
    /** Milliseconds spent decoding this image (reading excluded). */
    decodeMs: number;
    /** Milliseconds per stage for this image alone. */
    timings: StageTimings;
    /** Boxes of this image skipped because they cannot be cropped. */
    skippedBoxes: number;
    memory: WorkerMemory;
  };

/** A job with its file read already under way. */
interface PendingJob {
  id: number;
  path: string;
  boxes?: Box[];
  bytes: Promise<Uint8Array>;
  /** Its decoding, once started (see `runJob`). */
  decoded?: Promise<{ image: RgbImage; decodeMs: number }>;
}

function memoryNow(): WorkerMemory {
  const usage = Deno.memoryUsage();
  return { rss: usage.rss, heapAndExternal: usage.heapTotal + usage.external };
}

/** Per-stage differences; generic over the stage names, which belong to the pipeline. */
function stageDelta(after: StageTimings, before: StageTimings): StageTimings {
  const delta = { ...after };
  for (const key of Object.keys(delta) as (keyof StageTimings)[]) {
    delta[key] -= before[key] ?? 0;
  }
  return delta;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Keypoint arrays ready to transfer: an array that is a view into a larger (or shared) buffer
 * is copied first, so that each transferred buffer is exactly one pose's keypoints.
 */
function transferablePoses(poses: Pose[]): { poses: Pose[]; transfer: ArrayBuffer[] } {
  const seen = new Set<ArrayBufferLike>();
  const transfer: ArrayBuffer[] = [];
  const out = poses.map((pose) => {
    let keypoints = pose.keypoints;
    const whole = keypoints.byteOffset === 0 &&
      keypoints.byteLength === keypoints.buffer.byteLength &&
      keypoints.buffer instanceof ArrayBuffer && !seen.has(keypoints.buffer);
    if (!whole) keypoints = keypoints.slice();
    seen.add(keypoints.buffer);
    transfer.push(keypoints.buffer as ArrayBuffer);
    return { box: pose.box, keypoints, score: pose.score };
  });
  return { poses: out, transfer };
}

/** The worker's global scope, as far as this module uses it (JSR bans the deno.worker lib reference). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer: Transferable[]): void;
}

/** Runs the worker's message loop; called once, at module load, inside a Worker. */
function serve(scope: WorkerScope): void {
  const post = (message: FromWorker, transfer: Transferable[] = []) =>
    scope.postMessage(message, transfer);
  const queue: PendingJob[] = [];
  let pipeline: PosePipeline | undefined;
  let decode: DecodeOptions | undefined;
  let draining = false;

  /** Works through the queue, one image at a time, until it is empty. */
  async function drain(): Promise<void> {
    if (draining || !pipeline) return;
    draining = true;
    try {
      while (queue.length) {
        // Let messages that came during the last job be handled first: a "cancel" for the
        // next one must be seen before it starts (a WASM run never yields to the event loop).
        await new Promise((resolve) => setTimeout(resolve, 0));
        const job = queue.shift();
        if (job) await runJob(pipeline, job);
      }
    } finally {
      draining = false;
    }
  }

  function decodeJob(job: PendingJob): Promise<{ image: RgbImage; decodeMs: number }> {
    job.decoded ??= (async () => {
      const bytes = await job.bytes;
      const t0 = performance.now();
      const image = await decodeImage(bytes, job.path, decode);
      return { image, decodeMs: performance.now() - t0 };
    })();
    return job.decoded;
  }

  async function runJob(pipe: PosePipeline, job: PendingJob): Promise<void> {
    const before = { ...pipe.timings };
    const skippedBefore = pipe.warnings.skippedBoxes;
    let decodeMs = 0;
    try {
      const decoded = await decodeJob(job);
      decodeMs = decoded.decodeMs;
      // Decode the next image while this one runs where the model computes off this thread
      // (native onnxruntime, WebGPU). WASM computes on this thread, so there it would only
      // interleave, and count into the model's time. Its error waits for its turn.
      if (queue[0] && pipe.runtimeInfo.backend !== "wasm") decodeJob(queue[0]).catch(() => {});
      const found = await pipe.run(decoded.image, job.boxes ?? "detector");
      const { poses, transfer } = transferablePoses(found);
      post({
        type: "result",
        id: job.id,
        poses,
        decodeMs,
        timings: stageDelta(pipe.timings, before),
        skippedBoxes: pipe.warnings.skippedBoxes - skippedBefore,
        memory: memoryNow(),
      }, transfer);
    } catch (error) {
      post({
        type: "result",
        id: job.id,
        error: errorMessage(error),
        decodeMs,
        timings: stageDelta(pipe.timings, before),
        skippedBoxes: pipe.warnings.skippedBoxes - skippedBefore,
        memory: memoryNow(),
      });
    }
  }

  scope.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "init") {
      decode = message.decode;
      try {
        pipeline = await PosePipeline.create({
          ...message.options,
          onDownloadProgress: message.reportDownloads
            ? (model, received, total) => post({ type: "download", model, received, total })
            : undefined,
        });
      } catch (error) {
        post({ type: "loadError", message: errorMessage(error) });
        return;
      }
      post({
        type: "ready",
        needsBoxes: pipeline.needsBoxes,
        notes: pipeline.notes,
        runtime: { ...pipeline.runtimeInfo },
        models: [
          ...(pipeline.detector ? [pipeline.detector.manifest.name] : []),
          pipeline.pose.manifest.name,
        ],
        skeleton: pipeline.pose.manifest.skeleton,
        timings: { ...pipeline.timings },
        memory: memoryNow(),
      });
      await drain();
    } else if (message.type === "cancel") {
      // The running job has left the queue: only a job still waiting can be given back.
      const at = queue.findIndex((job) => job.id === message.id);
      if (at >= 0) {
        queue.splice(at, 1);
        post({ type: "cancelled", id: message.id });
      }
    } else if (message.type === "job") {
      // readInput: only regular files are read (a pipe swapped in later cannot block).
      const bytes = message.bytes ? Promise.resolve(message.bytes) : readInput(message.path);
      bytes.catch(() => {}); // the error is reported when the job's turn comes
      queue.push({ id: message.id, path: message.path, boxes: message.boxes, bytes });
      await drain();
    }
  };
}

serve(self as unknown as WorkerScope);
