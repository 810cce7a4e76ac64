/**
 * Poses for every frame of a video, with track ids: frames from ffmpeg (`lib/video/read.ts`)
 * → the pose pipeline → the tracker (`lib/track/tracker.ts`, optionally One-Euro smoothed).
 * The library form of `predict` on a video; memory stays bounded by a few frames.
 */

import { basename } from "node:path";
import type { BoxSource, PosePipeline } from "./pipeline.ts";
import type { OneEuroOptions } from "./track/one_euro.ts";
import { PoseTracker, type PoseTrackerOptions } from "./track/tracker.ts";
import type { Box, Pose } from "./types.ts";
import { readVideoFrames, type VideoFrame } from "./deno/video/read.ts";
import type { VideoInfo } from "./deno/video/probe.ts";

/** A pose in a video frame; `trackId` is set unless tracking is off. */
export interface VideoPose extends Pose {
  /** The person's track id, from 1. */
  trackId?: number;
}

/** One frame's poses. */
export interface FramePoses {
  /** The decoded frame: its 0-based index in the video, time in seconds, and pixels. */
  frame: VideoFrame;
  /** The people in the frame, best first. */
  poses: VideoPose[];
  /** False when the detector was skipped and tracked boxes were used (`detectEvery`). */
  detected: boolean;
}

/** How `videoPoses` runs. */
export interface VideoPoseOptions {
  /** Keep every N-th frame (default 1: all). */
  every?: number;
  /** Give each person a track id across frames (default true). */
  track?: boolean;
  /** Tracker settings (similarity, gate, frames a track survives unmatched). */
  tracker?: Omit<PoseTrackerOptions, "smooth">;
  /** One-Euro smoothing of each track's keypoints: `true` for the defaults, or parameters. */
  smooth?: boolean | OneEuroOptions;
  /**
   * Run the detector on every k-th processed frame only, and in between crop the boxes of
   * the tracks matched on the previous frame (rtmlib's PoseTracker); default 1 (always).
   * Needs tracking; ignored for end-to-end models.
   */
  detectEvery?: number;
  /** What ffprobe said of the video, when already known. */
  info?: VideoInfo;
  /** Stops decoding (and kills ffmpeg) when aborted. */
  signal?: AbortSignal;
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
export async function* videoPoses(
  pipeline: PosePipeline,
  source: string,
  options: VideoPoseOptions = {},
): AsyncGenerator<FramePoses> {
  const track = options.track ?? true;
  const tracker = track
    ? new PoseTracker({ ...options.tracker, smooth: options.smooth })
    : undefined;
  const detectEvery = Math.max(1, Math.floor(options.detectEvery ?? 1));
  let processed = 0;
  for await (
    const frame of readVideoFrames(source, {
      every: options.every,
      info: options.info,
      signal: options.signal,
    })
  ) {
    let boxes: BoxSource = "detector";
    if (tracker && pipeline.needsBoxes && processed % detectEvery !== 0) {
      const tracked: Box[] = tracker.boxesFromTracks({ keypointBoxScale: 1.25 })
        .map((t) => t.box);
      if (tracked.length > 0) boxes = tracked;
    }
    processed++;
    let poses: Pose[];
    try {
      poses = await pipeline.run(frame.image, boxes);
    } catch (error) {
      throw new Error(
        `${basename(source)} frame ${frame.index}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    yield {
      frame,
      poses: tracker ? tracker.update(poses, frame.time) : poses,
      detected: boxes === "detector",
    };
  }
}
