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
 * Header: a file written by posekit starts with one line that is not a record,
 *   {"posekit": {"version": "0.1.0", "cwd": "/data", "detector": "rtmdet_nano_person",
 *    "pose": "simplepose_nano_256x192", "flip": true, "det_thr": 0.3, …}}
 * naming the models and the options that shape the results (`JsonlHeader`), so that `--resume`
 * and `merge` can refuse to mix the results of two settings in one file or one merge, and the
 * folder the run ran in (`cwd`), against which its relative `file` paths are resolved into
 * record keys. A resumed run that ran elsewhere (another `cwd`, another version) appends its
 * own header before its records: a header applies to the records after it. Files without a
 * header (written before posekit had them) stay readable; their settings cannot be checked.
 *
 * This file is the record format; `lib/deno/jsonl_file.ts` writes and scans the files.
 */

import { toCocoResults } from "../coco/results.ts";
import type { Pose } from "../types.ts";
import { resolvePath } from "../util/paths.ts";

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
 * A record's `file` as a key: a local path is made absolute against `base` (the folder the
 * run that wrote it ran in) and normalised (`resolvePath`), so that `photos/a.jpg` written by a
 * run in `/data` and `/data/photos/a.jpg` are one image; `-` (stdin) and URLs stay as they are.
 * Without `base` the file is taken as written.
 */
export function normalisedFile(file: string, base?: string): string {
  if (base === undefined || file === "-" || /^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return file;
  return resolvePath(base, file);
}

/**
 * The key that identifies what a record covers: its file for a still image, its file and
 * frame for a video frame, the file normalised against `base` (see `normalisedFile`; records
 * read from a file use their header's `cwd`). Resume skips the keys already present; merge
 * keeps one record per key. The key is a JSON array (`["a.jpg"]`, `["a.mp4",3]`), so no file
 * name can pass for a frame: a still image named `a.mp4#3` is not frame 3 of `a.mp4`.
 *
 * @example Keys of images and frames
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordKey } from "@posekit/posekit";
 *
 * assert.equal(recordKey({ file: "a.jpg" }), '["a.jpg"]');
 * assert.equal(recordKey({ file: "a.mp4", frame: 3 }), '["a.mp4",3]');
 * assert.notEqual(recordKey({ file: "a.mp4#3" }), recordKey({ file: "a.mp4", frame: 3 }));
 * // A relative path written by a run in /data is the same image as the absolute one.
 * const key = recordKey({ file: "photos/a.jpg" }, "/data");
 * assert.equal(key, '["/data/photos/a.jpg"]');
 * assert.equal(key, recordKey({ file: "/data/photos/./a.jpg" }, "/elsewhere")); // normalised
 * ```
 */
export function recordKey(record: Pick<JsonlRecord, "file" | "frame">, base?: string): string {
  const file = normalisedFile(record.file, base);
  return JSON.stringify(record.frame === undefined ? [file] : [file, record.frame]);
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

/** A value a header setting may have (JSON without arrays: numbers, text, flags, objects). */
export type HeaderValue = string | number | boolean | null | { [key: string]: HeaderValue };

/**
 * What a header line holds (the object under its `"posekit"` key): `version` and `cwd`
 * describe the run; every other key is a setting that shapes the results (models,
 * thresholds, flip test…), and two headers must agree on all of them for their records to
 * be mixed. Keys this version does not know (a newer writer's) are compared all the same.
 */
export interface JsonlHeader {
  /** posekit's version that wrote the records after it. */
  version: string;
  /** The folder the run ran in: relative `file` paths are relative to it. */
  cwd?: string;
  /** The settings that shape the results. */
  [setting: string]: HeaderValue | undefined;
}

/**
 * Header keys that describe a run and may differ between runs whose records are mixed: the
 * version (results depend on the models and options recorded, not on the release that ran
 * them) and the working folder (paths are resolved against it).
 */
const RUN_KEYS = new Set(["version", "cwd"]);

/** A header as its JSON line, "\n" included: `{"posekit": {...}}`. */
export function formatJsonlHeader(header: JsonlHeader): string {
  return `${JSON.stringify({ posekit: header })}\n`;
}

/** One setting on which two headers disagree (`undefined`: the header lacks it). */
export interface HeaderDifference {
  /** The setting. */
  key: string;
  /** Its value in the first header. */
  a: HeaderValue | undefined;
  /** Its value in the second header. */
  b: HeaderValue | undefined;
}

/**
 * The settings on which two headers disagree, in key order (`version` and `cwd` do not count:
 * see `RUN_KEYS`). Objects are compared by value, whatever the order of their keys.
 */
export function headerDifferences(a: JsonlHeader, b: JsonlHeader): HeaderDifference[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => !RUN_KEYS.has(key)).sort();
  return keys
    .filter((key) => canonical(a[key]) !== canonical(b[key]))
    .map((key) => ({ key, a: a[key], b: b[key] }));
}

/**
 * Differences as one phrase for a message: `pose: x (a) vs y (b); flip: true (a) vs false (b)`,
 * with `labelA` and `labelB` naming where each value comes from.
 */
export function describeHeaderDifferences(
  differences: readonly HeaderDifference[],
  labelA: string,
  labelB: string,
): string {
  const show = (value: HeaderValue | undefined) =>
    value === undefined ? "not recorded" : JSON.stringify(value);
  return differences
    .map(({ key, a, b }) => `${key} ${show(a)} ${labelA} vs ${show(b)} ${labelB}`)
    .join("; ");
}

function canonical(value: HeaderValue | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
}

/** One parsed line of a JSONL results file: the header, or a record. */
export type JsonlLine = { header: JsonlHeader; record?: undefined } | {
  record: JsonlRecord;
  header?: undefined;
};

/**
 * Checks that a parsed line is a header (`{"posekit": {...}}`) or a record (throws
 * `JsonlRecordError` saying what is wrong) and returns it.
 */
export function parseJsonlLine(value: unknown): JsonlLine {
  if (isObject(value) && "posekit" in value) {
    const header = value.posekit;
    if (!isObject(header) || typeof header.version !== "string") {
      throw new JsonlRecordError(`a header's "posekit" must be an object with a "version"`);
    }
    if (header.cwd !== undefined && typeof header.cwd !== "string") {
      throw new JsonlRecordError(`a header's "cwd" must be a string`);
    }
    return { header: header as JsonlHeader };
  }
  return { record: parseJsonlRecord(value) };
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
  // JSON.parse reads 1e999 as Infinity, which JSON.stringify would write as null: a merged
  // results file would hold nulls where numbers belong. posekit never writes such numbers.
  const notFinite = [["bbox", bbox], ["score", [score]], ["keypoints", keypoints]] as const;
  for (const [name, values] of notFinite) {
    const index = values.findIndex((n) => !Number.isFinite(n));
    if (index >= 0) {
      const at = name === "score" ? "" : `[${index}]`;
      throw new JsonlRecordError(`${where}.${name}${at} is not a finite number`);
    }
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
