/** Still images of a batch, in order, in this process or a worker pool. */

import { decodeImage } from "../lib/deno/image_file.ts";
import { ExplainWriter } from "../lib/deno/explain_files.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import type { ExplainedImage } from "../lib/pipeline.ts";
import { isUrlInput, STDIN_INPUT } from "../lib/deno/inputs.ts";
import { readInput } from "../lib/deno/read_input.ts";
import { decodeOptionsFor } from "../lib/deno/turbojpeg.ts";
import type { PoolItem } from "../lib/deno/workers/pool.ts";
import { jsonlRecordForImage } from "../lib/output/jsonl.ts";
import type { Pose, RgbImage } from "../lib/types.ts";
import type { BatchContext, BatchItem } from "./batch_context.ts";
import { drawImage } from "./drawings.ts";
import { printErr } from "./progress.ts";

function boxesFor(context: BatchContext, item: BatchItem, needsBoxes: boolean) {
  const boxes = context.options.boxes;
  if (boxes && !needsBoxes && !context.warnedBoxes) {
    context.warnedBoxes = true;
    context.bar.clear();
    printErr(
      `posekit: warning: the model finds people itself (an end-to-end model): --boxes is ` +
        `not used\n`,
    );
  }
  return boxes && needsBoxes ? boxes.get(item.imageId) ?? [] : undefined;
}

/** Still images, in order, in this process or the pool. */
export async function processImages(items: BatchItem[], context: BatchContext): Promise<void> {
  const { options, result } = context;
  const finish = async (
    item: BatchItem,
    poses: Pose[],
    image: RgbImage | undefined,
    skippedBoxes: number,
    bytes?: Uint8Array,
  ) => {
    const file = item.fileName ?? item.path;
    if (skippedBoxes > 0) {
      result.skippedBoxes += skippedBoxes;
      context.bar.clear();
      printErr(
        `posekit: warning: ${item.path}: skipped ${skippedBoxes} box${
          skippedBoxes === 1 ? "" : "es"
        } that cannot be cropped (no area, or values that are not finite)\n`,
      );
    }
    await options.sink.write(jsonlRecordForImage(file, item.imageId, poses));
    result.images++;
    result.people += poses.length;
    if (options.drawDir) {
      try {
        // With a pool the pixels stayed in the worker: decode once more to draw (stdin and
        // URLs from the bytes already read: stdin cannot be read twice).
        const pixels = image ?? await decodeImage(
          bytes ?? await readInput(item.path, options.read),
          item.path,
          options.decode,
        );
        await drawImage(context, item.path, pixels, poses);
      } catch (error) {
        context.report(result.drawFailures, item.path, error);
      }
    }
  };
  if (options.pool) {
    const pool = options.pool;
    // Stdin and URLs are read here; files are read by the workers, overlapping inference.
    const jobs = async function* (): AsyncGenerator<
      PoolItem & { batchItem: BatchItem; localBytes?: Uint8Array }
    > {
      for (const item of items) {
        const boxes = boxesFor(context, item, pool.needsBoxes);
        const local = item.path === STDIN_INPUT || isUrlInput(item.path);
        let bytes: Uint8Array | undefined;
        if (local) {
          try {
            bytes = await readInput(item.path, options.read);
          } catch (error) {
            context.report(result.failures, item.path, error);
            context.bar.tick();
            continue;
          }
        }
        yield { path: item.path, boxes, bytes, batchItem: item, localBytes: bytes };
      }
    };
    for await (const done of pool.process(jobs())) {
      const job = done.item as PoolItem & { batchItem: BatchItem; localBytes?: Uint8Array };
      const item = job.batchItem;
      result.decodeMs += done.decodeMs;
      if (done.error !== undefined) context.report(result.failures, item.path, done.error);
      else await finish(item, done.poses!, undefined, done.skippedBoxes, job.localBytes);
      context.bar.tick();
    }
    return;
  }
  const pipeline = await context.pipeline();
  const { decode } = decodeOptionsFor(pipeline.runtimeInfo.backend, options.decode);
  for (const item of items) {
    let done: { image: RgbImage; poses: Pose[]; skipped: number } | undefined;
    let explained: ExplainedImage | undefined;
    try {
      const bytes = await readInput(item.path, options.read);
      const t0 = performance.now();
      const image = await decodeImage(bytes, item.path, decode);
      result.decodeMs += performance.now() - t0;
      const skippedBefore = pipeline.warnings.skippedBoxes;
      const boxes = boxesFor(context, item, pipeline.needsBoxes) ?? "detector";
      if (options.explain) explained = await pipeline.explain(image, boxes);
      const poses = explained?.poses ?? await pipeline.run(image, boxes);
      done = { image, poses, skipped: pipeline.warnings.skippedBoxes - skippedBefore };
    } catch (error) {
      context.report(result.failures, item.path, error);
    }
    // Outside the try: an output that cannot be written ends the run, rather than
    // computing every remaining image for nothing.
    if (done) await finish(item, done.poses, done.image, done.skipped);
    if (done && explained) await explain(context, pipeline, item.path, done.image, explained);
    context.bar.tick();
  }
}

/**
 * Writes an image's explanation (`--explain`), printing each new note once; a failure is
 * counted with the drawings' (the results are kept).
 */
async function explain(
  context: BatchContext,
  pipeline: PosePipeline,
  path: string,
  image: RgbImage,
  explained: ExplainedImage,
): Promise<void> {
  const { dir, delta } = context.options.explain!;
  try {
    context.explainer ??= ExplainWriter.open(dir, pipeline.pose.manifest, { delta });
    const writer = await context.explainer;
    const known = writer.notes.length;
    await writer.write(path, image, explained);
    if (writer.notes.length > known) context.bar.clear();
    for (const note of writer.notes.slice(known)) printErr(`posekit: --explain: ${note}\n`);
  } catch (error) {
    context.report(context.result.drawFailures, path, error);
  }
}
