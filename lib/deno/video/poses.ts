/**
 * Poses for every frame of a video file, URL or device, with track ids: frames from ffmpeg
 * (`read.ts`) through `framePoses`.
 */

import { type FramePoseOptions, type FramePoses, framePoses } from "../../video_poses.ts";
import type { PosePipeline } from "../../pipeline.ts";
import type { VideoInfo } from "../../video/frame.ts";
import { readVideoFrames } from "./read.ts";
import { type LiveCounts, readLiveFrames } from "./live.ts";

/** How `videoPoses` runs. */
export interface VideoPoseOptions extends FramePoseOptions {
  /** Keep every N-th frame (default 1: all). */
  every?: number;
  /** What ffprobe said of the video, when already known. */
  info?: VideoInfo;
  /** Stops decoding (and kills ffmpeg) when aborted. */
  signal?: AbortSignal;
  /** Refuse frames above this many pixels (see `readVideoFrames`). */
  maxPixels?: number;
  /** Milliseconds a URL may stay silent (see `readVideoFrames`). */
  timeoutMs?: number;
  /**
   * A live source (camera, stream): take the newest frame each time the pipeline is free and
   * drop the ones in between, so latency stays bounded whatever the model's speed
   * (`readLiveFrames`); `every` and `info` do not apply. `liveCounts`, when given, is kept up
   * to date with the frames decoded and delivered (their difference was dropped).
   */
  live?: boolean;
  /** Filled in with a live read's counts (see `live`). */
  liveCounts?: LiveCounts;
}

/**
 * Poses for each kept frame of `source` (a video file, an ffmpeg-readable URL or device),
 * in frame order. Throws `VideoError` (naming the source) when the video cannot be read;
 * frames decoded before a truncation are yielded first.
 *
 * @example
 * ```ts ignore
 * import { PosePipeline, videoPoses } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create();
 * for await (const { frame, poses } of videoPoses(pipeline, "clip.mp4", { smooth: true })) {
 *   console.log(frame.index, poses.map((p) => p.trackId));
 * }
 * ```
 */
export function videoPoses(
  pipeline: PosePipeline,
  source: string,
  options: VideoPoseOptions = {},
): AsyncGenerator<FramePoses> {
  const frames = options.live
    ? readLiveFrames(source, options.liveCounts, {
      signal: options.signal,
      maxPixels: options.maxPixels,
      timeoutMs: options.timeoutMs,
    })
    : readVideoFrames(source, {
      every: options.every,
      info: options.info,
      signal: options.signal,
      maxPixels: options.maxPixels,
      timeoutMs: options.timeoutMs,
    });
  return framePoses(pipeline, frames, source, options);
}
