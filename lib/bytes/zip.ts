/**
 * A small ZIP reader: enough to take one model file out of a downloaded archive.
 *
 * It reads the central directory (the archive's table of contents at its end, which holds the
 * reliable sizes even for streamed entries with data descriptors), supports stored and deflate
 * entries and ZIP64 records, and checks every extracted entry's size and CRC-32. Pure functions
 * on bytes; inflating uses the platform's `DecompressionStream("deflate-raw")`.
 */

/** One file or directory listed in an archive's central directory. */
export interface ZipEntry {
  /** Path inside the archive, with "/" separators (directories end with "/"). */
  name: string;
  /** Compression method: 0 = stored, 8 = deflate (others are listed but cannot be extracted). */
  method: number;
  /** General purpose bit flags (bit 0: encrypted, bit 3: sizes in a data descriptor). */
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the entry's local file header from the start of the archive. */
  localHeaderOffset: number;
  isDirectory: boolean;
}

/** A malformed, unsupported or corrupt archive. */
export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZipError";
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
/** End of central directory record without its trailing comment. */
const EOCD_SIZE = 22;
const MAX_COMMENT_LENGTH = 0xffff;

import { crc32 } from "./crc32.ts";

export { crc32 };

/** Reads the central directory: every entry of the archive, in directory order. */
export function readZipEntries(bytes: Uint8Array): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEndOfCentralDirectory(view);
  let entryCount = view.getUint16(eocd + 10, true);
  let directorySize = view.getUint32(eocd + 12, true);
  let directoryOffset = view.getUint32(eocd + 16, true);

  // A ZIP64 archive marks the classic fields with all-ones and keeps the real values in a
  // ZIP64 end record, found through a locator just before the classic one.
  if (
    entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff
  ) {
    const locator = eocd - 20;
    if (locator >= 0 && view.getUint32(locator, true) === ZIP64_EOCD_LOCATOR_SIGNATURE) {
      const record = readUint64(view, locator + 8, "ZIP64 end record offset");
      if (record + 56 > bytes.length || view.getUint32(record, true) !== ZIP64_EOCD_SIGNATURE) {
        throw new ZipError("corrupt ZIP archive: the ZIP64 end of central directory is missing");
      }
      entryCount = readUint64(view, record + 32, "entry count");
      directorySize = readUint64(view, record + 40, "central directory size");
      directoryOffset = readUint64(view, record + 48, "central directory offset");
    }
  }

  if (directoryOffset + directorySize > bytes.length) {
    throw new ZipError(
      `corrupt or truncated ZIP archive: its central directory (${directorySize} bytes at ` +
        `offset ${directoryOffset}) lies beyond the end of the ${bytes.length}-byte file`,
    );
  }

  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let at = directoryOffset;
  for (let i = 0; i < entryCount; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw new ZipError(
        `corrupt ZIP archive: central directory entry ${i + 1} of ${entryCount} is missing ` +
          `(no header at offset ${at})`,
      );
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let uncompressedSize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const nameStart = at + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > bytes.length) {
      throw new ZipError(`corrupt ZIP archive: central directory entry ${i + 1} is truncated`);
    }
    const name = decoder.decode(bytes.subarray(nameStart, extraStart));

    // ZIP64 extra field: the 64-bit values of exactly those fields that are all-ones, in order.
    if (
      uncompressedSize === 0xffffffff || compressedSize === 0xffffffff ||
      localHeaderOffset === 0xffffffff
    ) {
      const zip64 = findExtraField(view, extraStart, extraLength, ZIP64_EXTRA_ID);
      if (zip64 === undefined) {
        throw new ZipError(`corrupt ZIP archive: entry "${name}" lacks its ZIP64 sizes`);
      }
      let field = zip64.start;
      const take = (what: string): number => {
        if (field + 8 > zip64.end) {
          throw new ZipError(`corrupt ZIP archive: entry "${name}" has a short ZIP64 field`);
        }
        const value = readUint64(view, field, what);
        field += 8;
        return value;
      };
      if (uncompressedSize === 0xffffffff) uncompressedSize = take("uncompressed size");
      if (compressedSize === 0xffffffff) compressedSize = take("compressed size");
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = take("local header offset");
    }

    entries.push({
      name,
      method,
      flags,
      crc32: crc,
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      isDirectory: name.endsWith("/"),
    });
    at = next;
  }
  return entries;
}

/**
 * The most bytes one extracted entry may have by default: 2 GiB, the most a protobuf (and so
 * an .onnx model) can be. The format allows 4 GiB (ZIP64: far more) in a few kilobytes of
 * deflate, so the announced size is never trusted beyond this.
 */
export const DEFAULT_MAX_ENTRY_BYTES = 2 ** 31;

/** Options of `extractZipEntry` and `zipEntryChunks`. */
export interface ExtractOptions {
  /** The most bytes the entry may have (default `DEFAULT_MAX_ENTRY_BYTES`). */
  maxBytes?: number;
}

/**
 * The bytes of one entry, inflated when needed, after checking their size and CRC-32 against
 * the central directory. An entry announcing more than `options.maxBytes` is refused before
 * anything is allocated.
 */
export async function extractZipEntry(
  bytes: Uint8Array,
  entry: ZipEntry,
  options: ExtractOptions = {},
): Promise<Uint8Array> {
  checkExtractable(entry, options);
  const output = new Uint8Array(entry.uncompressedSize);
  let length = 0;
  for await (const chunk of zipEntryChunks(bytes, entry, options)) {
    output.set(chunk, length);
    length += chunk.length;
  }
  return output;
}

/**
 * The bytes of one entry as chunks, inflated as they are read, so that a caller can write a
 * large entry to a file without holding it: stored data comes in copies of 1 MiB, deflate
 * data as it inflates from 8 KiB of input at a time (at most about 8 MiB, deflate's worst
 * ratio being 1032:1). The entry's size (at most
 * what its directory entry announces, itself at most `options.maxBytes`) and CRC-32 are
 * checked; a mismatch throws a ZipError after the last chunk, so a caller must discard what
 * it wrote when the iteration throws.
 */
export async function* zipEntryChunks(
  bytes: Uint8Array,
  entry: ZipEntry,
  options: ExtractOptions = {},
): AsyncGenerator<Uint8Array> {
  checkExtractable(entry, options);
  const stored = storedData(bytes, entry);
  if (entry.method === 0 && stored.length !== entry.uncompressedSize) {
    throw new ZipError(
      `corrupt ZIP archive: "${entry.name}" extracts to ${stored.length} bytes, ` +
        `the directory says ${entry.uncompressedSize}`,
    );
  }
  const chunks = entry.method === 0 ? slices(stored, 1 << 20) : inflateRaw(stored, entry);
  let length = 0;
  let crc = 0;
  for await (const chunk of chunks) {
    length += chunk.length;
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (length !== entry.uncompressedSize) {
    throw new ZipError(
      `corrupt ZIP archive: "${entry.name}" extracts to ${length} bytes, ` +
        `the directory says ${entry.uncompressedSize}`,
    );
  }
  if (crc !== entry.crc32) {
    throw new ZipError(
      `corrupt ZIP archive: CRC-32 mismatch in "${entry.name}" ` +
        `(expected ${hex32(entry.crc32)}, got ${hex32(crc)})`,
    );
  }
}

/** Refuses encrypted entries, unknown methods and sizes over the limit, before any work. */
function checkExtractable(entry: ZipEntry, options: ExtractOptions): void {
  if (entry.flags & 1) {
    throw new ZipError(`cannot extract "${entry.name}": the entry is encrypted`);
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw new ZipError(
      `cannot extract "${entry.name}": compression method ${entry.method} ` +
        `(${METHOD_NAMES[entry.method] ?? "unknown"}) is not supported, only stored and deflate`,
    );
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  if (entry.uncompressedSize > maxBytes) {
    throw new ZipError(
      `cannot extract "${entry.name}": it announces ${entry.uncompressedSize} bytes, more than ` +
        `the limit of ${maxBytes} bytes (${formatMiB(maxBytes)})`,
    );
  }
}

/** The entry's data as stored in the archive (after its local header). */
function storedData(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = entry.localHeaderOffset;
  if (header + 30 > bytes.length || view.getUint32(header, true) !== LOCAL_HEADER_SIGNATURE) {
    throw new ZipError(
      `corrupt ZIP archive: no local header for "${entry.name}" at offset ${header}`,
    );
  }
  // The local header's own name and extra lengths may differ from the central directory's.
  const dataStart = header + 30 + view.getUint16(header + 26, true) +
    view.getUint16(header + 28, true);
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > bytes.length) {
    throw new ZipError(`corrupt or truncated ZIP archive: the data of "${entry.name}" is cut off`);
  }
  return bytes.subarray(dataStart, dataEnd);
}

/** `bytes` in copies of at most `size` bytes (a consumer may keep or transfer them). */
function* slices(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

/** `bytes` in views of at most `size` bytes. */
function* views(bytes: Uint8Array, size: number): Generator<Uint8Array<ArrayBuffer>> {
  const buffer = bytes as Uint8Array<ArrayBuffer>;
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

/** Compressed bytes inflated at a time (deflate's worst ratio, 1032:1, makes 8 MiB of it). */
const INFLATE_INPUT_BYTES = 8192;

/** "N MiB" or "N GiB", for limits in messages. */
function formatMiB(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${+gib.toFixed(1)} GiB` : `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * The entry for `member`: the exact path if present, otherwise the only file entry whose path
 * ends with "/" + the member's base name (archives are sometimes repacked under another top
 * folder). Throws a ZipError listing the archive's .onnx entries when there is no such entry
 * or more than one.
 */
export function findZipMember(entries: readonly ZipEntry[], member: string): ZipEntry {
  const wanted = member.replace(/\\/g, "/").replace(/^\.?\//, "");
  const exact = entries.find((entry) => entry.name === wanted && !entry.isDirectory);
  if (exact) return exact;
  const baseName = wanted.slice(wanted.lastIndexOf("/") + 1);
  const matches = entries.filter((entry) =>
    !entry.isDirectory && (entry.name === baseName || entry.name.endsWith(`/${baseName}`))
  );
  if (matches.length === 1) return matches[0];
  const models = entries.filter((entry) => entry.name.toLowerCase().endsWith(".onnx"));
  const listing = models.length > 0
    ? `its .onnx entries are: ${models.map((entry) => entry.name).join(", ")}`
    : `it holds no .onnx entries (${entries.length} entries in all)`;
  if (matches.length > 1) {
    throw new ZipError(
      `the archive has no entry "${wanted}" and ${matches.length} entries ending with ` +
        `"/${baseName}", so which one is meant is unclear; ${listing}`,
    );
  }
  throw new ZipError(
    `the archive has no entry "${wanted}" nor one ending with "/${baseName}"; ${listing}`,
  );
}

const METHOD_NAMES: Record<number, string> = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "lzma",
  93: "zstd",
  95: "xz",
  98: "ppmd",
};

function findEndOfCentralDirectory(view: DataView): number {
  // The record sits at the very end, followed only by a comment of up to 64 KiB.
  const last = view.byteLength - EOCD_SIZE;
  const first = Math.max(0, last - MAX_COMMENT_LENGTH);
  // Prefer a record whose comment length reaches exactly the end; the signature bytes could
  // also occur inside the comment, and some writers leave junk after the record.
  let fallback = -1;
  for (let at = last; at >= first; at--) {
    if (view.getUint32(at, true) !== EOCD_SIGNATURE) continue;
    if (at + EOCD_SIZE + view.getUint16(at + 20, true) === view.byteLength) return at;
    if (fallback < 0) fallback = at;
  }
  if (fallback >= 0) return fallback;
  throw new ZipError(
    view.byteLength < EOCD_SIZE
      ? `not a ZIP archive: only ${view.byteLength} bytes`
      : "not a ZIP archive (or a truncated one): its end of central directory record is missing",
  );
}

function findExtraField(
  view: DataView,
  start: number,
  length: number,
  id: number,
): { start: number; end: number } | undefined {
  let at = start;
  const end = start + length;
  while (at + 4 <= end) {
    const fieldId = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (fieldId === id) return { start: at + 4, end: Math.min(end, at + 4 + size) };
    at += 4 + size;
  }
  return undefined;
}

function readUint64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ZipError(`corrupt ZIP archive: ${what} ${value} is out of range`);
  }
  return Number(value);
}

/**
 * The inflated chunks of a deflate entry, never past the size its directory entry announces
 * (a corrupt or hostile entry could inflate to far more).
 */
async function* inflateRaw(compressed: Uint8Array, entry: ZipEntry): AsyncGenerator<Uint8Array> {
  // Fed 8 KiB at a time: deflate expands at most 1032:1, so no chunk exceeds about 8 MiB.
  const input = ReadableStream.from<BufferSource>(views(compressed, INFLATE_INPUT_BYTES));
  const reader = input.pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  let length = 0;
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        throw new ZipError(
          `corrupt ZIP archive: cannot inflate "${entry.name}": ${(error as Error).message}`,
        );
      }
      if (result.done) return;
      length += result.value.length;
      if (length > entry.uncompressedSize) {
        throw new ZipError(
          `corrupt ZIP archive: "${entry.name}" inflates to more than the ` +
            `${entry.uncompressedSize} bytes its directory entry announces`,
        );
      }
      yield result.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, "0");
}
