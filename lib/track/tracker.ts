/**
 * Person tracking across video frames: each person keeps one id through camera pans and
 * zooms, crowds, missed detections and short disappearances.
 *
 * Each frame:
 * 0. The detections that are no pose to track are set aside: fewer than `minKeypoints`
 *    confident keypoints (a car, a bag), or a second detection of a person already found
 *    (their poses agree, OKS ≥ `duplicateOks`; the one with the better pose score stays, as
 *    in the OKS-NMS of top-down pose tools: DETR-style detectors find one person as a whole
 *    box and a half box at once). A box on the frame's edge is kept whatever its keypoints,
 *    as a sliver: what is still in view of someone leaving, which only continues a track.
 * 1. Every track's box is predicted by its Kalman filter (`kalman.ts`; velocity = the
 *    person's own motion).
 * 2. The camera's motion since the last frame (pan and zoom) is estimated from the people
 *    (`camera_motion.ts`) and applied to every prediction and remembered pose, so a pan does
 *    not look like everyone moving at once (BoT-SORT's camera-motion compensation).
 * 3. Detections are matched to tracks in ByteTrack's order: confident detections to all
 *    tracks with ids (optimal assignment on ½ predicted-box IoU + ½ OKS with the predicted
 *    pose, which tells apart neighbours whose boxes overlap); then less confident ones to the
 *    tracks still unmatched (box IoU ≥ 0.5: a weak detection only continues a track, and
 *    leaves its Kalman filter as predicted; a sliver, IoU ≥ 0.5 with the box cut to the
 *    frame);
 *    then people seen again to tracks lost a while ago (position predicted with the camera,
 *    size, and the pose's shape); then the tentative tracks, confident detections first,
 *    then weak ones (box IoU ≥ 0.5), which keep a new person's track but do not count as
 *    seeing them.
 * 4. One person never holds two tracks: a detection nested in another matched person's box
 *    whose keypoints agree with that person's (the head-only box of someone whose whole body
 *    was found too) is dropped, and never starts a track.
 * 5. Other confident detections start tentative tracks, unless their box holds another
 *    detection and their confident keypoints span less than `MIN_KEYPOINT_COVER` of it (a
 *    box around several people, of whom the pose found one), or the box is smaller than
 *    `minBoxArea` away from the frame's edges (too few pixels for a pose). A tentative
 *    track gets an id once it was found confidently on `minHits` frames, with no frame
 *    missed in between (on the first frame at once), so a detection that flickers for a
 *    frame or two uses no id, and someone whose box score hovers around `highScore` still
 *    gets one; when it does, a lost track it matches gives back its old id.
 * A track with an id that finds no match is kept `maxMissed` frames, predicted and moved
 * with the camera, to be found again. With the frame's size known, a box cut by the frame's
 * edge keeps its predicted extent beyond that edge, so that a person who leaves the view is
 * remembered at full size and found again as they come back.
 *
 * `update` returns the poses that belong to a track with an id (in input order); the others
 * (tentative, duplicates, weak detections and slivers that continue no track) are left out.
 * A pose that continues a track seen last frame only weakly or as a sliver, or as a part of
 * the person (a head box) while a larger box of them was found too, is returned with the
 * track's predicted box, cut to the frame: where the person is, rather than the detector's
 * unsure or partial guess, as SORT-style trackers report the filter's box. A confident part
 * found alone is returned as found: the rest of the person may be covered.
 * Optional One-Euro smoothing runs per keypoint per track; its state dies with the track.
 */

import { COCO_KEYPOINT_SIGMAS } from "../coco/keypoints.ts";
import { hungarian } from "../math/hungarian.ts";
import type { Box, Pose } from "../types.ts";
import { type CameraMotion, estimateCameraMotion, NO_MOTION } from "./camera_motion.ts";
import {
  kalmanBox,
  kalmanInit,
  kalmanPredict,
  kalmanStop,
  kalmanUpdate,
  kalmanWarp,
} from "./kalman.ts";
import { KeypointOneEuroFilter, type OneEuroOptions } from "./one_euro.ts";
import {
  confidentKeypointBox,
  confidentKeypointCount,
  iouAt,
  keypointCover,
  keypointSimilarity,
  nestedShare,
} from "./pose_match.ts";

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

/** The frame's size, when known: lets a track that left the frame be found as it comes back. */
export interface FrameSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options of `PoseTracker`. */
export interface PoseTrackerOptions {
  /** Least similarity (½ IoU + ½ OKS, 0–1) for a detection to continue a track; default 0.3. */
  minSimilarity?: number;
  /** Frames a track with an id is kept unmatched, to be found again; default 60. */
  maxMissed?: number;
  /**
   * Frames a new person must be found confidently, with no frame missed in between, before
   * getting an id; default 3.
   */
  minHits?: number;
  /** Detector box score from which a detection is confident (starts tracks); default 0.35. */
  highScore?: number;
  /** Keypoints scoring at most this are ignored by OKS; default 0.3. */
  keypointThreshold?: number;
  /**
   * Least confident keypoints for a detection to be tracked at all; default 4 (0: any). With
   * the frame's size known, a box on its edge with fewer still continues a track seen on the
   * last frame (someone leaving the view, of whom a sliver is left), but starts none.
   */
  minKeypoints?: number;
  /**
   * Least box area, in square pixels, for a new person to start a track; default 32² = 1024
   * (the area under which COCO calls an object small, applied to the box: a pose read from
   * fewer pixels is mostly guesswork, and a detector's false people, a stone or a sign, are
   * often that small). A box at the edge of a frame of known size is exempt: someone coming
   * into view. 0: any size. A person being tracked keeps their id at any size, and a lost
   * one found again where the track expects them gets it back; found small elsewhere, they
   * wait until their box is large enough.
   */
  minBoxArea?: number;
  /**
   * OKS from which two detections of one frame are one person, the lesser pose dropped;
   * default 0.7 (1 or more: never).
   */
  duplicateOks?: number;
  /** Per-keypoint OKS sigmas; default COCO's 17. */
  sigmas?: ArrayLike<number>;
  /** Estimate and follow the camera's pan and zoom (default true). */
  cameraMotion?: boolean;
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
  /** Id shown to the user; 0 while tentative. */
  id: number;
  /** Kalman state of the box (see kalman.ts). */
  state: Float64Array;
  /** The last matched pose, as detected (boxesFromTracks returns its box). */
  pose: Pose;
  /** The last matched keypoints and their (Kalman) box, moved with the camera since. */
  keypoints: Float32Array;
  keypointBox: Float64Array;
  /** The last matched detection's box, moved with the camera since. */
  seenBox: Float64Array;
  /** Frames since the last match. */
  missed: number;
  /** Frames in a row matched by weak detections only (which leave the filter as predicted). */
  unsure: number;
  /**
   * Width of the last whole confident box that neither side edge of the frame cut, and
   * height of the last that neither the top nor the bottom cut, scaled with the camera
   * since: how far a box cut by the edge may be carried out beyond it. Undefined until seen.
   */
  wholeWidth?: number;
  wholeHeight?: number;
  /**
   * Confident matches since the track was last unmatched (tentative tracks need `minHits`;
   * weak matches keep a tentative track without counting).
   */
  hits: number;
  filter?: KeypointOneEuroFilter;
}

/** The default of `PoseTrackerOptions.highScore`. */
export const DEFAULT_HIGH_SCORE = 0.35;

/** Frames a lost track keeps its velocity before it is assumed to stand still. */
const COAST_FRAMES = 5;
/** Area ratio beyond which a detection is a part of a track's person (or the whole again). */
const PARTIAL = 0.5;
/** Least share of the smaller box inside the larger for two detections to be one person. */
const NESTED = 0.7;
/** Least share of agreeing keypoints (OKS ≥ 0.5 each) for two detections to be one person. */
const AGREE = 0.6;
/**
 * Least share of its box that a detection's confident keypoints must span to start a track:
 * below it the box holds more than the person its pose found.
 */
const MIN_KEYPOINT_COVER = 0.2;
/** Pixels from the frame's edge within which a box side is taken as cut by the edge. */
const EDGE_MARGIN = 1;

/** Remembers the width and the height of `box` that no frame edge cut (see `Track`). */
function rememberWholeSize(track: Track, box: Box, frame: FrameSize): void {
  if (box.x1 > EDGE_MARGIN && box.x2 < frame.width - EDGE_MARGIN) {
    track.wholeWidth = box.x2 - box.x1;
  }
  if (box.y1 > EDGE_MARGIN && box.y2 < frame.height - EDGE_MARGIN) {
    track.wholeHeight = box.y2 - box.y1;
  }
}

/**
 * A box cut by the frame's edge, with the sides on the edge carried out towards the
 * predicted box `j` of `predicted`, no further than the person's whole width or height
 * (unknown: that side as it is). Without it the box of someone leaving the view narrows to a
 * sliver, its centre lags the camera (which the filter takes for the person's own motion),
 * and the sliver remembered is neither where nor the size the person is when they come back.
 */
function beyondEdges(
  box: Box,
  predicted: Float64Array,
  j: number,
  frame: FrameSize,
  { wholeWidth: w, wholeHeight: h }: Pick<Track, "wholeWidth" | "wholeHeight">,
): Box {
  const p = predicted.subarray(4 * j, 4 * j + 4);
  const out = { ...box };
  if (w !== undefined) {
    if (box.x1 <= EDGE_MARGIN) out.x1 = Math.min(box.x1, Math.max(p[0], box.x2 - w));
    if (box.x2 >= frame.width - EDGE_MARGIN) out.x2 = Math.max(box.x2, Math.min(p[2], box.x1 + w));
  }
  if (h !== undefined) {
    if (box.y1 <= EDGE_MARGIN) out.y1 = Math.min(box.y1, Math.max(p[1], box.y2 - h));
    if (box.y2 >= frame.height - EDGE_MARGIN) {
      out.y2 = Math.max(box.y2, Math.min(p[3], box.y1 + h));
    }
  }
  return out;
}

/** Whether a side of `box` lies on the frame's edge (the box may be cut by it). */
function touchesEdge(box: Box, frame: FrameSize): boolean {
  return box.x1 <= EDGE_MARGIN || box.y1 <= EDGE_MARGIN ||
    box.x2 >= frame.width - EDGE_MARGIN || box.y2 >= frame.height - EDGE_MARGIN;
}

/** Box `j` of packed x1, y1, x2, y2 values. */
function boxAt(boxes: Float64Array, j: number): Box {
  return {
    x1: boxes[4 * j],
    y1: boxes[4 * j + 1],
    x2: boxes[4 * j + 2],
    y2: boxes[4 * j + 3],
    score: 1,
  };
}

/** Box `j` of `predicted` with `score`, cut to the frame when its size is known. */
function predictedBoxIn(predicted: Float64Array, j: number, score: number, frame?: FrameSize): Box {
  const [x1, y1, x2, y2] = predicted.subarray(4 * j, 4 * j + 4);
  if (!frame) return { x1, y1, x2, y2, score };
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const [w, h] = [frame.width, frame.height];
  return { x1: clamp(x1, w), y1: clamp(y1, h), x2: clamp(x2, w), y2: clamp(y2, h), score };
}

/** The poses' boxes as packed x1, y1, x2, y2 values. */
function packedBoxes(poses: readonly Pose[]): Float64Array {
  const boxes = new Float64Array(4 * poses.length);
  poses.forEach((p, i) => boxes.set([p.box.x1, p.box.y1, p.box.x2, p.box.y2], 4 * i));
  return boxes;
}

/**
 * Whether a pose has a finite box of positive size and finite confident keypoints: one that
 * has not (a model's NaN, a caller's mistake) is nobody to track, and its box would spoil the
 * camera motion that all the boxes of a frame estimate together.
 */
function isWellFormed(pose: Pose, keypointThreshold: number): boolean {
  const { x1, y1, x2, y2 } = pose.box, w = x2 - x1, h = y2 - y1;
  const finite = Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(w) &&
    Number.isFinite(h);
  if (!(finite && w > 0 && h > 0)) return false;
  const k = pose.keypoints;
  for (let j = 0; j + 2 < k.length; j += 3) {
    if (k[j + 2] > keypointThreshold && !(Number.isFinite(k[j]) && Number.isFinite(k[j + 1]))) {
      return false;
    }
  }
  return true;
}

/** A copy of a pose to keep from frame to frame: a caller may reuse its arrays. */
function snapshot(pose: Pose): Pose {
  return { ...pose, box: { ...pose.box }, keypoints: pose.keypoints.slice() };
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

/** Optimal one-to-one pairs of `rows × cols` scores (higher is better) at least `min`. */
function assign(score: Float64Array, rows: number, cols: number, min: number): Int32Array {
  const match = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return match;
  // Each row may also take its own "no match" column, worth `min`: a pair below it never wins.
  const width = cols + rows;
  const cost = new Float64Array(rows * width).fill(1e6);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const s = score[i * cols + j];
      if (s >= min) cost[i * width + j] = -s;
    }
    cost[i * width + cols + i] = -min + 1e-9;
  }
  const assignment = hungarian(cost, rows, width);
  for (let i = 0; i < rows; i++) {
    const j = assignment[i];
    if (j < cols && score[i * cols + j] >= min) match[i] = j;
  }
  return match;
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
  /** Least similarity for a detection to continue a track. */
  readonly minSimilarity: number;
  /** Frames a track with an id is kept unmatched. */
  readonly maxMissed: number;
  /** Frames a new person must be found confidently, none missed between, to get an id. */
  readonly minHits: number;
  /** Detector score from which a detection is confident. */
  readonly highScore: number;
  /** Keypoints scoring at most this are ignored by OKS. */
  readonly keypointThreshold: number;
  /** Least confident keypoints for a detection to be tracked. */
  readonly minKeypoints: number;
  /** Least box area (px²) for a new person away from the frame's edges to start a track. */
  readonly minBoxArea: number;
  /** OKS from which two detections of one frame are one person. */
  readonly duplicateOks: number;
  /** Per-keypoint OKS sigmas. */
  readonly sigmas: ArrayLike<number>;
  /** Whether camera motion is estimated and followed. */
  readonly cameraMotion: boolean;
  /** One-Euro parameters, when smoothing is on. */
  readonly smoothing?: OneEuroOptions;
  /** Frame rate assumed for `update` calls without a time. */
  readonly fps: number;
  #tracks: Track[] = [];
  #nextId = 1;
  #updates = 0;
  #lastMotion: CameraMotion = NO_MOTION;

  /** A tracker with no tracks yet; see `PoseTrackerOptions` for the defaults. */
  constructor(options: PoseTrackerOptions = {}) {
    this.minSimilarity = options.minSimilarity ?? 0.3;
    this.maxMissed = options.maxMissed ?? 60;
    this.minHits = options.minHits ?? 3;
    this.highScore = options.highScore ?? DEFAULT_HIGH_SCORE;
    this.keypointThreshold = options.keypointThreshold ?? 0.3;
    this.minKeypoints = options.minKeypoints ?? 4;
    this.minBoxArea = options.minBoxArea ?? 32 * 32;
    this.duplicateOks = options.duplicateOks ?? 0.7;
    this.sigmas = options.sigmas ?? COCO_KEYPOINT_SIGMAS;
    this.cameraMotion = options.cameraMotion ?? true;
    this.fps = options.fps ?? 30;
    const { smooth } = options;
    this.smoothing = smooth === true ? {} : smooth || undefined;
    if (!(this.minSimilarity > 0 && this.minSimilarity <= 1)) {
      throw new RangeError(`minSimilarity must be in (0, 1], got ${this.minSimilarity}`);
    }
    if (!(Number.isInteger(this.maxMissed) && this.maxMissed >= 0)) {
      throw new RangeError(`maxMissed must be a whole number ≥ 0, got ${this.maxMissed}`);
    }
    if (!(Number.isInteger(this.minHits) && this.minHits >= 1)) {
      throw new RangeError(`minHits must be a whole number ≥ 1, got ${this.minHits}`);
    }
    if (!(Number.isInteger(this.minKeypoints) && this.minKeypoints >= 0)) {
      throw new RangeError(`minKeypoints must be a whole number ≥ 0, got ${this.minKeypoints}`);
    }
    if (!(this.minBoxArea >= 0 && Number.isFinite(this.minBoxArea))) {
      throw new RangeError(`minBoxArea must be a finite number ≥ 0, got ${this.minBoxArea}`);
    }
    if (!(this.duplicateOks > 0)) {
      throw new RangeError(`duplicateOks must be > 0, got ${this.duplicateOks}`);
    }
    if (!(this.fps > 0)) throw new RangeError(`fps must be > 0, got ${this.fps}`);
  }

  /** Tracks with an id kept now (seen within the last `maxMissed` frames). */
  get liveTrackCount(): number {
    return this.#tracks.filter((t) => t.id > 0).length;
  }

  /**
   * The track ids of the next frame's poses: returns the poses that belong to a person with an id,
   * in the order of `input`, each with its `trackId` (with smoothing, its keypoints are the
   * filtered ones; a weak or sliver match of a track seen last frame, or a partial one with a
   * larger box of the person found too, has the track's predicted box). Poses left out are
   * tentative (a new person not yet found on `minHits` frames), duplicates of another person's,
   * weak detections that continue no track, boxes around several people (another detection inside,
   * the pose spanning little of the box), new people smaller than `minBoxArea` away from the
   * frame's edges, poses of fewer than `minKeypoints` confident keypoints (but for a sliver on
   * the frame's edge that continues a track), and poses whose box is not a finite box of positive
   * size or whose confident keypoints are not finite. The tracker keeps copies of what it needs
   * from `input`, none of its arrays.
   *
   * @param time the frame's time in seconds; default frame number / `fps`
   * @param frame the frame's size, when known (people leaving and coming back)
   */
  update(input: readonly Pose[], time?: number, frame?: FrameSize): TrackedPose[] {
    const t = time ?? this.#updates / this.fps;
    const first = this.#updates === 0;
    this.#updates++;
    const tracks = this.#tracks;
    // Slivers: boxes on the frame's edge kept with fewer than `minKeypoints` confident
    // keypoints, what is left in view of someone leaving, which only continue a track.
    const { poses, sliver } = this.#trackable(input, frame);
    const n = poses.length;
    const detBoxes = packedBoxes(poses);

    // 1. Predict; a track lost for a while stops (it is assumed to stand where it was).
    for (const track of tracks) {
      // Frames matched weakly count as unseen here: nothing corrected the motion either.
      const unseen = track.missed + track.unsure;
      if (unseen >= COAST_FRAMES) kalmanStop(track.state);
      // An unseen person's size does not change on its own (a box shrinking as its person
      // left the frame must not go on shrinking).
      if (unseen > 0) track.state[6] = track.state[7] = 0;
      kalmanPredict(track.state);
    }
    // 2. Camera motion, from the tracks seen last frame; everything moves with it.
    if (this.cameraMotion && tracks.length > 0 && n > 0) this.#followCamera(poses, detBoxes, frame);
    const m = tracks.length;
    const predicted = new Float64Array(4 * m);
    tracks.forEach((track, j) => kalmanBox(track.state, predicted, 4 * j));
    const predictedKeypoints = tracks.map((track, j) =>
      this.#predictKeypoints(track, predicted, j)
    );

    const trackOf = new Int32Array(n).fill(-1); // detection → track index
    const taken = new Uint8Array(m);
    const high = (i: number) => !sliver[i] && poses[i].box.score >= this.highScore;
    const free = (filter: (i: number) => boolean) =>
      Array.from({ length: n }, (_, i) => i).filter((i) => trackOf[i] < 0 && filter(i));
    const tracksWhere = (filter: (track: Track) => boolean) =>
      Array.from({ length: m }, (_, j) => j).filter((j) => !taken[j] && filter(tracks[j]));
    const match = (
      dets: number[],
      candidates: number[],
      similarity: (i: number, j: number) => number,
      min: number,
    ) => {
      const score = new Float64Array(dets.length * candidates.length);
      dets.forEach((i, r) =>
        candidates.forEach((j, c) => score[r * candidates.length + c] = similarity(i, j))
      );
      assign(score, dets.length, candidates.length, min).forEach((c, r) => {
        if (c < 0) return;
        trackOf[dets[r]] = candidates[c];
        taken[candidates[c]] = 1;
      });
    };
    const similarity = (i: number, j: number) =>
      this.#similarity(poses[i], detBoxes, i, predicted, predictedKeypoints[j], j);
    // A weak detection continues a track only where its box clearly overlaps the prediction;
    // a sliver, the prediction cut to the frame (the rest of the person is beyond the edge,
    // and its few keypoints say little).
    const weakSimilarity = (i: number, j: number) => {
      if (!sliver[i]) return iouAt(detBoxes, i, predicted, j) >= 0.5 ? similarity(i, j) : 0;
      const cut = predictedBoxIn(predicted, j, 1, frame);
      const iou = iouAt(detBoxes, i, Float64Array.of(cut.x1, cut.y1, cut.x2, cut.y2), 0);
      return iou >= 0.5 ? iou : 0;
    };

    // 3a. Confident detections ↔ tracks with ids (seen last frame, or lost).
    match(free(high), tracksWhere((k) => k.id > 0), similarity, this.minSimilarity);
    // 3b. Weak detections ↔ tracks with ids seen last frame: box overlap must be clear.
    match(
      free((i) => !high(i)),
      tracksWhere((k) => k.id > 0 && k.missed === 0),
      weakSimilarity,
      this.minSimilarity,
    );
    // 3c. Confident detections ↔ lost tracks: someone seen again.
    match(
      free(high),
      tracksWhere((k) => k.id > 0 && k.missed > 0),
      (i, j) => this.#recovery(poses[i], detBoxes, i, predicted, predictedKeypoints[j], j, frame),
      0.5,
    );
    // 3d. Confident detections ↔ tentative tracks; then weak ones, which keep a new person
    // whose box score hovers around `highScore` from starting over on every dip.
    match(free(high), tracksWhere((k) => k.id === 0), similarity, this.minSimilarity);
    match(
      free((i) => !high(i) && !sliver[i]),
      tracksWhere((k) => k.id === 0),
      weakSimilarity,
      this.minSimilarity,
    );

    // 4. One person, one track: drop detections that are part of a matched person's.
    const duplicate = new Uint8Array(n);
    const matched = Array.from({ length: n }, (_, i) => i).filter((i) => trackOf[i] >= 0);
    // A track seen last frame but missed now (its body not found) also claims its parts.
    const missing = tracksWhere((k) => k.id > 0 && k.missed === 0);
    for (const i of free(() => true)) {
      if (
        matched.some((k) => this.#samePerson(poses[i], detBoxes, i, poses[k], detBoxes, k)) ||
        missing.some((j) =>
          this.#samePerson(
            poses[i],
            detBoxes,
            i,
            {
              box: {
                x1: predicted[4 * j],
                y1: predicted[4 * j + 1],
                x2: predicted[4 * j + 2],
                y2: predicted[4 * j + 3],
                score: 1,
              },
              keypoints: predictedKeypoints[j],
              score: 1,
            },
            predicted,
            j,
          )
        )
      ) {
        duplicate[i] = 1;
      }
    }
    // Two matched detections of one person: the one on the younger track is dropped.
    for (const a of matched) {
      for (const b of matched) {
        if (a === b || duplicate[a] || duplicate[b] || trackOf[a] < 0 || trackOf[b] < 0) continue;
        const ta = tracks[trackOf[a]], tb = tracks[trackOf[b]];
        if (!(ta.id > 0 && tb.id > 0 ? ta.id > tb.id : ta.id === 0 && tb.id > 0)) continue;
        if (this.#samePerson(poses[a], detBoxes, a, poses[b], detBoxes, b)) {
          taken[trackOf[a]] = 0;
          trackOf[a] = -1;
          duplicate[a] = 1;
        }
      }
    }
    // 5. New tentative tracks from confident detections (the larger of nested duplicates).
    // A box around several people: another detection lies in it, and its own pose (one
    // person's) covers little of it.
    const holdsOthers = (i: number) =>
      keypointCover(poses[i].keypoints, this.keypointThreshold, detBoxes, i) <
        MIN_KEYPOINT_COVER &&
      poses.some((other, k) =>
        k !== i && !sliver[k] && boxArea(other.box) < boxArea(poses[i].box) &&
        nestedShare(detBoxes, k, detBoxes, i) >= NESTED
      );
    // Too small to start a track: under `minBoxArea`, and not a person coming into view.
    const tooSmall = (i: number) =>
      boxArea(poses[i].box) < this.minBoxArea && !(frame && touchesEdge(poses[i].box, frame));
    const fresh = free((i) => high(i) && !duplicate[i] && !holdsOthers(i) && !tooSmall(i))
      .sort((a, b) => boxArea(poses[b].box) - boxArea(poses[a].box));
    const started: number[] = [];
    for (const i of fresh) {
      if (started.some((k) => this.#samePerson(poses[i], detBoxes, i, poses[k], detBoxes, k))) {
        duplicate[i] = 1;
        continue;
      }
      started.push(i);
      const pose = snapshot(poses[i]), box = pose.box;
      tracks.push({
        id: 0,
        state: kalmanInit(box.x1, box.y1, box.x2, box.y2),
        pose,
        keypoints: pose.keypoints,
        keypointBox: Float64Array.of(box.x1, box.y1, box.x2, box.y2),
        seenBox: Float64Array.of(box.x1, box.y1, box.x2, box.y2),
        missed: 0,
        unsure: 0,
        hits: 0,
      });
      trackOf[i] = tracks.length - 1;
    }

    // 6. Update the matched tracks; confirm tentative ones (taking back a lost id if theirs).
    const updated = new Uint8Array(tracks.length);
    // Detection → the box to report, where it is not the detection's own.
    const reported = new Map<number, Box>();
    let inputBoxes: Float64Array | undefined;
    // Another detection around detection i, of the same person (any score, set aside or not).
    const foundLarger = (i: number) => {
      const boxes = inputBoxes ??= packedBoxes(input);
      return input.some((other, k) =>
        boxArea(other.box) > boxArea(poses[i].box) &&
        this.#samePerson(poses[i], detBoxes, i, other, boxes, k)
      );
    };
    for (let i = 0; i < n; i++) {
      const j = trackOf[i];
      if (j < 0) continue;
      const track = tracks[j];
      const box = j < m && frame
        ? beyondEdges(poses[i].box, predicted, j, frame, track)
        : poses[i].box;
      // A weak detection keeps the person's id but does not steer the motion model: its box
      // is the detector's unsure guess (a part, or shifted), and a few of them in a row would
      // carry the prediction off the person. Nor does a part of the person (the head alone):
      // its box keeps the predicted size and motion. The whole person after a part: the box
      // starts again from it.
      const ratio = j < m ? boxArea(box) / Math.max(1e-6, boxArea(boxAt(predicted, j))) : 1;
      const whole = j >= m || (high(i) && ratio > PARTIAL);
      if (j < m && whole) {
        if (ratio >= 1 / PARTIAL) track.state = kalmanInit(box.x1, box.y1, box.x2, box.y2);
        else kalmanUpdate(track.state, box.x1, box.y1, box.x2, box.y2);
      } else if (j < m && track.missed === 0 && (!high(i) || foundLarger(i))) {
        // The person is where the track predicts, at their size: the box to report (of a
        // track seen last frame: a lost one's prediction is a guess, not a sighting). A
        // confident part of them alone may be all that is in view (the rest covered), and
        // is reported as found; where a larger box of them was found too (weakly, or set
        // aside), the rest is in view and the part is the detector's miss.
        reported.set(i, predictedBoxIn(predicted, j, poses[i].box.score, frame));
      }
      // Frames with nothing to correct the motion count towards its coasting to a stop.
      track.unsure = whole ? 0 : track.unsure + 1;
      if (whole && frame) rememberWholeSize(track, poses[i].box, frame);
      track.pose = snapshot(poses[i]);
      track.keypoints = track.pose.keypoints;
      track.keypointBox = new Float64Array(4);
      kalmanBox(track.state, track.keypointBox);
      const seen = poses[i].box;
      track.seenBox = Float64Array.of(seen.x1, seen.y1, seen.x2, seen.y2);
      track.missed = 0;
      if (high(i)) track.hits++;
      updated[j] = 1;
    }
    const removed = new Set<Track>();
    for (let i = 0; i < n; i++) {
      const j = trackOf[i];
      if (j < 0 || tracks[j].id > 0 || !(first || tracks[j].hits >= this.minHits)) continue;
      const lost = first ? -1 : this.#lostTrackFor(poses[i], detBoxes, i, updated, frame);
      if (lost >= 0) {
        // The person was seen before: the old track (id, smoothing) continues from here.
        const old = tracks[lost];
        old.state = tracks[j].state;
        old.pose = tracks[j].pose;
        old.keypoints = tracks[j].keypoints;
        old.keypointBox = tracks[j].keypointBox;
        old.seenBox = tracks[j].seenBox;
        old.missed = 0;
        old.unsure = 0;
        old.wholeWidth = tracks[j].wholeWidth ?? old.wholeWidth;
        old.wholeHeight = tracks[j].wholeHeight ?? old.wholeHeight;
        old.hits = tracks[j].hits;
        updated[lost] = 1;
        removed.add(tracks[j]);
        trackOf[i] = lost;
      } else {
        tracks[j].id = this.#nextId++;
      }
    }

    // 7. Output, and age the unmatched tracks.
    const out: TrackedPose[] = [];
    for (let i = 0; i < n; i++) {
      const j = trackOf[i];
      if (j < 0 || tracks[j].id === 0) continue;
      const track = tracks[j], pose = poses[i];
      if (this.smoothing && !track.filter) track.filter = new KeypointOneEuroFilter(this.smoothing);
      const keypoints = track.filter ? track.filter.filter(pose.keypoints, t) : pose.keypoints;
      out.push({ ...pose, box: reported.get(i) ?? pose.box, keypoints, trackId: track.id });
    }
    this.#tracks = tracks.filter((track, j) => {
      if (removed.has(track)) return false;
      if (updated[j]) return true;
      track.missed++;
      track.hits = 0;
      // A tentative track ends at its first miss; one with an id waits to be found again.
      return track.id > 0 && track.missed <= this.maxMissed;
    });
    return out;
  }

  /**
   * The detections worth tracking, in input order: at least `minKeypoints` confident
   * keypoints or a box on the frame's edge (a sliver), and not a second detection of a person
   * already kept (OKS ≥ `duplicateOks` with a pose ranked higher: confident detections, then
   * weak ones, then slivers; within each by pose score). `sliver` marks the slivers kept.
   */
  #trackable(
    input: readonly Pose[],
    frame?: FrameSize,
  ): { poses: Pose[]; sliver: Uint8Array } {
    const poses = input.filter((pose) => isWellFormed(pose, this.keypointThreshold));
    const few = new Set(
      poses.filter((pose) =>
        confidentKeypointCount(pose.keypoints, this.keypointThreshold) < this.minKeypoints
      ),
    );
    const candidates = poses.filter((pose) =>
      !few.has(pose) || (frame !== undefined && touchesEdge(pose.box, frame))
    );
    const result = (kept: Pose[]) => ({
      poses: kept,
      sliver: Uint8Array.from(kept, (pose) => few.has(pose) ? 1 : 0),
    });
    if (this.duplicateOks >= 1) return result(candidates);
    // Confident detections first: a weak one (ByteTrack's low-score box) never displaces one.
    // Then the pose score, as top-down tools' OKS-NMS ranks. A half box whose few keypoints
    // score high can so beat its person's whole box; keeping the more complete of nested
    // duplicates instead cost the crowded clips IDF1 and switches (a fuller nested box there
    // often spans two people: docs/tracking.md).
    // Slivers last: their few keypoints can agree with anyone's.
    const rank = (p: Pose) => (few.has(p) ? 0 : p.box.score >= this.highScore ? 2 : 1) + p.score;
    const kept: Pose[] = [];
    for (const pose of [...candidates].sort((a, b) => rank(b) - rank(a))) {
      const duplicate = kept.some((other) =>
        poseOks(pose, other, this.sigmas, this.keypointThreshold) >= this.duplicateOks
      );
      if (!duplicate) kept.push(pose);
    }
    const keep = new Set(kept);
    return result(candidates.filter((pose) => keep.has(pose)));
  }

  /**
   * Moves every track with the camera's motion between the last frame and this one. Two
   * people agreeing on a motion set it. One person alone sets it only while the camera
   * moves, and only near its last motion (a pan goes on, slows or turns back while the view
   * holds a single person): one person's motion cannot tell the camera from the person, and
   * a still camera is not set moving by someone walking.
   */
  #followCamera(poses: readonly Pose[], detBoxes: Float64Array, frame?: FrameSize): void {
    // The people as seen last frame (not as predicted: a box cut by the frame edge shrinks
    // and its prediction with it, but its keypoints and whole edges move with the camera).
    const seen = this.#tracks.filter((track) => track.missed === 0);
    const from = new Float64Array(4 * seen.length);
    seen.forEach((track, j) => from.set(track.seenBox, 4 * j));
    const motion = estimateCameraMotion(
      from,
      detBoxes,
      {
        keypointThreshold: this.keypointThreshold,
        minInliers: 1,
        frame,
        scalePrior: { scale: this.#lastMotion.scale, weight: 1 },
        previous: this.#lastMotion,
      },
      seen.map((track) => track.keypoints),
      poses.map((p) => p.keypoints),
    );
    const last = this.#lastMotion;
    let accepted = motion.inliers >= 2;
    if (motion.inliers === 1) {
      const i = motion.pairs.findIndex((j) => j >= 0);
      const h = from[4 * i + 3] - from[4 * i + 1];
      const moving = Math.abs(last.scale - 1) > 0.002 || Math.hypot(last.tx, last.ty) > 1;
      // A moving camera's motion, within a quarter of the person's height (at their centre)
      // of last frame's motion: a pan may turn back at once (a change of twice its speed, up to an
      // eighth of a height a frame), but one person's motion jumping further is more likely
      // a mistaken pairing or the person's own move.
      const cx = (from[4 * i] + from[4 * i + 2]) / 2, cy = (from[4 * i + 1] + from[4 * i + 3]) / 2;
      const drift = Math.hypot(
        (motion.scale - last.scale) * cx + motion.tx - last.tx,
        (motion.scale - last.scale) * cy + motion.ty - last.ty,
      );
      accepted = moving && Math.abs(motion.scale / last.scale - 1) < 0.02 && drift < 0.25 * h;
    }
    if (!accepted) {
      this.#lastMotion = NO_MOTION;
      return;
    }
    this.#lastMotion = { scale: motion.scale, tx: motion.tx, ty: motion.ty };
    const { scale, tx, ty } = motion;
    for (const track of this.#tracks) {
      kalmanWarp(track.state, scale, tx, ty);
      const moved = new Float32Array(track.keypoints);
      for (let k = 0; k < moved.length; k += 3) {
        moved[k] = scale * moved[k] + tx;
        moved[k + 1] = scale * moved[k + 1] + ty;
      }
      track.keypoints = moved;
      if (track.wholeWidth !== undefined) track.wholeWidth *= scale;
      if (track.wholeHeight !== undefined) track.wholeHeight *= scale;
      for (const b of [track.keypointBox, track.seenBox]) {
        b[0] = scale * b[0] + tx;
        b[1] = scale * b[1] + ty;
        b[2] = scale * b[2] + tx;
        b[3] = scale * b[3] + ty;
      }
    }
  }

  /** The track's last keypoints carried from their box onto its predicted box `j` of `boxes`. */
  #predictKeypoints(track: Track, boxes: Float64Array, j: number): Float32Array {
    const b = track.keypointBox;
    const sx = (boxes[4 * j + 2] - boxes[4 * j]) / Math.max(1e-6, b[2] - b[0]);
    const sy = (boxes[4 * j + 3] - boxes[4 * j + 1]) / Math.max(1e-6, b[3] - b[1]);
    const out = new Float32Array(track.keypoints);
    for (let k = 0; k < out.length; k += 3) {
      out[k] = boxes[4 * j] + (out[k] - b[0]) * sx;
      out[k + 1] = boxes[4 * j + 1] + (out[k + 1] - b[1]) * sy;
    }
    return out;
  }

  /**
   * ½ IoU of the predicted box + ½ OKS with the predicted pose (IoU alone when they share
   * fewer than 2 confident keypoints); 0 when the sizes differ more than 2× in area: a box
   * of a part of the person (the head alone) must not take over the person's track.
   */
  #similarity(
    pose: Pose,
    detBoxes: Float64Array,
    i: number,
    predicted: Float64Array,
    keypoints: Float32Array,
    j: number,
  ): number {
    const area = (predicted[4 * j + 2] - predicted[4 * j]) *
      (predicted[4 * j + 3] - predicted[4 * j + 1]);
    const ratio = boxArea(pose.box) / Math.max(1e-6, area);
    if (!(ratio > PARTIAL && ratio < 1 / PARTIAL)) {
      // A part of the person (the rest covered or not found), or the whole person again
      // after a part: nested boxes whose shared keypoints agree. Ranked below whole matches,
      // so that when both the body and a part of it are found, the body continues the track.
      const nested = nestedShare(detBoxes, i, predicted, j);
      if (nested < NESTED) return 0;
      const kp = keypointSimilarity(
        keypoints,
        pose.keypoints,
        Math.max(area, boxArea(pose.box)),
        this.sigmas,
        this.keypointThreshold,
      );
      return kp.common >= 3 && kp.agreeing >= AGREE ? 0.6 * (nested + kp.oks) / 2 : 0;
    }
    const iou = iouAt(detBoxes, i, predicted, j);
    const kp = keypointSimilarity(
      keypoints,
      pose.keypoints,
      area,
      this.sigmas,
      this.keypointThreshold,
    );
    return kp.common >= 2 ? (iou + kp.oks) / 2 : iou;
  }

  /**
   * How well a detection fits a lost track (0–1): the track's predicted box (cut to the
   * frame when its size is known: a person coming back in is seen in part) must be near
   * (within half its height) and of a similar height, and the pose's shape (OKS after
   * aligning the two poses' centroids) must agree.
   */
  #recovery(
    pose: Pose,
    detBoxes: Float64Array,
    i: number,
    predicted: Float64Array,
    keypoints: Float32Array,
    j: number,
    frame?: FrameSize,
  ): number {
    const box = predicted.slice(4 * j, 4 * j + 4);
    const kp = new Float32Array(keypoints);
    if (frame) {
      box[0] = Math.max(0, box[0]);
      box[1] = Math.max(0, box[1]);
      box[2] = Math.min(frame.width, box[2]);
      box[3] = Math.min(frame.height, box[3]);
      if (!(box[2] > box[0] && box[3] > box[1])) return 0;
      for (let k = 0; k < kp.length; k += 3) {
        if (kp[k] < 0 || kp[k + 1] < 0 || kp[k] >= frame.width || kp[k + 1] >= frame.height) {
          kp[k + 2] = 0;
        }
      }
    }
    const h = box[3] - box[1], dh = pose.box.y2 - pose.box.y1;
    if (!(dh > h / 1.5 && dh < h * 1.5)) return 0;
    const dx = (pose.box.x1 + pose.box.x2 - box[0] - box[2]) / 2;
    const dy = (pose.box.y1 + pose.box.y2 - box[1] - box[3]) / 2;
    const distance = Math.hypot(dx, dy) / h;
    if (distance > 0.5) return 0;
    const shape = keypointSimilarity(
      kp,
      pose.keypoints,
      boxArea(pose.box),
      this.sigmas,
      this.keypointThreshold,
      true,
    );
    const near = Math.max(iouAt(detBoxes, i, box, 0), 1 - 2 * distance);
    return shape.common >= 3 ? (near + shape.oks) / 2 : near / 2;
  }

  /** The lost track (index) a newly confirmed person is, or −1. */
  #lostTrackFor(
    pose: Pose,
    detBoxes: Float64Array,
    i: number,
    updated: Uint8Array,
    frame?: FrameSize,
  ): number {
    let best = -1, bestScore = 0.5;
    const boxes = new Float64Array(4 * this.#tracks.length);
    this.#tracks.forEach((track, j) => {
      if (track.id === 0 || updated[j]) return;
      kalmanBox(track.state, boxes, 4 * j);
      const keypoints = this.#predictKeypoints(track, boxes, j);
      const score = this.#recovery(pose, detBoxes, i, boxes, keypoints, j, frame);
      if (score > bestScore) [best, bestScore] = [j, score];
    });
    return best;
  }

  /**
   * Whether two detections are one person: one box nested in the other and most of the
   * keypoints they share agreeing (OKS ≥ 0.5 each, at the larger box's scale).
   */
  #samePerson(
    a: Pose,
    aBoxes: Float64Array,
    i: number,
    b: Pose,
    bBoxes: Float64Array,
    j: number,
  ): boolean {
    if (nestedShare(aBoxes, i, bBoxes, j) < NESTED) return false;
    const kp = keypointSimilarity(
      a.keypoints,
      b.keypoints,
      Math.max(boxArea(a.box), boxArea(b.box)),
      this.sigmas,
      this.keypointThreshold,
    );
    return kp.common >= 2 && kp.agreeing >= AGREE;
  }

  /**
   * The boxes of the tracks matched in the last `update`, to run keypoints on between
   * detector runs ("detect every k frames"). Tracks that missed the last frame are left out:
   * a stale box would keep producing a pose, and so keep a lost track alive.
   */
  boxesFromTracks(options: TrackBoxOptions = {}): TrackedBox[] {
    const threshold = options.keypointThreshold ?? 0.3;
    const scale = options.keypointBoxScale;
    return this.#tracks.filter((track) => track.missed === 0 && track.id > 0).map((track) => {
      const { box, keypoints } = track.pose;
      if (scale === undefined) return { trackId: track.id, box: { ...box } };
      const around = confidentKeypointBox(keypoints, threshold);
      if (!around) return { trackId: track.id, box: { ...box } };
      const [x1, y1, x2, y2] = around;
      const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
      const hw = (x2 - x1) * scale / 2, hh = (y2 - y1) * scale / 2;
      return {
        trackId: track.id,
        box: { x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh, score: box.score },
      };
    });
  }
}
