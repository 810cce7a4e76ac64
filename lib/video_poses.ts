/**
 * Poses for every frame of a video, with track ids: frames (from ffmpeg in Deno,
 * `lib/deno/video/`; from a <video> element or a camera in a page) → the pose pipeline → the
 * tracker (`lib/track/tracker.ts`, optionally One-Euro smoothed). Memory stays bounded by a
 * few frames.
 */

import { baseName as basename } from "./util/paths.ts";
import type { BoxSource, PosePipeline } from "./pipeline.ts";
import type { OneEuroOptions } from "./track/one_euro.ts";
import { DEFAULT_HIGH_SCORE, PoseTracker, type PoseTrackerOptions } from "./track/tracker.ts";
import { iouAt } from "./track/pose_match.ts";
import type { Box, Pose } from "./types.ts";
import type { VideoFrame } from "./video/frame.ts";

/**
 * What `framePoses` asks of a pipeline: a `PosePipeline`, or a stand-in that runs one
 * elsewhere (the page runs its pipeline in a worker, off the thread that draws).
 */
export type FramePipeline = Pick<
  PosePipeline,
  "scoreThreshold" | "needsBoxes" | "detect" | "run" | "keypointsFor"
>;

/** A pose in a video frame; `trackId` is set unless tracking is off. */
export interface VideoPose extends Pose {
  /** The person's track id, from 1. */
  trackId?: number;
}

/** One frame's poses. */
export interface FramePoses {
  /** The decoded frame: its 0-based index in the video, time in seconds, and pixels. */
  frame: VideoFrame;
  /**
   * The people in the frame, best first; with tracking, the people found only by a weak box
   * (see `weakBoxScore`) follow, unranked.
   */
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
  /**
   * ByteTrack's second stage for a top-down pipeline: detector boxes scoring from this up to
   * the pipeline's threshold get a pose too, when they overlap the box of a person tracked on
   * the last frame (IoU ≥ 0.5), and can then only continue that person's track (the tracker's
   * `highScore` defaults to the pipeline's threshold where that is higher than its own). Such
   * a box costs a keypoint run, so only boxes near tracks get one. Default 0.2; the
   * pipeline's threshold or more turns it off. Needs tracking and a detector.
   */
  weakBoxScore?: number;
}

/** The default of `FramePoseOptions.weakBoxScore`. */
export const DEFAULT_WEAK_BOX_SCORE = 0.2;

/** Least IoU of a weak detector box with a tracked person's last box for it to get a pose. */
const WEAK_BOX_IOU = 0.5;

/**
 * The boxes of `boxes` scoring under `threshold` that overlap one of `tracked` (IoU ≥ 0.5):
 * ByteTrack's low-score detections, worth a keypoint run because they can continue a track.
 */
export function weakBoxesNear(
  boxes: readonly Box[],
  threshold: number,
  tracked: readonly Box[],
): Box[] {
  const trackedCorners = tracked.flatMap((b) => [b.x1, b.y1, b.x2, b.y2]);
  return boxes.filter((box) => {
    if (!(box.score < threshold)) return false;
    const corners = [box.x1, box.y1, box.x2, box.y2];
    return tracked.some((_, j) => iouAt(corners, 0, trackedCorners, j) >= WEAK_BOX_IOU);
  });
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
  pipeline: FramePipeline,
  frames: AsyncIterable<VideoFrame>,
  source: string,
  options: FramePoseOptions = {},
): AsyncGenerator<FramePoses> {
  const track = options.track ?? true;
  // What the user's detector threshold lets through starts tracks, at the least: a higher
  // threshold than the tracker's own makes all it keeps confident, and what it drops weak.
  const tracker = track
    ? new PoseTracker({
      highScore: Math.max(DEFAULT_HIGH_SCORE, pipeline.scoreThreshold),
      ...options.tracker,
      smooth: options.smooth,
    })
    : undefined;
  const detectEvery = options.detectEvery ?? 1;
  if (!(Number.isInteger(detectEvery) && detectEvery >= 1)) {
    throw new RangeError(`detectEvery must be a whole number ≥ 1, got ${options.detectEvery}`);
  }
  const weakBoxScore = options.weakBoxScore ?? DEFAULT_WEAK_BOX_SCORE;
  if (!(weakBoxScore >= 0 && weakBoxScore <= 1)) {
    throw new RangeError(`weakBoxScore must be a score in [0, 1], got ${weakBoxScore}`);
  }
  let processed = 0;
  for await (const frame of frames) {
    let boxes: BoxSource = "detector";
    let detected = true;
    if (tracker && pipeline.needsBoxes && processed % detectEvery !== 0) {
      const trackBoxes: Box[] = tracker.boxesFromTracks({ keypointBoxScale: 1.25 })
        .map((t) => t.box);
      if (trackBoxes.length > 0) [boxes, detected] = [trackBoxes, false];
    }
    processed++;
    let poses: Pose[];
    try {
      // Weak: below the user's threshold, and below what the tracker takes as confident (a
      // `tracker.highScore` set lower than the threshold: a box in between would start tracks
      // the user's threshold excludes).
      const weakBelow = tracker ? Math.min(pipeline.scoreThreshold, tracker.highScore) : 0;
      const lastTracked = tracker && pipeline.needsBoxes && boxes === "detector" &&
          weakBoxScore < weakBelow
        ? tracker.boxesFromTracks().map((t) => t.box)
        : [];
      if (lastTracked.length > 0) {
        // The confident boxes give the poses the pipeline alone gives; the weak ones near
        // tracks add theirs after (the keypoint stage alone: they take no part in the
        // pipeline's own OKS-NMS, so they never displace a confident person).
        const found = await pipeline.detect(frame.image, weakBoxScore);
        const confident = found.filter((box) => box.score >= pipeline.scoreThreshold);
        const weak = weakBoxesNear(found, weakBelow, lastTracked);
        poses = await pipeline.run(frame.image, confident);
        if (weak.length > 0) poses = poses.concat(await pipeline.keypointsFor(frame.image, weak));
      } else poses = await pipeline.run(frame.image, boxes);
    } catch (error) {
      throw new Error(
        `${basename(source)} frame ${frame.index}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    yield {
      frame,
      poses: tracker ? tracker.update(poses, frame.time, frame.image) : poses,
      detected,
    };
  }
}
