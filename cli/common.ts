/** Small pieces shared by the commands: loading models with progress, summaries, JSON files. */

import { type PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import { chooseBackend } from "../lib/runtime/backend.ts";
import { probeDenoWebGpu } from "../lib/deno/runtime.ts";
import type { RuntimeInfo } from "../lib/runtime/runtime.ts";
import type { DecodeOptions } from "../lib/image/decode.ts";
import { PosePool } from "../lib/deno/workers/pool.ts";
import { allocatedCores } from "../lib/deno/cpu_allocation.ts";
import type { BatchResult } from "./batch.ts";
import { formatDuration, printErr } from "./progress.ts";

/** Creates the worker pool, printing its notes (and the plan's) once. */
export async function createPoolWithNotes(
  plan: WorkerPlan,
  threads: number | undefined,
  decode: DecodeOptions,
  quiet: boolean,
): Promise<PosePool> {
  const { threads: _, ...shared } = plan.options;
  const cores = navigator.hardwareConcurrency ?? 1;
  const pool = await PosePool.create({
    workers: plan.workers,
    threadsPerWorker: threads ?? Math.max(1, Math.floor(cores / plan.workers)),
    pipeline: shared,
    decode,
  });
  if (!quiet) {
    for (const note of [...(plan.note ? [plan.note] : []), ...pool.loaded.notes]) {
      printErr(`posekit: ${note}\n`);
    }
  }
  return pool;
}

/** Creates the pipeline, showing download progress for models fetched on first use. */
export async function createPipelineWithProgress(
  options: PipelineOptions,
  quiet: boolean,
): Promise<PosePipeline> {
  let last = 0;
  const pipeline = await PosePipeline.create({
    ...options,
    onDownloadProgress: quiet ? undefined : (model, received, total) => {
      const now = performance.now();
      if (now - last < 200 && received !== total) return;
      last = now;
      const mib = (n: number) => (n / 1048576).toFixed(1);
      const pct = total ? ` (${Math.floor((received / total) * 100)}%)` : "";
      printErr(
        `\rdownloading ${model}: ${mib(received)}${total ? "/" + mib(total) : ""} MiB${pct}\x1b[K`,
      );
      if (received === total) printErr("\n");
    },
  });
  if (!quiet) { for (const note of pipeline.notes) printErr(`posekit: ${note}\n`); }
  return pipeline;
}

/** How many worker processes run the still images, with the options they load. */
export interface WorkerPlan {
  /** 1: the images run in this process. */
  workers: number;
  options: PipelineOptions;
  /** Why "auto" chose the CPU, to print once (the workers are told "wasm"). */
  note?: string;
}

/**
 * The worker count: `--workers` when given; else, on the CPU (WASM or native), one worker of
 * one thread per core — measured here as the fastest split of 2 cores, since two threads in
 * one onnxruntime-web process scale poorly — capped at 8 and at the number of images. The
 * cores are those the scheduler granted (`allocatedCores`: a SLURM task's CPUs, a container's
 * CPU quota), not the node's: tasks sharing a node would otherwise each start a worker per
 * core of the whole node. On WebGPU (one device shared by every model) 1. "auto" is resolved
 * here, once, with `--workers` too, so that the workers do not each probe the GPU: a probe
 * loads the GPU drivers (Vulkan, EGL with Mesa's llvmpipe) into the worker, which unloads
 * them when it ends.
 */
export async function planWorkers(
  requested: number | undefined,
  options: PipelineOptions,
  stillImages: number,
): Promise<WorkerPlan> {
  const backend = options.backend ?? "auto";
  if (requested !== undefined && (requested === 1 || backend !== "auto")) {
    return { workers: requested, options };
  }
  const cores = allocatedCores().cores;
  const cpuWorkers = requested ?? Math.max(1, Math.min(cores, 8, stillImages));
  if (backend === "webgpu" || cpuWorkers === 1) return { workers: 1, options };
  if (backend !== "auto") return { workers: cpuWorkers, options };
  const probed = await probeDenoWebGpu();
  const decision = chooseBackend("auto", probed.adapter);
  if (decision.backend === "webgpu") return { workers: requested ?? 1, options };
  return {
    workers: cpuWorkers,
    options: { ...options, backend: "wasm" },
    note: `backend auto: ${probed.adapter ? decision.reason : `${probed.error}; using WASM`}`,
  };
}

/** Backend and adapter in a few words, e.g. "wasm, 2 threads" or "webgpu (NVIDIA H200)". */
export function backendLabel(info: RuntimeInfo): string {
  return info.backend === "webgpu"
    ? `webgpu (${info.adapter ?? "unknown adapter"})`
    : `${info.backend}, ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
}

/**
 * The one-line summary at the end of a run, on stderr: images (and videos, frames), people,
 * failed inputs (inputs that could not be read count too), drawings that could not be
 * written, time, rate and where the models ran.
 */
export function printSummary(
  batch: BatchResult,
  inputErrors = 0,
  pipeline?: PosePipeline,
  pool?: PosePool,
): void {
  const failed = batch.failures.length + inputErrors;
  const seconds = batch.wallMs / 1000;
  const done = batch.images + batch.frames;
  const rate = seconds > 0 ? done / seconds : 0;
  const drawings = batch.drawFailures.length;
  const plural = (n: number, word: string) =>
    `${n} ${word}${n === 1 ? "" : word.endsWith("x") ? "es" : "s"}`;
  const parts = [
    plural(batch.images, "image"),
    ...(batch.videos ? [plural(batch.videos, "video"), plural(batch.frames, "frame")] : []),
    `${batch.people} ${batch.people === 1 ? "person" : "people"}`,
    `${failed} failed`,
    ...(drawings ? [`${plural(drawings, "drawing")} failed`] : []),
    ...(batch.skipped ? [`${batch.skipped} already done`] : []),
    ...(batch.skippedBoxes ? [`${plural(batch.skippedBoxes, "box")} skipped`] : []),
  ];
  const where = [
    ...(pool
      ? [
        `${plural(pool.size, "worker")} × ${plural(pool.threadsPerWorker, "thread")} ` +
        `(${pool.loaded.runtime.backend})`,
      ]
      : []),
    ...(pipeline ? [backendLabel(pipeline.runtimeInfo)] : []),
  ].join(", ");
  const modelNames = pipeline
    ? [...(pipeline.detector ? [pipeline.detector.manifest.name] : []), pipeline.pose.manifest.name]
    : pool?.loaded.models ?? [];
  const models = modelNames.length ? `; models ${modelNames.join(" + ")}` : "";
  printErr(
    `posekit: ${parts.join(", ")}, ${formatDuration(seconds)} ` +
      `(${rate.toFixed(1)} ${batch.frames ? "frames" : "images"}/s)` +
      (where ? ` on ${where}` : "") + `${models}\n`,
  );
}

/** Reads and parses a JSON file; errors name the file and say what is wrong. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export { prepareOutputFile, prepareOutputFolder } from "./output_paths.ts";
export { runCommand } from "./run_command.ts";
