/**
 * A tiny ZIP writer for tests: builds archives in memory with stored and deflate entries,
 * optional data descriptors and ZIP64 records, so the reader in `lib/zip.ts` can be checked
 * without external tools. It has its own bit-by-bit CRC-32 so that it does not share code
 * with the reader it tests.
 */

export interface ZipWriterEntry {
  /** Path inside the archive ("dir/" for a directory). */
  name: string;
  data?: Uint8Array;
  /** Default "deflate". */
  method?: "store" | "deflate";
  /** Write sizes and CRC after the data (bit 3), as streaming writers do. */
  dataDescriptor?: boolean;
  /** The uncompressed size to announce instead of the real one (a hostile archive). */
  declaredSize?: number;
}

export interface ZipWriterOptions {
  /** Archive comment after the end of central directory record. */
  comment?: string;
  /** Write every size and offset through ZIP64 records. */
  zip64?: boolean;
}

/** CRC-32 computed bit by bit from the polynomial's definition (reflected 0xEDB88320). */
export function bitwiseCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = (crc & 1) !== 0 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Raw deflate (no zlib header) with the platform's CompressionStream. */
export async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Builds a ZIP archive holding `entries`, in order. */
export async function buildZip(
  entries: readonly ZipWriterEntry[],
  options: ZipWriterOptions = {},
): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const push = (chunk: Uint8Array) => {
    chunks.push(chunk);
    offset += chunk.length;
  };

  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const data = entry.data ?? new Uint8Array(0);
    const deflate = (entry.method ?? "deflate") === "deflate";
    const stored = deflate ? await deflateRaw(data) : data;
    const crc = bitwiseCrc32(data);
    const flags = (entry.dataDescriptor ? 0x0008 : 0) | 0x0800; // bit 11: UTF-8 names
    const method = deflate ? 8 : 0;
    const localOffset = offset;
    const size = entry.declaredSize ?? data.length;
    const zip64Extra = options.zip64
      ? concat(u16(0x0001), u16(24), u64(size), u64(stored.length), u64(localOffset))
      : new Uint8Array(0);

    const localExtra = options.zip64
      ? concat(u16(0x0001), u16(16), u64(size), u64(stored.length))
      : new Uint8Array(0);
    const known = !entry.dataDescriptor;
    push(concat(
      u32(0x04034b50),
      u16(options.zip64 ? 45 : 20),
      u16(flags),
      u16(method),
      u32(0), // DOS time and date
      u32(known ? crc : 0),
      u32(options.zip64 ? 0xffffffff : known ? stored.length : 0),
      u32(options.zip64 ? 0xffffffff : known ? size : 0),
      u16(name.length),
      u16(localExtra.length),
      name,
      localExtra,
    ));
    push(stored);
    if (entry.dataDescriptor) {
      push(concat(
        u32(0x08074b50),
        u32(crc),
        options.zip64 ? u64(stored.length) : u32(stored.length),
        options.zip64 ? u64(size) : u32(size),
      ));
    }

    central.push(concat(
      u32(0x02014b50),
      u16(options.zip64 ? 45 : 20),
      u16(options.zip64 ? 45 : 20),
      u16(flags),
      u16(method),
      u32(0),
      u32(crc),
      u32(options.zip64 ? 0xffffffff : stored.length),
      u32(options.zip64 ? 0xffffffff : size),
      u16(name.length),
      u16(zip64Extra.length),
      u16(0), // comment length
      u16(0), // disk number
      u16(0), // internal attributes
      u32(entry.name.endsWith("/") ? 0x10 : 0), // external attributes: MS-DOS directory bit
      u32(options.zip64 ? 0xffffffff : localOffset),
      name,
      zip64Extra,
    ));
  }

  const directoryOffset = offset;
  for (const record of central) push(record);
  const directorySize = offset - directoryOffset;

  if (options.zip64) {
    const recordOffset = offset;
    push(concat(
      u32(0x06064b50),
      u64(44), // size of the rest of this record
      u16(45),
      u16(45),
      u32(0),
      u32(0),
      u64(entries.length),
      u64(entries.length),
      u64(directorySize),
      u64(directoryOffset),
    ));
    push(concat(u32(0x07064b50), u32(0), u64(recordOffset), u32(1)));
  }

  const comment = encoder.encode(options.comment ?? "");
  push(concat(
    u32(0x06054b50),
    u16(0),
    u16(0),
    u16(options.zip64 ? 0xffff : entries.length),
    u16(options.zip64 ? 0xffff : entries.length),
    u32(options.zip64 ? 0xffffffff : directorySize),
    u32(options.zip64 ? 0xffffffff : directoryOffset),
    u16(comment.length),
    comment,
  ));
  return concat(...chunks);
}

function u16(value: number): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return bytes;
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function u64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
