/**
 * Merging JSON Lines result files (`lib/output/merge.ts` holds the rules: order, duplicates,
 * conflicts).
 */

import {
  cocoResultsFromRecords,
  type MergedResult,
  type MergeOrder,
  RecordMerger,
} from "../output/merge.ts";
import { scanJsonl } from "./jsonl_file.ts";

/** A torn last line found in an input, ignored by the merge. */
export interface TornLine {
  /** The JSONL file. */
  file: string;
  /** Its 1-based line number. */
  line: number;
  /** Bytes in the torn line. */
  bytes: number;
}

/** The outcome of `mergeJsonlFiles`. */
export interface MergeResult {
  /** COCO results, ordered as asked. */
  results: MergedResult[];
  /** Distinct images and frames. */
  records: number;
  /** Identical records seen more than once and dropped. */
  duplicates: number;
  /** Torn last lines that were ignored (the images they held are missing). */
  torn: TornLine[];
  /**
   * Inputs with records but no header (written before posekit recorded its settings): their
   * settings could not be checked against the others' (listed only when some input has a
   * header: when none has, there is nothing to check against).
   */
  unchecked: string[];
}

/**
 * Reads JSONL files (read-only; a torn last line is reported in `torn` and skipped, not cut
 * off) and merges their records into COCO results: see `RecordMerger` for duplicates and
 * conflicts, and the module comment for the order. Every header must name the same settings
 * (models and options), else `MergeConflictError` says what differs; records are keyed by
 * their path resolved against their header's `cwd`, so one image named relatively in one
 * file and absolutely in another is one image. A corrupt line before the last throws
 * `JsonlCorruptError`; conflicts throw `MergeConflictError`. Holds the merged records in
 * memory (the output is one array); the files are read line by line.
 *
 * @example Merge shards into one results file
 * ```ts ignore
 * import { mergeJsonlFiles, writeResultsAtomic } from "@posekit/posekit";
 *
 * const { results, records, duplicates, torn } = await mergeJsonlFiles(
 *   ["shard0.jsonl", "shard1.jsonl"],
 * );
 * for (const line of torn) console.warn(`${line.file}:${line.line}: torn line ignored`);
 * console.log(`${records} images, ${duplicates} duplicates dropped`);
 * await writeResultsAtomic("results.json", results);
 * ```
 */
export async function mergeJsonlFiles(
  paths: readonly string[],
  order: MergeOrder = "path",
): Promise<MergeResult> {
  const merger = new RecordMerger();
  const torn: TornLine[] = [];
  const unchecked: string[] = [];
  for (const path of paths) {
    let recordsBeforeHeader = 0;
    const scan = await scanJsonl(
      path,
      (record, line, header) => {
        if (!header) recordsBeforeHeader++;
        merger.add(record, { file: path, line }, header?.cwd);
      },
      (header, line) => merger.addHeader(header, { file: path, line }),
    );
    if (recordsBeforeHeader > 0) unchecked.push(path);
    if (scan.tornBytes > 0) {
      torn.push({ file: path, line: scan.tornLine ?? scan.records + 1, bytes: scan.tornBytes });
    }
  }
  const records = merger.records(order);
  return {
    results: cocoResultsFromRecords(records),
    records: records.length,
    duplicates: merger.duplicates,
    torn,
    unchecked: merger.hasHeaders ? unchecked : [],
  };
}
