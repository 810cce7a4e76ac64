/**
 * Person tracking across video frames: each frame's poses are matched to the live tracks by
 * an optimal assignment on pose similarity (OKS or box IoU), so each person keeps a track id.
 *
 * A track that finds no match survives `maxMissed` frames (occlusion, a missed detection),
 * compared by its last seen pose; unmatched poses start new tracks with increasing ids from 1.
 * Optional One-Euro smoothing runs per keypoint per track; its state dies with the track.
 */

import { COCO_KEYPOINT_SIGMAS } from "../coco/keypoints.ts";
import { hungarian } from "../math/hungarian.ts";
import { boxIou } from "../geometry/nms.ts";
import type { Box, Pose } from "../types.ts";
import { KeypointOneEuroFilter, type OneEuroOptions } from "./one_euro.ts";

/** A pose with the id of the track (person) it belongs to. */
export interface TrackedPose extends Pose {
  /** Stable person id, from 1. */
  trackId: number;
}

/** A live track's box, for running keypoints on tracked boxes between detector runs. */
export interface TrackedBox {
  /** The track's id. */
  trackId: number;
  /** Where to look for the person next. */
  box: Box;
}

/** Options of `PoseTracker`. */
export interface PoseTrackerOptions {
  /** How a pose is compared with a track's last pose; default "oks". */
  similarity?: "oks" | "iou";
  /** Least similarity (OKS or IoU, 0–1) for a pose to continue a track; default 0.3. */
  minSimilarity?: number;
  /** Frames a track may go unmatched before it ends; default 5. */
  maxMissed?: number;
  /** Keypoints scoring at most this are ignored by OKS; default 0.3. */
  keypointThreshold?: number;
  /** Per-keypoint OKS sigmas; default COCO's 17. */
  sigmas?: ArrayLike<number>;
  /** One-Euro smoothing of keypoint x, y: `true` for the defaults, or its parameters. */
  smooth?: boolean | OneEuroOptions;
  /** Frame rate assumed for `update` calls without a time; default 30. */
  fps?: number;
}

/** Options of `PoseTracker.boxesFromTracks`. */
export interface TrackBoxOptions {
  /**
   * Scale factor for a box around the track's confident keypoints (rtmlib's way of predicting
   * the next crop); undefined keeps the last box as is.
   */
  keypointBoxScale?: number;
  /** Keypoints scoring at most this are left out of the keypoint box; default 0.3. */
  keypointThreshold?: number;
}

interface Track {
  id: number;
  /** The last matched pose, unsmoothed: matching compares raw detections. */
  pose: Pose;
  /** Frames since the last match. */
  missed: number;
  filter?: KeypointOneEuroFilter;
}

function boxArea(box: Box): number {
  return Math.max(0, box.x2 - box.x1) * Math.max(0, box.y2 - box.y1);
}

/**
 * Object keypoint similarity of two poses (COCO's formula, area = mean of the two box
 * areas), over keypoints confident in both; no such keypoint gives 0.
 */
export function poseOks(
  a: Pose,
  b: Pose,
  sigmas: ArrayLike<number> = COCO_KEYPOINT_SIGMAS,
  keypointThreshold = 0.3,
): number {
  const k = a.keypoints.length / 3;
  if (b.keypoints.length !== a.keypoints.length) {
    throw new RangeError(`poseOks: ${k} and ${b.keypoints.length / 3} keypoints`);
  }
  if (sigmas.length < k) {
    throw new RangeError(`poseOks: ${sigmas.length} sigmas for ${k} keypoints`);
  }
  const area = (boxArea(a.box) + boxArea(b.box)) / 2 + Number.EPSILON;
  let sum = 0;
  let count = 0;
  for (let j = 0; j < k; j++) {
    if (
      !(a.keypoints[3 * j + 2] > keypointThreshold && b.keypoints[3 * j + 2] > keypointThreshold)
    ) {
      continue;
    }
    const dx = a.keypoints[3 * j] - b.keypoints[3 * j];
    const dy = a.keypoints[3 * j + 1] - b.keypoints[3 * j + 1];
    sum += Math.exp(-(dx * dx + dy * dy) / ((2 * sigmas[j]) ** 2 * area * 2));
    count++;
  }
  return count > 0 ? sum / count : 0;
}

/** IoU of two pose boxes. */
function poseBoxIou(a: Pose, b: Pose): number {
  return boxIou(
    [a.box.x1, a.box.y1, a.box.x2, a.box.y2, b.box.x1, b.box.y1, b.box.x2, b.box.y2],
    0,
    1,
  );
}

/**
 * Assigns person track ids frame by frame. One tracker per video.
 *
 * @example Two people keep their ids
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Pose, PoseTracker } from "@posekit/posekit";
 *
 * // A standing person whose left edge is at x.
 * const person = (x: number): Pose => {
 *   const keypoints = new Float32Array(17 * 3);
 *   for (let k = 0; k < 17; k++) keypoints.set([x + k, 50 + 2 * k, 0.9], 3 * k);
 *   return { box: { x1: x, y1: 40, x2: x + 30, y2: 100, score: 0.9 }, keypoints, score: 0.9 };
 * };
 * const tracker = new PoseTracker();
 * assert.deepEqual(tracker.update([person(10), person(200)]).map((p) => p.trackId), [1, 2]);
 * // Next frame: both moved 2 px, and the detector listed them the other way round.
 * const next = tracker.update([person(202), person(12)]);
 * assert.deepEqual(next.map((p) => [p.trackId, p.box.x1]), [[2, 202], [1, 12]]);
 * ```
 */
export class PoseTracker {
  /** How a pose is compared with a track's last pose. */
  readonly similarity: "oks" | "iou";
  /** Least similarity for a pose to continue a track. */
  readonly minSimilarity: number;
  /** Frames a track may go unmatched before it ends. */
  readonly maxMissed: number;
  /** Keypoints scoring at most this are ignored by OKS. */
  readonly keypointThreshold: number;
  /** Per-keypoint OKS sigmas. */
  readonly sigmas: ArrayLike<number>;
  /** One-Euro parameters, when smoothing is on. */
  readonly smoothing?: OneEuroOptions;
  /** Frame rate assumed for `update` calls without a time. */
  readonly fps: number;
  #tracks: Track[] = [];
  #nextId = 1;
  #updates = 0;

  /** A tracker with no tracks yet; see `PoseTrackerOptions` for the defaults. */
  constructor(options: PoseTrackerOptions = {}) {
    this.similarity = options.similarity ?? "oks";
    this.minSimilarity = options.minSimilarity ?? 0.3;
    this.maxMissed = options.maxMissed ?? 5;
    this.keypointThreshold = options.keypointThreshold ?? 0.3;
    this.sigmas = options.sigmas ?? COCO_KEYPOINT_SIGMAS;
    this.fps = options.fps ?? 30;
    const { smooth } = options;
    this.smoothing = smooth === true ? {} : smooth || undefined;
    if (!(this.minSimilarity > 0 && this.minSimilarity <= 1)) {
      throw new RangeError(`minSimilarity must be in (0, 1], got ${this.minSimilarity}`);
    }
    if (!(Number.isInteger(this.maxMissed) && this.maxMissed >= 0)) {
      throw new RangeError(`maxMissed must be a whole number ≥ 0, got ${this.maxMissed}`);
    }
    if (!(this.fps > 0)) throw new RangeError(`fps must be > 0, got ${this.fps}`);
  }

  /** Tracks alive now (seen within the last `maxMissed` frames). */
  get liveTrackCount(): number {
    return this.#tracks.length;
  }

  #similarityOf(a: Pose, b: Pose): number {
    return this.similarity === "oks"
      ? poseOks(a, b, this.sigmas, this.keypointThreshold)
      : poseBoxIou(a, b);
  }

  /**
   * Gives each pose of the next frame a track id (same order as `poses`); with smoothing,
   * keypoints are the filtered ones.
   *
   * @param time the frame's time in seconds; default frame number / `fps`
   */
  update(poses: readonly Pose[], time?: number): TrackedPose[] {
    const t = time ?? this.#updates / this.fps;
    this.#updates++;
    const rows = poses.length;
    const tracks = this.#tracks;
    const m = tracks.length;
    const cols = m + rows;
    // Each pose may take a track or its own "new track" column (cost 1); pairs below the gate
    // cost more than that, so the assignment never uses them.
    const cost = new Float64Array(rows * cols);
    const similarity = new Float64Array(rows * m);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < m; j++) {
        const s = this.#similarityOf(tracks[j].pose, poses[i]);
        similarity[i * m + j] = s;
        cost[i * cols + j] = s >= this.minSimilarity ? 1 - s : 2;
      }
      for (let j = m; j < cols; j++) cost[i * cols + j] = j - m === i ? 1 : 2;
    }
    const assignment = hungarian(cost, rows, cols);

    const matched = new Uint8Array(m);
    const out: TrackedPose[] = [];
    for (let i = 0; i < rows; i++) {
      const pose = poses[i];
      const j = assignment[i];
      let track: Track;
      if (j < m && similarity[i * m + j] >= this.minSimilarity) {
        track = tracks[j];
        track.pose = pose;
        track.missed = 0;
        matched[j] = 1;
      } else {
        track = {
          id: this.#nextId++,
          pose,
          missed: 0,
          filter: this.smoothing ? new KeypointOneEuroFilter(this.smoothing) : undefined,
        };
        tracks.push(track);
      }
      const keypoints = track.filter ? track.filter.filter(pose.keypoints, t) : pose.keypoints;
      out.push({ ...pose, keypoints, trackId: track.id });
    }
    const survivors: Track[] = [];
    for (let j = 0; j < tracks.length; j++) {
      if (j < m && !matched[j]) tracks[j].missed++;
      if (tracks[j].missed <= this.maxMissed) survivors.push(tracks[j]);
    }
    this.#tracks = survivors;
    return out;
  }

  /**
   * The boxes of the tracks matched in the last `update`, to run keypoints on between
   * detector runs ("detect every k frames"). Tracks that missed the last frame are left out:
   * a stale box would keep producing a pose, and so keep a lost track alive.
   */
  boxesFromTracks(options: TrackBoxOptions = {}): TrackedBox[] {
    const threshold = options.keypointThreshold ?? 0.3;
    const scale = options.keypointBoxScale;
    return this.#tracks.filter((track) => track.missed === 0).map((track) => {
      const { box, keypoints } = track.pose;
      if (scale === undefined) return { trackId: track.id, box: { ...box } };
      let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity, count = 0;
      for (let j = 0; j < keypoints.length / 3; j++) {
        if (!(keypoints[3 * j + 2] > threshold)) continue;
        x1 = Math.min(x1, keypoints[3 * j]);
        y1 = Math.min(y1, keypoints[3 * j + 1]);
        x2 = Math.max(x2, keypoints[3 * j]);
        y2 = Math.max(y2, keypoints[3 * j + 1]);
        count++;
      }
      if (count < 2 || x2 <= x1 || y2 <= y1) return { trackId: track.id, box: { ...box } };
      const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
      const hw = (x2 - x1) * scale / 2, hh = (y2 - y1) * scale / 2;
      return {
        trackId: track.id,
        box: { x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh, score: box.score },
      };
    });
  }
}
