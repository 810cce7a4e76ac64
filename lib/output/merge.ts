/**
 * Joining JSONL results (the shards of one job, or a resumed run) into one COCO keypoint
 * results array, each image once: the rules, applied to a stream of records sorted by image
 * (`lib/deno/merge_files.ts` sorts them, on disk when they do not fit in memory).
 *
 * Order: by `file` (resolved against the `cwd` of the run that wrote it; UTF-16 code units, as
 * `selectShard` sorts), then by frame for videos; people keep their order within the record.
 * Shards are cut from the path-sorted input list, so this is the order of a one-shot `predict
 * --out x.json` over the same sorted inputs (a folder or a glob) whatever the order of the
 * shard files on the command line. `order: "input"` keeps instead the order of the records as
 * read (files in the order given, lines in file order): a single file from a run over
 * explicitly listed images then keeps their order.
 */

import type { CocoKeypointResult } from "../coco/results.ts";
import {
  describeHeaderDifferences,
  formatJsonlLine,
  headerDifferences,
  type JsonlHeader,
  type JsonlRecord,
} from "./jsonl.ts";
import { comparePaths } from "./shard.ts";

/** A COCO keypoint result that also names its image (and frame and track for video). */
export interface MergedResult extends CocoKeypointResult {
  /** The record's `file`: the image (or video) path as the inputs named it. */
  file_name: string;
  /** 0-based frame index (video only). */
  frame?: number;
  /** Track of the person across frames (video, when tracking was on). */
  track_id?: number;
}

/** Where a record was read. */
export interface RecordSource {
  file: string;
  line: number;
}

/** Two records for the same image that disagree, or two images with one image id. */
export class MergeConflictError extends Error {}

/** How merged results are ordered (see the module comment). */
export type MergeOrder = "path" | "input";

/**
 * A record as the merge sorts it: by `key` (its file normalised against its header's `cwd`,
 * `normalisedFile`), then `frame`, then `seq` (the order it was read in: files in the order
 * given, lines in file order). Sorting by the normalised path puts every copy of one image
 * side by side, however each shard named it, so duplicates and conflicts are found one key
 * at a time, without a table of every image seen.
 */
export interface MergeEntry {
  /** The record's file, normalised: what tells two images apart. */
  key: string;
  /** The frame, −1 for a still image (before frame 0 of a video of the same name). */
  frame: number;
  /** Position in reading order, unique over the merge. */
  seq: number;
  source: RecordSource;
  /** The record as its line (`formatJsonlLine`, without the "\n"), the file as written. */
  line: string;
}

/** The merge's order of entries: key (UTF-16 code units), frame, then reading order. */
export function compareEntries(a: MergeEntry, b: MergeEntry): number {
  return comparePaths(a.key, b.key) || a.frame - b.frame || a.seq - b.seq;
}

/** The record an entry holds. */
export function entryRecord(entry: MergeEntry): JsonlRecord {
  return JSON.parse(entry.line) as JsonlRecord;
}

/** How many records one file repeats from another (or from itself). */
export interface DuplicateCount {
  /** The file the kept record came from, then the file of the repeat (the same for both). */
  files: [string, string];
  /** Records of the first file found again in the second. */
  count: number;
}

/**
 * Counts identical records seen again, by the pair of files: shards are cut disjoint, so an
 * image in two parts means parts of two splits, or a part given twice, and is worth a
 * warning that names the files, even when the records agree.
 */
export class DuplicateTally {
  private readonly counts = new Map<string, DuplicateCount>();
  private total = 0;

  /** Counts one repeat of the record kept from `kept`, read again at `again`. */
  add(kept: RecordSource, again: RecordSource): void {
    const id = JSON.stringify([kept.file, again.file]);
    const known = this.counts.get(id);
    if (known) known.count++;
    else this.counts.set(id, { files: [kept.file, again.file], count: 1 });
    this.total++;
  }

  /** Repeats in all. */
  get count(): number {
    return this.total;
  }

  /** Repeats by pair of files, in the order first seen. */
  list(): DuplicateCount[] {
    return [...this.counts.values()].map((c) => ({ files: [...c.files], count: c.count }));
  }
}

/**
 * The merge's rule for records of one image, applied to entries in `compareEntries` order: the
 * first of each key is kept; another with the same image id and people is a duplicate,
 * dropped and counted in the tally; one that differs is a `MergeConflictError` naming the
 * image and both places. Holds only the current key's first entry.
 */
export class SortedRecordRules {
  private kept: { entry: MergeEntry; canonical?: string } | undefined;

  constructor(private readonly tally: DuplicateTally) {}

  /** True when `entry` is the first of its image (keep it); false for a duplicate. */
  accept(entry: MergeEntry): boolean {
    const kept = this.kept;
    if (!kept || kept.entry.key !== entry.key || kept.entry.frame !== entry.frame) {
      this.kept = { entry };
      return true;
    }
    if (kept.entry.line !== entry.line) {
      // The same record named another way (relative, absolute) is still the same record.
      kept.canonical ??= canonicalLine(kept.entry);
      if (kept.canonical !== canonicalLine(entry)) {
        const first = entryRecord(kept.entry);
        const record = entryRecord(entry);
        const what = first.image_id !== record.image_id
          ? `image ids ${first.image_id} and ${record.image_id}`
          : "different people";
        throw new MergeConflictError(
          `${describe(record)} has ${what} in ${at(kept.entry.source)} and ${at(entry.source)}`,
        );
      }
    }
    this.tally.add(kept.entry.source, entry.source);
    return false;
  }
}

function canonicalLine(entry: MergeEntry): string {
  return formatJsonlLine({ ...entryRecord(entry), file: entry.key });
}

/** A record's image id, as the id check sorts it: by `imageId`, then `seq`. */
export interface ImageIdEntry {
  imageId: number;
  seq: number;
  source: RecordSource;
  /** The normalised file (`MergeEntry.key`). */
  key: string;
  /** The file as written, for messages. */
  file: string;
  /** Set for a video frame. */
  frame?: number;
}

/** The id check's order: image id, then reading order. */
export function compareImageIdEntries(a: ImageIdEntry, b: ImageIdEntry): number {
  return a.imageId - b.imageId || a.seq - b.seq;
}

/**
 * One COCO results file has one image per id: two images, a frame and an image, or the
 * frames of two videos (whose ids are frame numbers) must not share one. Applied to entries in
 * `compareImageIdEntries` order; throws `MergeConflictError` naming both. Holds only the
 * current id's first entry.
 */
export class ImageIdRules {
  private first: ImageIdEntry | undefined;

  /** Checks `entry` against the first entry of its id. */
  accept(entry: ImageIdEntry): void {
    const first = this.first;
    if (!first || first.imageId !== entry.imageId) {
      this.first = entry;
      return;
    }
    if (first.key === entry.key) return;
    const hint = entry.frame !== undefined || first.frame !== undefined
      ? "a COCO results file holds one video (its frame numbers are its image ids): " +
        "merge each video's records alone"
      : "were the shards' image ids assigned over the whole input list?";
    throw new MergeConflictError(
      `image id ${entry.imageId} is given to two images: ${first.file} ` +
        `(${at(first.source)}) and ${entry.file} (${at(entry.source)}); ${hint}`,
    );
  }
}

/**
 * Headers must all name the same settings: records of two models, or of two sets of options,
 * are never merged into one results file.
 */
export class HeaderRules {
  private firstHeader: { header: JsonlHeader; source: RecordSource } | undefined;

  /**
   * Adds a header read at `source`: its settings must be those of the first header added
   * (else `MergeConflictError` saying what differs); `version` and `cwd` may differ.
   */
  add(header: JsonlHeader, source: RecordSource): void {
    if (!this.firstHeader) {
      this.firstHeader = { header, source };
      return;
    }
    const first = this.firstHeader.source;
    const differences = headerDifferences(header, this.firstHeader.header);
    if (differences.length > 0) {
      const what = describeHeaderDifferences(differences, `in ${source.file}`, `in ${first.file}`);
      throw new MergeConflictError(
        `${at(source)} and ${at(first)} hold results made with different settings (${what}): ` +
          `merging them would mix them in one results file`,
      );
    }
  }

  /** True once a header was added. */
  get hasHeaders(): boolean {
    return this.firstHeader !== undefined;
  }
}

function describe(record: JsonlRecord): string {
  return record.frame === undefined
    ? `image ${record.file}`
    : `frame ${record.frame} of ${record.file}`;
}

function at(source: RecordSource): string {
  return `${source.file} line ${source.line}`;
}

/**
 * The COCO results of records, in their order and each record's people in theirs: `image_id`,
 * `category_id` 1, `keypoints`, `score`, `bbox` (the fields and order of `toCocoResults`),
 * then `file_name`, and for video `frame` and `track_id`. Records without people add nothing.
 */
export function cocoResultsFromRecords(records: Iterable<JsonlRecord>): MergedResult[] {
  const results: MergedResult[] = [];
  for (const record of records) {
    for (const person of record.people) {
      const result: MergedResult = {
        image_id: record.image_id,
        category_id: 1,
        keypoints: person.keypoints,
        score: person.score,
        bbox: person.bbox,
        file_name: record.file,
      };
      if (record.frame !== undefined) result.frame = record.frame;
      if (person.track_id !== undefined) result.track_id = person.track_id;
      results.push(result);
    }
  }
  return results;
}
