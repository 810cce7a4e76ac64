/**
 * Files for tracking evaluation, as plain data: COCO-style video ground truth (an image per
 * frame, `image_id` = frame index, a `track_id` per annotation) and tracked results (posekit's
 * JSONL records, or a COCO results array carrying `frame`/`track_id`), turned into the frames
 * `lib/track/metrics.ts` scores.
 *
 * Ground-truth annotations with `iscrowd` or `ignore` set are not people to find but regions
 * where found people do not count (see `EvalFrame.ignore`): COCO marks crowds so, and a
 * ground truth made from photos marks people too small or too cut off to annotate so.
 */

import type { JsonlRecord } from "../output/jsonl.ts";
import type { EvalFrame, IdBoxes } from "./metrics.ts";

/** One frame of ground truth. */
export interface GroundTruthFrame extends IdBoxes {
  /** Ignore regions, x1, y1, x2, y2 each. */
  ignore: number[];
}

/** Video ground truth: every annotated frame (frames without people too) by index. */
export interface TrackGroundTruth {
  /** Frame indices in order. */
  frames: number[];
  /** The people of each frame. */
  byFrame: Map<number, GroundTruthFrame>;
}

/** Tracked results by frame index. */
export type TrackResults = Map<number, IdBoxes>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function integer(value: unknown, where: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`${where} must be an integer, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function xywh(value: unknown, where: string): [number, number, number, number] {
  if (
    !Array.isArray(value) || value.length !== 4 ||
    !value.every((v) => typeof v === "number" && Number.isFinite(v))
  ) {
    throw new Error(`${where} must be [x, y, width, height], got ${JSON.stringify(value)}`);
  }
  return value as [number, number, number, number];
}

/**
 * Checks a parsed ground-truth object and returns its frames. Its `images` (when present)
 * list the frames, so a frame nobody is in still counts; each annotation needs `image_id`,
 * `bbox` and, unless it is a crowd or ignored, `track_id`. Throws naming `source` and the entry.
 */
export function parseTrackGroundTruth(json: unknown, source: string): TrackGroundTruth {
  if (!isObject(json) || !Array.isArray(json.annotations)) {
    throw new Error(
      `${source}: not a video ground-truth file (expected an object with "annotations", ` +
        `each with image_id = frame, track_id and bbox)`,
    );
  }
  const byFrame = new Map<number, GroundTruthFrame>();
  const frameOf = (index: number) => {
    let frame = byFrame.get(index);
    if (!frame) byFrame.set(index, frame = { ids: [], boxes: [], ignore: [] });
    return frame;
  };
  if (json.images !== undefined) {
    if (!Array.isArray(json.images)) throw new Error(`${source}: "images" must be an array`);
    json.images.forEach((image, i) => {
      if (!isObject(image)) throw new Error(`${source}: images[${i}] must be an object`);
      frameOf(integer(image.id, `${source}: images[${i}].id`));
    });
  }
  json.annotations.forEach((ann, i) => {
    const where = `${source}: annotations[${i}]`;
    if (!isObject(ann)) throw new Error(`${where} must be an object`);
    const frame = frameOf(integer(ann.image_id, `${where}.image_id`));
    const [x, y, w, h] = xywh(ann.bbox, `${where}.bbox`);
    if (ann.iscrowd === 1 || ann.iscrowd === true || ann.ignore === 1 || ann.ignore === true) {
      frame.ignore.push(x, y, x + w, y + h);
      return;
    }
    const id = integer(ann.track_id, `${where}.track_id`);
    if ((frame.ids as number[]).includes(id)) {
      throw new Error(`${where}: track_id ${id} appears twice in frame ${ann.image_id}`);
    }
    (frame.ids as number[]).push(id);
    (frame.boxes as number[]).push(x, y, x + w, y + h);
  });
  return { frames: [...byFrame.keys()].sort((a, b) => a - b), byFrame };
}

/**
 * Tracked results from JSONL records (the frame is `frame`, else `image_id`). Every person
 * needs a `track_id`: results made with tracking off cannot be scored for identity.
 */
export function trackResultsFromRecords(
  records: Iterable<JsonlRecord>,
  source: string,
): TrackResults {
  const results: TrackResults = new Map();
  for (const record of records) {
    const index = record.frame ?? record.image_id;
    const frame = results.get(index) ?? { ids: [] as number[], boxes: [] as number[] };
    results.set(index, frame);
    record.people.forEach((person, i) => {
      if (person.track_id === undefined) {
        throw new Error(
          `${source}: frame ${index} people[${i}] has no track_id (was it made with --no-track?)`,
        );
      }
      const [x, y, w, h] = person.bbox;
      (frame.ids as number[]).push(person.track_id);
      (frame.boxes as number[]).push(x, y, x + w, y + h);
    });
  }
  return results;
}

/**
 * Tracked results from a COCO results array whose entries carry `track_id` and `frame` (or
 * `image_id` as the frame), as `predict --out FILE.json` writes them for a video.
 */
export function trackResultsFromCoco(json: unknown, source: string): TrackResults {
  if (!Array.isArray(json)) throw new Error(`${source}: expected a JSON array of results`);
  const results: TrackResults = new Map();
  json.forEach((entry, i) => {
    const where = `${source}: [${i}]`;
    if (!isObject(entry)) throw new Error(`${where} must be an object`);
    const index = integer(entry.frame ?? entry.image_id, `${where}.frame`);
    const id = integer(entry.track_id, `${where}.track_id`);
    const [x, y, w, h] = xywh(entry.bbox, `${where}.bbox`);
    const frame = results.get(index) ?? { ids: [] as number[], boxes: [] as number[] };
    results.set(index, frame);
    (frame.ids as number[]).push(id);
    (frame.boxes as number[]).push(x, y, x + w, y + h);
  });
  return results;
}

/** The ground truth's frames paired with the results; `extraFrames` counts result frames it lacks. */
export function pairFrames(
  gt: TrackGroundTruth,
  results: TrackResults,
): { frames: EvalFrame[]; extraFrames: number[] } {
  const frames = gt.frames.map((index) => {
    const truth = gt.byFrame.get(index)!;
    return {
      gt: { ids: truth.ids, boxes: truth.boxes },
      results: results.get(index) ?? { ids: [], boxes: [] },
      ignore: truth.ignore,
    };
  });
  const extraFrames = [...results.keys()].filter((index) => !gt.byFrame.has(index));
  return { frames, extraFrames };
}
