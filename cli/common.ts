/** Small pieces shared by the commands: loading models with progress, summaries, JSON files. */

import { dirname, join, resolve } from "node:path";
import { removeStaleTemporaryFiles, temporaryPathFor } from "../lib/coco_results.ts";
import { type PipelineOptions, PosePipeline } from "../lib/pipeline.ts";
import type { RuntimeInfo } from "../lib/runtime.ts";
import type { PosePool } from "../lib/workers/pool.ts";
import { commandName, UsageError } from "./args.ts";
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
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const parts = [
    plural(batch.images, "image"),
    ...(batch.videos ? [plural(batch.videos, "video"), plural(batch.frames, "frame")] : []),
    `${batch.people} people`,
    `${failed} failed`,
    ...(drawings ? [`${plural(drawings, "drawing")} failed`] : []),
    ...(batch.skipped ? [`${batch.skipped} already done`] : []),
  ];
  const where = [
    ...(pool ? [`${pool.size} workers × ${pool.threadsPerWorker} threads`] : []),
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

/**
 * Makes sure, before any work is done, that `path` can take an output file, so that a typo
 * or a read-only folder does not throw away a whole run's results at the end: missing parent
 * folders are created, `path` must not be a folder, and a probe file is written and removed
 * in its folder. Temporary files left beside `path` by killed runs are removed.
 * @throws Error, one line naming the option, the path, the reason and what to do
 */
export async function prepareOutputFile(path: string, option: string): Promise<void> {
  const problem = (reason: string) =>
    new Error(`cannot write ${option} ${path}: ${reason}; choose another ${option}`);
  if (await pathKind(path) === "directory") throw problem("it is a folder");
  await makeFolder(dirname(resolve(path)), problem);
  await probeWrite(temporaryPathFor(resolve(path)), problem);
  await removeStaleTemporaryFiles(resolve(path));
}

/**
 * Makes sure that `path` is a folder that can be written, creating it (and its parents) when
 * missing; a probe file is written and removed.
 * @throws Error, one line naming the option, the path, the reason and what to do
 */
export async function prepareOutputFolder(path: string, option: string): Promise<void> {
  const problem = (reason: string) =>
    new Error(`cannot write into ${option} ${path}: ${reason}; choose another ${option}`);
  await makeFolder(resolve(path), problem);
  await probeWrite(temporaryPathFor(join(resolve(path), "probe")), problem);
}

/** Creates `folder` and its parents; the error says which part of the path is in the way. */
async function makeFolder(folder: string, problem: (reason: string) => Error): Promise<void> {
  try {
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    // The nearest existing part of the path says why (a file where a folder should be).
    let existing = folder;
    while (await pathKind(existing).catch(() => undefined) === undefined) {
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
    if (await pathKind(existing).catch(() => undefined) === "other") {
      throw problem(`${existing} is a file, not a folder`);
    }
    throw problem(`cannot create the folder ${folder} (${describeWriteError(error)})`);
  }
  if (await pathKind(folder) !== "directory") throw problem(`${folder} is not a folder`);
}

async function probeWrite(probe: string, problem: (reason: string) => Error): Promise<void> {
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
  } catch (error) {
    throw problem(`the folder ${dirname(probe)} cannot be written (${describeWriteError(error)})`);
  }
  await Deno.remove(probe).catch(() => {});
}

function describeWriteError(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is a file";
  const message = (error as Error).message;
  if (/read-only file system/i.test(message)) return "read-only file system";
  return message.replace(/\s*\n\s*/g, " ");
}

async function pathKind(path: string): Promise<"directory" | "other" | undefined> {
  try {
    return (await Deno.stat(path)).isDirectory ? "directory" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) return undefined;
    throw new Error(`cannot access ${path}: ${(error as Error).message}`);
  }
}

/**
 * Runs one command's body and turns what it throws into an exit code: a UsageError is one
 * line with a pointer to the command's help (exit 2); anything else one line (exit 1), with
 * the stack trace only when POSEKIT_DEBUG=1.
 */
export async function runCommand(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      const hint = command ? ` (see "${commandName(command)} --help")` : "";
      printErr(`posekit: ${error.message}${hint}\n`);
      return 2;
    }
    if (Deno.env.get("POSEKIT_DEBUG")) console.error(error);
    else {
      const message = error instanceof Error ? error.message : String(error);
      printErr(`posekit: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    }
    return 1;
  }
}
