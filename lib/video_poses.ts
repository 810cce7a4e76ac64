/**
 * Poses for every frame of a video, with track ids: frames (from ffmpeg in Deno,
 * `lib/deno/video/`; from a <video> element or a camera in a page) → the pose pipeline → the
 * tracker (`lib/track/tracker.ts`, optionally One-Euro smoothed). Memory stays bounded by a
 * few frames.
 */

import { baseName as basename } from "./util/paths.ts";
import type { BoxSource, PosePipeline } from "./pipeline.ts";
import type { OneEuroOptions } from "./track/one_euro.ts";
import { PoseTracker, type PoseTrackerOptions } from "./track/tracker.ts";
import type { Box, Pose } from "./types.ts";
import type { VideoFrame } from "./video/frame.ts";

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

/** How `framePoses` runs. */
export interface FramePoseOptions {
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
}

/**
 * Poses for each of `frames`, in order, with track ids (unless `track` is false). `source`
 * names the video in errors ("clip.mp4 frame 12: …"). Deno's `videoPoses` feeds it the
 * frames of a file, URL or device; a page feeds it camera frames.
 *
 * @example Camera frames in a page
 * ```ts ignore
 * import { framePoses, type PosePipeline, type VideoFrame } from "@posekit/posekit/core";
 *
 * declare const pipeline: PosePipeline;
 * declare const frames: AsyncIterable<VideoFrame>; // drawn from a <video> into a canvas
 * for await (const { frame, poses } of framePoses(pipeline, frames, "camera")) {
 *   console.log(frame.index, poses.map((p) => p.trackId));
 * }
 * ```
 */
export async function* framePoses(
  pipeline: PosePipeline,
  frames: AsyncIterable<VideoFrame>,
  source: string,
  options: FramePoseOptions = {},
): AsyncGenerator<FramePoses> {
  const track = options.track ?? true;
  const tracker = track
    ? new PoseTracker({ ...options.tracker, smooth: options.smooth })
    : undefined;
  const detectEvery = Math.max(1, Math.floor(options.detectEvery ?? 1));
  let processed = 0;
  for await (const frame of frames) {
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
      poses: tracker ? tracker.update(poses, frame.time, frame.image) : poses,
      detected: boxes === "detector",
    };
  }
}
