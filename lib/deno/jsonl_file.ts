/**
 * JSON Lines files of records (`lib/output/jsonl.ts`): written one line per image as images
 * finish, scanned and resumed.
 *
 * Crash safety: each line is handed to the OS in one `write` call before `write()` resolves,
 * so killing the process leaves at most one torn line, the last. `readJsonlProgress` finds it
 * and cuts it off; every earlier line is complete.
 */

import {
  formatJsonlLine,
  type JsonlRecord,
  JsonlRecordError,
  parseJsonlRecord,
  recordKey,
} from "../output/jsonl.ts";

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
