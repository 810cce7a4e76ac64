/** One video of a batch: frames in order, tracked, each a record; a drawn .mp4 with `--draw`. */

import { join } from "node:path";
import type { VideoInfo } from "../lib/deno/video/probe.ts";
import { videoPoses } from "../lib/deno/video/poses.ts";
import { droppedFrames } from "../lib/deno/video/live.ts";
import { printErr } from "./progress.ts";
import { VideoWriter } from "../lib/deno/video/write.ts";
import { drawPoses } from "../lib/image/draw.ts";
import { type JsonlRecord, jsonlRecordForFrame, recordKey } from "../lib/output/jsonl.ts";
import type { BatchContext, BatchItem, RecordSink } from "./batch_context.ts";
import { drawOptions } from "./drawings.ts";

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
export async function processVideo(
  item: BatchItem,
  info: VideoInfo | undefined,
  context: BatchContext,
): Promise<void> {
  const { options, result } = context;
  const file = item.fileName ?? item.path;
  const settings = options.video ?? {};
  const pipeline = await context.pipeline();
  let writer: VideoWriter | undefined;
  let drawError: unknown;
  const liveCounts = { decoded: 0, delivered: 0 };
  result.videos++;
  try {
    // A live source has no probe (and no fixed rate): `--live` with `--draw` is refused.
    if (options.drawDir && info) {
      try {
        const every = Math.max(1, settings.every ?? 1);
        writer = await VideoWriter.open(
          join(options.drawDir, context.drawingNames.get(item.path)!),
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
      maxPixels: options.decode?.maxPixels,
      timeoutMs: options.read?.timeoutMs,
      live: settings.live,
      liveCounts,
    });
    for await (const { frame, poses } of frames) {
      const key = recordKey({ file, frame: frame.index }, options.keyBase);
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
    if (settings.live && liveCounts.delivered === 0) {
      // ffmpeg's low-delay input reads no frame of an MP4 file: a run of no results is a
      // failure, not a success.
      throw new Error(
        "--live got no frame from it: --live is for cameras and live streams (a video file is " +
          "read whole without it)",
      );
    }
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
  if (settings.live) {
    const dropped = droppedFrames(liveCounts);
    result.droppedFrames += dropped;
    context.bar.clear();
    printErr(
      `posekit: ${item.path}: ${liveCounts.delivered} frames processed, ${dropped} dropped ` +
        `(--live takes the newest frame each time)\n`,
    );
  }
}
