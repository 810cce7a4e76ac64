/**
 * EXIF orientation: reading the tag from JPEG bytes, turning pixels upright, and decodeImage
 * doing both on a rotated JPEG made here.
 */

import assert from "node:assert/strict";
import { applyOrientation, readJpegOrientation } from "../lib/image/exif.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { encodeJpeg } from "../lib/image/encode.ts";
import type { RgbImage } from "../lib/types.ts";

/**
 * An APP1 Exif segment whose IFD0 holds a Make tag and then Orientation, written by hand from
 * the TIFF 6.0 layout: header (byte order, 42, IFD offset 8), entry count, 12-byte entries
 * (tag, type, count, value), next-IFD offset.
 */
function exifSegment(orientation: number, littleEndian: boolean): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 2 * 12 + 4);
  const view = new DataView(tiff.buffer);
  tiff.set(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d], 0);
  view.setUint16(2, 42, littleEndian);
  view.setUint32(4, 8, littleEndian);
  view.setUint16(8, 2, littleEndian);
  // Make (0x010F), ASCII (2), count 4, "Cam\0" stored inline.
  view.setUint16(10, 0x010f, littleEndian);
  view.setUint16(12, 2, littleEndian);
  view.setUint32(14, 4, littleEndian);
  tiff.set([0x43, 0x61, 0x6d, 0x00], 18);
  // Orientation (0x0112), SHORT (3), count 1, value left-aligned in the 4-byte field.
  view.setUint16(22, 0x0112, littleEndian);
  view.setUint16(24, 3, littleEndian);
  view.setUint32(26, 1, littleEndian);
  view.setUint16(30, orientation, littleEndian);
  const payload = new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]); // "Exif\0\0"
  const length = payload.length + 2;
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 255, ...payload]);
}

/** The JPEG with `segment` inserted right after its SOI marker, where cameras put Exif. */
function withSegmentAfterSoi(jpeg: Uint8Array, segment: Uint8Array): Uint8Array {
  return new Uint8Array([...jpeg.subarray(0, 2), ...segment, ...jpeg.subarray(2)]);
}

/** A minimal JPEG-shaped byte string: SOI, the segment, SOS header, EOI. */
function jpegShell(segment: Uint8Array): Uint8Array {
  return new Uint8Array([0xff, 0xd8, ...segment, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]);
}

/** A W×H image whose red channel labels pixels 1, 2, 3, … row by row. */
function labelled(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data[i * 3] = i + 1;
  return { width, height, data };
}

function labels(image: RgbImage): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y < image.height; y++) {
    rows.push([]);
    for (let x = 0; x < image.width; x++) rows[y].push(image.data[(y * image.width + x) * 3]);
  }
  return rows;
}

Deno.test("applyOrientation turns each of the 8 EXIF orientations upright", () => {
  // The stored 3×2 image   a b c   with a..f = 1..6.
  //                        d e f
  const stored = labelled(3, 2);
  const [a, b, c, d, e, f] = [1, 2, 3, 4, 5, 6];
  const expected: Record<number, number[][]> = {
    1: [[a, b, c], [d, e, f]],
    2: [[c, b, a], [f, e, d]], // mirrored left–right
    3: [[f, e, d], [c, b, a]], // rotated 180°
    4: [[d, e, f], [a, b, c]], // mirrored top–bottom
    5: [[a, d], [b, e], [c, f]], // transposed
    6: [[d, a], [e, b], [f, c]], // rotated 90° clockwise
    7: [[f, c], [e, b], [d, a]], // transversed
    8: [[c, f], [b, e], [a, d]], // rotated 90° counter-clockwise
  };
  for (let orientation = 1; orientation <= 8; orientation++) {
    const upright = applyOrientation(stored, orientation);
    assert.deepEqual(labels(upright), expected[orientation], `orientation ${orientation}`);
    assert.equal(upright.data.length, stored.data.length);
  }
  assert.deepEqual(labels(stored), [[a, b, c], [d, e, f]], "the input is left untouched");
});

Deno.test("applyOrientation moves all three channels together", () => {
  const image: RgbImage = { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
  // Rotated 90° clockwise, the 2×1 row becomes a 1×2 column: left pixel on top.
  assert.deepEqual(applyOrientation(image, 6), {
    width: 1,
    height: 2,
    data: new Uint8Array([1, 2, 3, 4, 5, 6]),
  });
  assert.deepEqual(applyOrientation(image, 8).data, new Uint8Array([4, 5, 6, 1, 2, 3]));
});

Deno.test("applyOrientation ignores values outside 1–8", () => {
  const image = labelled(2, 2);
  for (const orientation of [0, 9, -1, 2.5, NaN]) {
    assert.equal(applyOrientation(image, orientation), image);
  }
});

Deno.test("readJpegOrientation reads Orientation in both byte orders", () => {
  for (const littleEndian of [true, false]) {
    for (let orientation = 1; orientation <= 8; orientation++) {
      const bytes = jpegShell(exifSegment(orientation, littleEndian));
      assert.equal(readJpegOrientation(bytes), orientation, `${littleEndian ? "II" : "MM"}`);
    }
  }
});

Deno.test("readJpegOrientation finds Exif after other APP segments", () => {
  const jfif = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const bytes = jpegShell(new Uint8Array([...jfif, ...exifSegment(6, false)]));
  assert.equal(readJpegOrientation(bytes), 6);
});

Deno.test("readJpegOrientation returns 1 without Exif or for non-JPEG bytes", () => {
  assert.equal(readJpegOrientation(new Uint8Array()), 1);
  assert.equal(readJpegOrientation(new TextEncoder().encode("hello, not a jpeg")), 1);
  assert.equal(readJpegOrientation(new Uint8Array([0xff, 0xd8, 0xff, 0xd9])), 1);
  // An APP1 that is XMP, not Exif.
  const xmp = new TextEncoder().encode("http://ns.adobe.com/xap/1.0/\0<x/>");
  const app1 = new Uint8Array([0xff, 0xe1, 0, xmp.length + 2, ...xmp]);
  assert.equal(readJpegOrientation(jpegShell(app1)), 1);
});

Deno.test("readJpegOrientation returns 1 on malformed Exif without throwing", () => {
  const good = exifSegment(6, true);
  const tiffStart = 4 + 6; // marker + length, then "Exif\0\0"
  const cases: Record<string, Uint8Array> = {};
  // The file ends inside the APP1 segment.
  cases["truncated segment"] = jpegShell(good).subarray(0, 2 + good.length - 5);
  // The segment length says more bytes than the file has.
  const tooLong = good.slice();
  tooLong[2] = 0x7f;
  cases["length past the end"] = new Uint8Array([0xff, 0xd8, ...tooLong]);
  // IFD0 offset pointing past the TIFF data.
  const badOffset = good.slice();
  new DataView(badOffset.buffer).setUint32(tiffStart + 4, 5000, true);
  cases["IFD offset past the end"] = jpegShell(badOffset);
  // IFD0 offset inside the header.
  const tinyOffset = good.slice();
  new DataView(tinyOffset.buffer).setUint32(tiffStart + 4, 2, true);
  cases["IFD offset inside the header"] = jpegShell(tinyOffset);
  // More entries announced than present.
  const manyEntries = good.slice();
  new DataView(manyEntries.buffer).setUint16(tiffStart + 8, 500, true);
  manyEntries[tiffStart + 8 + 2 + 12] = 0; // break the Orientation entry's tag
  cases["entry count past the end"] = jpegShell(manyEntries);
  // Unknown byte order mark.
  const badOrder = good.slice();
  badOrder[tiffStart] = 0x58;
  cases["bad byte order"] = jpegShell(badOrder);
  // Orientation of the wrong type (LONG) and out-of-range values.
  const wrongType = good.slice();
  new DataView(wrongType.buffer).setUint16(tiffStart + 8 + 2 + 12 + 2, 4, true);
  cases["Orientation not a SHORT"] = jpegShell(wrongType);
  cases["Orientation 0"] = jpegShell(exifSegment(0, true));
  cases["Orientation 9"] = jpegShell(exifSegment(9, false));
  for (const [name, bytes] of Object.entries(cases)) {
    assert.equal(readJpegOrientation(bytes), 1, name);
  }
});

Deno.test("readJpegOrientation never throws on random corruptions of a valid file", () => {
  const valid = jpegShell(exifSegment(3, false));
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 2000; trial++) {
    const bytes = valid.slice(0, 2 + Math.floor(random() * (valid.length - 1)));
    for (let flips = 0; flips < 3; flips++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    const orientation = readJpegOrientation(bytes);
    assert.ok(Number.isInteger(orientation) && orientation >= 1 && orientation <= 8);
  }
});

/**
 * A 32×16 white image with a red 8×8 block in the top-left corner (aligned to JPEG blocks, so
 * compression keeps its colours clean).
 */
function redCornerImage(): RgbImage {
  const width = 32, height = 16;
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) data.set([255, 0, 0], (y * width + x) * 3);
  }
  return { width, height, data };
}

function isRed(image: RgbImage, x: number, y: number): boolean {
  const p = (y * image.width + x) * 3;
  const [r, g, b] = image.data.subarray(p, p + 3);
  return r > 200 && g < 60 && b < 60;
}

function isWhite(image: RgbImage, x: number, y: number): boolean {
  const p = (y * image.width + x) * 3;
  return image.data.subarray(p, p + 3).every((v) => v > 200);
}

Deno.test("decodeImage returns a rotated phone-style JPEG upright", async () => {
  const stored = encodeJpeg(redCornerImage(), 95);
  // Where the top-left red block of the stored 32×16 image appears once displayed; centres
  // of 8×8 cells are at 4, 12, 20, 28.
  const cases: { orientation: number; width: number; height: number; red: [number, number] }[] = [
    { orientation: 1, width: 32, height: 16, red: [4, 4] },
    { orientation: 2, width: 32, height: 16, red: [28, 4] }, // mirrored: top-right
    { orientation: 3, width: 32, height: 16, red: [28, 12] }, // 180°: bottom-right
    { orientation: 4, width: 32, height: 16, red: [4, 12] }, // flipped: bottom-left
    { orientation: 5, width: 16, height: 32, red: [4, 4] }, // transposed: stays top-left
    { orientation: 6, width: 16, height: 32, red: [12, 4] }, // 90° clockwise: top-right
    { orientation: 7, width: 16, height: 32, red: [12, 28] }, // transversed: bottom-right
    { orientation: 8, width: 16, height: 32, red: [4, 28] }, // 90° counter-clockwise: bottom-left
  ];
  for (const { orientation, width, height, red } of cases) {
    for (const littleEndian of [true, false]) {
      const bytes = withSegmentAfterSoi(stored, exifSegment(orientation, littleEndian));
      const image = await decodeImage(bytes, `rotated-${orientation}.jpg`);
      const label = `orientation ${orientation}`;
      assert.equal(image.width, width, label);
      assert.equal(image.height, height, label);
      assert.ok(isRed(image, red[0], red[1]), `${label}: red block at ${red}`);
      let redCells = 0;
      for (let cy = 4; cy < height; cy += 8) {
        for (let cx = 4; cx < width; cx += 8) {
          if (isRed(image, cx, cy)) redCells++;
          else assert.ok(isWhite(image, cx, cy), `${label}: cell at ${cx},${cy} is white`);
        }
      }
      assert.equal(redCells, 1, label);
    }
  }
});
