/**
 * A pool of Deno Workers, each running its own `PosePipeline` (its own onnxruntime sessions
 * and its own share of the threads), so that N images are in the pipeline at once.
 *
 * Scheduling: images are handed out one at a time as workers free up (never pre-split), and
 * each worker holds at most `queueDepth` of them (default 2: one running, one waiting), so that
 * a worker never waits for the pool between images. Results come back in input order: results
 * that finish early wait in a reorder buffer, bounded too (no more images are handed out while
 * it holds `REORDER_WINDOW_PER_WORKER × workers` of them: enough that the other workers go on
 * while one works through a crowded image several times slower than the rest). Once the input
 * is exhausted, an idle worker takes back an image still waiting behind another's running one,
 * and when none waits, it takes half of the people not yet started in another's running image
 * (`KeypointHandOff`): a crowded last image, or a single one, keeps every worker busy. Either
 * way the results are those of one worker, bit for bit.
 * An image that cannot be read, decoded or run gives an error result for that image only; the
 * worker goes on with the next one.
 *
 * A worker that stops (an uncaught error, a WebAssembly abort: its `onerror`) costs only what
 * it held. Each image it held (sent to it and not answered: running, waiting, or on its way)
 * gets an error result naming the image and why the worker stopped, in input order like any
 * other; the other images come out as they would have. An image split by a hand-off never comes
 * out partial: people the dead worker was running for another worker's image go back to that
 * worker, which runs them itself (its result is then complete, bit for bit); an image of the
 * dead worker whose people run elsewhere gets its error result, and those people's poses are
 * dropped when they come. The run goes on with the others, and a fresh worker, loading its
 * pipeline as they did, takes the dead one's place: at most `workers` replacements over the
 * pool's life, so that an input that kills every worker cannot loop for ever. When no worker is
 * left and none can be started, the pool has failed: `process` yields the results it has, then
 * throws, naming what happened, and so does every later call.
 *
 * With `workers: 1` images still go through one worker, so that the output is the same code
 * path as with more workers, bit for bit. (Callers wanting no worker at all use `PosePipeline`
 * directly: same options, same output, since each worker runs exactly that.)
 *
 * `deno compile` does not include worker modules by itself: a compiled binary needs
 * `--include lib/deno/workers/pose_worker.ts`.
 */

import type { RuntimeInfo } from "../../runtime/runtime.ts";
import type { DecodeOptions } from "../../image/decode.ts";
import type { PipelineOptions } from "../pipeline.ts";
import type { StageTimings } from "../../pipeline.ts";
import type { Box, Pose } from "../../types.ts";
import type { FromWorker, ToWorker, WorkerMemory, WorkerPipelineOptions } from "./pose_worker.ts";
import { WebWorker } from "../web_worker.ts";

/** How to build a pool. */
export interface PoolOptions {
  /** Number of workers (at least 1). */
  workers: number;
  /** onnxruntime WASM threads in each worker (at least 1). */
  threadsPerWorker: number;
  /** The pipeline each worker builds; `threads` comes from `threadsPerWorker`. */
  pipeline?: Omit<PipelineOptions, "threads">;
  /** Images each worker holds at once, running or waiting (1 or 2; default 2). */
  queueDepth?: 1 | 2;
  /** How workers decode images (the pixel limit). */
  decode?: DecodeOptions;
  /**
   * The module each worker runs; default `pose_worker.ts` beside this file. A test hook only:
   * tests point it at a module that imports the real worker and makes it stop on purpose
   * (tests/support/dying_pose_worker.ts).
   */
  workerModule?: string | URL;
}

/** One image to process. */
export interface PoolItem {
  /** The image file; also names the image in error messages. */
  path: string;
  /** Person boxes for this image; `undefined`: the detector finds them. */
  boxes?: Box[];
  /** The image's bytes when already read (stdin, an archive); otherwise `path` is read. */
  bytes?: Uint8Array;
}

/** The outcome for one image, yielded in input order. */
export interface PoolResult {
  /** The item as given. */
  item: PoolItem;
  /** The poses found; absent when `error` is set. */
  poses?: Pose[];
  /**
   * Why this image failed (unreadable, not an image, model failure, its worker stopped), naming
   * the file.
   */
  error?: string;
  /** Milliseconds spent decoding this image in its worker (reading excluded). */
  decodeMs: number;
  /** Milliseconds per pipeline stage for this image. */
  timings: StageTimings;
  /** Boxes of this image skipped because they cannot be cropped (no area, not finite). */
  skippedBoxes: number;
}

/** What one worker has done so far, for benchmarks. */
export interface WorkerStats {
  /** Images this worker finished (errors included; not those lost when a worker stopped). */
  images: number;
  /** Milliseconds spent decoding, summed. */
  decodeMs: number;
  /** Milliseconds per pipeline stage, summed. */
  timings: StageTimings;
  /**
   * Peak `Deno.memoryUsage().rss` seen by this worker, in bytes. Workers are threads of one
   * process, so this is the whole process's resident size at that moment, not this worker's.
   */
  peakRss: number;
  /**
   * Peak of this worker's own V8 heap plus external memory (its WebAssembly memories and
   * buffers), in bytes: what this worker itself holds.
   */
  peakHeapAndExternal: number;
}

interface WorkerSlot {
  worker: Worker;
  /** Its place in the pool, which names it; a replacement takes the place of the dead one. */
  index: number;
  /** Set when the worker stopped: it holds nothing any more, and what it still says is ignored. */
  dead: boolean;
  /** Ids of the images sent to this worker and not yet answered. */
  inFlight: Set<number>;
  /** Images (or people) being taken from other workers for this one (see `#stealForIdle`). */
  incoming: number;
  /** Keys of other workers' people ("part" jobs) running on this worker. */
  parts: Set<number>;
  /** Shared with the worker: the id + 1 of its running image whose people are wanted. */
  handOffFlag: Int32Array;
  stats: WorkerStats;
  /** Resolved when the worker answers "close" (or dies): see `PosePool.close`. */
  closed: PromiseWithResolvers<void>;
}

function newSlot(started: StartedWorker, index: number, stats: WorkerStats): WorkerSlot {
  return {
    worker: started.worker,
    index,
    dead: false,
    inFlight: new Set<number>(),
    incoming: 0,
    parts: new Set<number>(),
    handOffFlag: started.handOffFlag,
    stats,
    closed: Promise.withResolvers<void>(),
  };
}

/** The flag a worker reads to know that its people are wanted (see `ToWorker`'s "init"). */
function newHandOffFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

/** People of image `imageId` that `donor` handed off as its `part`-th, running elsewhere. */
interface HandedPart {
  donor: WorkerSlot;
  part: number;
  imageId: number;
}

/**
 * Finished results held per worker while an earlier image is still running. With a window of
 * `queueDepth` per worker, a worker sat idle whenever another spent more than about two
 * images' time on one (8% of 2 workers' time on the shared COCO images, WASM).
 */
const REORDER_WINDOW_PER_WORKER = 8;

/** How long `close` waits for the workers to release what they hold (then it goes on). */
const CLOSE_TIMEOUT_MS = 10_000;

/** How to close a pool. */
export interface PoolCloseOptions {
  /**
   * Terminate the workers once they have released their sessions (default true). False
   * leaves them idle, for a process about to exit: Deno's `Worker.terminate()` only starts a
   * worker's teardown (its V8 isolate, and any GPU driver its runtime loaded) and never waits
   * for it, so a process that exits right after terminating workers runs its exit handlers
   * while those threads still unload libraries and free memory: heap corruption, exit 139.
   * Idle workers end with the process, running nothing.
   */
  terminate?: boolean;
}

/** The state of one `process` call. */
interface Run {
  items: Map<number, PoolItem>;
  done: Map<number, PoolResult>;
  /**
   * Images waiting for a worker with room: each new image, until handed out, and one given
   * back for a worker that stopped before it came (see `#onCancelled`).
   */
  waiting: number[];
  /** Wakes the generator when a result (or a failure) arrives. */
  wake: () => void;
}

/** `sum += add`, stage by stage, for whatever stages the pipeline reports. */
function addTimings(sum: StageTimings, add: StageTimings): void {
  for (const key of Object.keys(add) as (keyof StageTimings)[]) {
    sum[key] = (sum[key] ?? 0) + add[key];
  }
}

function validCount(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}

/** Zero for each stage of `like`. */
function zeroTimings(like: StageTimings): StageTimings {
  const zero = { ...like };
  for (const key of Object.keys(zero) as (keyof StageTimings)[]) zero[key] = 0;
  return zero;
}

function newPoseWorker(index: number, module: string | URL | undefined): Worker {
  const url = module === undefined
    ? new URL("./pose_worker.ts", import.meta.url).href
    : new URL(module).href;
  return new WebWorker(url, { type: "module", name: `pose worker ${index}` });
}

/** What a worker is started with (`startWorker`), kept to start a replacement alike. */
interface WorkerStart {
  pipeline: WorkerPipelineOptions;
  decode: DecodeOptions | undefined;
  module: string | URL | undefined;
}

/** A worker whose pipeline is loaded, with what it said when ready. */
interface StartedWorker {
  worker: Worker;
  handOffFlag: Int32Array;
  needsBoxes: boolean;
  timings: StageTimings;
  memory: WorkerMemory;
  notes: string[];
  runtime: RuntimeInfo;
  models: string[];
  skeleton?: [number, number][];
  /** Why the worker stopped, when it did once ready but before the pool took it over. */
  stopped?: string;
}

/**
 * Starts one worker and waits until its pipeline is loaded.
 * @throws Error with the worker's load error (the worker is then terminated)
 */
function startWorker(
  index: number,
  options: WorkerPipelineOptions,
  onDownloadProgress: PipelineOptions["onDownloadProgress"],
  decode: DecodeOptions | undefined,
  handOffFlag: Int32Array,
  module: string | URL | undefined,
): Promise<StartedWorker> {
  return new Promise((resolve, reject) => {
    const worker = newPoseWorker(index, module);
    let started: StartedWorker | undefined;
    const fail = (message: string) => {
      worker.terminate();
      reject(new Error(`pose worker ${index} could not load the pipeline: ${message}`));
    };
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "ready") {
        const { needsBoxes, timings, memory, notes, runtime, models, skeleton } = message;
        started = {
          worker,
          handOffFlag,
          needsBoxes,
          timings,
          memory,
          notes,
          runtime,
          models,
          skeleton,
        };
        resolve(started);
      } else if (message.type === "loadError") {
        fail(message.message);
      } else if (message.type === "download") {
        onDownloadProgress?.(message.model, message.received, message.total);
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      // Once ready (say while the other workers load), the pool takes the stop over.
      if (started) started.stopped ??= event.message;
      else fail(event.message);
    };
    const init: ToWorker = {
      type: "init",
      options,
      decode,
      reportDownloads: onDownloadProgress !== undefined,
      handOffFlag,
    };
    worker.postMessage(init);
  });
}

/**
 * N Deno Workers running the pose pipeline; see the module comment for the scheduling.
 * Create with `PosePool.create`, run with `process`, end with `close`.
 *
 * @example Four workers over a folder
 * ```ts ignore
 * import { expandInputs, PosePool } from "@posekit/posekit";
 *
 * const { files } = await expandInputs(["photos/"]);
 * const pool = await PosePool.create({ workers: 4, threadsPerWorker: 1 });
 * try {
 *   for await (const { item, poses, error } of pool.process(files.map((path) => ({ path })))) {
 *     console.log(item.path, error ?? `${poses!.length} people`); // in input order
 *   }
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class PosePool {
  /** The workers by place; a dead one stays in its place until its replacement is loaded. */
  readonly #slots: WorkerSlot[];
  readonly #queueDepth: number;
  /** Images being taken back from a busy worker, by id, with the idle worker they go to. */
  readonly #steals = new Map<number, WorkerSlot>();
  /** Busy workers asked to share their running image `id`'s people with an idle `thief`. */
  readonly #handOffRequests = new Map<WorkerSlot, { id: number; thief: WorkerSlot }>();
  /** People handed off and running on another worker, by part key. */
  readonly #parts = new Map<number, HandedPart>();
  /** Stage timings of handed-off people, by image id, added to that image's result. */
  readonly #partTimings = new Map<number, StageTimings>();
  #nextPartKey = 0;
  readonly #threadsPerWorker: number;
  /** How a replacement worker is started: as the first ones were. */
  readonly #start: WorkerStart;
  /** Workers that may still be started in place of dead ones, over the pool's life. */
  #replacementsLeft: number;
  /** Replacements loading their pipeline; each settles once in place (or failed to load). */
  readonly #replacing = new Set<Promise<void>>();
  /** Why each worker stopped (or a replacement failed to load), in order. */
  readonly #stopped: string[] = [];
  #nextId = 0;
  #run: Run | undefined;
  /** Set when no worker is left and none can be started: the pool cannot go on. */
  #failure: Error | undefined;
  #closed = false;
  /** Set once `close` has told the workers to close: a replacement loaded later is ended. */
  #closeSent = false;
  #closing: Promise<void> | undefined;

  private constructor(
    slots: WorkerSlot[],
    queueDepth: number,
    threadsPerWorker: number,
    start: WorkerStart,
    /** True when the keypoint model needs person boxes (top-down), false for end-to-end. */
    readonly needsBoxes: boolean,
    /** What the first worker said when its pipeline was ready (all workers load alike). */
    readonly loaded: {
      notes: string[];
      runtime: RuntimeInfo;
      models: string[];
      skeleton?: [number, number][];
    },
  ) {
    this.#slots = slots;
    this.#queueDepth = queueDepth;
    this.#threadsPerWorker = threadsPerWorker;
    this.#start = start;
    this.#replacementsLeft = slots.length;
    for (const slot of slots) this.#listen(slot);
  }

  /**
   * Starts `workers` workers, each loading its own pipeline with `threadsPerWorker` threads.
   * The first worker loads alone (a model downloaded on first use is fetched once, and a bad
   * model path fails once); the others then load side by side.
   *
   * @throws Error naming the load failure (bad model path, model onnxruntime cannot run);
   *   every worker started is terminated first
   */
  static async create(options: PoolOptions): Promise<PosePool> {
    const workers = validCount(options.workers, "workers");
    const threads = validCount(options.threadsPerWorker, "threadsPerWorker");
    const queueDepth = options.queueDepth ?? 2;
    if (queueDepth !== 1 && queueDepth !== 2) {
      throw new RangeError(`queueDepth must be 1 or 2, got ${queueDepth}`);
    }
    const { onDownloadProgress, ...rest } = options.pipeline ?? {};
    const pipeline: WorkerPipelineOptions = { ...rest, threads };
    const { decode, workerModule: module } = options;
    const first = await startWorker(
      0,
      pipeline,
      onDownloadProgress,
      decode,
      newHandOffFlag(),
      module,
    );
    const started = [first];
    const others = await Promise.allSettled(
      Array.from(
        { length: workers - 1 },
        (_, i) => startWorker(i + 1, pipeline, undefined, decode, newHandOffFlag(), module),
      ),
    );
    const failed = others.find((o): o is PromiseRejectedResult => o.status === "rejected");
    for (const o of others) if (o.status === "fulfilled") started.push(o.value);
    if (failed) {
      for (const s of started) s.worker.terminate();
      throw failed.reason;
    }
    const slots = started.map((s, index) =>
      newSlot(s, index, {
        images: 0,
        decodeMs: 0,
        timings: s.timings,
        peakRss: s.memory.rss,
        peakHeapAndExternal: s.memory.heapAndExternal,
      })
    );
    const pool = new PosePool(
      slots,
      queueDepth,
      // The threads in force: a worker's runtime cuts a count beyond the cores (with a note).
      first.runtime.backend === "webgpu" ? threads : first.runtime.threads,
      { pipeline, decode, module },
      first.needsBoxes,
      {
        notes: first.notes,
        runtime: first.runtime,
        models: first.models,
        skeleton: first.skeleton,
      },
    );
    started.forEach((s, index) => {
      if (s.stopped !== undefined) pool.#onStopped(slots[index], s.stopped);
    });
    return pool;
  }

  /** onnxruntime threads in each worker, as in force (asked for, at most the cores). */
  get threadsPerWorker(): number {
    return this.#threadsPerWorker;
  }

  /** Number of workers (places: a replacement takes a dead worker's place). */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * Runs every item through the workers and yields one result per item, in input order.
   * Items are pulled from `items` only as workers have room, so `items` may be a lazy or
   * endless stream. One call at a time per pool.
   *
   * @throws Error when the pool is closed, busy with another `process`, or has failed (no
   *   worker left: see the module comment); in that last case after yielding what it has
   */
  async *process(items: AsyncIterable<PoolItem> | Iterable<PoolItem>): AsyncGenerator<PoolResult> {
    if (this.#closed) throw new Error("this pose pool is closed");
    if (this.#run) throw new Error("this pose pool is already processing (one call at a time)");
    if (this.#failure) throw this.#failure;
    const iterator = Symbol.asyncIterator in items
      ? items[Symbol.asyncIterator]()
      : (items as Iterable<PoolItem>)[Symbol.iterator]();
    let signal = Promise.withResolvers<void>();
    const run: Run = {
      items: new Map(),
      done: new Map(),
      waiting: [],
      wake: () => signal.resolve(),
    };
    this.#run = run;
    const limit = this.#slots.length * REORDER_WINDOW_PER_WORKER;
    let firstId = this.#nextId; // the next result to yield
    let inputDone = false;
    try {
      while (true) {
        if (this.#closed) throw new Error("this pose pool was closed while processing");
        // Hand out items while a worker has room and the reorder buffer is not full; images
        // already waiting for a worker go first.
        this.#handOut(run);
        while (!inputDone && !run.waiting.length && run.done.size < limit && this.#freeSlot()) {
          const next = await iterator.next();
          if (next.done) {
            inputDone = true;
            break;
          }
          // Its worker may have stopped while the input was read: it waits for another then.
          const id = this.#nextId++;
          run.items.set(id, next.value);
          run.waiting.push(id);
          this.#handOut(run);
        }
        if (inputDone) this.#stealForIdle();
        // Yield what is ready, in order.
        let yielded = false;
        for (let result = run.done.get(firstId); result; result = run.done.get(firstId)) {
          run.done.delete(firstId);
          run.items.delete(firstId);
          firstId++;
          yielded = true;
          yield result;
        }
        if (yielded) continue;
        if (this.#failure) throw this.#failure;
        if (inputDone && run.items.size === 0) return;
        await signal.promise;
        signal = Promise.withResolvers<void>();
      }
    } finally {
      // Stopped early (break, throw): let the images still in the workers finish, so that the
      // next call starts on empty workers.
      while (!this.#failure && !this.#closed && this.#slots.some((s) => s.inFlight.size)) {
        await signal.promise;
        signal = Promise.withResolvers<void>();
      }
      this.#run = undefined;
      await (iterator as Partial<AsyncIterator<PoolItem>>).return?.();
    }
  }

  /** Sends the run's waiting images, oldest first, to workers with room. */
  #handOut(run: Run): void {
    run.waiting.sort((a, b) => a - b);
    while (run.waiting.length) {
      const slot = this.#freeSlot();
      if (!slot) return;
      const id = run.waiting.shift()!;
      const item = run.items.get(id);
      if (item) this.#post(slot, id, item);
    }
  }

  /** What a worker has to do, or has coming. */
  #load(slot: WorkerSlot): number {
    return slot.inFlight.size + slot.incoming + slot.parts.size;
  }

  /** The least busy live worker with room for one more image, if any. */
  #freeSlot(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    const load = (slot: WorkerSlot) => this.#load(slot);
    for (const slot of this.#slots) {
      if (slot.dead || load(slot) >= this.#queueDepth) continue;
      if (!best || load(slot) < load(best)) best = slot;
    }
    return best;
  }

  /**
   * Once the input is exhausted, a worker with nothing to do takes back an image that waits,
   * unstarted, behind another worker's running one: without this the last images of a run
   * can queue behind one worker while another sits idle (half an image's time per run, on
   * average, with the default queue depth). The image keeps its id, so order is unchanged.
   * Where no image waits, the idle worker asks for people instead (`#askHandOff`).
   */
  #stealForIdle(): void {
    for (const thief of this.#slots) {
      if (thief.dead || this.#load(thief) > 0) continue;
      // A worker runs its images in the order sent: all but its oldest are still waiting.
      const waiting = (slot: WorkerSlot) =>
        [...slot.inFlight].filter((id) => !this.#steals.has(id)).sort((a, b) => a - b).slice(1);
      const donor = this.#slots.find((slot) => !slot.dead && waiting(slot).length > 0);
      if (!donor) {
        this.#askHandOff(thief);
        continue;
      }
      const id = waiting(donor).at(-1)!;
      this.#steals.set(id, thief);
      thief.incoming++;
      donor.worker.postMessage({ type: "cancel", id } satisfies ToWorker);
    }
  }

  /**
   * Asks a busy worker, through its shared flag, to give half of the people not yet started
   * in its running image to `thief`. The flag is read between keypoint runs; the request ends
   * with a "handOff" message, or with that image's result (nothing was left to share).
   */
  #askHandOff(thief: WorkerSlot): void {
    const donor = this.#slots.find((slot) =>
      slot !== thief && !slot.dead && slot.inFlight.size > 0 && !this.#handOffRequests.has(slot)
    );
    if (!donor) return;
    const id = Math.min(...donor.inFlight); // its running image: it runs them in order
    this.#handOffRequests.set(donor, { id, thief });
    thief.incoming++;
    Atomics.store(donor.handOffFlag, 0, id + 1);
  }

  /** Ends `donor`'s request for image `id`'s people, if one is open; returns its thief. */
  #endHandOffRequest(donor: WorkerSlot, id: number): WorkerSlot | undefined {
    const request = this.#handOffRequests.get(donor);
    if (!request || request.id !== id) return undefined;
    this.#handOffRequests.delete(donor);
    Atomics.compareExchange(donor.handOffFlag, 0, id + 1, 0);
    request.thief.incoming--;
    return request.thief;
  }

  /** `donor` gave people of its image away: run them on the worker that asked for them. */
  #onHandOff(donor: WorkerSlot, message: Extract<FromWorker, { type: "handOff" }>): void {
    const thief = this.#endHandOffRequest(donor, message.id);
    if (!thief) {
      // Unasked (a worker only gives after a request), or the worker that asked has stopped
      // since: the donor runs them itself.
      const back: ToWorker = { type: "partDone", part: message.part, error: "nobody asked" };
      return donor.worker.postMessage(back);
    }
    const key = this.#nextPartKey++;
    this.#parts.set(key, { donor, part: message.part, imageId: message.id });
    thief.parts.add(key);
    const part: ToWorker = {
      type: "part",
      key,
      image: message.image,
      boxes: message.boxes,
      source: this.#run?.items.get(message.id)?.path ?? `image ${message.id}`,
    };
    thief.worker.postMessage(part, [message.image.data.buffer as ArrayBuffer]);
  }

  /** A handed-off part is done: its poses go back to the worker that owns the image. */
  #onPartResult(thief: WorkerSlot, message: Extract<FromWorker, { type: "partResult" }>): void {
    thief.parts.delete(message.key);
    this.#noteWork(thief.stats, message.timings, message.memory);
    // Gone when the image's worker stopped since: its image has its error result already.
    const part = this.#parts.get(message.key);
    this.#parts.delete(message.key);
    if (part) {
      const sum = this.#partTimings.get(part.imageId);
      if (sum) addTimings(sum, message.timings);
      else this.#partTimings.set(part.imageId, { ...message.timings });
      const done: ToWorker = {
        type: "partDone",
        part: part.part,
        poses: message.poses,
        error: message.error,
      };
      const transfer = (message.poses ?? []).map((p) => p.keypoints.buffer as ArrayBuffer);
      part.donor.worker.postMessage(done, transfer);
    }
    this.#run?.wake();
  }

  /** Adds one answer's stage timings and memory figures to a worker's stats. */
  #noteWork(stats: WorkerStats, timings: StageTimings, memory: WorkerMemory): void {
    addTimings(stats.timings, timings);
    stats.peakRss = Math.max(stats.peakRss, memory.rss);
    stats.peakHeapAndExternal = Math.max(stats.peakHeapAndExternal, memory.heapAndExternal);
  }

  /**
   * A donor gave image `id` back unstarted: send it to the worker that asked for it or, where
   * that one has stopped since, to the next worker with room.
   */
  #onCancelled(donor: WorkerSlot, id: number): void {
    donor.inFlight.delete(id);
    const thief = this.#endSteal(id);
    const run = this.#run;
    const item = run?.items.get(id);
    if (run && item) {
      if (thief) this.#post(thief, id, item);
      else run.waiting.push(id);
    }
    run?.wake();
  }

  /** Forgets a steal of image `id` (given back or answered after all); returns its thief. */
  #endSteal(id: number): WorkerSlot | undefined {
    const thief = this.#steals.get(id);
    if (!thief) return undefined;
    this.#steals.delete(id);
    thief.incoming--;
    return thief;
  }

  #post(slot: WorkerSlot, id: number, item: PoolItem): void {
    slot.inFlight.add(id);
    // Bytes are copied, not transferred: the caller keeps its array.
    const job: ToWorker = {
      type: "job",
      id,
      path: item.path,
      boxes: item.boxes,
      bytes: item.bytes,
    };
    slot.worker.postMessage(job);
  }

  /** Takes `slot`'s messages, and its death. */
  #listen(slot: WorkerSlot): void {
    slot.worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (!slot.dead) this.#receive(slot, event.data);
    };
    slot.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onStopped(slot, event.message);
    };
  }

  #receive(slot: WorkerSlot, message: FromWorker): void {
    if (message.type === "closed") return slot.closed.resolve();
    if (message.type === "cancelled") return this.#onCancelled(slot, message.id);
    if (message.type === "handOff") return this.#onHandOff(slot, message);
    if (message.type === "partResult") return this.#onPartResult(slot, message);
    if (message.type !== "result") return;
    slot.inFlight.delete(message.id);
    // A steal that came too late (the donor had started the image): the thief asks again;
    // so does one whose request for people came after the last of them had started.
    this.#endSteal(message.id);
    this.#endHandOffRequest(slot, message.id);
    const timings = message.timings;
    const parts = this.#partTimings.get(message.id);
    this.#partTimings.delete(message.id);
    slot.stats.images++;
    slot.stats.decodeMs += message.decodeMs;
    this.#noteWork(slot.stats, timings, message.memory);
    if (parts) addTimings(timings, parts); // the image's own figures include its handed-off people
    const run = this.#run;
    const item = run?.items.get(message.id);
    if (!run || !item) return;
    const result: PoolResult = {
      item,
      decodeMs: message.decodeMs,
      timings,
      skippedBoxes: message.skippedBoxes,
    };
    if (message.error !== undefined) result.error = message.error;
    else result.poses = message.poses;
    run.done.set(message.id, result);
    run.wake();
  }

  /**
   * A worker stopped (its `onerror`): what it held ends, or goes elsewhere, as the module
   * comment says, and a replacement is started while any is left.
   */
  #onStopped(slot: WorkerSlot, why: string): void {
    if (slot.dead) return;
    slot.dead = true;
    // It has stopped already; this only makes sure that nothing of it is left running.
    slot.worker.terminate();
    slot.closed.resolve(); // a dead worker has nothing left to release
    const stopped = `pose worker ${slot.index} stopped: ${why}`;
    this.#stopped.push(stopped);
    const run = this.#run;
    // Its images, running or waiting: an error result each (one being taken back from it too).
    for (const id of slot.inFlight) {
      this.#endSteal(id);
      this.#partTimings.delete(id);
      const item = run?.items.get(id);
      if (!run || !item) continue;
      run.done.set(id, {
        item,
        error: `${item.path}: ${stopped} (the image was in that worker; it was not finished)`,
        decodeMs: 0,
        timings: zeroTimings(slot.stats.timings),
        skippedBoxes: 0,
      });
    }
    slot.inFlight.clear();
    // A request for its running image's people: the worker that asked is free to ask again.
    const asked = this.#handOffRequests.get(slot);
    if (asked) {
      this.#handOffRequests.delete(slot);
      asked.thief.incoming--;
    }
    // Its own requests for people: withdrawn (one already answered is run by its donor).
    for (const [donor, request] of this.#handOffRequests) {
      if (request.thief !== slot) continue;
      this.#handOffRequests.delete(donor);
      Atomics.compareExchange(donor.handOffFlag, 0, request.id + 1, 0);
    }
    // Images being given back to it go to the next worker with room (`#onCancelled`).
    for (const [id, thief] of this.#steals) if (thief === slot) this.#steals.delete(id);
    // People of other workers' images it had taken: their own worker runs them itself.
    for (const key of slot.parts) {
      const part = this.#parts.get(key);
      this.#parts.delete(key);
      if (!part) continue;
      const back: ToWorker = { type: "partDone", part: part.part, error: stopped };
      part.donor.worker.postMessage(back);
    }
    slot.parts.clear();
    slot.incoming = 0;
    // People its images had given away: their poses are dropped when they come.
    for (const [key, part] of this.#parts) if (part.donor === slot) this.#parts.delete(key);
    if (!this.#closed && this.#replacementsLeft > 0) {
      this.#replacementsLeft--;
      this.#replace(slot);
    }
    this.#failIfNoWorker();
    run?.wake();
  }

  /** Starts a fresh worker in `dead`'s place; it goes on with `dead`'s stats. */
  #replace(dead: WorkerSlot): void {
    const { pipeline, decode, module } = this.#start;
    const loading = startWorker(dead.index, pipeline, undefined, decode, newHandOffFlag(), module)
      .then(
        (started) => {
          if (this.#closeSent) return started.worker.terminate(); // too late: the pool is closed
          this.#noteWork(dead.stats, started.timings, started.memory);
          const slot = newSlot(started, dead.index, dead.stats);
          this.#slots[dead.index] = slot;
          this.#listen(slot);
          if (started.stopped !== undefined) this.#onStopped(slot, started.stopped);
        },
        (error: Error) => void this.#stopped.push(error.message),
      )
      .finally(() => {
        this.#replacing.delete(loading);
        this.#failIfNoWorker();
        this.#run?.wake();
      });
    this.#replacing.add(loading);
  }

  /** Fails the pool when no worker is left and none is loading. */
  #failIfNoWorker(): void {
    if (this.#failure || this.#closed || this.#replacing.size) return;
    if (this.#slots.some((slot) => !slot.dead)) return;
    const started = this.#slots.length - this.#replacementsLeft;
    this.#failure = new Error(
      `the pose pool has no worker left: ${this.#stopped.length} stopped or failed to load, ` +
        `${started} replacement${started === 1 ? "" : "s"} started (at most ` +
        `${this.#slots.length}); the last: ${this.#stopped.at(-1)}`,
    );
    this.#run?.wake();
  }

  /**
   * Per-worker counts, summed timings and peak memory, in worker order; a replacement goes on
   * with the figures of the worker whose place it took.
   */
  stats(): WorkerStats[] {
    return this.#slots.map(({ stats }) => ({
      ...stats,
      timings: { ...stats.timings },
    }));
  }

  /**
   * Shuts the workers down in order: a replacement still loading its pipeline is waited for;
   * each worker drops the images still queued, finishes the one running, releases its
   * onnxruntime sessions and native JPEG decoder on its own thread and answers (up to 10 s in
   * all); then the workers are terminated, unless `terminate: false` (see `PoolCloseOptions`).
   * Images in flight are dropped. Safe to call twice: the second call returns the first one's
   * promise.
   */
  close(options: PoolCloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutDown(options.terminate ?? true);
    return this.#closing;
  }

  async #shutDown(terminate: boolean): Promise<void> {
    this.#closed = true;
    this.#run?.wake();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_TIMEOUT_MS));
    await Promise.race([Promise.all(this.#replacing), timeout]);
    this.#closeSent = true;
    const live = this.#slots.filter((slot) => !slot.dead);
    for (const slot of live) slot.worker.postMessage({ type: "close" } satisfies ToWorker);
    await Promise.race([Promise.all(live.map((slot) => slot.closed.promise)), timeout]);
    clearTimeout(timer);
    if (terminate) { for (const slot of live) slot.worker.terminate(); }
  }
}
