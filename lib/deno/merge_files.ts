/**
 * Merging JSON Lines result files (`lib/output/merge.ts` holds the rules: order, duplicates,
 * conflicts), streamed: many parts and millions of lines in bounded memory.
 *
 * How: a first pass reads every file (`scanJsonl`: torn last lines, corrupt lines, headers
 * checked against each other) and notes whether each file's records are already in the merge's
 * order — a predict run writes its inputs in sorted order, so a shard's part normally is. The
 * image ids go to an external sort (`ExternalSorter`), which then checks that no id is given to
 * two images, one id at a time. The records of files in order are read again as they are;
 * those of files out of order (a resumed run that redid a failed image) are sorted through
 * temporary files. A k-way merge of these sorted runs brings every copy of one image together,
 * where duplicates and conflicts are settled, and the kept records stream out as results.
 * Memory: the sort buffers (`bufferBytes`, 64 MiB by default, then spilled to disk), one read
 * buffer per run being merged (at most 64 at once), and one batch of results.
 */

import { join } from "node:path";
import { formatResultsJson } from "../coco/results.ts";
import {
  formatJsonlLine,
  type JsonlRecord,
  JsonlRecordError,
  normalisedFile,
  parseJsonlLine,
} from "../output/jsonl.ts";
import {
  cocoResultsFromRecords,
  compareEntries,
  compareImageIdEntries,
  type DuplicateCount,
  DuplicateTally,
  entryRecord,
  HeaderRules,
  type ImageIdEntry,
  ImageIdRules,
  type MergedResult,
  type MergeEntry,
  type MergeOrder,
  SortedRecordRules,
} from "../output/merge.ts";
import { comparePaths } from "../output/shard.ts";
import {
  DEFAULT_BUFFER_BYTES,
  ExternalSorter,
  mergeRuns,
  readLines,
  type SortCodec,
  type SortedRun,
} from "./external_sort.ts";
import { createTemporaryFile, removeStaleTemporaryFiles } from "./files.ts";
import { JsonlCorruptError, scanJsonl } from "./jsonl_file.ts";

/** A torn last line found in an input, ignored by the merge. */
export interface TornLine {
  /** The JSONL file. */
  file: string;
  /** Its 1-based line number. */
  line: number;
  /** Bytes in the torn line. */
  bytes: number;
}

/** What a merge did (`mergeJsonlStream`, `writeMergedResults`). */
export interface MergeSummary {
  /** Distinct images and frames. */
  records: number;
  /** Results written: one per person. */
  people: number;
  /** Identical records seen more than once and dropped (all of `duplicateFiles`). */
  duplicates: number;
  /**
   * The duplicates by pair of files (the kept record's, the repeat's): the parts of one split
   * are disjoint, so a repeat means a part given twice or parts of two splits, to be reported.
   */
  duplicateFiles: DuplicateCount[];
  /** Torn last lines that were ignored (the images they held are missing). */
  torn: TornLine[];
  /**
   * Inputs with records but no header (written before posekit recorded its settings): their
   * settings could not be checked against the others' (listed only when some input has a
   * header: when none has, there is nothing to check against).
   */
  unchecked: string[];
}

/** The outcome of `mergeJsonlFiles`: the summary and the results themselves. */
export interface MergeResult extends MergeSummary {
  /** COCO results, ordered as asked. */
  results: MergedResult[];
}

/** Options of `mergeJsonlStream` and `writeMergedResults`. */
export interface MergeOptions {
  /** Order of the results (see `MergeOrder`; default "path"). */
  order?: MergeOrder;
  /**
   * Where the sort's temporary files go: a folder made in it and removed at the end (default:
   * the system's temporary folder, `TMPDIR`). Needed only when the records do not fit in the
   * buffers; they take about as much room as the inputs.
   */
  tempDir?: string;
  /** Bytes of records (about) each sort holds in memory before writing a run (64 MiB). */
  bufferBytes?: number;
}

/** A folder for temporary files, made on first use and removed by `remove`. */
class TemporaryFolder {
  private made: string | undefined;
  constructor(private readonly parent: string | undefined) {}
  /** The folder, made now if it was not yet. */
  get path(): string {
    this.made ??= Deno.makeTempDirSync({ prefix: "posekit-merge-", dir: this.parent });
    return this.made;
  }
  async remove(): Promise<void> {
    if (this.made) await Deno.remove(this.made, { recursive: true }).catch(() => {});
  }
}

/** Sort codec of merge entries: `compare` decides the order (by image, or as read). */
function entryCodec(
  paths: readonly string[],
  compare: (a: MergeEntry, b: MergeEntry) => number,
): SortCodec<MergeEntry> {
  const index = new Map<string, number>();
  paths.forEach((path, i) => index.has(path) || index.set(path, i));
  return {
    compare,
    // The key is JSON (its tabs and newlines escaped), the line is JSON: tabs separate.
    encode: (e) =>
      `${JSON.stringify(e.key)}\t${e.frame}\t${e.seq}\t${index.get(e.source.file)}\t` +
      `${e.source.line}\t${e.line}`,
    decode: (text) => {
      const t1 = text.indexOf("\t");
      const t2 = text.indexOf("\t", t1 + 1);
      const t3 = text.indexOf("\t", t2 + 1);
      const t4 = text.indexOf("\t", t3 + 1);
      const t5 = text.indexOf("\t", t4 + 1);
      return {
        key: JSON.parse(text.slice(0, t1)),
        frame: Number(text.slice(t1 + 1, t2)),
        seq: Number(text.slice(t2 + 1, t3)),
        source: {
          file: paths[Number(text.slice(t3 + 1, t4))],
          line: Number(text.slice(t4 + 1, t5)),
        },
        line: text.slice(t5 + 1),
      };
    },
    size: (e) => e.key.length + e.line.length + 200,
  };
}

/** Sort codec of image id entries, by id. */
function imageIdCodec(paths: readonly string[]): SortCodec<ImageIdEntry> {
  const index = new Map<string, number>();
  paths.forEach((path, i) => index.has(path) || index.set(path, i));
  return {
    compare: compareImageIdEntries,
    encode: (e) =>
      `${e.imageId}\t${e.seq}\t${index.get(e.source.file)}\t${e.source.line}\t` +
      `${e.frame ?? ""}\t${JSON.stringify([e.key, e.file])}`,
    decode: (text) => {
      const [id, seq, part, line, frame] = text.split("\t", 5);
      const [key, file] = JSON.parse(text.slice(text.indexOf("\t[") + 1));
      return {
        imageId: Number(id),
        seq: Number(seq),
        source: { file: paths[Number(part)], line: Number(line) },
        key,
        file,
        ...(frame === "" ? {} : { frame: Number(frame) }),
      };
    },
    size: (e) => e.key.length + e.file.length + 150,
  };
}

/** The entry of a record read at `source`, with its header's `cwd` as the base of its file. */
function entryOf(
  record: JsonlRecord,
  base: string | undefined,
  seq: number,
  source: { file: string; line: number },
): MergeEntry {
  return {
    key: normalisedFile(record.file, base),
    frame: record.frame ?? -1,
    seq,
    source,
    line: formatJsonlLine(record).slice(0, -1),
  };
}

/** What the first pass learnt about one input. */
interface PartScan {
  path: string;
  /** Complete records (those after are a torn line). */
  records: number;
  /** Its records are in the merge's order already. */
  sorted: boolean;
  /** `seq` of its first record. */
  firstSeq: number;
}

/** The records of a file again, as entries, a batch at a time (`scan.records` of them). */
async function* partEntries(scan: PartScan): AsyncGenerator<MergeEntry[]> {
  if (scan.records === 0) return;
  let lineNumber = 0;
  let read = 0;
  let base: string | undefined;
  for await (const lines of readLines(scan.path)) {
    const batch: MergeEntry[] = [];
    for (const text of lines) {
      lineNumber++;
      if (text.trim() === "") continue;
      let parsed;
      try {
        parsed = parseJsonlLine(JSON.parse(text));
      } catch (error) {
        const reason = error instanceof JsonlRecordError ? error.message : "not valid JSON";
        throw new JsonlCorruptError(
          scan.path,
          lineNumber,
          `${reason}; did it change while merged?`,
        );
      }
      if (parsed.header) {
        base = parsed.header.cwd;
        continue;
      }
      const source = { file: scan.path, line: lineNumber };
      batch.push(entryOf(parsed.record, base, scan.firstSeq + read, source));
      if (++read === scan.records) break;
    }
    if (batch.length > 0) yield batch;
    if (read === scan.records) return;
  }
  throw new Error(`${scan.path} changed while merged: it holds fewer records than before`);
}

/**
 * Reads JSONL files (read-only; a torn last line is reported in `torn` and skipped, not cut
 * off) and merges their records into COCO results, handed to `sink` a batch at a time in the
 * order asked (see the module comment for how, and `lib/output/merge.ts` for the rules).
 * Every header must name the same settings (models and options), else `MergeConflictError`
 * says what differs; records are keyed by their path resolved against their header's `cwd`,
 * so one image named relatively in one file and absolutely in another is one image. The
 * same image twice with the same results is kept once and counted in `duplicateFiles`; with
 * different results, or two images with one image id, it is a `MergeConflictError`. A corrupt
 * line before the last throws `JsonlCorruptError`. All checks but the last conflicts are done
 * before the first result is handed on: a sink that writes must be discarded on an error.
 *
 * @example Frames per track over a tracked video's parts, in bounded memory
 * ```ts ignore
 * import { mergeJsonlStream } from "@posekit/posekit";
 *
 * const frames = new Map<number, number>(); // track id → frames it is in
 * const parts = ["clip.part1.jsonl", "clip.part2.jsonl"];
 * const summary = await mergeJsonlStream(parts, (results) => {
 *   for (const { track_id } of results) {
 *     if (track_id !== undefined) frames.set(track_id, (frames.get(track_id) ?? 0) + 1);
 *   }
 * }, { tempDir: "/scratch/tmp", bufferBytes: 256 * 1048576 }); // sorts spill there
 * for (const { file, line } of summary.torn) console.warn(`${file}:${line}: torn, skipped`);
 * console.log(`${summary.records} frames, ${frames.size} tracks`);
 * ```
 */
export async function mergeJsonlStream(
  paths: readonly string[],
  sink: (results: MergedResult[]) => void | Promise<void>,
  options: MergeOptions = {},
): Promise<MergeSummary> {
  const order = options.order ?? "path";
  const budget = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  const folder = new TemporaryFolder(options.tempDir);
  try {
    const headers = new HeaderRules();
    const torn: TornLine[] = [];
    const unchecked: string[] = [];
    const scans: PartScan[] = [];
    const idCodec = imageIdCodec(paths);
    const ids = new ExternalSorter(idCodec, () => folder.path, budget, "ids");
    let seq = 0;
    // First pass: check every file, sort the image ids, note which files are in order.
    for (const path of paths) {
      const scan: PartScan = { path, records: 0, sorted: true, firstSeq: seq };
      let previous: { key: string; frame: number } | undefined;
      let recordsBeforeHeader = 0;
      const result = await scanJsonl(
        path,
        (record, line, header) => {
          if (!header) recordsBeforeHeader++;
          const key = normalisedFile(record.file, header?.cwd);
          const frame = record.frame ?? -1;
          if (
            previous &&
            (comparePaths(previous.key, key) || previous.frame - frame) > 0
          ) scan.sorted = false;
          previous = { key, frame };
          ids.add({
            imageId: record.image_id,
            seq: seq++,
            source: { file: path, line },
            key,
            file: record.file,
            ...(record.frame === undefined ? {} : { frame: record.frame }),
          });
        },
        (header, line) => headers.add(header, { file: path, line }),
      );
      scan.records = result.records;
      scans.push(scan);
      if (recordsBeforeHeader > 0) unchecked.push(path);
      if (result.tornBytes > 0) {
        torn.push({
          file: path,
          line: result.tornLine ?? result.records + 1,
          bytes: result.tornBytes,
        });
      }
    }
    // No image id for two images.
    const idRules = new ImageIdRules();
    for await (const batch of mergeRuns(ids.runs(), idCodec, () => folder.path)) {
      for (const entry of batch) idRules.accept(entry);
    }
    // The records by image: files in order as they are, the others sorted.
    const byImage = entryCodec(paths, compareEntries);
    const unsorted = new ExternalSorter(byImage, () => folder.path, budget, "records");
    const runs: SortedRun<MergeEntry>[] = [];
    for (const scan of scans) {
      if (scan.sorted) runs.push(partEntries(scan));
      else for await (const batch of partEntries(scan)) for (const e of batch) unsorted.add(e);
    }
    runs.push(...unsorted.runs());
    const tally = new DuplicateTally();
    const rules = new SortedRecordRules(tally);
    let records = 0;
    let people = 0;
    const emit = async (entries: MergeEntry[]) => {
      const results = cocoResultsFromRecords(entries.map(entryRecord));
      people += results.length;
      if (results.length > 0) await sink(results);
    };
    const asRead = order === "input"
      ? new ExternalSorter(
        entryCodec(paths, (a, b) => a.seq - b.seq),
        () => folder.path,
        budget,
        "input",
      )
      : undefined;
    for await (const batch of mergeRuns(runs, byImage, () => folder.path)) {
      const kept = batch.filter((entry) => rules.accept(entry));
      records += kept.length;
      if (asRead) { for (const entry of kept) asRead.add(entry); }
      else await emit(kept);
    }
    if (asRead) {
      const codec = entryCodec(paths, (a, b) => a.seq - b.seq);
      for await (const batch of mergeRuns(asRead.runs(), codec, () => folder.path)) {
        await emit(batch);
      }
    }
    return {
      records,
      people,
      duplicates: tally.count,
      duplicateFiles: tally.list(),
      torn,
      unchecked: headers.hasHeaders ? unchecked : [],
    };
  } finally {
    await folder.remove();
  }
}

/**
 * `mergeJsonlStream` with the results kept in memory and returned: for a few files (eval's
 * `.jsonl` input, tests); `writeMergedResults` writes any number without holding them.
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
  options: Omit<MergeOptions, "order"> = {},
): Promise<MergeResult> {
  const results: MergedResult[] = [];
  const summary = await mergeJsonlStream(paths, (batch) => {
    for (const result of batch) results.push(result);
  }, { ...options, order });
  return { ...summary, results };
}

/** Bytes of results text gathered before each write. */
const WRITE_BYTES = 1 << 20;

/**
 * Merges JSONL files (`mergeJsonlStream`) into one COCO results file at `out`, or on stdout
 * without `out`, streamed: the same bytes as `formatResultsJson` of all the results (one
 * result per line), written to a locked temporary file beside `out` and renamed over it only
 * when the whole merge succeeded (so a conflict found late leaves `out` as it was). For stdout
 * the temporary file is in the sort's folder and copied out at the end, for the same reason.
 *
 * @example A job array's parts into one COCO results file
 * ```ts ignore
 * import { writeMergedResults } from "@posekit/posekit";
 *
 * const parts = Array.from({ length: 8 }, (_, i) => `out/part${i + 1}of8.jsonl`);
 * // results.json appears only once the whole merge succeeded (`undefined`: to stdout).
 * const summary = await writeMergedResults(parts, "results.json", { order: "path" });
 * console.log(`${summary.records} images, ${summary.people} people`);
 * for (const { files, count } of summary.duplicateFiles) {
 *   console.warn(`${count} records of ${files[0]} again in ${files[1]}: a part given twice?`);
 * }
 * ```
 */
export async function writeMergedResults(
  paths: readonly string[],
  out: string | undefined,
  options: MergeOptions = {},
): Promise<MergeSummary> {
  const folder = new TemporaryFolder(options.tempDir);
  let target: { path: string; file: Deno.FsFile };
  if (out !== undefined) {
    await removeStaleTemporaryFiles(out);
    target = await createTemporaryFile(out);
  } else {
    const path = join(folder.path, "results.json");
    target = { path, file: await Deno.open(path, { write: true, createNew: true }) };
  }
  let closed = false;
  const close = () => {
    if (!closed) target.file.close();
    closed = true;
  };
  let done = false;
  try {
    const encoder = new TextEncoder();
    let pending: string[] = [];
    let pendingLength = 0;
    let first = true;
    const flush = async () => {
      const bytes = encoder.encode(pending.join(""));
      for (let offset = 0; offset < bytes.length;) {
        offset += await target.file.write(bytes.subarray(offset));
      }
      pending = [];
      pendingLength = 0;
    };
    const summary = await mergeJsonlStream(paths, async (results) => {
      for (const result of results) {
        const text = (first ? "[\n" : ",\n") + JSON.stringify(result);
        first = false;
        pending.push(text);
        pendingLength += text.length;
      }
      if (pendingLength >= WRITE_BYTES) await flush();
    }, options);
    pending.push(first ? formatResultsJson([]) : "\n]\n");
    await flush();
    if (out !== undefined) {
      await target.file.syncData(); // see writeFileAtomic
      await Deno.rename(target.path, out);
    }
    close();
    if (out === undefined) await copyToStdout(target.path);
    done = true;
    return summary;
  } finally {
    close();
    if (!done && out !== undefined) await Deno.remove(target.path).catch(() => {});
    await folder.remove();
  }
}

/** Writes a file's bytes to stdout, a piece at a time. */
async function copyToStdout(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(WRITE_BYTES);
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) return;
      for (let offset = 0; offset < n;) {
        offset += await Deno.stdout.write(buffer.subarray(offset, n));
      }
    }
  } finally {
    file.close();
  }
}
