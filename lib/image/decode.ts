/**
 * Image files in and out: JPEG and PNG decoding to `RgbImage` (EXIF orientation applied,
 * grayscale expanded, alpha dropped) and JPEG/PNG encoding for drawn results.
 *
 * JPEG decoding uses libjpeg-turbo's decoder (mozjpeg compiled to WebAssembly, from
 * @jsquash/jpeg) with its defaults, so pixels are bit-identical to what OpenCV's imread and
 * PIL give: the reference pipelines' numbers depend on it (a flip-test AP moved by 0.003 with
 * another decoder). imagescript's decoder remains as the fallback for CMYK JPEGs, which
 * libjpeg cannot convert to RGB. PNG decoding uses imagescript's WebAssembly codec and its
 * pure-JS encoder, imported by path: its main module loads a native Node addon (and so needs
 * --allow-ffi) only for its JPEG encoder. JPEG encoding is therefore done here, in plain
 * TypeScript (baseline, 4:4:4).
 */

import { crc32 } from "../bytes/crc32.ts";
import decodeMozjpeg, { init as initMozjpeg } from "@jsquash/jpeg/decode.js";

import jpegWasm from "imagescript/wasm/node/jpeg.js";
import pngWasm from "imagescript/wasm/node/png.js";
import pngJs from "imagescript/png/node.js";
import { applyOrientation, readJpegOrientation } from "./exif.ts";
import type { JpegDecoder } from "../deno/turbojpeg.ts";
import type { RgbImage } from "../types.ts";

/** A file that cannot be read as an image; the message names the file and the reason. */
export class ImageDecodeError extends Error {
  /** The error for `source`, with `reason`. */
  constructor(
    /** The file (or other source) the bytes came from. */
    readonly source: string,
    /** Why, in plain words, without the source. */
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = "ImageDecodeError";
  }
}

/** Image formats posekit reads. */
export type ImageFormat = "jpeg" | "png";

/** The format of an image file from its first bytes (never its name), or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  // JPEG: the SOI marker (what libjpeg checks); what follows is the decoder's business.
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return "jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  return undefined;
}

/**
 * The default pixel limit of `decodeImage`: 100 megapixels. Decoding takes about 7 bytes per
 * pixel at its peak (the decoder's RGBA plus our RGB copy), so 0.7 GB here; every common
 * camera stays below it (full-frame and medium-format sensors go up to 100 MP), while a
 * hostile 48 KB PNG claiming 20000×20000 (400 MP, 2.8 GB) is refused.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Options of `decodeImage`. */
export interface DecodeOptions {
  /**
   * Refuse images with more pixels than this (width × height as the file's header states
   * it), before decoding anything. Default `DEFAULT_MAX_PIXELS`; `Infinity` for no limit.
   */
  maxPixels?: number;
  /**
   * A faster JPEG decoder to try first (`TurboJpegDecoder`, with the native backend); it may
   * decline an image, which then goes to the WebAssembly decoder. Not for `PosePool` options:
   * its workers open their own.
   */
  jpegDecoder?: JpegDecoder;
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
    if (bytes[offset] !== 0xff) return undefined;
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
 * Decodes a JPEG or PNG file into 8-bit RGB, the way OpenCV's `imread(path, IMREAD_COLOR)`
 * does for the standard pipeline: the JPEG EXIF orientation is applied (so phone photos come
 * out upright), grayscale becomes R = G = B, and alpha is dropped (not composited).
 * The format is sniffed from the bytes, never from `source`'s extension. An image above
 * `options.maxPixels` (default 100 megapixels) is refused from its header, before decoding.
 *
 * @param source the file name, used only in error messages
 * @throws ImageDecodeError for empty, non-image, truncated, corrupt or too large files
 *
 * @example Decode a file
 * ```ts ignore
 * import { decodeImage } from "@posekit/posekit";
 *
 * const image = await decodeImage(await Deno.readFile("photo.jpg"), "photo.jpg");
 * console.log(image.width, image.height); // after EXIF orientation
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  source: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  const format = sniffImageFormat(bytes);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const size = readImageSize(bytes);
  if (size && size.width * size.height > maxPixels) {
    const pixels = size.width * size.height;
    throw new ImageDecodeError(
      source,
      `${size.width}×${size.height} = ${pixels} pixels is above the limit of ${maxPixels} ` +
        `(--max-pixels)`,
    );
  }
  if (format === "jpeg") {
    // libjpeg decodes a truncated file with a warning and grey fill: refuse it first.
    const truncation = jpegTruncation(bytes);
    if (truncation) throw new ImageDecodeError(source, truncation);
    const image = options.jpegDecoder?.decode(bytes) ?? await decodeJpeg(bytes, source);
    return applyOrientation(image, readJpegOrientation(bytes));
  }
  if (format === "png") return await decodePng(bytes, source);
  throw new ImageDecodeError(source, describeNonImage(bytes));
}

/**
 * Reads and decodes an image file.
 * @throws ImageDecodeError when the file cannot be read or decoded
 */
export async function readImageFile(
  path: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new ImageDecodeError(path, describeReadError(error));
  }
  return await decodeImage(bytes, path, options);
}

function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory, not an image file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return `cannot read the file: ${(error as Error).message}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface JpegFramebuffer {
  width: number;
  height: number;
  /** 0: grayscale, 1: RGB, 2: CMYK (one byte per sample, interleaved). */
  format: number;
  buffer: Uint8Array;
}

interface WasmCodecs {
  jpeg?: { decode(bytes: Uint8Array): JpegFramebuffer };
  png?: { decode(bytes: Uint8Array): { width: number; height: number; framebuffer: Uint8Array } };
}

// One WebAssembly instance per codec, reused; dropped after a failure, since a decoder that
// stopped half-way may leave its memory in a bad state.
const codecs: WasmCodecs = {};

let mozjpegReady: Promise<void> | undefined;

/**
 * Instantiates libjpeg-turbo from bytes we read ourselves (compile-safe: nothing fetched).
 * Its Emscripten module would print libjpeg's own messages ("Corrupt JPEG data: …",
 * "Unsupported color conversion request", "Aborted()") with console.error, without a file
 * name: they are dropped, and posekit's error (naming the file) says what went wrong.
 */
function loadMozjpeg(): Promise<void> {
  mozjpegReady ??= (async () => {
    const url = new URL(import.meta.resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"));
    const silent = () => {};
    // The .d.ts lists only the options argument; the JS takes (module, options).
    const init = initMozjpeg as unknown as (
      module: WebAssembly.Module,
      options: { print(text: string): void; printErr(text: string): void },
    ) => Promise<void>;
    await init(await WebAssembly.compile(await Deno.readFile(url)), {
      print: silent,
      printErr: silent,
    });
  })().catch((error) => {
    // A start that failed (an unreadable .wasm) is tried again by the next image.
    mozjpegReady = undefined;
    throw error;
  });
  return mozjpegReady;
}

/** libjpeg-turbo in WebAssembly (the caller has refused truncated files). */
async function decodeJpeg(bytes: Uint8Array, source: string): Promise<RgbImage> {
  await loadMozjpeg();
  try {
    const copy = bytes.slice().buffer;
    const rgba = await decodeMozjpeg(copy);
    const pixels = rgba.width * rgba.height;
    const data = new Uint8Array(pixels * 3);
    const src = rgba.data;
    for (let i = 0, o = 0; i < pixels; i++, o += 3) {
      data[o] = src[i * 4];
      data[o + 1] = src[i * 4 + 1];
      data[o + 2] = src[i * 4 + 2];
    }
    return { width: rgba.width, height: rgba.height, data };
  } catch (error) {
    // An Emscripten abort (a trap) leaves that instance unusable: start a fresh one next time.
    if (error instanceof WebAssembly.RuntimeError) mozjpegReady = undefined;
    // CMYK and other colour spaces libjpeg cannot turn into RGB: imagescript's decoder.
    return await decodeJpegFallback(bytes, source);
  }
}

/** The reason a JPEG is truncated (its structure ends early), or undefined. */
function jpegTruncation(bytes: Uint8Array): string | undefined {
  const problem = describeBadJpeg(bytes, "");
  return problem.startsWith("truncated") ? problem : undefined;
}

async function decodeJpegFallback(bytes: Uint8Array, source: string): Promise<RgbImage> {
  codecs.jpeg ??= await (jpegWasm as { init(): Promise<NonNullable<WasmCodecs["jpeg"]>> }).init();
  let frame: JpegFramebuffer;
  try {
    frame = codecs.jpeg.decode(bytes);
  } catch (error) {
    codecs.jpeg = undefined;
    throw new ImageDecodeError(source, describeBadJpeg(bytes, error));
  }
  const { width, height, format, buffer } = frame;
  const pixels = width * height;
  if (format === 1) return { width, height, data: buffer.slice(0, pixels * 3) };
  const data = new Uint8Array(pixels * 3);
  if (format === 0) {
    for (let i = 0, o = 0; i < pixels; i++, o += 3) {
      data[o] = data[o + 1] = data[o + 2] = buffer[i];
    }
  } else if (format === 2) {
    // CMYK as imagescript's Image.decode converts it.
    for (let i = 0, o = 0; i < pixels; i++, o += 3) {
      const white = 1 - buffer[i * 4 + 3] / 255;
      data[o] = 255 * (1 - buffer[i * 4] / 255) * white;
      data[o + 1] = 255 * (1 - buffer[i * 4 + 1] / 255) * white;
      data[o + 2] = 255 * (1 - buffer[i * 4 + 2] / 255) * white;
    }
  } else {
    throw new ImageDecodeError(source, `unsupported JPEG pixel format (${format})`);
  }
  return { width, height, data };
}

async function decodePng(bytes: Uint8Array, source: string): Promise<RgbImage> {
  codecs.png ??= await (pngWasm as { init(): Promise<NonNullable<WasmCodecs["png"]>> }).init();
  let decoded: { width: number; height: number; framebuffer: Uint8Array };
  try {
    decoded = codecs.png.decode(bytes);
  } catch (error) {
    codecs.png = undefined;
    throw new ImageDecodeError(source, describeBadPng(bytes, error));
  }
  // The decoder always hands back RGBA; drop A like OpenCV's IMREAD_COLOR does.
  const { width, height, framebuffer } = decoded;
  const pixels = width * height;
  const data = new Uint8Array(pixels * 3);
  for (let i = 0, o = 0; i < pixels * 4; i += 4, o += 3) {
    data[o] = framebuffer[i];
    data[o + 1] = framebuffer[i + 1];
    data[o + 2] = framebuffer[i + 2];
  }
  return { width, height, data };
}

/** The decoder's own words; a WebAssembly trap is the decoder giving up mid-way. */
function decoderMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof WebAssembly.RuntimeError) return `the decoder failed: ${message}`;
  return message;
}

/** A plain-words reason for bytes that are neither JPEG nor PNG. */
function describeNonImage(bytes: Uint8Array): string {
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
function describeBadJpeg(bytes: Uint8Array, error: unknown): string {
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
function describeBadPng(bytes: Uint8Array, error: unknown): string {
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

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes an RGB image as an 8-bit RGB PNG (imagescript's encoder, zlib level 6). */
export function encodePng(image: RgbImage): Uint8Array {
  checkImage(image);
  const codec = pngJs as {
    encode(data: Uint8Array, options: Record<string, unknown>): Uint8Array;
  };
  return codec.encode(image.data, {
    width: image.width,
    height: image.height,
    channels: 3,
    level: 6,
  });
}

/** Options of `encodeJpeg` beyond the quality. */
export interface JpegEncodeOptions {
  /** Store only the luma (Y) channel as a 1-component grayscale JPEG. */
  grayscale?: boolean;
}

/**
 * Encodes an RGB image as a baseline JFIF JPEG with the standard (Annex K) tables scaled by
 * `quality` (1–100, as libjpeg scales them). Chroma is not subsampled (4:4:4), which keeps
 * thin coloured skeleton lines sharp.
 */
export function encodeJpeg(
  image: RgbImage,
  quality = 90,
  options: JpegEncodeOptions = {},
): Uint8Array {
  checkImage(image);
  if (image.width > 65535 || image.height > 65535) {
    throw new RangeError(`JPEG cannot store ${image.width}x${image.height} (max 65535)`);
  }
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  const scaled = (table: readonly number[]) =>
    table.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
  const lumaTable = scaled(LUMA_QUANT);
  const chromaTable = scaled(CHROMA_QUANT);
  const planes = toYCbCrPlanes(image, options.grayscale === true);
  const components = planes.length;

  const out = new ByteWriter();
  out.bytes([0xff, 0xd8]);
  // APP0 JFIF 1.01, no units, 1:1 pixel aspect, no thumbnail.
  out.segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  out.segment(0xdb, [0, ...ZIGZAG.map((i) => lumaTable[i])]);
  if (components === 3) out.segment(0xdb, [1, ...ZIGZAG.map((i) => chromaTable[i])]);
  const frame = [8, image.height >> 8, image.height & 255, image.width >> 8, image.width & 255];
  frame.push(components);
  for (let c = 0; c < components; c++) frame.push(c + 1, 0x11, c === 0 ? 0 : 1);
  out.segment(0xc0, frame);
  out.segment(0xc4, [0x00, ...DC_LUMA_BITS, ...DC_LUMA_VALUES]);
  out.segment(0xc4, [0x10, ...AC_LUMA_BITS, ...AC_LUMA_VALUES]);
  if (components === 3) {
    out.segment(0xc4, [0x01, ...DC_CHROMA_BITS, ...DC_CHROMA_VALUES]);
    out.segment(0xc4, [0x11, ...AC_CHROMA_BITS, ...AC_CHROMA_VALUES]);
  }
  const scan = [components];
  for (let c = 0; c < components; c++) scan.push(c + 1, c === 0 ? 0x00 : 0x11);
  scan.push(0, 63, 0);
  out.segment(0xda, scan);

  const luma = huffmanCoder(lumaTable, DC_LUMA_BITS, DC_LUMA_VALUES, AC_LUMA_BITS, AC_LUMA_VALUES);
  const chroma = components === 3
    ? huffmanCoder(chromaTable, DC_CHROMA_BITS, DC_CHROMA_VALUES, AC_CHROMA_BITS, AC_CHROMA_VALUES)
    : luma;
  const bits = new BitWriter(out);
  const previousDc = new Int32Array(components);
  const block = new Float64Array(64);
  const scratch: BlockScratch = { rowPass: new Float64Array(64), coefficients: new Int32Array(64) };
  const { width, height } = image;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let c = 0; c < components; c++) {
        const plane = planes[c];
        // Blocks past the right/bottom edge repeat the edge pixels (no ringing at the border).
        for (let y = 0; y < 8; y++) {
          const row = Math.min(by + y, height - 1) * width;
          for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[row + Math.min(bx + x, width - 1)];
        }
        const coder = c === 0 ? luma : chroma;
        previousDc[c] = encodeBlock(block, coder, previousDc[c], bits, scratch);
      }
    }
  }
  bits.flush();
  out.bytes([0xff, 0xd9]);
  return out.result();
}

function checkImage(image: RgbImage): void {
  const { width, height, data } = image;
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new RangeError(`cannot encode a ${width}x${height} image`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(`image data has ${data.length} bytes, expected ${width * height * 3}`);
  }
}

/** JFIF YCbCr planes, level-shifted by -128 (one plane for grayscale). */
function toYCbCrPlanes(image: RgbImage, grayscale: boolean): Float32Array[] {
  const n = image.width * image.height;
  const data = image.data;
  const y = new Float32Array(n);
  const cb = grayscale ? y : new Float32Array(n);
  const cr = grayscale ? y : new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const r = data[p], g = data[p + 1], b = data[p + 2];
    y[i] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
    if (grayscale) continue;
    cb[i] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    cr[i] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  return grayscale ? [y] : [y, cb, cr];
}

interface HuffmanCoder {
  /** Quantization divisors in natural (row-major) order. */
  quant: readonly number[];
  dcCodes: Uint16Array;
  dcLengths: Uint8Array;
  acCodes: Uint16Array;
  acLengths: Uint8Array;
}

function huffmanCoder(
  quant: readonly number[],
  dcBits: readonly number[],
  dcValues: readonly number[],
  acBits: readonly number[],
  acValues: readonly number[],
): HuffmanCoder {
  const [dcCodes, dcLengths] = canonicalCodes(dcBits, dcValues);
  const [acCodes, acLengths] = canonicalCodes(acBits, acValues);
  return { quant, dcCodes, dcLengths, acCodes, acLengths };
}

/** Canonical Huffman codes (JPEG Annex C) by symbol, from code-length counts and symbols. */
function canonicalCodes(
  bits: readonly number[],
  values: readonly number[],
): [Uint16Array, Uint8Array] {
  const codes = new Uint16Array(256);
  const lengths = new Uint8Array(256);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]; i++, k++, code++) {
      codes[values[k]] = code;
      lengths[values[k]] = length;
    }
    code <<= 1;
  }
  return [codes, lengths];
}

// DCT-II basis: BASIS[u * 8 + x] = C(u)/2 · cos((2x + 1)uπ/16), so that the 2-D transform is
// F(u, v) = Σx Σy BASIS[u, x] · BASIS[v, y] · f(x, y).
const BASIS = new Float64Array(64);
for (let u = 0; u < 8; u++) {
  for (let x = 0; x < 8; x++) {
    BASIS[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) / 2 * Math.cos((2 * x + 1) * u * Math.PI / 16);
  }
}

/** Working memory of `encodeBlock`, one per encoding (no state shared between calls). */
interface BlockScratch {
  /** The block after the row pass of the DCT. */
  rowPass: Float64Array;
  /** Quantized coefficients, row-major. */
  coefficients: Int32Array;
}

/** DCT, quantization and Huffman coding of one level-shifted 8×8 block; returns its DC. */
function encodeBlock(
  block: Float64Array,
  coder: HuffmanCoder,
  previousDc: number,
  bits: BitWriter,
  { rowPass, coefficients }: BlockScratch,
): number {
  // Rows: rowPass[y, u] = Σx BASIS[u, x] f(x, y); then columns.
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = 0; x < 8; x++) sum += BASIS[u * 8 + x] * block[y * 8 + x];
      rowPass[y * 8 + u] = sum;
    }
  }
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) sum += BASIS[v * 8 + y] * rowPass[y * 8 + u];
      const index = v * 8 + u;
      const value = Math.round(sum / coder.quant[index]);
      // |DC| ≤ 1024 by construction; AC categories stop at 10 bits.
      coefficients[index] = index === 0 ? value : Math.max(-1023, Math.min(1023, value));
    }
  }
  const dc = coefficients[0];
  const diff = dc - previousDc;
  const dcSize = bitSize(diff);
  bits.write(coder.dcCodes[dcSize], coder.dcLengths[dcSize]);
  if (dcSize) bits.write(magnitudeBits(diff, dcSize), dcSize);
  let zeros = 0;
  for (let k = 1; k < 64; k++) {
    const value = coefficients[ZIGZAG[k]];
    if (value === 0) {
      zeros++;
      continue;
    }
    while (zeros >= 16) {
      bits.write(coder.acCodes[0xf0], coder.acLengths[0xf0]);
      zeros -= 16;
    }
    const size = bitSize(value);
    const symbol = (zeros << 4) | size;
    bits.write(coder.acCodes[symbol], coder.acLengths[symbol]);
    bits.write(magnitudeBits(value, size), size);
    zeros = 0;
  }
  if (zeros > 0) bits.write(coder.acCodes[0x00], coder.acLengths[0x00]);
  return dc;
}

/** Number of bits of |value| (the JPEG magnitude category). */
function bitSize(value: number): number {
  let magnitude = Math.abs(value);
  let size = 0;
  while (magnitude) {
    size++;
    magnitude >>= 1;
  }
  return size;
}

/** JPEG's one's-complement-style representation of a value in `size` bits. */
function magnitudeBits(value: number, size: number): number {
  return value >= 0 ? value : value + (1 << size) - 1;
}

/** A growable byte buffer. */
class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private length = 0;

  byte(value: number): void {
    if (this.length === this.buffer.length) {
      const bigger = new Uint8Array(this.buffer.length * 2);
      bigger.set(this.buffer);
      this.buffer = bigger;
    }
    this.buffer[this.length++] = value;
  }

  bytes(values: readonly number[]): void {
    for (const value of values) this.byte(value);
  }

  /** A marker segment: 0xFF, marker, 16-bit length (payload + 2), payload. */
  segment(marker: number, payload: readonly number[]): void {
    const length = payload.length + 2;
    this.bytes([0xff, marker, length >> 8, length & 255]);
    this.bytes(payload);
  }

  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** MSB-first bit packing with JPEG byte stuffing (0xFF is followed by 0x00). */
class BitWriter {
  /** Pending bits, the last `count` (< 8) of them; at most 7 + 16 bits while writing. */
  private accumulator = 0;
  private count = 0;

  constructor(private readonly out: ByteWriter) {}

  /** Writes the low `length` (≤ 16) bits of `bits`. */
  write(bits: number, length: number): void {
    this.accumulator = (this.accumulator << length) | (bits & ((1 << length) - 1));
    this.count += length;
    while (this.count >= 8) {
      this.count -= 8;
      const byte = (this.accumulator >>> this.count) & 0xff;
      this.out.byte(byte);
      if (byte === 0xff) this.out.byte(0x00);
    }
    this.accumulator &= (1 << this.count) - 1;
  }

  /** Pads the last byte with 1-bits, as the standard asks. */
  flush(): void {
    if (this.count > 0) this.write(0x7f, 8 - this.count);
  }
}

/** ZIGZAG[k]: the natural (row-major) index of the k-th coefficient in zig-zag order. */
// deno-fmt-ignore
const ZIGZAG: readonly number[] = [
   0,  1,  8, 16,  9,  2,  3, 10, 17, 24, 32, 25, 18, 11,  4,  5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,  6,  7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

// ITU-T T.81 Annex K tables: quantization (natural order) and Huffman code-length counts and
// symbols.
// deno-fmt-ignore
const LUMA_QUANT: readonly number[] = [
   16,  11,  10,  16,  24,  40,  51,  61,
   12,  12,  14,  19,  26,  58,  60,  55,
   14,  13,  16,  24,  40,  57,  69,  56,
   14,  17,  22,  29,  51,  87,  80,  62,
   18,  22,  37,  56,  68, 109, 103,  77,
   24,  35,  55,  64,  81, 104, 113,  92,
   49,  64,  78,  87, 103, 121, 120, 101,
   72,  92,  95,  98, 112, 100, 103,  99,
];
// deno-fmt-ignore
const CHROMA_QUANT: readonly number[] = [
   17,  18,  24,  47,  99,  99,  99,  99,
   18,  21,  26,  66,  99,  99,  99,  99,
   24,  26,  56,  99,  99,  99,  99,  99,
   47,  66,  99,  99,  99,  99,  99,  99,
   99,  99,  99,  99,  99,  99,  99,  99,
   99,  99,  99,  99,  99,  99,  99,  99,
   99,  99,  99,  99,  99,  99,  99,  99,
   99,  99,  99,  99,  99,  99,  99,  99,
];
const DC_LUMA_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_LUMA_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const DC_CHROMA_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_CHROMA_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
// deno-fmt-ignore
const AC_LUMA_VALUES = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
  0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
  0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
  0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
  0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
const AC_CHROMA_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
// deno-fmt-ignore
const AC_CHROMA_VALUES = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
