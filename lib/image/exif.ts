/**
 * JPEG EXIF orientation: reading the Orientation tag and turning the stored pixels upright.
 *
 * Phone cameras store pixels as the sensor saw them and record how to display them in the EXIF
 * Orientation tag (0x0112). OpenCV's `imread` applies it by default, so the standard pipeline
 * sees upright people; we do the same. Pure functions, no I/O.
 */

import type { RgbImage } from "../types.ts";

/** EXIF Orientation values 1–8 (1 = stored upright). */
export type ExifOrientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;
const TIFF_SHORT = 3;

/**
 * The EXIF Orientation (1–8) of a JPEG file, read from its APP1 "Exif" segment in either byte
 * order. Returns 1 when there is none or anything about it is malformed: garbage never throws.
 */
export function readJpegOrientation(bytes: Uint8Array): ExifOrientation {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return 1;
  let offset = 2;
  // Metadata segments come before the first scan; stop at SOS (0xDA) or EOI (0xD9).
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return 1;
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset++; // fill byte before a marker
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return 1;
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2 || offset + 2 + length > bytes.length) return 1;
    if (marker === 0xe1) {
      const orientation = orientationFromApp1(bytes.subarray(offset + 4, offset + 2 + length));
      if (orientation !== undefined) return orientation;
    }
    offset += 2 + length;
  }
  return 1;
}

/** Orientation from an APP1 payload, or undefined when the payload is not (valid) Exif. */
function orientationFromApp1(payload: Uint8Array): ExifOrientation | undefined {
  // "Exif\0\0" then a TIFF header.
  const header = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00];
  if (payload.length < header.length + 8) return undefined;
  for (let i = 0; i < header.length; i++) if (payload[i] !== header[i]) return undefined;
  const tiff = new DataView(payload.buffer, payload.byteOffset + 6, payload.length - 6);
  const order = tiff.getUint16(0, false);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const little = order === 0x4949;
  if (tiff.getUint16(2, little) !== 42) return undefined;
  const ifd0 = tiff.getUint32(4, little);
  if (ifd0 < 8 || ifd0 + 2 > tiff.byteLength) return undefined;
  const count = tiff.getUint16(ifd0, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd0 + 2 + 12 * i;
    if (entry + 12 > tiff.byteLength) return undefined;
    if (tiff.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    if (tiff.getUint16(entry + 2, little) !== TIFF_SHORT) return undefined;
    if (tiff.getUint32(entry + 4, little) < 1) return undefined;
    // A single SHORT sits left-aligned in the 4-byte value field.
    const value = tiff.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value as ExifOrientation : undefined;
  }
  return undefined;
}

/**
 * The image as it should be displayed for an EXIF orientation: 2 mirror left–right,
 * 3 rotate 180°, 4 mirror top–bottom, 5 transpose, 6 rotate 90° clockwise, 7 transverse,
 * 8 rotate 90° counter-clockwise. 5–8 swap width and height. Orientation 1 (or any value
 * outside 1–8) returns the image itself; otherwise a new image.
 */
export function applyOrientation(image: RgbImage, orientation: number): RgbImage {
  if (!Number.isInteger(orientation) || orientation < 2 || orientation > 8) return image;
  const { width, height, data } = image;
  const swaps = orientation >= 5;
  const outWidth = swaps ? height : width;
  const outHeight = swaps ? width : height;
  // Source pixel of output pixel (x, y): sx = a0 + ax·x + ay·y, sy = b0 + bx·x + by·y
  // (the same mapping as OpenCV's ExifTransform).
  const [a0, ax, ay, b0, bx, by] = ({
    2: [width - 1, -1, 0, 0, 0, 1],
    3: [width - 1, -1, 0, height - 1, 0, -1],
    4: [0, 1, 0, height - 1, 0, -1],
    5: [0, 0, 1, 0, 1, 0],
    6: [0, 0, 1, height - 1, -1, 0],
    7: [width - 1, 0, -1, height - 1, -1, 0],
    8: [width - 1, 0, -1, 0, 1, 0],
  } as Record<number, number[]>)[orientation];
  const stepX = (bx * width + ax) * 3;
  const out = new Uint8Array(data.length);
  let to = 0;
  for (let y = 0; y < outHeight; y++) {
    let from = ((b0 + by * y) * width + a0 + ay * y) * 3;
    for (let x = 0; x < outWidth; x++, from += stepX, to += 3) {
      out[to] = data[from];
      out[to + 1] = data[from + 1];
      out[to + 2] = data[from + 2];
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}
