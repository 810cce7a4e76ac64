/**
 * Streaming results: one JSON line per image (or video frame), written as soon as the image is
 * done, so that a killed run keeps everything but the image it was writing, and `--resume`
 * can carry on where it stopped.
 *
 * A line (always ends with "\n"):
 *   {"file": "photos/a.jpg", "image_id": 1375279876,
 *    "people": [{"bbox": [x, y, w, h], "score": s, "keypoints": [x, y, score × K]}]}
 * Video frames add `"frame"` (0-based) and `"time"` (seconds) after `image_id`, and a
 * `"track_id"` first in each person. An image without people still gets its line
 * (`"people": []`): the line is what records the image as done. Numbers are rounded as in
 * COCO results (`toCocoResults`: 3 decimals for coordinates, 6 for scores).
 *
 * This file is the record format; `lib/deno/jsonl_file.ts` writes and scans the files.
 */

import { toCocoResults } from "../coco/results.ts";
import type { Pose } from "../types.ts";

/** One person of a JSONL record. */
export interface JsonlPerson {
  /** The person's track across video frames (video only, when tracking is on). */
  track_id?: number;
  /** Person box as [x, y, width, height] in image pixels. */
  bbox: [number, number, number, number];
  /** Person score. */
  score: number;
  /** x, y, score per keypoint, in image pixels (K × 3 values). */
  keypoints: number[];
}

/** One line of a JSONL results file: one image, or one frame of a video. */
export interface JsonlRecord {
  /** The image's path as the inputs named it (or the video's path or URL). */
  file: string;
  /** The COCO image id its results carry. */
  image_id: number;
  /** 0-based frame index (video only). */
  frame?: number;
  /** Frame time in seconds (video only). */
  time?: number;
  /** The people found, best first. */
  people: JsonlPerson[];
}

/** Frame times keep 6 decimals (1 µs), far finer than any frame rate. */
const TIME_DECIMALS = 6;

/**
 * The record of one still image: its poses rounded exactly as `toCocoResults` rounds them
 * (the same function does it), in the same order.
 *
 * @example One image, one person
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonlRecordForImage, type Pose } from "@posekit/posekit";
 *
 * const pose: Pose = {
 *   box: { x1: 5, y1: 5, x2: 35, y2: 45, score: 0.9 },
 *   keypoints: new Float32Array(17 * 3),
 *   score: 0.9,
 * };
 * const record = jsonlRecordForImage("photos/a.jpg", 7, [pose]);
 * assert.equal(record.file, "photos/a.jpg");
 * assert.equal(record.image_id, 7);
 * assert.deepEqual(record.people[0].bbox, [5, 5, 30, 40]); // x, y, width, height
 * ```
 */
export function jsonlRecordForImage(
  file: string,
  imageId: number,
  poses: readonly Pose[],
): JsonlRecord {
  return { file, image_id: imageId, people: peopleOf(imageId, poses) };
}

/**
 * The record of one video frame. `trackIds[i]` is the track of `poses[i]`; without it (or
 * where an entry is undefined) the person has no `track_id`.
 */
export function jsonlRecordForFrame(
  file: string,
  imageId: number,
  frame: number,
  time: number,
  poses: readonly Pose[],
  trackIds?: readonly (number | undefined)[],
): JsonlRecord {
  const people = peopleOf(imageId, poses).map((person, i) => {
    const trackId = trackIds?.[i];
    return trackId === undefined ? person : { track_id: trackId, ...person };
  });
  const factor = 10 ** TIME_DECIMALS;
  const roundedTime = Number.isFinite(time) ? Math.round(time * factor) / factor : 0;
  return { file, image_id: imageId, frame, time: roundedTime, people };
}

function peopleOf(imageId: number, poses: readonly Pose[]): JsonlPerson[] {
  return toCocoResults(imageId, poses).map(({ bbox, score, keypoints }) => ({
    bbox,
    score,
    keypoints,
  }));
}

/**
 * The key that identifies what a record covers: its `file` for a still image,
 * `${file}#${frame}` for a video frame. Resume skips the keys already present; merge keeps
 * one record per key.
 */
export function recordKey(record: Pick<JsonlRecord, "file" | "frame">): string {
  return record.frame === undefined ? record.file : `${record.file}#${record.frame}`;
}

/**
 * A record as its JSON line, "\n" included, with the keys in the documented order (file,
 * image_id, frame, time, people; track_id, bbox, score, keypoints) whatever order the
 * object had, so that equal records give equal lines.
 */
export function formatJsonlLine(record: JsonlRecord): string {
  const people = record.people.map((person) => ({
    ...(person.track_id === undefined ? {} : { track_id: person.track_id }),
    bbox: person.bbox,
    score: person.score,
    keypoints: person.keypoints,
  }));
  const line = {
    file: record.file,
    image_id: record.image_id,
    ...(record.frame === undefined ? {} : { frame: record.frame }),
    ...(record.time === undefined ? {} : { time: record.time }),
    people,
  };
  return `${JSON.stringify(line)}\n`;
}

/** A line that is valid JSON but not a record; the message says what is wrong. */
export class JsonlRecordError extends Error {}

/**
 * Checks that a parsed line is a record (throws `JsonlRecordError` saying what is wrong) and
 * returns it with only the documented keys.
 */
export function parseJsonlRecord(value: unknown): JsonlRecord {
  if (!isObject(value)) throw new JsonlRecordError("not a JSON object");
  const { file, image_id: imageId, frame, time, people } = value;
  if (typeof file !== "string" || file === "") {
    throw new JsonlRecordError(`"file" must be a non-empty string`);
  }
  if (!Number.isSafeInteger(imageId)) throw new JsonlRecordError(`"image_id" must be an integer`);
  if (frame !== undefined && !(Number.isSafeInteger(frame) && (frame as number) >= 0)) {
    throw new JsonlRecordError(`"frame" must be an integer ≥ 0`);
  }
  if (time !== undefined && !Number.isFinite(time)) {
    throw new JsonlRecordError(`"time" must be a number`);
  }
  if (!Array.isArray(people)) throw new JsonlRecordError(`"people" must be an array`);
  const record: JsonlRecord = {
    file,
    image_id: imageId as number,
    people: people.map((person, i) => parsePerson(person, i)),
  };
  if (frame !== undefined) record.frame = frame as number;
  if (time !== undefined) record.time = time as number;
  return record;
}

function parsePerson(value: unknown, index: number): JsonlPerson {
  const where = `people[${index}]`;
  if (!isObject(value)) throw new JsonlRecordError(`${where} is not a JSON object`);
  const { track_id: trackId, bbox, score, keypoints } = value;
  if (!isNumberArray(bbox) || bbox.length !== 4) {
    throw new JsonlRecordError(`${where}.bbox must be 4 numbers`);
  }
  if (typeof score !== "number") throw new JsonlRecordError(`${where}.score must be a number`);
  if (!isNumberArray(keypoints) || keypoints.length % 3 !== 0) {
    throw new JsonlRecordError(`${where}.keypoints must be x, y, score triples`);
  }
  if (trackId !== undefined && !Number.isSafeInteger(trackId)) {
    throw new JsonlRecordError(`${where}.track_id must be an integer`);
  }
  const person: JsonlPerson = {
    bbox: bbox as [number, number, number, number],
    score,
    keypoints,
  };
  return trackId === undefined ? person : { track_id: trackId as number, ...person };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => typeof n === "number");
}
