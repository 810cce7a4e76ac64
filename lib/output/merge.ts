/**
 * Joining JSONL results (the shards of one job, or a resumed run) into one COCO keypoint
 * results array, each image once.
 *
 * Order: by `file` (UTF-16 code units, as `selectShard` sorts), then by frame for videos;
 * people keep their order within the record. Shards are cut from the path-sorted input list,
 * so this is the order of a one-shot `predict --out x.json` over the same sorted inputs (a
 * folder or a glob) whatever the order of the shard files on the command line. `order:
 * "input"` keeps instead the order of the records as read (files in the order given, lines in
 * file order): a single file from a run over explicitly listed images then keeps their order.
 */

import type { CocoKeypointResult } from "../coco/results.ts";
import {
  describeHeaderDifferences,
  formatJsonlLine,
  headerDifferences,
  type JsonlHeader,
  type JsonlRecord,
  normalisedFile,
  recordKey,
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

interface Entry {
  record: JsonlRecord;
  /** The record's file, normalised (`normalisedFile`): what tells two images apart. */
  file: string;
  /** The record's canonical line, to tell identical duplicates from conflicts. */
  line: string;
  source: RecordSource;
  position: number;
}

/**
 * Collects records one at a time, keeping one per `recordKey`. The same key again with an
 * identical record (same image id, same people) is a duplicate and dropped; with a different
 * one it is a `MergeConflictError` naming the image and both places. Two still images with
 * one image id are a conflict too (COCO evaluation could not tell them apart). Headers
 * (`addHeader`) must all name the same settings: records of two models, or of two sets of
 * options, are never merged into one results file.
 */
export class RecordMerger {
  private readonly byKey = new Map<string, Entry>();
  /** The first record of each image id (its file tells whether another file reuses it). */
  private readonly fileByImageId = new Map<number, Entry>();
  private duplicateCount = 0;
  private firstHeader: { header: JsonlHeader; source: RecordSource } | undefined;

  /**
   * Adds a header read at `source`: its settings must be those of the first header added
   * (else `MergeConflictError` saying what differs); `version` and `cwd` may differ.
   */
  addHeader(header: JsonlHeader, source: RecordSource): void {
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

  /**
   * Adds one record read at `source`. `base` is the folder its relative `file` is relative to
   * (its header's `cwd`): records are keyed by the normalised path (`recordKey`), so that one
   * image named relatively in one shard and absolutely in another is one image.
   */
  add(record: JsonlRecord, source: RecordSource, base?: string): void {
    const key = recordKey(record, base);
    const file = normalisedFile(record.file, base);
    const line = formatJsonlLine({ ...record, file });
    const known = this.byKey.get(key);
    if (known) {
      if (known.line !== line) {
        const what = known.record.image_id !== record.image_id
          ? `image ids ${known.record.image_id} and ${record.image_id}`
          : "different people";
        throw new MergeConflictError(
          `${describe(record)} has ${what} in ${at(known.source)} and ${at(source)}`,
        );
      }
      this.duplicateCount++;
      return;
    }
    const entry: Entry = { record, file, line, source, position: this.byKey.size };
    // One COCO results file has one image per id: two images, a frame and an image, or the
    // frames of two videos (whose ids are frame numbers) must not share one.
    const sameId = this.fileByImageId.get(record.image_id);
    if (sameId && sameId.file !== file) {
      const hint = record.frame !== undefined || sameId.record.frame !== undefined
        ? "a COCO results file holds one video (its frame numbers are its image ids): " +
          "merge each video's records alone"
        : "were the shards' image ids assigned over the whole input list?";
      throw new MergeConflictError(
        `image id ${record.image_id} is given to two images: ${sameId.record.file} ` +
          `(${at(sameId.source)}) and ${record.file} (${at(source)}); ${hint}`,
      );
    }
    if (!sameId) this.fileByImageId.set(record.image_id, entry);
    this.byKey.set(key, entry);
  }

  /** Records seen again (identical) and dropped. */
  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Distinct records (images and frames) so far. */
  get size(): number {
    return this.byKey.size;
  }

  /** The distinct records in `order`. */
  records(order: MergeOrder = "path"): JsonlRecord[] {
    const entries = [...this.byKey.values()];
    if (order === "path") {
      entries.sort((a, b) =>
        comparePaths(a.record.file, b.record.file) ||
        (a.record.frame ?? -1) - (b.record.frame ?? -1) ||
        a.position - b.position
      );
    }
    return entries.map(({ record }) => record);
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
