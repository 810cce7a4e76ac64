/**
 * JSON Lines files of records (`lib/output/jsonl.ts`): written one line per image as images
 * finish, scanned and resumed.
 *
 * Crash safety: each line is handed to the OS in one `write` call before `write()` resolves,
 * so killing the process leaves at most one torn line, the last. `readJsonlProgress` finds it
 * and cuts it off; every earlier line is complete.
 *
 * `JsonlOutput` is predict's `--out FILE.jsonl`: the header line (`JsonlHeader`: the models and
 * options of the run) first, a resumed file checked against it, records keyed by normalised
 * paths so that a resume matches them however the inputs were named.
 */

import {
  describeHeaderDifferences,
  formatJsonlHeader,
  formatJsonlLine,
  type HeaderDifference,
  headerDifferences,
  type JsonlHeader,
  type JsonlLine,
  type JsonlRecord,
  JsonlRecordError,
  parseJsonlLine,
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

/** Another run is writing the file: it holds the file's lock. */
export class JsonlBusyError extends Error {
  constructor(readonly path: string) {
    super(
      `${path} is being written by another run (it holds the file's lock): wait for that run ` +
        `to finish, or choose another output`,
    );
  }
}

/**
 * Takes `file`'s exclusive lock for as long as it stays open (`Deno.FsFile.tryLock`: flock on
 * Unix, which the kernel drops when the process dies, so a killed run never leaves a stale
 * lock). Two runs appending to one file would interleave their lines and corrupt it mid-file:
 * the second one gets `JsonlBusyError` at once instead of waiting. On a file system that
 * cannot lock, the file is written unguarded, as before locks.
 */
async function lockOutput(file: Deno.FsFile, path: string): Promise<void> {
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch {
    return;
  }
  if (!locked) throw new JsonlBusyError(path);
}

/**
 * Writes JSONL records to a file, one line per `write`, each handed to the OS before the call
 * resolves. Keeps nothing per record. The file is locked while the writer is open
 * (`JsonlBusyError` when another run holds it). Calls may overlap (several workers): lines are written
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
 *   recordKey,
 * } from "@posekit/posekit";
 *
 * const files = ["a.jpg", "b.jpg"];
 * const progress = await readJsonlProgress("results.jsonl"); // cuts off a torn last line
 * const writer = await JsonlWriter.open("results.jsonl", { append: progress.records > 0 });
 * const pipeline = await PosePipeline.create();
 * for (const file of files) {
 *   if (progress.done.has(recordKey({ file }, Deno.cwd()))) continue; // done by an earlier run
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
      // Emptied only once locked: another run's file is never cut.
      file = await Deno.open(
        path,
        options.append ? { append: true, create: true } : { write: true, create: true },
      );
    } catch (error) {
      throw new Error(`cannot write ${path}: ${(error as Error).message}`);
    }
    try {
      await lockOutput(file, path);
      if (!options.append) await file.truncate(0);
    } catch (error) {
      file.close();
      throw error;
    }
    return new JsonlWriter(file, path);
  }

  /** Lines written by this writer so far. */
  get records(): number {
    return this.written;
  }

  /**
   * Writes through `file`, opened for writing and positioned by the caller (`JsonlOutput`
   * writes through the handle it checked the file with). `close` closes it.
   */
  static fromOpenFile(file: Deno.FsFile, path: string): JsonlWriter {
    return new JsonlWriter(file, path);
  }

  /**
   * Writes `record` as one line. Resolves once the whole line is with the OS (it then
   * survives the process being killed; `close` makes it survive a power loss too). After a
   * failed write every later write fails with the same error, so that no line follows a
   * partial one.
   */
  write(record: JsonlRecord): Promise<void> {
    return this.writeLine(formatJsonlLine(record), true);
  }

  /**
   * Writes a header line (`JsonlHeader`): the models and options that shape the records
   * after it. Not counted in `records`.
   */
  writeHeader(header: JsonlHeader): Promise<void> {
    return this.writeLine(formatJsonlHeader(header), false);
  }

  /** Queues one whole line (a record or a header) behind the lines before it. */
  private writeLine(line: string, isRecord: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: writer is closed`));
    const bytes = new TextEncoder().encode(line);
    const next = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      try {
        // One call for the whole line as a rule; the loop only covers short writes.
        for (let offset = 0; offset < bytes.length;) {
          offset += await this.file.write(bytes.subarray(offset));
        }
        if (isRecord) this.written++;
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
  /** Header lines (`JsonlHeader`) read. */
  headers: number;
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

/** The longest line a scan accepts (a crowded image's record is far below it). */
const MAX_LINE_BYTES = 64 * 1048576;

/**
 * Reads a JSONL results file line by line without holding it in memory, calling `onRecord`
 * for each complete record in file order, with the header that applies to it (the last one
 * before it, undefined in a file without one), and `onHeader` for each header line. Empty
 * lines are skipped. The last line is torn when it lacks its "\n" or is not valid JSON (a
 * kill while writing it); it is reported in the result, not passed on. A line before the last
 * that is neither a record nor a header throws `JsonlCorruptError`. Does not change the file.
 */
export async function scanJsonl(
  path: string,
  onRecord: (record: JsonlRecord, line: number, header: JsonlHeader | undefined) => void,
  onHeader?: (header: JsonlHeader, line: number) => void,
): Promise<JsonlScan> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new Error(`cannot read ${path}: ${describeOpenError(error)}`);
  }
  try {
    return await scanOpenFile(file, path, onRecord, onHeader);
  } finally {
    file.close();
  }
}

/** `scanJsonl` on a file already open for reading, from its start. */
async function scanOpenFile(
  file: Deno.FsFile,
  path: string,
  onRecord: (record: JsonlRecord, line: number, header: JsonlHeader | undefined) => void,
  onHeader?: (header: JsonlHeader, line: number) => void,
): Promise<JsonlScan> {
  await file.seek(0, Deno.SeekMode.Start);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const chunk = new Uint8Array(CHUNK_BYTES);
  let pending: Uint8Array[] = []; // bytes of the line being read, across reads
  let pendingLength = 0;
  let lineNumber = 0;
  let validBytes = 0;
  let records = 0;
  let headers = 0;
  let header: JsonlHeader | undefined;
  // A complete line is only known not to be the last once another one follows it, so each
  // is held back one step: a bad last line is torn, a bad earlier one is corruption.
  let held: { text: string; line: number; end: number } | undefined;

  const parse = (text: string, line: number): JsonlLine | string => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return "not valid JSON";
    }
    try {
      return parseJsonlLine(value);
    } catch (error) {
      if (error instanceof JsonlRecordError) {
        throw new JsonlCorruptError(path, line, error.message);
      }
      throw error;
    }
  };
  const accept = (parsed: JsonlLine, entry: { line: number; end: number }) => {
    if (parsed.header) {
      header = parsed.header;
      headers++;
      onHeader?.(parsed.header, entry.line);
    } else {
      onRecord(parsed.record, entry.line, header);
      records++;
    }
    validBytes = entry.end;
  };
  const release = (entry: { text: string; line: number; end: number }) => {
    const result = parse(entry.text, entry.line);
    if (typeof result === "string") {
      const hint = entry.line === 1 && entry.text.trimStart().startsWith("[")
        ? "; it looks like a COCO results array, not JSONL"
        : "";
      throw new JsonlCorruptError(path, entry.line, result + hint);
    }
    accept(result, entry);
  };

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
      // A record is a few kilobytes; a "line" of many megabytes is not one (and would be held
      // whole, then fail to decode as one string).
      if (pendingLength > MAX_LINE_BYTES) {
        throw new JsonlCorruptError(
          path,
          lineNumber + 1,
          `a line longer than ${MAX_LINE_BYTES / 1048576} MiB, not a posekit record`,
        );
      }
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
        return {
          records,
          headers,
          validBytes,
          tornBytes: position - validBytes,
          tornLine: held.line,
        };
      }
      accept(result, held);
    }
  }
  return {
    records,
    headers,
    validBytes,
    tornBytes: position - validBytes,
    ...(tornLine === undefined ? {} : { tornLine }),
  };
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
  /**
   * `recordKey(record, base)` of every complete record: the images (and frames) already done.
   * `base` is the `cwd` of the header before the record, else `ReadJsonlProgressOptions.base`
   * (default: this process's folder); look inputs up with `recordKey(input, Deno.cwd())`.
   */
  done: Set<string>;
  /**
   * The image id of each still image's record, by its key in `done` (video frames, whose id
   * is the frame, are left out): a resumed run gives its new images other ids.
   */
  imageIds: Map<string, number>;
  /** Complete records in the file (a key recorded twice counts twice). */
  records: number;
  /** Bytes of the torn last line that were cut off (0 when the file ended cleanly). */
  tornBytes: number;
  /** The file's last header (undefined when it has none: written before posekit had them). */
  header?: JsonlHeader;
}

/** Options of `readJsonlProgress`. */
export interface ReadJsonlProgressOptions {
  /** The folder relative paths of records without a header are relative to (default: cwd). */
  base?: string;
  /**
   * The settings of the run about to resume: every header in the file must agree with them
   * (`headerDifferences`), else `JsonlSettingsError`.
   */
  expect?: JsonlHeader;
}

/**
 * A file whose records were made with other settings than the run that wants to add to it.
 *
 * @example Telling it apart, to suggest the file's own settings
 * ```ts
 * import assert from "node:assert/strict";
 * import { JsonlSettingsError } from "@posekit/posekit";
 *
 * // `a` is the file's value, `b` this run's: rerunning with `a` resumes the file.
 * function advice(error: unknown): string | undefined {
 *   if (!(error instanceof JsonlSettingsError)) return undefined;
 *   return `rerun with ${error.differences.map((d) => `${d.key}=${d.a}`).join(" ")}`;
 * }
 * // What `readJsonlProgress` (with `expect`) and `JsonlOutput.open` (with `resume`) throw.
 * const error = new JsonlSettingsError("out.jsonl", 1, [{ key: "flip", a: true, b: false }]);
 * assert.equal(advice(error), "rerun with flip=true");
 * assert.equal(advice(new Error("disk full")), undefined);
 * assert.equal(
 *   error.message,
 *   "out.jsonl holds results made with other settings (header on line 1): " +
 *     "flip true there vs false now",
 * );
 * ```
 */
export class JsonlSettingsError extends Error {
  /** The file, the line of its header, and how the settings differ. */
  constructor(
    readonly path: string,
    readonly line: number,
    readonly differences: HeaderDifference[],
  ) {
    super(
      `${path} holds results made with other settings (header on line ${line}): ` +
        describeHeaderDifferences(differences, "there", "now"),
    );
  }
}

/** An output that is not empty, opened without `resume` or `overwrite`. */
export class JsonlExistsError extends Error {
  constructor(readonly path: string, readonly size: number) {
    super(`${path} already holds ${size} bytes of results`);
  }
}

/**
 * A file that holds no posekit line at all, only something that is not one: not a results
 * file, so it is neither resumed nor cut.
 */
export class JsonlForeignError extends Error {
  constructor(readonly path: string) {
    super(
      `${path} holds no posekit results (no complete record or header, and a last line that ` +
        `is not one): it was left as it is`,
    );
  }
}

/**
 * Reads an existing JSONL output before resuming into it: the keys of the records it holds,
 * its last header, and a torn last line, which is cut off the file (so appending continues on
 * a clean line and that image is done again). A missing file is no progress. A corrupt line
 * before the last throws `JsonlCorruptError` naming the file and line; headers whose settings
 * differ from `options.expect` throw `JsonlSettingsError`; a file with no posekit line (a
 * foreign file without a final newline, which would otherwise look torn) throws
 * `JsonlForeignError` and is not cut.
 *
 * @example What is left to do when resuming a run
 * ```ts ignore
 * import { type JsonlHeader, readJsonlProgress, recordKey } from "@posekit/posekit";
 *
 * const inputs = ["a.jpg", "b.jpg", "c.jpg"];
 * // This run's settings: a file made with others throws JsonlSettingsError.
 * const expect: JsonlHeader = { version: "0.1.0", pose: "simplepose_nano_256x192" };
 * const progress = await readJsonlProgress("results.jsonl", { expect });
 * if (progress.tornBytes > 0) console.warn("a killed run's torn last line was cut off");
 * const todo = inputs.filter((file) => !progress.done.has(recordKey({ file }, Deno.cwd())));
 * console.log(`${progress.records} done, ${todo.length} to do`); // then append with JsonlWriter
 * ```
 */
export async function readJsonlProgress(
  path: string,
  options: ReadJsonlProgressOptions = {},
): Promise<JsonlProgress> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { done: new Set(), imageIds: new Map(), records: 0, tornBytes: 0 };
    }
    throw new Error(`cannot read ${path}: ${describeOpenError(error)}`);
  }
  try {
    return await progressOf(file, path, options, (bytes) => Deno.truncate(path, bytes));
  } finally {
    file.close();
  }
}

/** `readJsonlProgress` on an open file; `cut` shortens the file to its valid bytes. */
async function progressOf(
  file: Deno.FsFile,
  path: string,
  options: ReadJsonlProgressOptions,
  cut: (bytes: number) => Promise<void>,
): Promise<JsonlProgress> {
  const done = new Set<string>();
  const imageIds = new Map<string, number>();
  const base = options.base ?? Deno.cwd();
  const headers: { header: JsonlHeader; line: number }[] = [];
  const scan = await scanOpenFile(
    file,
    path,
    (record, _line, header) => {
      const key = recordKey(record, header?.cwd ?? base);
      done.add(key);
      if (record.frame === undefined) imageIds.set(key, record.image_id);
    },
    (header, line) => headers.push({ header, line }),
  );
  if (scan.tornBytes > 0 && scan.records === 0 && scan.headers === 0) {
    throw new JsonlForeignError(path);
  }
  if (options.expect) {
    for (const { header, line } of headers) {
      const differences = headerDifferences(header, options.expect);
      if (differences.length > 0) throw new JsonlSettingsError(path, line, differences);
    }
  }
  if (scan.tornBytes > 0) {
    try {
      await cut(scan.validBytes);
    } catch (error) {
      throw new Error(`cannot cut the torn last line off ${path}: ${(error as Error).message}`);
    }
  }
  const header = headers.at(-1)?.header;
  return {
    done,
    imageIds,
    records: scan.records,
    tornBytes: scan.tornBytes,
    ...(header ? { header } : {}),
  };
}

/**
 * Whether the file's first line is a posekit header or record, as a results file's is: read
 * up to that line only (a file to overwrite may be large).
 */
async function startsAsResults(file: Deno.FsFile, path: string): Promise<boolean> {
  const found = new Error("a posekit line");
  const stop = () => {
    throw found;
  };
  try {
    await scanOpenFile(file, path, stop, stop);
    return false; // empty, or one torn line
  } catch (error) {
    if (error === found) return true;
    if (error instanceof JsonlCorruptError && error.line === 1) return false;
    throw error;
  }
}

/** Options of `JsonlOutput.open`. */
export interface JsonlOutputOptions {
  /**
   * Keep the file's records (their images are skipped: `done`) and append after them; the
   * file's headers must agree with `header`.
   */
  resume: boolean;
  /**
   * Start the file afresh (from the first write on) even though it holds something. Without
   * `resume` or `overwrite`, a file that is not empty is refused (`JsonlExistsError`): a
   * finished job run again by mistake must not lose its results.
   */
  overwrite?: boolean;
  /**
   * This run's header, with its `cwd`: written as the first line of a new file, and before
   * this run's records in a resumed one unless the file's last header is the same.
   */
  header: JsonlHeader;
}

/**
 * A `.jsonl` output of predict: checked (and with `resume`, read) when opened, before any
 * model is loaded, but changed only from the first `write`: a run that fails before it
 * leaves an existing file as it was (a file this run created is removed again).
 *
 * @example predict's `--out results.jsonl --resume`
 * ```ts ignore
 * import {
 *   imageIdForPath,
 *   jsonlRecordForImage,
 *   JsonlOutput,
 *   PosePipeline,
 *   readImageFile,
 *   recordKey,
 * } from "@posekit/posekit";
 *
 * const header = { version: "0.1.0", cwd: Deno.cwd(), pose: "simplepose_nano_256x192" };
 * // Checked against `header` now, before any model is loaded.
 * const output = await JsonlOutput.open("results.jsonl", { resume: true, header });
 * try {
 *   const pipeline = await PosePipeline.create({ pose: header.pose });
 *   try {
 *     for (const file of ["a.jpg", "b.jpg"]) {
 *       if (output.done.has(recordKey({ file }, header.cwd))) continue; // an earlier run's
 *       const poses = await pipeline.run(await readImageFile(file));
 *       await output.write(jsonlRecordForImage(file, imageIdForPath(file), poses));
 *     }
 *   } finally {
 *     await pipeline.close();
 *   }
 * } finally {
 *   await output.close(); // a file this run created but never wrote to is removed
 * }
 * ```
 */
export class JsonlOutput {
  private starting: Promise<JsonlWriter> | undefined;
  private closed = false;

  private constructor(
    /** The output path. */
    readonly path: string,
    private readonly file: Deno.FsFile,
    /** What the file held (with `resume`; else nothing). */
    readonly progress: JsonlProgress,
    private readonly header: JsonlHeader,
    private readonly resume: boolean,
    private readonly created: boolean,
  ) {}

  /**
   * Opens `path` (created when missing; a symbolic link is refused) and locks it until
   * `close` (`JsonlBusyError` when another run holds it). With `resume`, reads its progress (see
   * `readJsonlProgress`: a torn last line is cut off; `JsonlSettingsError`,
   * `JsonlForeignError` and `JsonlCorruptError` leave the file as it is); with neither
   * `resume` nor `overwrite`, a file that is not empty throws `JsonlExistsError`.
   */
  static async open(path: string, options: JsonlOutputOptions): Promise<JsonlOutput> {
    // Written in place, a link would be written through into its target.
    if (await Deno.lstat(path).then((info) => info.isSymlink, () => false)) {
      throw new Error(`${path} is a symbolic link: posekit does not write through links`);
    }
    let created = false;
    let file: Deno.FsFile;
    try {
      try {
        file = await Deno.open(path, { read: true, write: true, createNew: true });
        created = true;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        file = await Deno.open(path, { read: true, write: true });
      }
    } catch (error) {
      throw new Error(`cannot write ${path}: ${describeOpenError(error)}`);
    }
    try {
      await lockOutput(file, path);
    } catch (error) {
      file.close(); // another run's file, even one it has just created: left to it
      throw error;
    }
    try {
      if (options.resume && options.overwrite) {
        throw new Error("resume and overwrite exclude each other");
      }
      if (!options.resume) {
        const { size } = await file.stat();
        if (size > 0) {
          // Not a results file (notes named .jsonl): neither started again nor cut, ever.
          if (!await startsAsResults(file, path)) throw new JsonlForeignError(path);
          if (!options.overwrite) throw new JsonlExistsError(path, size);
        }
      }
      const progress = options.resume
        ? await progressOf(
          file,
          path,
          { base: options.header.cwd, expect: options.header },
          (bytes) => file.truncate(bytes),
        )
        : {
          done: new Set<string>(),
          imageIds: new Map<string, number>(),
          records: 0,
          tornBytes: 0,
        };
      return new JsonlOutput(path, file, progress, options.header, options.resume, created);
    } catch (error) {
      if (created) await Deno.remove(path).catch(() => {});
      file.close();
      throw error;
    }
  }

  /** Keys of the records already in the file (see `JsonlProgress.done`). */
  get done(): ReadonlySet<string> {
    return this.progress.done;
  }

  /** Writes one record (the first write starts the file: see `JsonlOutputOptions`). */
  async write(record: JsonlRecord): Promise<void> {
    if (this.closed) throw new Error(`${this.path}: output is closed`);
    this.starting ??= this.start();
    await (await this.starting).write(record);
  }

  /**
   * Starts the file without a record: a new file gets just its header line, a resumed one is
   * left as it is (with this run's header when the last one differs). A shard with no input
   * writes this, a valid empty part that `merge` accepts, rather than no file, which a job
   * array could not tell from a task that never ran.
   */
  async begin(): Promise<void> {
    if (this.closed) throw new Error(`${this.path}: output is closed`);
    this.starting ??= this.start();
    await this.starting;
  }

  /** Opens the writer at the first record (emptying the file unless resuming). */
  private async start(): Promise<JsonlWriter> {
    try {
      if (!this.resume) await this.file.truncate(0);
      const end = await this.file.seek(0, Deno.SeekMode.End);
      const writer = JsonlWriter.fromOpenFile(this.file, this.path);
      const last = this.progress.header;
      if (end === 0 || !last || !sameRun(last, this.header)) {
        await writer.writeHeader(this.header);
      }
      return writer;
    } catch (error) {
      throw new Error(`cannot write ${this.path}: ${(error as Error).message}`);
    }
  }

  /**
   * Waits for pending writes, syncs and closes the file (which releases its lock). A file
   * this run created and never wrote to is removed, before the lock is released.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const writer = await this.starting?.catch(() => undefined);
    if (writer) return await writer.close();
    try {
      if (this.created && this.starting === undefined) {
        await Deno.remove(this.path).catch(() => {});
      }
    } finally {
      this.file.close();
    }
  }
}

/** Headers of the same settings, version and folder: a resumed run needs no header of its own. */
function sameRun(a: JsonlHeader, b: JsonlHeader): boolean {
  return headerDifferences(a, b).length === 0 && a.version === b.version && a.cwd === b.cwd;
}
