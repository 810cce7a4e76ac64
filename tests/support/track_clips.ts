/**
 * Tracking test clips with ground truth: a virtual camera moves over an annotated COCO photo
 * (zoom, pan, people leaving and coming back, a drawn rectangle covering someone for some
 * frames), each frame is rendered here with the exact camera transform and encoded by ffmpeg
 * (H.264, so the pipeline sees real compression), and the COCO annotations go through the
 * same per-frame transform to become the video's ground truth (`track_id` = the COCO
 * annotation id).
 *
 * Which people count: an annotated person is ground truth in a frame when at least
 * `MIN_KEYPOINTS` of the keypoints COCO marks visible (v = 2) are in the frame and not
 * covered, at least `MIN_VISIBLE` of their box is in the frame and not covered, and the
 * visible part is at least `MIN_HEIGHT` pixels tall; the box is then the visible part (what
 * a detector sees). Otherwise the box is an ignore region, where finding someone is neither
 * rewarded nor punished: people hidden behind others or seen from behind (few visible
 * joints: no pose to track), cut off by the frame, covered, tiny, and crowds.
 */

import { join } from "node:path";
import { readImageFile } from "../../lib/deno/image_file.ts";
import type { PosePipeline } from "../../lib/deno/pipeline.ts";
import { readVideoFrames } from "../../lib/deno/video/read.ts";
import { EXACT_SWS_FLAGS } from "../../lib/deno/video/probe.ts";
import {
  maximumAssignment,
  type TrackingMetrics,
  trackingMetrics,
} from "../../lib/track/metrics.ts";
import { iouAt } from "../../lib/track/pose_match.ts";
import { pairFrames, parseTrackGroundTruth, type TrackResults } from "../../lib/track/mot_json.ts";
import type { FrameSize, PoseTracker, TrackedPose } from "../../lib/track/tracker.ts";
import { DEFAULT_WEAK_BOX_SCORE, weakBoxesNear } from "../../lib/video_poses.ts";
import type { Box, Pose, RgbImage } from "../../lib/types.ts";
import { DEV_ANNOTATIONS, requireShared } from "./shared.ts";

/** Where the camera looks at one frame: window centre and width, in source image pixels. */
export interface CameraKey {
  frame: number;
  cx: number;
  cy: number;
  /** Window width in source pixels; its height follows the output aspect ratio. */
  width: number;
}

/** A grey rectangle standing in the scene (source pixels) during frames `from`…`to`. */
export interface Occluder {
  from: number;
  to: number;
  box: [number, number, number, number];
}

/** A clip: a camera path over a COCO image. */
export interface ClipSpec {
  name: string;
  /** COCO val2017 image id (the file is under shared/coco/val2017). */
  imageId: number;
  /** Output frame size. */
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** Keyframes, first at frame 0, last at `frames − 1`; linear in between. */
  camera: CameraKey[];
  occluders?: Occluder[];
  /** Unannotated people (x1, y1, x2, y2 in source pixels): ignore regions. */
  unannotated?: [number, number, number, number][];
}

/** Least share of a person's box that must be visible for them to be ground truth. */
export const MIN_VISIBLE = 0.3;
/** Least number of visible keypoints (COCO v = 2, in the frame, uncovered) of a person. */
export const MIN_KEYPOINTS = 5;
/** Least height in output pixels of the visible part for a person to be ground truth. */
export const MIN_HEIGHT = 40;
/** COCO annotations smaller than this (source pixels²) are ignore regions (COCO's "small"). */
export const MIN_AREA = 1500;

/** A man with glasses behind the bald man on the left of image 350679, not annotated. */
const UNANNOTATED_350679: [number, number, number, number][] = [[70, 66, 118, 170]];

/** The clips the tracking tests and bench use. */
export const CLIPS: readonly ClipSpec[] = [
  {
    // The case: a slow 3 s zoom into a group of people.
    name: "zoom_in_350679",
    imageId: 350679,
    width: 480,
    height: 320,
    frames: 48,
    fps: 16,
    camera: [{ frame: 0, cx: 320, cy: 214, width: 640 }, {
      frame: 47,
      cx: 280,
      cy: 200,
      width: 380,
    }],
    unannotated: UNANNOTATED_350679,
  },
  {
    // Pan right and back: the people on the left leave the frame and come back.
    name: "pan_350679",
    imageId: 350679,
    width: 480,
    height: 320,
    frames: 48,
    fps: 16,
    camera: [
      { frame: 0, cx: 210, cy: 214, width: 420 },
      { frame: 23, cx: 430, cy: 214, width: 420 },
      { frame: 47, cx: 210, cy: 214, width: 420 },
    ],
    unannotated: UNANNOTATED_350679,
  },
  {
    // Pan across the ball field and back: the umpire on the left leaves and comes back,
    // the catcher and the man on the right come in and leave again.
    name: "pan_196141",
    imageId: 196141,
    width: 432,
    height: 288,
    frames: 48,
    fps: 16,
    camera: [
      { frame: 0, cx: 200, cy: 200, width: 400 },
      { frame: 23, cx: 440, cy: 200, width: 400 },
      { frame: 47, cx: 200, cy: 200, width: 400 },
    ],
  },
  {
    // Slow zoom out while a rectangle covers the batter's legs for 16 frames.
    name: "occluded_196141",
    imageId: 196141,
    width: 432,
    height: 288,
    frames: 40,
    fps: 16,
    camera: [{ frame: 0, cx: 380, cy: 230, width: 420 }, {
      frame: 39,
      cx: 330,
      cy: 214,
      width: 620,
    }],
    occluders: [{ from: 12, to: 27, box: [230, 235, 440, 390] }],
  },
  {
    // Zoom out of a portrait photo: more of the people at the back come into view (the two
    // big people at the sides, seen from behind, are ignore regions).
    name: "zoom_out_151938",
    imageId: 151938,
    width: 240,
    height: 320,
    frames: 40,
    fps: 16,
    camera: [{ frame: 0, cx: 305, cy: 240, width: 220 }, {
      frame: 39,
      cx: 235,
      cy: 320,
      width: 470,
    }],
  },
];

/**
 * Clips the tracker was not tuned on (`bench/track_bench.ts --held-out`): the three other
 * shared photos with two annotated people, with the same kinds of camera path. Measured
 * once the tracker was settled, to tell how far its tuning on `CLIPS` carries over.
 */
export const HELD_OUT_CLIPS: readonly ClipSpec[] = [
  {
    // A skateboarder and a man behind, both cut at the top by the photo: pan right until the
    // skateboarder is mostly out of view and the man in, and back.
    name: "pan_434204",
    imageId: 434204,
    width: 480,
    height: 320,
    frames: 48,
    fps: 16,
    camera: [
      { frame: 0, cx: 150, cy: 105, width: 300 },
      { frame: 23, cx: 350, cy: 105, width: 300 },
      { frame: 47, cx: 150, cy: 105, width: 300 },
    ],
  },
  {
    // Two riders on a beach, small at first: slow zoom in.
    name: "zoom_in_214753",
    imageId: 214753,
    width: 480,
    height: 320,
    frames: 48,
    fps: 16,
    camera: [{ frame: 0, cx: 320, cy: 212, width: 636 }, {
      frame: 47,
      cx: 325,
      cy: 190,
      width: 300,
    }],
  },
  {
    // The riders again: pan so that each in turn leaves and comes back.
    name: "pan_214753",
    imageId: 214753,
    width: 480,
    height: 320,
    frames: 48,
    fps: 16,
    camera: [
      { frame: 0, cx: 200, cy: 200, width: 320 },
      { frame: 23, cx: 460, cy: 200, width: 320 },
      { frame: 47, cx: 200, cy: 200, width: 320 },
    ],
  },
  {
    // Two motorcyclists, large: zoom out while a rectangle covers the lower half of the one
    // in front.
    name: "occluded_192699",
    imageId: 192699,
    width: 480,
    height: 320,
    frames: 40,
    fps: 16,
    camera: [{ frame: 0, cx: 380, cy: 260, width: 420 }, {
      frame: 39,
      cx: 320,
      cy: 228,
      width: 636,
    }],
    occluders: [{ from: 12, to: 27, box: [250, 260, 540, 460] }],
  },
];

/** The camera of frame `t`: window centre and output pixels per source pixel. */
export function cameraAt(spec: ClipSpec, t: number): { cx: number; cy: number; scale: number } {
  const keys = spec.camera;
  let k = 0;
  while (k + 1 < keys.length - 1 && keys[k + 1].frame <= t) k++;
  const a = keys[k], b = keys[Math.min(k + 1, keys.length - 1)];
  const u = b.frame === a.frame ? 0 : Math.min(1, Math.max(0, (t - a.frame) / (b.frame - a.frame)));
  const width = a.width + (b.width - a.width) * u;
  return {
    cx: a.cx + (b.cx - a.cx) * u,
    cy: a.cy + (b.cy - a.cy) * u,
    scale: spec.width / width,
  };
}

/** Source point → output point at frame t. */
export function toFrame(spec: ClipSpec, t: number, x: number, y: number): [number, number] {
  const { cx, cy, scale } = cameraAt(spec, t);
  return [(x - cx) * scale + spec.width / 2, (y - cy) * scale + spec.height / 2];
}

/** Frame t rendered from `image` (bilinear; outside the photo is grey), occluders drawn. */
export function renderFrame(spec: ClipSpec, image: RgbImage, t: number): RgbImage {
  const { width, height } = spec;
  const { cx, cy, scale } = cameraAt(spec, t);
  const occluders = (spec.occluders ?? []).filter((o) => t >= o.from && t <= o.to);
  const data = new Uint8Array(width * height * 3);
  const src = image.data, w = image.width, h = image.height;
  for (let j = 0; j < height; j++) {
    // Pixel centres map to pixel centres: continuous source coordinate minus 0.5.
    const sy = (j + 0.5 - height / 2) / scale + cy;
    for (let i = 0; i < width; i++) {
      const sx = (i + 0.5 - width / 2) / scale + cx;
      const o = (j * width + i) * 3;
      if (occluders.some(({ box }) => sx >= box[0] && sx < box[2] && sy >= box[1] && sy < box[3])) {
        data[o] = 96;
        data[o + 1] = 96;
        data[o + 2] = 104;
        continue;
      }
      const fx = sx - 0.5, fy = sy - 0.5;
      if (fx < -0.5 || fy < -0.5 || fx > w - 0.5 || fy > h - 0.5) {
        data[o] = data[o + 1] = data[o + 2] = 128;
        continue;
      }
      const x0 = Math.max(0, Math.min(w - 1, Math.floor(fx)));
      const y0 = Math.max(0, Math.min(h - 1, Math.floor(fy)));
      const x1 = Math.min(w - 1, x0 + 1), y1 = Math.min(h - 1, y0 + 1);
      const ax = Math.max(0, Math.min(1, fx - x0)), ay = Math.max(0, Math.min(1, fy - y0));
      for (let c = 0; c < 3; c++) {
        const top = src[(y0 * w + x0) * 3 + c] * (1 - ax) + src[(y0 * w + x1) * 3 + c] * ax;
        const bottom = src[(y1 * w + x0) * 3 + c] * (1 - ax) + src[(y1 * w + x1) * 3 + c] * ax;
        data[o + c] = Math.round(top * (1 - ay) + bottom * ay);
      }
    }
  }
  return { width, height, data };
}

interface CocoAnnotation {
  id: number;
  image_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: number;
  keypoints: number[];
}

/** The COCO annotations of `imageId` from the shared dev annotation file. */
export async function cocoAnnotations(imageId: number): Promise<CocoAnnotation[]> {
  const path = requireShared(...DEV_ANNOTATIONS);
  const json = JSON.parse(await Deno.readTextFile(path)) as { annotations: CocoAnnotation[] };
  return json.annotations.filter((a) => a.image_id === imageId);
}

/** A ground-truth file as `track-eval` reads it (COCO-style, image id = frame). */
export interface VideoGroundTruth {
  images: { id: number; width: number; height: number }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: 1;
    track_id?: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: 0 | 1;
    ignore?: 1;
    keypoints?: number[];
    num_keypoints?: number;
  }[];
  categories: { id: 1; name: "person" }[];
}

/** Area of the part of [x1, y1, x2, y2] that `cover` leaves visible, and that part's box. */
function uncovered(
  box: [number, number, number, number],
  covers: [number, number, number, number][],
): { area: number; box: [number, number, number, number] } {
  let [x1, y1, x2, y2] = box;
  let area = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  for (const [cx1, cy1, cx2, cy2] of covers) {
    const iw = Math.min(x2, cx2) - Math.max(x1, cx1), ih = Math.min(y2, cy2) - Math.max(y1, cy1);
    if (iw <= 0 || ih <= 0) continue;
    area -= iw * ih;
    // A cover spanning the whole width cuts the box from below or above.
    if (cx1 <= x1 && cx2 >= x2) {
      if (cy1 <= y1) y1 = Math.min(y2, cy2);
      else if (cy2 >= y2) y2 = Math.max(y1, cy1);
    }
  }
  return { area: Math.max(0, area), box: [x1, y1, x2, y2] };
}

/** The clip's ground truth, frame by frame (see the module comment for who counts). */
export async function clipGroundTruth(spec: ClipSpec): Promise<VideoGroundTruth> {
  const people = await cocoAnnotations(spec.imageId);
  const gt: VideoGroundTruth = {
    images: [],
    annotations: [],
    categories: [{ id: 1, name: "person" }],
  };
  let nextId = 1;
  for (let t = 0; t < spec.frames; t++) {
    gt.images.push({ id: t, width: spec.width, height: spec.height });
    const covers = (spec.occluders ?? []).filter((o) => t >= o.from && t <= o.to).map((o) =>
      mapBox(spec, t, o.box)
    );
    const frameBox: [number, number, number, number] = [0, 0, spec.width, spec.height];
    const add = (
      box: [number, number, number, number],
      extra: Partial<VideoGroundTruth["annotations"][0]>,
    ) => {
      const [x1, y1, x2, y2] = box;
      gt.annotations.push({
        id: nextId++,
        image_id: t,
        category_id: 1,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: (x2 - x1) * (y2 - y1),
        iscrowd: 0,
        ...extra,
      });
    };
    for (const person of people) {
      const [bx, by, bw, bh] = person.bbox;
      const full = mapBox(spec, t, [bx, by, bx + bw, by + bh]);
      const inFrame = intersect(full, frameBox);
      if (!inFrame) continue;
      const visible = uncovered(inFrame, covers);
      const fullArea = (full[2] - full[0]) * (full[3] - full[1]);
      const keypoints = person.keypoints.slice();
      let numKeypoints = 0, visibleKeypoints = 0;
      for (let k = 0; k < keypoints.length / 3; k++) {
        if (keypoints[3 * k + 2] === 0) continue;
        const [x, y] = toFrame(spec, t, keypoints[3 * k], keypoints[3 * k + 1]);
        const hidden = x < 0 || y < 0 || x >= spec.width || y >= spec.height ||
          covers.some(([x1, y1, x2, y2]) => x >= x1 && x < x2 && y >= y1 && y < y2);
        keypoints.splice(3 * k, 3, ...(hidden ? [0, 0, 0] : [x, y, keypoints[3 * k + 2]]));
        if (!hidden) numKeypoints++;
        if (!hidden && keypoints[3 * k + 2] === 2) visibleKeypoints++;
      }
      const counts = person.iscrowd === 0 && person.area >= MIN_AREA &&
        visibleKeypoints >= MIN_KEYPOINTS && visible.area >= MIN_VISIBLE * fullArea &&
        visible.box[3] - visible.box[1] >= MIN_HEIGHT;
      if (!counts) {
        add(inFrame, person.iscrowd ? { iscrowd: 1 } : { ignore: 1 });
        continue;
      }
      add(visible.box, { track_id: person.id, keypoints, num_keypoints: numKeypoints });
    }
    for (const box of spec.unannotated ?? []) {
      const inFrame = intersect(mapBox(spec, t, box), frameBox);
      if (inFrame) add(inFrame, { ignore: 1 });
    }
  }
  return gt;
}

function mapBox(
  spec: ClipSpec,
  t: number,
  [x1, y1, x2, y2]: [number, number, number, number],
): [number, number, number, number] {
  const [a, b] = toFrame(spec, t, x1, y1), [c, d] = toFrame(spec, t, x2, y2);
  return [a, b, c, d];
}

function intersect(
  a: [number, number, number, number],
  b: [number, number, number, number],
): [number, number, number, number] | undefined {
  const box: [number, number, number, number] = [
    Math.max(a[0], b[0]),
    Math.max(a[1], b[1]),
    Math.min(a[2], b[2]),
    Math.min(a[3], b[3]),
  ];
  return box[2] > box[0] && box[3] > box[1] ? box : undefined;
}

/**
 * Writes the clip as `dir/<name>.mp4` (H.264, CRF 20, yuv420p: ordinary compression) and its
 * ground truth as `dir/<name>.gt.json`; returns both paths.
 */
export async function makeClip(
  spec: ClipSpec,
  dir: string,
): Promise<{ video: string; gt: string }> {
  const file = `000000${String(spec.imageId).padStart(6, "0")}.jpg`;
  const image = await readImageFile(requireShared("coco", "val2017", file));
  const video = join(dir, `${spec.name}.mp4`), gtPath = join(dir, `${spec.name}.gt.json`);
  const ffmpeg = new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-y",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-s",
      `${spec.width}x${spec.height}`,
      "-r",
      String(spec.fps),
      "-i",
      "pipe:0",
      // The same video on every machine: exact RGB → YUV (EXACT_SWS_FLAGS), and one encoder
      // thread (x264's output depends on its thread count, by default the CPU's cores).
      "-sws_flags",
      EXACT_SWS_FLAGS,
      "-threads",
      "1",
      "-c:v",
      "libx264",
      "-crf",
      "20",
      "-pix_fmt",
      "yuv420p",
      video,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = ffmpeg.stdin.getWriter();
  for (let t = 0; t < spec.frames; t++) await writer.write(renderFrame(spec, image, t).data);
  await writer.close();
  const { success, stderr } = await ffmpeg.output();
  if (!success) throw new Error(`ffmpeg: ${new TextDecoder().decode(stderr)}`);
  await Deno.writeTextFile(gtPath, JSON.stringify(await clipGroundTruth(spec)));
  return { video, gt: gtPath };
}

/**
 * What the pipeline gives on every frame of a clip, kept so that the tracker can be run over
 * it again and again as `framePoses` runs it: the poses of the confident boxes (the
 * pipeline's own result), and the poses of every weak box (from `weakBoxScore` up to the
 * detector's threshold), of which `framePoses` runs only those near a tracked person.
 */
export interface ClipPoses {
  /** Per frame: the pipeline's poses on the confident boxes. */
  poses: Pose[][];
  /** Per frame: a pose for each weak box (the keypoint stage alone). */
  weak: Pose[][];
  /** Milliseconds the pipeline took per frame on the confident boxes (decoding not included). */
  pipelineMs: number[];
}

/** Runs `pipeline` on each frame of `video`, untracked; see `ClipPoses`. */
export async function clipPoses(
  pipeline: PosePipeline,
  video: string,
  weakBoxScore = DEFAULT_WEAK_BOX_SCORE,
): Promise<ClipPoses> {
  const out: ClipPoses = { poses: [], weak: [], pipelineMs: [] };
  const threshold = pipeline.scoreThreshold;
  for await (const frame of readVideoFrames(video)) {
    const start = performance.now();
    const found = await pipeline.detect(frame.image, Math.min(weakBoxScore, threshold));
    out.poses.push(await pipeline.run(frame.image, found.filter((b) => b.score >= threshold)));
    out.pipelineMs.push(performance.now() - start);
    const weak = found.filter((b) => b.score < threshold);
    out.weak.push(weak.length > 0 ? await pipeline.keypointsFor(frame.image, weak) : []);
  }
  return out;
}

/** Poses as JSON-friendly values, and back (to cache pipeline runs between bench runs). */
export function posesToJson(poses: Pose[][]): unknown {
  return poses.map((frame) =>
    frame.map((p) => ({ box: p.box, score: p.score, keypoints: Array.from(p.keypoints) }))
  );
}

export function posesFromJson(json: unknown): Pose[][] {
  return (json as { box: Box; score: number; keypoints: number[] }[][]).map((frame) =>
    frame.map((p) => ({ box: p.box, score: p.score, keypoints: Float32Array.from(p.keypoints) }))
  );
}

/**
 * The tracker run over a clip's poses as `framePoses` runs it: each frame, the weak poses
 * whose boxes overlap a person tracked on the last frame join the confident ones. Returns
 * the tracked poses per frame, ms per update, and how many weak poses were used per frame
 * (each a keypoint run `framePoses` makes).
 */
export function trackPoses(
  clip: Pick<ClipPoses, "poses" | "weak">,
  tracker: PoseTracker,
  fps: number,
  frame?: FrameSize,
): { tracked: TrackedPose[][]; trackMs: number[]; weakUsed: number[] } {
  const tracked: TrackedPose[][] = [], trackMs: number[] = [], weakUsed: number[] = [];
  clip.poses.forEach((confident, t) => {
    const near = new Set(
      weakBoxesNear(
        clip.weak[t].map((p) => p.box),
        Infinity,
        tracker.boxesFromTracks().map((b) => b.box),
      ),
    );
    const weak = clip.weak[t].filter((p) => near.has(p.box));
    weakUsed.push(weak.length);
    const start = performance.now();
    tracked.push(tracker.update(confident.concat(weak), t / fps, frame));
    trackMs.push(performance.now() - start);
  });
  return { tracked, trackMs, weakUsed };
}

/**
 * The best any tracker could do with these detections: each frame, every detection that
 * overlaps a person of the ground truth (IoU ≥ 0.5, optimal pairs) gets that person's id, and
 * the others are dropped. Scored, it bounds IDF1 from above for the detector and clip.
 */
export function idealTracks(gt: VideoGroundTruth, frames: readonly Pose[][]): TrackedPose[][] {
  const truth = parseTrackGroundTruth(gt, "ground truth");
  return frames.map((poses, t) => {
    const people = truth.byFrame.get(t);
    if (!people || people.ids.length === 0 || poses.length === 0) return [];
    const g = people.ids.length, n = poses.length;
    const detected = poses.flatMap((p) => [p.box.x1, p.box.y1, p.box.x2, p.box.y2]);
    const overlap = new Float64Array(g * n);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) overlap[i * n + j] = iouAt(people.boxes, i, detected, j);
    }
    // IoU ≥ 0.5, as the metrics match (maximumAssignment keeps scores above its minimum).
    const pairs = maximumAssignment(overlap, g, n, 0.5 - 1e-9);
    return Array.from(pairs.rows, (i, k) => ({ ...poses[pairs.cols[k]], trackId: people.ids[i] }));
  });
}

/** Tracked poses scored against the clip's ground truth. */
export function scoreTracks(
  gt: VideoGroundTruth,
  tracked: readonly TrackedPose[][],
): TrackingMetrics {
  const truth = parseTrackGroundTruth(gt, "ground truth");
  const results: TrackResults = new Map();
  tracked.forEach((frame, t) => {
    results.set(t, {
      ids: frame.map((p) => p.trackId),
      boxes: frame.flatMap((p) => [p.box.x1, p.box.y1, p.box.x2, p.box.y2]),
    });
  });
  return trackingMetrics(pairFrames(truth, results).frames);
}

/** The targets of issue 18, and the numbers they are checked on. */
export interface TrackingSummary {
  people: number;
  ids: number;
  idf1: number;
  hota: number;
  mota: number;
  idsw: number;
  /** The most ID switches of any one person. */
  maxIdswPerPerson: number;
}

/** The numbers of `TrackingSummary` from full metrics. */
export function summarize(m: TrackingMetrics): TrackingSummary {
  return {
    people: m.gtIds,
    ids: m.trackerIds,
    idf1: m.identity.idf1,
    hota: m.hota.hota,
    mota: m.clear.mota,
    idsw: m.clear.idsw,
    maxIdswPerPerson: Math.max(0, ...m.clear.idswByGt.values()),
  };
}
