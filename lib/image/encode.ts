/**
 * Encoders for drawn results: PNG through imagescript's pure-JS encoder (imported by path: its
 * main module loads a native addon only for its JPEG encoder) and baseline JPEG (4:4:4, which
 * keeps thin coloured skeleton lines sharp) in plain TypeScript.
 */

import pngJs from "npm:imagescript@1.3.1/png/node.js";
import type { RgbImage } from "../types.ts";

/**
 * Encodes an RGB image as an 8-bit RGB PNG (imagescript's encoder, zlib level 6).
 *
 * @example A 2×1 PNG
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePng, readImageSize, sniffImageFormat } from "@posekit/posekit";
 *
 * // One red and one blue pixel, R G B each.
 * const image = { width: 2, height: 1, data: Uint8Array.of(255, 0, 0, 0, 0, 255) };
 * const png = encodePng(image);
 * // The PNG signature, then the IHDR chunk with the size; IEND closes the file.
 * assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
 * assert.equal(sniffImageFormat(png), "png");
 * assert.deepEqual(readImageSize(png), { width: 2, height: 1 });
 * assert.equal(new TextDecoder().decode(png.subarray(-8, -4)), "IEND");
 * ```
 */
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
 *
 * @example A 16×8 JPEG, in colour and in grayscale
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeJpeg, readImageSize, sniffImageFormat } from "@posekit/posekit";
 *
 * // Left half red, right half blue: two 8×8 blocks.
 * const data = new Uint8Array(16 * 8 * 3);
 * for (let p = 0; p < 16 * 8; p++) data[3 * p + (p % 16 < 8 ? 0 : 2)] = 255; // R, or B
 * const jpeg = encodeJpeg({ width: 16, height: 8, data }, 90);
 * assert.equal(sniffImageFormat(jpeg), "jpeg"); // starts with SOI (FF D8)
 * assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9]); // ends with EOI
 * assert.deepEqual(readImageSize(jpeg), { width: 16, height: 8 }); // from the frame header
 * // Luma only: one component instead of three, so fewer bytes.
 * const gray = encodeJpeg({ width: 16, height: 8, data }, 90, { grayscale: true });
 * assert.ok(gray.length < jpeg.length);
 * ```
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
