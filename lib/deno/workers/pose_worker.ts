/**
 * The module a `PosePool` worker runs: one `PosePipeline` per worker, fed one image at a time
 * by the pool. Reading and decoding happen here, not on the main thread, so that N workers
 * decode in parallel. The read of a queued image starts as soon as its message is handled;
 * where the model runs off this thread (native, WebGPU) its decoding overlaps the inference of
 * the image before it. A queued image the pool asks back ("cancel") is given back unstarted.
 *
 * Sharing one image's people: when the pool has an idle worker and nothing left to hand it, it
 * writes the id of this worker's running image into `handOffFlag` (a shared Int32Array, read
 * between keypoint runs, since a WASM run never yields to the event loop). The pipeline then
 * gives half of the people not yet started away ("handOff", with the decoded image); the pool
 * runs them on the idle worker ("part") and brings their poses back ("partDone").
 *
 * The messages exchanged with the pool are typed in this file (`ToWorker`, `FromWorker`) and
 * are plain structured-clone data; keypoint arrays travel as transferables.
 */

import { decodeImage } from "../image_file.ts";
import type { DecodeOptions } from "../../image/decode.ts";
import { readInput } from "../read_input.ts";
import { type PipelineOptions, PosePipeline } from "../pipeline.ts";
import { type StageTimings, stageTimingsSince } from "../../pipeline.ts";
import type { RuntimeInfo } from "../../runtime/runtime.ts";
import type { KeypointHandOff } from "../../pipeline.ts";
import { decodeOptionsFor, TurboJpegDecoder } from "../turbojpeg.ts";
import type { Box, Pose, RgbImage } from "../../types.ts";

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
    /**
     * One Int32 over a SharedArrayBuffer: the pool stores a running job's id + 1 there when
     * another worker is free to take part of that image's people (0: none wanted).
     */
    handOffFlag?: Int32Array;
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
  | { type: "cancel"; id: number }
  /** Another worker's people to run (`PosePipeline.keypointsFor`); answer with "partResult". */
  | { type: "part"; key: number; image: RgbImage; boxes: Box[]; source: string }
  /** The poses of people this worker handed off as its `part`-th, or why they failed. */
  | { type: "partDone"; part: number; poses?: Pose[]; error?: string }
  /**
   * Stop: drop the images still queued, let the running one finish, release the pipeline's
   * sessions and the native JPEG decoder on this thread, then answer "closed" and stay idle
   * (the pool terminates the worker, or the process exits, after the answer).
   */
  | { type: "close" };

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
  /** Job `id` hands `boxes` of `image` to another worker; "partDone" with `part` answers. */
  | { type: "handOff"; id: number; part: number; image: RgbImage; boxes: Box[] }
  /** The answer to "close": nothing of this worker's runs or holds native memory any more. */
  | { type: "closed" }
  /** The answer to "part" `key`: one pose per box, or why not. */
  | {
    type: "partResult";
    key: number;
    poses?: Pose[];
    error?: string;
    /** Milliseconds per stage for this part. */
    timings: StageTimings;
    memory: WorkerMemory;
  }
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
  kind: "job";
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

/** Another worker's people, waiting their turn. */
interface PendingPart {
  kind: "part";
  key: number;
  image: RgbImage;
  boxes: Box[];
  source: string;
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
  const queue: (PendingJob | PendingPart)[] = [];
  let pipeline: PosePipeline | undefined;
  let decode: DecodeOptions | undefined;
  let handOffFlag: Int32Array | undefined;
  /** The TurboJPEG decoder this worker opened (native backend), closed on "close". */
  let jpegDecoder: TurboJpegDecoder | undefined;
  let draining = false;
  /** The image or part running now (resolved when none), awaited by "close". */
  let running: Promise<void> = Promise.resolve();
  let closing = false;
  /** People handed off and not yet back, by part number. */
  const handedOff = new Map<number, PromiseWithResolvers<Pose[]>>();
  let nextPart = 0;

  /** Works through the queue, one image at a time, until it is empty. */
  async function drain(): Promise<void> {
    if (draining || !pipeline) return;
    draining = true;
    try {
      while (queue.length) {
        // Let messages that came during the last job be handled first: a "cancel" for the
        // next one must be seen before it starts (a WASM run never yields to the event loop).
        await new Promise((resolve) => setTimeout(resolve, 0));
        const next = queue.shift();
        if (next?.kind === "job") await (running = runJob(pipeline, next));
        else if (next) await (running = runPart(pipeline, next));
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
      const following = queue[0];
      if (following?.kind === "job" && pipe.runtimeInfo.backend !== "wasm") {
        decodeJob(following).catch(() => {});
      }
      const found = await pipe.run(
        decoded.image,
        job.boxes ?? "detector",
        handOffFor(job.id, decoded.image),
      );
      const { poses, transfer } = transferablePoses(found);
      post({
        type: "result",
        id: job.id,
        poses,
        decodeMs,
        timings: stageTimingsSince(before, pipe.timings),
        skippedBoxes: pipe.warnings.skippedBoxes - skippedBefore,
        memory: memoryNow(),
      }, transfer);
    } catch (error) {
      post({
        type: "result",
        id: job.id,
        error: errorMessage(error),
        decodeMs,
        timings: stageTimingsSince(before, pipe.timings),
        skippedBoxes: pipe.warnings.skippedBoxes - skippedBefore,
        memory: memoryNow(),
      });
    }
  }

  /** The pipeline's side of sharing job `id`'s people (see the module comment). */
  function handOffFor(id: number, image: RgbImage): KeypointHandOff | undefined {
    const flag = handOffFlag;
    if (!flag) return undefined;
    return {
      wanted: () => Atomics.compareExchange(flag, 0, id + 1, 0) === id + 1,
      give: (boxes) => {
        const part = nextPart++;
        const back = Promise.withResolvers<Pose[]>();
        handedOff.set(part, back);
        // A copy of its own (the image may be a view into a decoder's memory), transferred.
        const data = image.data.slice();
        post({
          type: "handOff",
          id,
          part,
          image: { width: image.width, height: image.height, data },
          boxes,
        }, [data.buffer]);
        return back.promise;
      },
    };
  }

  async function runPart(pipe: PosePipeline, part: PendingPart): Promise<void> {
    const before = { ...pipe.timings };
    try {
      const { poses, transfer } = transferablePoses(
        await pipe.keypointsFor(part.image, part.boxes),
      );
      post({
        type: "partResult",
        key: part.key,
        poses,
        timings: stageTimingsSince(before, pipe.timings),
        memory: memoryNow(),
      }, transfer);
    } catch (error) {
      post({
        type: "partResult",
        key: part.key,
        error: `${part.source}: ${errorMessage(error)}`,
        timings: stageTimingsSince(before, pipe.timings),
        memory: memoryNow(),
      });
    }
  }

  /** See "close" in `ToWorker`. Never throws: the pool waits for the answer. */
  async function close(): Promise<void> {
    closing = true;
    queue.length = 0;
    // A running image waiting for people it handed off would wait for ever: the pool is gone.
    for (const back of handedOff.values()) back.reject(new Error("the pose pool was closed"));
    handedOff.clear();
    await running.catch(() => {});
    const pipe = pipeline;
    pipeline = undefined;
    await pipe?.close().catch(() => {});
    jpegDecoder?.close();
    jpegDecoder = undefined;
    post({ type: "closed" });
  }

  scope.onmessage = async (event: MessageEvent<ToWorker>) => {
    const message = event.data;
    if (message.type === "close") return await close();
    if (closing) return;
    if (message.type === "init") {
      decode = message.decode;
      handOffFlag = message.handOffFlag;
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
      const notes = pipeline.notes;
      const decoding = decodeOptionsFor(pipeline.runtimeInfo.backend, decode);
      decode = decoding.decode;
      if (decode.jpegDecoder instanceof TurboJpegDecoder) jpegDecoder = decode.jpegDecoder;
      if (decoding.note) notes.push(decoding.note);
      post({
        type: "ready",
        needsBoxes: pipeline.needsBoxes,
        notes,
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
      const at = queue.findIndex((job) => job.kind === "job" && job.id === message.id);
      if (at >= 0) {
        queue.splice(at, 1);
        post({ type: "cancelled", id: message.id });
      }
    } else if (message.type === "job") {
      // readInput: only regular files are read (a pipe swapped in later cannot block).
      const bytes = message.bytes ? Promise.resolve(message.bytes) : readInput(message.path);
      bytes.catch(() => {}); // the error is reported when the job's turn comes
      queue.push({ kind: "job", id: message.id, path: message.path, boxes: message.boxes, bytes });
      await drain();
    } else if (message.type === "part") {
      const { key, image, boxes, source } = message;
      queue.push({ kind: "part", key, image, boxes, source });
      await drain();
    } else if (message.type === "partDone") {
      const back = handedOff.get(message.part);
      handedOff.delete(message.part);
      if (message.poses) back?.resolve(message.poses);
      else back?.reject(new Error(message.error ?? "the part was lost"));
    }
  };
}

serve(self as unknown as WorkerScope);
