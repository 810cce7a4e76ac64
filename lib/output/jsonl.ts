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
 * Crash safety: each line is handed to the OS in one `write` call before `write()` resolves,
 * so killing the process leaves at most one torn line, the last. `readJsonlProgress` finds it
 * and cuts it off; every earlier line is complete.
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

const NEWLINE = 0x0a;

/** Options of `JsonlWriter.open`. */
export interface JsonlWriterOptions {
  /**
   * Keep the file's lines and add after them (resume). The file must end with a complete
   * line: run `readJsonlProgress` first, which cuts off a torn one. Without `append` the
   * file is created or emptied.
   */
  append: boolean;
}

/**
 * Writes JSONL records to a file, one line per `write`, each handed to the OS before the call
 * resolves. Keeps nothing per record. Calls may overlap (several workers): lines are written
 * one after the other in call order, never interleaved.
 *
 * @example Resumable results
 * ```ts ignore
 * import {
 *   imageIdForPath,
 *   jsonlRecordForImage,
 *   JsonlWriter,
 *   PosePipeline,
 *   readJsonlProgress,
 * } from "@posekit/posekit";
 *
 * const files = ["a.jpg", "b.jpg"];
 * const progress = await readJsonlProgress("results.jsonl"); // cuts off a torn last line
 * const writer = await JsonlWriter.open("results.jsonl", { append: progress.records > 0 });
 * const pipeline = await PosePipeline.create();
 * for (const file of files) {
 *   if (progress.done.has(file)) continue; // done by an earlier run
 *   const poses = await pipeline.runBytes(await Deno.readFile(file), "detector", file);
 *   await writer.write(jsonlRecordForImage(file, imageIdForPath(file), poses));
 * }
 * await writer.close();
 * await pipeline.close();
 * ```
 */
export class JsonlWriter {
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private written = 0;

  private constructor(private readonly file: Deno.FsFile, readonly path: string) {}

  /** Opens `path` for writing records (see `JsonlWriterOptions` for `append`). */
  static async open(path: string, options: JsonlWriterOptions): Promise<JsonlWriter> {
    if (options.append) await checkEndsWithNewline(path);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(
        path,
        options.append
          ? { append: true, create: true }
          : { write: true, create: true, truncate: true },
      );
    } catch (error) {
      throw new Error(`cannot write ${path}: ${(error as Error).message}`);
    }
    return new JsonlWriter(file, path);
  }

  /** Lines written by this writer so far. */
  get records(): number {
    return this.written;
  }

  /**
   * Writes `record` as one line. Resolves once the whole line is with the OS (it then
   * survives the process being killed; `close` makes it survive a power loss too). After a
   * failed write every later write fails with the same error, so that no line follows a
   * partial one.
   */
  write(record: JsonlRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: writer is closed`));
    const bytes = new TextEncoder().encode(formatJsonlLine(record));
    const next = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      try {
        // One call for the whole line as a rule; the loop only covers short writes.
        for (let offset = 0; offset < bytes.length;) {
          offset += await this.file.write(bytes.subarray(offset));
        }
        this.written++;
      } catch (error) {
        this.failure = new Error(`cannot write ${this.path}: ${(error as Error).message}`);
        throw this.failure;
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Waits for pending writes, syncs the file to disk and closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    try {
      if (!this.failure) await this.file.syncData();
    } finally {
      this.file.close();
    }
    if (this.failure) throw this.failure;
  }
}

async function checkEndsWithNewline(path: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const { size } = await file.stat();
    if (size === 0) return;
    await file.seek(size - 1, Deno.SeekMode.Start);
    const last = new Uint8Array(1);
    await file.read(last);
    if (last[0] !== NEWLINE) {
      throw new Error(
        `cannot append to ${path}: its last line is incomplete (read it with ` +
          `readJsonlProgress first, which cuts the torn line off)`,
      );
    }
  } finally {
    file.close();
  }
}

/** What `scanJsonl` found at the end of a file. */
export interface JsonlScan {
  /** Complete, valid records. */
  records: number;
  /** Bytes of the file up to and including the last complete line's "\n". */
  validBytes: number;
  /** Bytes after that: a torn last line (0 when the file ends cleanly). */
  tornBytes: number;
  /** Line number (1-based) of the torn line, when there is one. */
  tornLine?: number;
}

/** A line in the middle of a JSONL file that is not a record; names the file and line. */
export class JsonlCorruptError extends Error {
  constructor(readonly path: string, readonly line: number, reason: string) {
    super(`${path}: line ${line} is corrupt (${reason}); only the last line may be torn`);
  }
}

/** Read size; lines may be longer (they are joined across reads). */
const CHUNK_BYTES = 1 << 20;

/**
 * Reads a JSONL results file line by line without holding it in memory, calling `onRecord`
 * for each complete record in file order. Empty lines are skipped. The last line is torn when
 * it lacks its "\n" or is not valid JSON (a kill while writing it); it is reported in the
 * result, not passed on. A line before the last that is not a valid record throws
 * `JsonlCorruptError`. Does not change the file.
 */
export async function scanJsonl(
  path: string,
  onRecord: (record: JsonlRecord, line: number) => void,
): Promise<JsonlScan> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new Error(`cannot read ${path}: ${describeOpenError(error)}`);
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const chunk = new Uint8Array(CHUNK_BYTES);
  let pending: Uint8Array[] = []; // bytes of the line being read, across reads
  let pendingLength = 0;
  let lineNumber = 0;
  let validBytes = 0;
  let records = 0;
  // A complete line is only known not to be the last once another one follows it, so each
  // is held back one step: a bad last line is torn, a bad earlier one is corruption.
  let held: { text: string; line: number; end: number } | undefined;

  const parse = (text: string, line: number): JsonlRecord | string => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return "not valid JSON";
    }
    try {
      return parseJsonlRecord(value);
    } catch (error) {
      if (error instanceof JsonlRecordError) {
        throw new JsonlCorruptError(path, line, error.message);
      }
      throw error;
    }
  };
  const release = (entry: { text: string; line: number; end: number }) => {
    const result = parse(entry.text, entry.line);
    if (typeof result === "string") {
      const hint = entry.line === 1 && entry.text.trimStart().startsWith("[")
        ? "; it looks like a COCO results array, not JSONL"
        : "";
      throw new JsonlCorruptError(path, entry.line, result + hint);
    }
    onRecord(result, entry.line);
    records++;
    validBytes = entry.end;
  };

  try {
    let position = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await file.read(chunk);
      } catch (error) {
        throw new Error(`cannot read ${path}: ${describeOpenError(error)}`);
      }
      if (n === null) break;
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (chunk[i] !== NEWLINE) continue;
        const piece = chunk.subarray(start, i);
        const bytes = pendingLength === 0
          ? piece
          : concat([...pending, piece], pendingLength + i - start);
        pending = [];
        pendingLength = 0;
        start = i + 1;
        lineNumber++;
        let text: string;
        try {
          text = decoder.decode(bytes);
        } catch {
          text = "\uFFFD"; // invalid UTF-8 is not valid JSON either
        }
        if (held) release(held);
        held = undefined;
        if (text.trim() === "") {
          validBytes = position + i + 1;
          continue;
        }
        held = { text, line: lineNumber, end: position + i + 1 };
      }
      if (start < n) {
        pending.push(chunk.slice(start, n));
        pendingLength += n - start;
      }
      position += n;
    }
    const tornLine = pendingLength > 0 ? lineNumber + 1 : undefined;
    if (held) {
      if (tornLine !== undefined) release(held);
      else {
        const result = parse(held.text, held.line);
        if (typeof result === "string") {
          // The last line, complete but not JSON: torn as well.
          return { records, validBytes, tornBytes: position - validBytes, tornLine: held.line };
        }
        onRecord(result, held.line);
        records++;
        validBytes = held.end;
      }
    }
    return {
      records,
      validBytes,
      tornBytes: position - validBytes,
      ...(tornLine === undefined ? {} : { tornLine }),
    };
  } finally {
    file.close();
  }
}

function describeOpenError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  return (error as Error).message;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** What a JSONL file already holds, for `--resume`. */
export interface JsonlProgress {
  /** `recordKey` of every complete record: the images (and frames) already done. */
  done: Set<string>;
  /** Complete records in the file (a key recorded twice counts twice). */
  records: number;
  /** Bytes of the torn last line that were cut off (0 when the file ended cleanly). */
  tornBytes: number;
}

/**
 * Reads an existing JSONL output before resuming into it: the keys of the records it holds,
 * and a torn last line, which is cut off the file (so appending continues on a clean line
 * and that image is done again). A missing file is no progress. A corrupt line before the
 * last throws `JsonlCorruptError` naming the file and line.
 */
export async function readJsonlProgress(path: string): Promise<JsonlProgress> {
  const done = new Set<string>();
  try {
    await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { done, records: 0, tornBytes: 0 };
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  const scan = await scanJsonl(path, (record) => done.add(recordKey(record)));
  if (scan.tornBytes > 0) {
    try {
      await Deno.truncate(path, scan.validBytes);
    } catch (error) {
      throw new Error(`cannot cut the torn last line off ${path}: ${(error as Error).message}`);
    }
  }
  return { done, records: scan.records, tornBytes: scan.tornBytes };
}
