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

/** A bad value as an error message shows it: its start, not megabytes of it. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} characters)` : text;
}

function integer(value: unknown, where: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`${where} must be an integer, got ${shown(value)}`);
  }
  return value as number;
}

/** A box as x1, y1, x2, y2, from COCO's [x, y, width, height] with finite, non-negative size. */
function corners(value: unknown, where: string): [number, number, number, number] {
  if (
    !Array.isArray(value) || value.length !== 4 ||
    !value.every((v) => typeof v === "number" && Number.isFinite(v))
  ) {
    throw new Error(`${where} must be [x, y, width, height], got ${shown(value)}`);
  }
  const [x, y, w, h] = value as number[];
  // The area too must be finite, or IoU would be Infinity / Infinity.
  if (
    !(w >= 0 && h >= 0 && Number.isFinite(x + w) && Number.isFinite(y + h) &&
      Number.isFinite(w * h))
  ) {
    throw new Error(`${where} must have a finite width and height ≥ 0, got ${shown(value)}`);
  }
  return [x, y, x + w, y + h];
}

/**
 * Frames of people by frame index, each id at most once a frame: `add` throws `duplicate()`'s
 * message for a second person of an id in one frame.
 */
function peopleByFrame<F extends IdBoxes>(frames: Map<number, F>, makeFrame: () => F) {
  const seen = new Map<number, Set<number>>();
  return {
    frame(index: number): F {
      let frame = frames.get(index);
      if (!frame) frames.set(index, frame = makeFrame());
      return frame;
    },
    add(index: number, id: number, box: number[], duplicate: () => string): void {
      const frame = this.frame(index);
      let ids = seen.get(index);
      if (!ids) seen.set(index, ids = new Set());
      if (ids.has(id)) throw new Error(duplicate());
      ids.add(id);
      (frame.ids as number[]).push(id);
      (frame.boxes as number[]).push(...box);
    },
  };
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
  const people = peopleByFrame(byFrame, () => ({ ids: [], boxes: [], ignore: [] }));
  if (json.images !== undefined) {
    if (!Array.isArray(json.images)) throw new Error(`${source}: "images" must be an array`);
    json.images.forEach((image, i) => {
      if (!isObject(image)) throw new Error(`${source}: images[${i}] must be an object`);
      people.frame(integer(image.id, `${source}: images[${i}].id`));
    });
  }
  json.annotations.forEach((ann, i) => {
    const where = `${source}: annotations[${i}]`;
    if (!isObject(ann)) throw new Error(`${where} must be an object`);
    const index = integer(ann.image_id, `${where}.image_id`);
    const box = corners(ann.bbox, `${where}.bbox`);
    if (ann.iscrowd === 1 || ann.iscrowd === true || ann.ignore === 1 || ann.ignore === true) {
      people.frame(index).ignore.push(...box);
      return;
    }
    const id = integer(ann.track_id, `${where}.track_id`);
    people.add(index, id, box, () => `${where}: track_id ${id} appears twice in frame ${index}`);
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
  const people = peopleByFrame(results, () => ({ ids: [], boxes: [] }));
  for (const record of records) {
    const index = record.frame ?? record.image_id;
    people.frame(index);
    record.people.forEach((person, i) => {
      const where = `${source}: frame ${index} people[${i}]`;
      const id = person.track_id;
      if (id === undefined) {
        throw new Error(`${where} has no track_id (was it made with --no-track?)`);
      }
      people.add(
        index,
        id,
        corners(person.bbox, `${where}.bbox`),
        () =>
          `${where}: track_id ${id} appears twice in frame ${index} ` +
          `(a frame written twice, or results of two videos: choose one with --video)`,
      );
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
  const people = peopleByFrame(results, () => ({ ids: [], boxes: [] }));
  json.forEach((entry, i) => {
    const where = `${source}: [${i}]`;
    if (!isObject(entry)) throw new Error(`${where} must be an object`);
    const index = integer(entry.frame ?? entry.image_id, `${where}.frame`);
    const id = integer(entry.track_id, `${where}.track_id`);
    const box = corners(entry.bbox, `${where}.bbox`);
    people.add(index, id, box, () => `${where}: track_id ${id} appears twice in frame ${index}`);
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
