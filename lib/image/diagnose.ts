/**
 * What image bytes are, read without decoding: the format from the first bytes, the size from
 * the header, and, when a decoder gives up, a plain-words reason (truncated, corrupt, not an
 * image at all) found by walking the file's structure. Pure functions on bytes.
 */

import { crc32 } from "../bytes/crc32.ts";

/** Image formats posekit reads. */
export type ImageFormat = "jpeg" | "png";

/**
 * The format of an image file from its first bytes (never its name), or undefined.
 *
 * @example JPEG and PNG signatures
 * ```ts
 * import assert from "node:assert/strict";
 * import { sniffImageFormat } from "@posekit/posekit";
 *
 * // A JPEG starts with the SOI marker FF D8, a PNG with the 8 bytes "\x89PNG\r\n\x1a\n".
 * const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
 * assert.equal(sniffImageFormat(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0)), "jpeg");
 * assert.equal(sniffImageFormat(png), "png");
 * assert.equal(sniffImageFormat(png.subarray(0, 4)), undefined); // signature cut short
 * assert.equal(sniffImageFormat(new TextEncoder().encode("GIF89a")), undefined); // not read
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  // JPEG: the SOI marker (what libjpeg checks); what follows is the decoder's business.
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return "jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  return undefined;
}

/**
 * Width and height as a JPEG's frame header (SOFn) or a PNG's IHDR chunk states them, read
 * without decoding; undefined when the bytes are neither or the header cannot be found
 * (the decoder then says what is wrong).
 *
 * @example The size without decoding
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_PIXELS, encodePng, readImageSize } from "@posekit/posekit";
 *
 * const png = encodePng({ width: 4, height: 3, data: new Uint8Array(4 * 3 * 3) });
 * const size = readImageSize(png);
 * assert.deepEqual(size, { width: 4, height: 3 });
 * assert.ok(size.width * size.height <= DEFAULT_MAX_PIXELS); // decodeImage would accept it
 * assert.equal(readImageSize(new Uint8Array([1, 2, 3])), undefined); // not JPEG or PNG
 * ```
 */
export function readImageSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const format = sniffImageFormat(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === "png") {
    // Signature (8 bytes), then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4).
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") {
      return undefined;
    }
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (format !== "jpeg") return undefined;
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      // Stray bytes before a marker: libjpeg skips them with a warning and decodes on, so
      // the size must be read past them too, or the pixel limit is never checked.
      offset++;
      continue;
    }
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined;
    const length = view.getUint16(offset + 2);
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision (1), height (2), width (2).
    if (SOF_NAMES[marker] && offset + 9 <= bytes.length) {
      return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
    }
    offset += 2 + length;
  }
  return undefined;
}

/**
 * libjpeg-turbo's recommended cap on a JPEG's scans (`TJPARAM_SCANLIMIT`): a progressive
 * JPEG has about ten; each scan is a pass over the whole image, so a small file repeating
 * one tiny scan thousands of times takes minutes to decode.
 */
export const MAX_JPEG_SCANS = 500;

/**
 * The number of start-of-scan markers (FF DA) in a JPEG's bytes: its scans, and any of an
 * embedded thumbnail's (compressed data never holds FF DA: an FF there is followed by 00 or
 * a restart marker). Counted without decoding, to refuse a decode that would never end.
 */
export function jpegScanCount(bytes: Uint8Array): number {
  let scans = 0;
  for (
    let i = bytes.indexOf(0xff);
    i >= 0 && i + 1 < bytes.length;
    i = bytes.indexOf(0xff, i + 1)
  ) {
    if (bytes[i + 1] === 0xda) scans++;
  }
  return scans;
}

/** The reason a JPEG is truncated (its structure ends early), or undefined. */
export function jpegTruncation(bytes: Uint8Array): string | undefined {
  const problem = describeBadJpeg(bytes, "");
  return problem.startsWith("truncated") ? problem : undefined;
}

/** The decoder's own words; a WebAssembly trap is the decoder giving up mid-way. */
function decoderMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof WebAssembly.RuntimeError) return `the decoder failed: ${message}`;
  return message;
}

/** A plain-words reason for bytes that are neither JPEG nor PNG. */
export function describeNonImage(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty file (0 bytes), not an image";
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  const head = ascii(0, Math.min(12, bytes.length));
  const known: [boolean, string][] = [
    [head.startsWith("GIF8"), "a GIF image"],
    [head.startsWith("BM"), "a BMP image"],
    [head.startsWith("RIFF") && head.slice(8, 12) === "WEBP", "a WebP image"],
    [head.startsWith("II*\0") || head.startsWith("MM\0*"), "a TIFF image"],
    [head.slice(4, 8) === "ftyp", "an HEIF/HEIC or MP4 file"],
    [head.startsWith("%PDF"), "a PDF document"],
  ];
  const kind = known.find(([matches]) => matches)?.[1];
  const first = bytes.subarray(0, 8);
  const hex = Array.from(first, (b) => b.toString(16).padStart(2, "0")).join(" ");
  const printable = first.every((b) => b >= 0x20 && b < 0x7f || b === 0x09 || b === 0x0a);
  const text = printable ? ` "${ascii(0, first.length).replace(/\s/g, " ")}"` : "";
  return `not a JPEG or PNG file (${kind ? `looks like ${kind}; ` : ""}starts with ${hex}${text})`;
}

const SOF_NAMES: Record<number, string> = {
  0xc0: "baseline",
  0xc1: "extended sequential",
  0xc2: "progressive",
  0xc3: "lossless",
  0xc5: "differential sequential",
  0xc6: "differential progressive",
  0xc7: "differential lossless",
  0xc9: "arithmetic-coded sequential",
  0xca: "arithmetic-coded progressive",
  0xcb: "arithmetic-coded lossless",
  0xcd: "differential arithmetic-coded sequential",
  0xce: "differential arithmetic-coded progressive",
  0xcf: "differential arithmetic-coded lossless",
};

/**
 * Why a JPEG failed to decode: its marker structure is walked to tell truncation (the usual
 * case: an interrupted download or copy) from corruption; the decoder's own message is kept.
 */
export function describeBadJpeg(bytes: Uint8Array, error: unknown): string {
  const decoderSays = decoderMessage(error);
  let offset = 2;
  let frameType: number | undefined;
  while (true) {
    if (offset >= bytes.length) {
      return `truncated JPEG: the file ends after ${bytes.length} bytes, before the image data`;
    }
    if (bytes[offset] !== 0xff) {
      return `corrupt JPEG: no marker at byte ${offset} (${decoderSays})`;
    }
    if (offset + 1 >= bytes.length) {
      return `truncated JPEG: the file ends after ${bytes.length} bytes, inside a marker`;
    }
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset++;
      continue;
    }
    if (marker === 0xd9) {
      return `corrupt JPEG: it ends before any image data (${decoderSays})`;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    if (offset + 4 > bytes.length) {
      return `truncated JPEG: the file ends after ${bytes.length} bytes, inside a segment header`;
    }
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    const end = offset + 2 + length;
    if (end > bytes.length) {
      return `truncated JPEG: the file ends after ${bytes.length} bytes, inside a ` +
        `${length}-byte segment that starts at byte ${offset}`;
    }
    if (SOF_NAMES[marker]) frameType = marker;
    if (marker === 0xda) {
      offset = endOfEntropyData(bytes, end);
      if (offset >= bytes.length) {
        return `truncated JPEG: the file ends after ${bytes.length} bytes, inside the ` +
          `compressed image data (no end-of-image marker)`;
      }
      if (bytes[offset + 1] === 0xd9) break;
      continue;
    }
    offset = end;
  }
  const variant = frameType === undefined ? "no frame header" : SOF_NAMES[frameType];
  if (frameType !== undefined && frameType !== 0xc0 && frameType !== 0xc1 && frameType !== 0xc2) {
    return `corrupt or unsupported JPEG (${variant}): ${decoderSays}`;
  }
  return `corrupt JPEG (${variant}): ${decoderSays}`;
}

/** Offset of the first marker after entropy-coded data starting at `from` (or the length). */
function endOfEntropyData(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const next = bytes[i + 1];
    // 0xFF00 is a stuffed data byte, 0xFFD0–D7 restart markers, 0xFFFF fill.
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return i;
  }
  return bytes.length;
}

/** Why a PNG failed to decode: its chunk structure and checksums are checked for a reason. */
export function describeBadPng(bytes: Uint8Array, error: unknown): string {
  const decoderSays = decoderMessage(error);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let sawImageData = false;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) {
      return `truncated PNG: the file ends after ${bytes.length} bytes, inside a chunk header`;
    }
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (offset === 8 && type !== "IHDR") {
      return `corrupt PNG: the first chunk is "${printableChunkType(type)}", not the IHDR header`;
    }
    if (offset + 12 + length > bytes.length) {
      return `truncated PNG: the file ends after ${bytes.length} bytes, inside the ` +
        `${printableChunkType(type)} chunk`;
    }
    const expected = view.getUint32(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== expected) {
      return `corrupt PNG: checksum mismatch in the ${printableChunkType(type)} chunk ` +
        `at byte ${offset}`;
    }
    if (type === "IDAT") sawImageData = true;
    if (type === "IEND") break;
    offset += 12 + length;
  }
  if (!sawImageData) return `corrupt PNG: no image data (IDAT chunk)`;
  return `corrupt PNG: the image data cannot be decompressed (${decoderSays})`;
}

function printableChunkType(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : JSON.stringify(type);
}
