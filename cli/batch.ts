/**
 * The input loop shared by predict and eval: images (in this process or a worker pool,
 * `batch_images.ts`) and videos (frame by frame, tracked, `batch_video.ts`), in input order;
 * each image or frame becomes one record handed to the output sink as soon as it is done. A
 * bad input is reported and skipped, never fatal; a drawing that cannot be written is its own
 * counted error (`drawings.ts`).
 */

import { isVideoInput } from "../lib/deno/inputs.ts";
import { probeVideo, type VideoInfo } from "../lib/deno/video/probe.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import { recordKey } from "../lib/output/jsonl.ts";
import type {
  BatchContext,
  BatchItem,
  BatchOptions,
  BatchResult,
  VideoSettings,
} from "./batch_context.ts";
import { processImages } from "./batch_images.ts";
import { planDrawings } from "./drawings.ts";
import { processVideo } from "./batch_video.ts";
import { printErr, ProgressBar } from "./progress.ts";

export {
  type BatchItem,
  type BatchOptions,
  type BatchResult,
  CocoCollector,
  type DrawStyle,
  type RecordSink,
  type VideoSettings,
} from "./batch_context.ts";

/**
 * Runs every input, in order: still images through the pipeline (or the pool), videos frame
 * by frame with tracking. `pipeline` is asked for only when this process needs it (always
 * without a pool; with one, for videos).
 */
export async function processInputs(
  items: readonly BatchItem[],
  pipeline: () => Promise<PosePipeline>,
  options: BatchOptions,
): Promise<BatchResult> {
  const start = performance.now();
  const result: BatchResult = {
    images: 0,
    videos: 0,
    frames: 0,
    droppedFrames: 0,
    people: 0,
    skipped: 0,
    skippedBoxes: 0,
    failures: [],
    drawFailures: [],
    decodeMs: 0,
    wallMs: 0,
  };
  const videoInfos = await probeVideos(items, options, result);
  const total = items.reduce(
    (n, item) =>
      n + (isVideoInput(item.path) ? framesOf(videoInfos.get(item.path), options.video) : 1),
    0,
  );
  const anyVideo = items.some((item) => isVideoInput(item.path));
  if (anyVideo && options.explain) {
    printErr(`posekit: --explain covers still images: videos are not explained\n`);
  }
  const bar = new ProgressBar(total, anyVideo ? "frames" : "images", options.progress);
  const report = (list: { path: string; reason: string }[], path: string, error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    list.push({ path, reason });
    bar.clear();
    printErr(`posekit: ${path}: ${withoutPathPrefix(reason, path)}\n`);
  };
  const drawingNames = options.drawDir === undefined
    ? new Map<string, string>()
    : await planDrawings(items.map((item) => item.path), options.drawDir);
  const context: BatchContext = { options, result, bar, report, drawingNames, pipeline };

  // Consecutive still images form one run (one pool stream); each video runs alone.
  let run: BatchItem[] = [];
  const flush = async () => {
    if (run.length) await processImages(run, context);
    run = [];
  };
  for (const item of items) {
    if (!isVideoInput(item.path)) {
      if (options.done?.has(recordKey({ file: item.fileName ?? item.path }, options.keyBase))) {
        result.skipped++;
        bar.tick();
      } else run.push(item);
      continue;
    }
    await flush();
    const info = videoInfos.get(item.path);
    if (info || options.video?.live) await processVideo(item, info, context);
  }
  await flush();
  if (context.explainer) {
    try {
      await (await context.explainer).finish();
    } catch (error) {
      report(result.drawFailures, options.explain!.dir, error);
    }
  }
  bar.clear();
  result.wallMs = performance.now() - start;
  return result;
}

/**
 * `reason` without a leading `path: `, which the line names already. Only at its start: a
 * reason may name the path inside another one (`cannot write the drawing out/a.jpg: …` for
 * the image `a.jpg`), which must stay whole.
 */
export function withoutPathPrefix(reason: string, path: string): string {
  const prefix = `${path}: `;
  return reason.startsWith(prefix) ? reason.slice(prefix.length) : reason;
}

/**
 * ffprobe of every video up front: the frame total for progress, and early clear errors
 * (frames above `--max-pixels` too, as for images; URLs within the read timeout).
 */
async function probeVideos(
  items: readonly BatchItem[],
  options: BatchOptions,
  result: BatchResult,
): Promise<Map<string, VideoInfo>> {
  const probeOptions = {
    maxPixels: options.decode?.maxPixels,
    timeoutMs: options.read?.timeoutMs,
  };
  const infos = new Map<string, VideoInfo>();
  for (const item of items) {
    // A live source is not probed: its one connection (a camera, a stream that serves one
    // client) is for the frames.
    if (!isVideoInput(item.path) || options.video?.live) continue;
    try {
      infos.set(item.path, await probeVideo(item.path, probeOptions));
    } catch (error) {
      const reason = (error as Error).message;
      result.failures.push({ path: item.path, reason });
      printErr(`posekit: ${item.path}: ${withoutPathPrefix(reason, item.path)}\n`);
    }
  }
  return infos;
}

/** Frames a video will give with `every` (0 when unknown: the bar then counts on). */
function framesOf(info: VideoInfo | undefined, video: VideoSettings | undefined): number {
  if (!info?.frameCount) return 0;
  return Math.ceil(info.frameCount / Math.max(1, video?.every ?? 1));
}
