/** Small pieces shared by the commands: loading models with progress, summaries, JSON files. */

import { type PipelineOptions, PosePipeline } from "../lib/pipeline.ts";
import type { RuntimeInfo } from "../lib/runtime.ts";
import type { PosePool } from "../lib/workers/pool.ts";
import type { BatchResult } from "./batch.ts";
import { formatDuration, printErr } from "./progress.ts";

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
    `${batch.people} people`,
    `${failed} failed`,
    ...(drawings ? [`${plural(drawings, "drawing")} failed`] : []),
    ...(batch.skipped ? [`${batch.skipped} already done`] : []),
    ...(batch.skippedBoxes ? [`${plural(batch.skippedBoxes, "box")} skipped`] : []),
  ];
  const where = [
    ...(pool
      ? [`${plural(pool.size, "worker")} × ${plural(pool.threadsPerWorker, "thread")}`]
      : []),
    ...(pipeline ? [backendLabel(pipeline.runtimeInfo)] : []),
  ].join(", ");
  const models = pipeline
    ? `; models ${
      pipeline.detector ? pipeline.detector.manifest.name + " + " : ""
    }${pipeline.pose.manifest.name}`
    : "";
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
