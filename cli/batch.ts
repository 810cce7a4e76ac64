/**
 * The input loop shared by predict and eval: images (in this process or a worker pool) and
 * videos (frame by frame, tracked), in input order; each image or frame becomes one record
 * handed to the output sink as soon as it is done. A bad input is reported and skipped,
 * never fatal; a drawing that cannot be written is its own counted error.
 */

import { basename, join } from "node:path";
import type { BoxesByImage } from "../lib/coco/boxes.ts";
import { writeFileAtomic } from "../lib/deno/files.ts";
import { type DrawOptions, drawPoses, encodeJpeg } from "../lib/image/draw.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import type { DecodeOptions } from "../lib/image/decode.ts";
import { decodeOptionsFor } from "../lib/deno/turbojpeg.ts";
import { isUrlInput, isVideoInput, STDIN_INPUT } from "../lib/deno/inputs.ts";
import { readInput, type ReadInputOptions } from "../lib/deno/read_input.ts";
import {
  type JsonlRecord,
  jsonlRecordForFrame,
  jsonlRecordForImage,
  recordKey,
} from "../lib/output/jsonl.ts";
import { cocoResultsFromRecords, type MergedResult } from "../lib/output/merge.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import type { OneEuroOptions } from "../lib/track/one_euro.ts";
import type { Pose, RgbImage } from "../lib/types.ts";
import { probeVideo, type VideoInfo } from "../lib/deno/video/probe.ts";
import { VideoWriter } from "../lib/deno/video/write.ts";
import type { VideoPose } from "../lib/video_poses.ts";
import { videoPoses } from "../lib/deno/video/poses.ts";
import type { PoolItem, PosePool } from "../lib/deno/workers/pool.ts";
import { printErr, ProgressBar } from "./progress.ts";

/** One input to process and the id its results get. */
export interface BatchItem {
  /** A file, `-` (stdin), a URL or a camera device. */
  path: string;
  imageId: number;
  /** The `file_name` its results carry (default: `path`). */
  fileName?: string;
}

/** Where records go: a JSON Lines writer, or a collector for one COCO results file. */
export interface RecordSink {
  write(record: JsonlRecord): Promise<void>;
}

/** A sink that keeps the COCO results of every record, for one file written at the end. */
export class CocoCollector implements RecordSink {
  /** The results so far, in record order. */
  readonly results: MergedResult[] = [];
  write(record: JsonlRecord): Promise<void> {
    this.results.push(...cocoResultsFromRecords([record]));
    return Promise.resolve();
  }
}

/** How drawings look (`--kpt-thr`, `--radius`, `--thickness`, `--no-boxes`, `--labels`). */
export interface DrawStyle {
  keypointThreshold?: number;
  keypointRadius?: number;
  lineWidth?: number;
  boxes?: boolean;
  labels?: boolean;
}

/** Video settings (`--every`, `--no-track`, `--smooth`, `--det-every`). */
export interface VideoSettings {
  every?: number;
  track?: boolean;
  smooth?: boolean | OneEuroOptions;
  detectEvery?: number;
}

/** How `processInputs` runs. */
export interface BatchOptions {
  /** Where each image's (or frame's) record goes, in input order. */
  sink: RecordSink;
  /** Boxes per image id instead of the detector. */
  boxes?: BoxesByImage;
  /** Folder for drawn images (`<name>.jpg`) and videos (`<name>.mp4`); it must exist. */
  drawDir?: string;
  draw?: DrawStyle;
  video?: VideoSettings;
  /** Record keys already done (`--resume`): those images and frames are skipped. */
  done?: ReadonlySet<string>;
  /** Run images in this worker pool; videos still run in this process. */
  pool?: PosePool;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** Decoding options (the pixel limit). */
  decode?: DecodeOptions;
  /** Reading options (size limit and timeout of stdin and URLs). */
  read?: ReadInputOptions;
}

/** What a batch did. */
export interface BatchResult {
  /** Still images done. */
  images: number;
  /** Videos read (fully or until an error) and frames done. */
  videos: number;
  frames: number;
  people: number;
  /** Inputs skipped because `--resume` found them done. */
  skipped: number;
  /** Person boxes skipped because they cannot be cropped (no area, not finite). */
  skippedBoxes: number;
  /** Inputs that could not be read, decoded or run (a video may fail after some frames). */
  failures: { path: string; reason: string }[];
  /** Drawings that could not be written: their results are kept. */
  drawFailures: { path: string; reason: string }[];
  /** Milliseconds spent decoding still images. */
  decodeMs: number;
  wallMs: number;
}

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
    people: 0,
    skipped: 0,
    skippedBoxes: 0,
    failures: [],
    drawFailures: [],
    decodeMs: 0,
    wallMs: 0,
  };
  const videoInfos = await probeVideos(items, result);
  const total = items.reduce(
    (n, item) =>
      n + (isVideoInput(item.path) ? framesOf(videoInfos.get(item.path), options.video) : 1),
    0,
  );
  const anyVideo = items.some((item) => isVideoInput(item.path));
  const bar = new ProgressBar(total, anyVideo ? "frames" : "images", options.progress);
  const report = (list: { path: string; reason: string }[], path: string, error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    list.push({ path, reason });
    bar.clear();
    printErr(`posekit: ${path}: ${reason.replace(`${path}: `, "")}\n`);
  };
  const context: Context = { options, result, bar, report, drawnNames: new Set(), pipeline };

  // Consecutive still images form one run (one pool stream); each video runs alone.
  let run: BatchItem[] = [];
  const flush = async () => {
    if (run.length) await processImages(run, context);
    run = [];
  };
  for (const item of items) {
    if (!isVideoInput(item.path)) {
      if (options.done?.has(recordKey({ file: item.fileName ?? item.path }))) {
        result.skipped++;
        bar.tick();
      } else run.push(item);
      continue;
    }
    await flush();
    const info = videoInfos.get(item.path);
    if (info) await processVideo(item, info, context);
  }
  await flush();
  bar.clear();
  result.wallMs = performance.now() - start;
  return result;
}

interface Context {
  options: BatchOptions;
  result: BatchResult;
  bar: ProgressBar;
  report: (list: { path: string; reason: string }[], path: string, error: unknown) => void;
  drawnNames: Set<string>;
  pipeline: () => Promise<PosePipeline>;
  warnedBoxes?: boolean;
}

/** ffprobe of every video up front: the frame total for progress, and early clear errors. */
async function probeVideos(
  items: readonly BatchItem[],
  result: BatchResult,
): Promise<Map<string, VideoInfo>> {
  const infos = new Map<string, VideoInfo>();
  for (const item of items) {
    if (!isVideoInput(item.path)) continue;
    try {
      infos.set(item.path, await probeVideo(item.path));
    } catch (error) {
      const reason = (error as Error).message;
      result.failures.push({ path: item.path, reason });
      printErr(`posekit: ${item.path}: ${reason.replace(`${item.path}: `, "")}\n`);
    }
  }
  return infos;
}

/** Frames a video will give with `every` (0 when unknown: the bar then counts on). */
function framesOf(info: VideoInfo | undefined, video: VideoSettings | undefined): number {
  if (!info?.frameCount) return 0;
  return Math.ceil(info.frameCount / Math.max(1, video?.every ?? 1));
}

function boxesFor(context: Context, item: BatchItem, needsBoxes: boolean) {
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
async function processImages(items: BatchItem[], context: Context): Promise<void> {
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
    try {
      const bytes = await readInput(item.path, options.read);
      const t0 = performance.now();
      const image = await decodeImage(bytes, item.path, decode);
      result.decodeMs += performance.now() - t0;
      const skippedBefore = pipeline.warnings.skippedBoxes;
      const poses = await pipeline.run(
        image,
        boxesFor(context, item, pipeline.needsBoxes) ?? "detector",
      );
      done = { image, poses, skipped: pipeline.warnings.skippedBoxes - skippedBefore };
    } catch (error) {
      context.report(result.failures, item.path, error);
    }
    // Outside the try: an output that cannot be written ends the run, rather than
    // computing every remaining image for nothing.
    if (done) await finish(item, done.poses, done.image, done.skipped);
    context.bar.tick();
  }
}

/** An output that could not be written: the run stops (see `writeRecord`). */
class SinkError extends Error {}

/** Writes a record; a failure is marked so that the video loop does not count it as a frame. */
async function writeRecord(sink: RecordSink, record: JsonlRecord): Promise<void> {
  try {
    await sink.write(record);
  } catch (error) {
    throw new SinkError("output failed", { cause: error });
  }
}

/** One video: frames in order, tracked, each a record; a drawn .mp4 with `--draw`. */
async function processVideo(item: BatchItem, info: VideoInfo, context: Context): Promise<void> {
  const { options, result } = context;
  const file = item.fileName ?? item.path;
  const settings = options.video ?? {};
  const pipeline = await context.pipeline();
  let writer: VideoWriter | undefined;
  let drawError: unknown;
  result.videos++;
  try {
    if (options.drawDir) {
      try {
        const every = Math.max(1, settings.every ?? 1);
        writer = await VideoWriter.open(
          join(options.drawDir, uniqueName(drawingStem(item.path), context.drawnNames, "mp4")),
          {
            width: info.width,
            height: info.height,
            fps: every === 1 ? info.frameRate : info.fps / every,
          },
        );
      } catch (error) {
        drawError = error;
      }
    }
    const frames = videoPoses(pipeline, item.path, {
      every: settings.every,
      track: settings.track,
      smooth: settings.smooth,
      detectEvery: settings.detectEvery,
      info,
    });
    for await (const { frame, poses } of frames) {
      const key = recordKey({ file, frame: frame.index });
      if (options.done?.has(key)) result.skipped++;
      else {
        await writeRecord(
          options.sink,
          jsonlRecordForFrame(
            file,
            frame.index,
            frame.index,
            frame.time,
            poses,
            poses.map((p) => p.trackId),
          ),
        );
        result.frames++;
        result.people += poses.length;
      }
      if (writer && drawError === undefined) {
        try {
          await writer.write(drawPoses(frame.image, poses, drawOptions(context, pipeline)));
        } catch (error) {
          drawError = error;
        }
      }
      context.bar.tick();
    }
    if (writer && drawError === undefined) await writer.close();
  } catch (error) {
    if (error instanceof SinkError) throw error.cause;
    context.report(result.failures, item.path, error);
    // Frames drawn before the error are still a valid, shorter video; none is no video.
    if (writer && drawError === undefined) {
      if (writer.framesWritten > 0) await writer.close().catch((e) => (drawError = e));
      else await writer.abort().catch(() => {});
    }
  } finally {
    if (writer && drawError !== undefined) await writer.abort().catch(() => {});
  }
  if (drawError !== undefined) context.report(result.drawFailures, item.path, drawError);
}

function drawOptions(context: Context, pipeline: PosePipeline | undefined): DrawOptions {
  const style = context.options.draw ?? {};
  return {
    skeleton: pipeline?.pose.manifest.skeleton ?? context.options.pool?.loaded.skeleton,
    keypointThreshold: style.keypointThreshold,
    keypointRadius: style.keypointRadius,
    lineWidth: style.lineWidth,
    ...(style.boxes === false ? { boxColor: null } : {}),
    ...(style.labels
      ? {
        label: (pose: VideoPose) =>
          `${pose.trackId === undefined ? "" : `#${pose.trackId} `}${pose.score.toFixed(2)}`,
      }
      : {}),
  };
}

/** Draws one still image and writes it as `<name>.jpg`; errors name the drawing. */
async function drawImage(
  context: Context,
  input: string,
  image: RgbImage,
  poses: Pose[],
): Promise<void> {
  const pipeline = context.options.pool ? undefined : await context.pipeline();
  const style = drawOptions(context, pipeline);
  const drawn = drawPoses(image, poses, style);
  const target = join(
    context.options.drawDir!,
    uniqueName(drawingStem(input), context.drawnNames, "jpg"),
  );
  try {
    await writeFileAtomic(target, await encodeJpeg(drawn, 90));
  } catch (error) {
    throw new Error(`cannot write the drawing ${target}: ${(error as Error).message}`);
  }
}

/** The name a drawing is saved under, without extension: `stdin` for `-`, a URL's file name. */
function drawingStem(input: string): string {
  if (input === STDIN_INPUT) return "stdin";
  let name = basename(input);
  if (/^[a-z]+:\/\//i.test(input)) {
    try {
      name = basename(new URL(input).pathname) || "stream";
    } catch {
      name = "stream";
    }
  }
  return name.replace(/\.[^.]*$/, "") || name;
}

/**
 * `<stem>.<ext>`, or `<stem>-2.<ext>`, … when an earlier input of the run took that name
 * (a.png beside a.jpg, or the same name in two folders), so no drawing overwrites another.
 */
function uniqueName(stem: string, taken: Set<string>, extension: string): string {
  let name = `${stem}.${extension}`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}-${n}.${extension}`;
  taken.add(name.toLowerCase());
  return name;
}
