/** Small pieces shared by the commands: loading models with progress, summaries, JSON files. */

import { dirname, resolve } from "node:path";
import { type PipelineOptions, PosePipeline } from "../lib/pipeline.ts";
import { runtimeInfo } from "../lib/runtime.ts";
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
  const info = runtimeInfo();
  if (info?.note && !quiet) printErr(`posekit: ${info.note}\n`);
  return pipeline;
}

/** Backend and adapter in a few words, e.g. "wasm, 2 threads" or "webgpu (NVIDIA H200)". */
export function backendLabel(): string {
  const info = runtimeInfo();
  if (!info) return "no backend yet";
  return info.backend === "webgpu"
    ? `webgpu (${info.adapter ?? "unknown adapter"})`
    : `wasm, ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
}

/** The one-line summary at the end of a run, on stderr. */
export function printSummary(pipeline: PosePipeline, batch: BatchResult, inputErrors = 0): void {
  const failed = batch.failures.length + inputErrors;
  const seconds = batch.wallMs / 1000;
  const rate = seconds > 0 ? batch.images / seconds : 0;
  printErr(
    `posekit: ${batch.images} images, ${batch.people} people, ${failed} failed, ` +
      `${formatDuration(seconds)} (${rate.toFixed(1)} images/s) on ${backendLabel()}; ` +
      `models ${
        pipeline.detector ? pipeline.detector.manifest.name + " + " : ""
      }${pipeline.pose.manifest.name}\n`,
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

/**
 * Checks before any work is done that `path` can take an output file (its folder exists, and
 * it is not itself a folder), so that a typo does not throw away a whole run's results at the
 * end. Throws an Error naming the option and the path.
 */
export async function checkOutputFile(path: string, option: string): Promise<void> {
  const folder = dirname(resolve(path));
  const kind = await pathKind(folder);
  if (kind !== "directory") {
    throw new Error(
      `cannot write ${option} ${path}: ${
        kind ? `${folder} is not a folder` : `the folder ${folder} does not exist`
      }`,
    );
  }
  if (await pathKind(path) === "directory") {
    throw new Error(`cannot write ${option} ${path}: it is a folder`);
  }
}

/** Checks that `path` is a folder or can become one (nothing else is in the way). */
export async function checkOutputFolder(path: string, option: string): Promise<void> {
  const kind = await pathKind(path);
  if (kind && kind !== "directory") {
    throw new Error(`cannot write into ${option} ${path}: it exists and is not a folder`);
  }
}

async function pathKind(path: string): Promise<"directory" | "other" | undefined> {
  try {
    return (await Deno.stat(path)).isDirectory ? "directory" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`cannot access ${path}: ${(error as Error).message}`);
  }
}
