/**
 * `deno task bench [options] [DIR]`: runs the pipeline over a folder of images and prints
 * images/s, the time spent per stage (decode, detect, crop, keypoint inference, decode +
 * post), the model-only time (the onnxruntime runs themselves) and so the pipeline's own
 * overhead, and memory per worker; or one JSON object with --json.
 *
 * Without --workers the pipeline runs in this process (files read up front, decoding timed);
 * with --workers N it runs in a `PosePool` of N workers, each reading and decoding its images
 * as `predict --workers N` does. Model loading and the warm-up images (--warmup per worker, at
 * least the first image of each worker unless --warmup 0) are outside the timed part.
 *
 * The overhead share is 1 − model / (workers × wall): of the time the workers had, the part
 * not spent inside onnxruntime (decoding, crops, tensor preparation, decoding outputs, and
 * what lies outside the pipeline: reading, worker messages, waiting for the next image).
 */

import { PosePool, type WorkerStats } from "../lib/deno/workers/pool.ts";
import { existsSync } from "node:fs";
import process from "node:process";
import {
  COMMON_OPTIONS,
  numberOption,
  optionHelp,
  parseCommandLine,
  PIPELINE_OPTIONS,
  pipelineHelp,
  pipelineOptions,
  THROUGHPUT_OPTIONS,
  UsageError,
  VERSION,
} from "../cli/args.ts";
import { backendLabel, runCommand } from "../cli/common.ts";
import { printErr } from "../cli/progress.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { decodeOptionsFor } from "../lib/deno/turbojpeg.ts";
import { expandInputs } from "../lib/deno/inputs.ts";
import { type PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import type { StageTimings } from "../lib/pipeline.ts";

const SHARED_IMAGES = new URL("../../shared/coco/val2017", import.meta.url).pathname;
const SHARED_MODELS = new URL("../../shared/models", import.meta.url).pathname;
const MiB = 1024 * 1024;

const HELP =
  `Usage: deno task bench [options] [DIR|images...]   (default DIR: ../shared/coco/val2017)

  --limit N     use the first N images (default: all)
  --warmup N    untimed images first, per worker (default 6: until V8 has optimized
                onnxruntime's WebAssembly, which it does in background threads)
  --json        print one JSON object instead of the table
${optionHelp(["workers", "help", "version"])}
                        (bench: without --workers the pipeline runs in this process)

${pipelineHelp(["boxes", "box-thr"])}
                        (bench: --models defaults to ../shared/models when it exists)`;

/** What one timed run measured, before it is divided per image. */
interface Measured {
  wallMs: number;
  cpuMs: number;
  people: number;
  decodeMs: number;
  timings: StageTimings;
  /** Per worker (one entry, this process, without --workers). */
  memory: { images: number; peakHeapAndExternal: number }[];
  peakRss: number;
  backend: string;
  detector: string | undefined;
  pose: string;
}

/** The bench's report; `--json` prints it as is. */
export interface BenchReport {
  images: number;
  people: number;
  imagesPerSecond: number;
  /** Workers (0: the pipeline in this process) and onnxruntime threads in each. */
  workers: number;
  threadsPerWorker: number;
  backend: string;
  detector: string | undefined;
  pose: string;
  flip: boolean;
  warmupPerWorker: number;
  /** Milliseconds per image in each stage, summed over workers; `model` is inside detect + keypoints. */
  msPerImage: StageTimings & { decode: number };
  /** Wall milliseconds per image. */
  wallMsPerImage: number;
  /** Images/s if only the model runs took time (same workers). */
  modelOnlyImagesPerSecond: number;
  /** 1 − model / (workers × wall). */
  overheadShare: number;
  /** The overhead split into its parts, as shares of workers × wall (they sum to overheadShare). */
  overhead: {
    decode: number;
    crop: number;
    post: number;
    /** detect + keypoints − model: tensor preparation and the detector's output decoding. */
    aroundModel: number;
    /** Outside the pipeline: reading, worker messages, scheduling, waiting for an image. */
    outside: number;
  };
  /** Process CPU time (all threads) per image, and CPU time over wall time. */
  cpuMsPerImage: number;
  coresUsed: number;
  memory: {
    perWorker: { images: number; peakHeapAndExternalMiB: number }[];
    peakRssMiB: number;
  };
  /** 1-minute load average before and after; null without --allow-sys=loadavg. */
  loadAverage1m: { before: number | null; after: number | null };
}

if (import.meta.main) Deno.exit(await runCommand("bench", () => bench(Deno.args)));

async function bench(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    ...THROUGHPUT_OPTIONS,
    ...COMMON_OPTIONS,
    limit: { type: "string" },
    warmup: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.version) {
    console.log(`posekit ${VERSION}`);
    return 0;
  }
  for (const name of ["boxes", "box-thr"]) {
    if (values[name] !== undefined) {
      throw new UsageError(`bench does not take --${name} (it times the detector too)`);
    }
  }
  const inputs = positionals.length ? positionals : [SHARED_IMAGES];
  const limit = numberOption(values.limit as string, "limit", (n) => Number.isInteger(n) && n > 0);
  const warmup =
    numberOption(values.warmup as string, "warmup", (n) => Number.isInteger(n) && n >= 0) ?? 6;
  const workers = numberOption(
    values.workers as string,
    "workers",
    (n) => Number.isInteger(n) && n > 0,
  );
  // As the images default to ../shared, so do the models (README: `deno task bench`).
  if (values.models === undefined && existsSync(SHARED_MODELS)) values.models = [SHARED_MODELS];
  const options = await pipelineOptions(values, true);

  const { files, errors } = await expandInputs(inputs);
  for (const e of errors) printErr(`posekit: ${e.path}: ${e.reason}\n`);
  const selected = files.slice(0, limit ?? files.length);
  if (selected.length === 0) throw new Error("no images to run the bench on");

  const loadBefore = loadAverage();
  const cores = navigator.hardwareConcurrency ?? 1;
  const threads = options.threads ??
    (workers === undefined ? cores : Math.max(1, Math.floor(cores / workers)));
  const measured = workers === undefined
    ? await runInProcess({ ...options, threads }, selected, warmup)
    : await runPool(options, workers, threads, selected, warmup);
  const report = summarize(measured, selected.length, {
    workers: workers ?? 0,
    threadsPerWorker: threads,
    flip: options.flip !== false,
    warmupPerWorker: warmup,
    loadBefore,
  });
  if (values.json) console.log(JSON.stringify(report));
  else printReport(report);
  return 0;
}

/** The 1-minute load average, or null where the task does not allow reading it. */
function loadAverage(): number | null {
  const allowed = Deno.permissions.querySync({ name: "sys", kind: "loadavg" }).state === "granted";
  return allowed ? Deno.loadavg()[0] : null;
}

/** Starts a wall clock and a process CPU clock (all threads); the result reads both. */
function startClocks(): () => { wallMs: number; cpuMs: number } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

function zeroed(timings: StageTimings): StageTimings {
  const out = { ...timings };
  for (const key of Object.keys(out) as (keyof StageTimings)[]) out[key] = 0;
  return out;
}

async function runInProcess(
  options: PipelineOptions,
  selected: string[],
  warmup: number,
): Promise<Measured> {
  const pipeline = await PosePipeline.create(options);
  try {
    // Read the files up front so disk time stays out of the figures; decoding is timed.
    const bytes = await Promise.all(selected.map((f) => Deno.readFile(f)));
    // As predict decodes: natively where the models run natively.
    const { decode } = decodeOptionsFor(pipeline.runtimeInfo.backend);
    for (let i = 0; i < Math.min(warmup, bytes.length); i++) {
      await pipeline.run(await decodeImage(bytes[i], selected[i], decode));
    }
    Object.assign(pipeline.timings, zeroed(pipeline.timings));
    let decodeMs = 0, people = 0, peakRss = 0, peakHeapAndExternal = 0;
    const stop = startClocks();
    for (let i = 0; i < bytes.length; i++) {
      const t0 = performance.now();
      const image = await decodeImage(bytes[i], selected[i], decode);
      decodeMs += performance.now() - t0;
      people += (await pipeline.run(image)).length;
      const usage = Deno.memoryUsage();
      peakRss = Math.max(peakRss, usage.rss);
      peakHeapAndExternal = Math.max(peakHeapAndExternal, usage.heapTotal + usage.external);
    }
    const { wallMs, cpuMs } = stop();
    return {
      wallMs,
      cpuMs,
      people,
      decodeMs,
      timings: { ...pipeline.timings },
      memory: [{ images: bytes.length, peakHeapAndExternal }],
      peakRss,
      backend: backendLabel(pipeline.runtimeInfo),
      detector: pipeline.detector?.manifest.name,
      pose: pipeline.pose.manifest.name,
    };
  } finally {
    await pipeline.close();
  }
}

/** `after − before` for one worker's counts and stage sums (peaks kept as they are). */
function difference(after: WorkerStats, before: WorkerStats): WorkerStats {
  const timings = { ...after.timings };
  for (const key of Object.keys(timings) as (keyof StageTimings)[]) {
    timings[key] -= before.timings[key] ?? 0;
  }
  return {
    ...after,
    images: after.images - before.images,
    decodeMs: after.decodeMs - before.decodeMs,
    timings,
  };
}

async function runPool(
  options: PipelineOptions,
  workers: number,
  threadsPerWorker: number,
  selected: string[],
  warmup: number,
): Promise<Measured> {
  const { threads: _, onDownloadProgress: __, ...pipeline } = options;
  const pool = await PosePool.create({ workers, threadsPerWorker, pipeline });
  try {
    // The warm-up images are handed out one per free worker, so each worker gets `warmup`.
    const warm = Array.from({ length: warmup * workers }, (_, i) => selected[i % selected.length]);
    for await (const result of pool.process(warm.map((path) => ({ path })))) {
      if (result.error) throw new Error(result.error);
    }
    // Reads in the workers then come from the page cache, as in the in-process run.
    await Promise.all(selected.map((f) => Deno.readFile(f)));
    const before = pool.stats();
    let people = 0;
    const stop = startClocks();
    for await (const result of pool.process(selected.map((path) => ({ path })))) {
      if (result.error) throw new Error(result.error);
      people += result.poses!.length;
    }
    const { wallMs, cpuMs } = stop();
    const after = pool.stats();
    const timed = after.map((s, i) => difference(s, before[i]));
    const timings = zeroed(timed[0].timings);
    let decodeMs = 0;
    for (const s of timed) {
      decodeMs += s.decodeMs;
      for (const key of Object.keys(timings) as (keyof StageTimings)[]) {
        timings[key] += s.timings[key];
      }
    }
    const peakRss = Math.max(Deno.memoryUsage().rss, ...after.map((s) => s.peakRss));
    return {
      wallMs,
      cpuMs,
      people,
      decodeMs,
      timings,
      memory: timed.map((s) => ({ images: s.images, peakHeapAndExternal: s.peakHeapAndExternal })),
      peakRss,
      backend: `${options.backend ?? "auto"}, ${workers} worker${
        workers === 1 ? "" : "s"
      } × ${threadsPerWorker} thread${threadsPerWorker === 1 ? "" : "s"}`,
      detector: options.detector === false
        ? undefined
        : modelName(options.detector, "rtmdet_nano_person"),
      pose: modelName(options.pose, "simplepose_nano_256x192"),
    };
  } finally {
    // The process exits next (see `PoolCloseOptions.terminate`).
    await pool.close({ terminate: false });
  }
}

/** A model's name as the pool was given it (the pool does not report its manifests). */
function modelName(given: string | undefined, fallback: string): string {
  if (!given) return fallback;
  return given.replace(/^.*[\\/]/, "").replace(/\.(onnx|json)$/, "");
}

function summarize(
  m: Measured,
  n: number,
  run: {
    workers: number;
    threadsPerWorker: number;
    flip: boolean;
    warmupPerWorker: number;
    loadBefore: number | null;
  },
): BenchReport {
  const workerMs = Math.max(1, run.workers) * m.wallMs;
  const t = m.timings;
  const stageSum = m.decodeMs + t.detect + t.crop + t.keypoints + t.post;
  const share = (ms: number) => ms / workerMs;
  const modelMsPerImage = t.model / n / Math.max(1, run.workers);
  const msPerImage = { decode: m.decodeMs / n } as StageTimings & { decode: number };
  for (const [stage, ms] of Object.entries(t)) {
    (msPerImage as unknown as Record<string, number>)[stage] = ms / n;
  }
  return {
    images: n,
    people: m.people,
    imagesPerSecond: n / (m.wallMs / 1000),
    workers: run.workers,
    threadsPerWorker: run.threadsPerWorker,
    backend: m.backend,
    detector: m.detector,
    pose: m.pose,
    flip: run.flip,
    warmupPerWorker: run.warmupPerWorker,
    msPerImage,
    wallMsPerImage: m.wallMs / n,
    modelOnlyImagesPerSecond: 1000 / modelMsPerImage,
    overheadShare: 1 - share(t.model),
    overhead: {
      decode: share(m.decodeMs),
      crop: share(t.crop),
      post: share(t.post),
      aroundModel: share(t.detect + t.keypoints - t.model),
      outside: share(workerMs - stageSum),
    },
    cpuMsPerImage: m.cpuMs / n,
    coresUsed: m.cpuMs / m.wallMs,
    memory: {
      perWorker: m.memory.map((w) => ({
        images: w.images,
        peakHeapAndExternalMiB: w.peakHeapAndExternal / MiB,
      })),
      peakRssMiB: m.peakRss / MiB,
    },
    loadAverage1m: { before: run.loadBefore, after: loadAverage() },
  };
}

function printReport(r: BenchReport): void {
  const f = (x: number, d = 2) => x.toFixed(d);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `${r.images} images, ${r.people} people, ${f(r.imagesPerSecond)} images/s on ${r.backend}`,
  );
  console.log(
    `models: ${r.detector ?? "-"} + ${r.pose}, flip test ${r.flip ? "on" : "off"}; ` +
      `${r.warmupPerWorker} warm-up image(s) per worker` +
      (r.loadAverage1m.before === null
        ? ""
        : `; load average ${f(r.loadAverage1m.before)} → ${f(r.loadAverage1m.after ?? NaN)}`),
  );
  console.log("");
  console.log(`stage                  ms/image${r.workers > 1 ? " (summed over workers)" : ""}`);
  const names: [keyof BenchReport["msPerImage"], string][] = [
    ["decode", "decode image"],
    ["detect", "detect people"],
    ["crop", "crop"],
    ["keypoints", "keypoint inference"],
    ["post", "decode + post"],
  ];
  let total = 0;
  for (const [key, label] of names) {
    total += r.msPerImage[key];
    console.log(`${label.padEnd(22)} ${f(r.msPerImage[key]).padStart(8)}`);
  }
  console.log(`${"total".padEnd(22)} ${f(total).padStart(8)}`);
  console.log(
    `${"  of which model runs".padEnd(22)} ${f(r.msPerImage.model).padStart(8)}   ` +
      `(model only: ${f(r.modelOnlyImagesPerSecond)} images/s)`,
  );
  console.log("");
  const o = r.overhead;
  console.log(
    `pipeline overhead (1 − model / (workers × wall)): ${pct(r.overheadShare)} = decode ${
      pct(o.decode)
    } + crop ${pct(o.crop)} + post ${pct(o.post)} + around the model ${
      pct(o.aroundModel)
    } + outside the pipeline ${pct(o.outside)}`,
  );
  console.log(
    `CPU: ${f(r.cpuMsPerImage, 0)} ms/image, ${f(r.coresUsed)} cores used (CPU time / wall time)`,
  );
  console.log(
    `memory: process peak rss ${f(r.memory.peakRssMiB, 0)} MiB; per worker peak heap+external ${
      r.memory.perWorker.map((w) => `${f(w.peakHeapAndExternalMiB, 0)} MiB`).join(", ")
    }`,
  );
}
