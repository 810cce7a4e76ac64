/**
 * Reading images: JPEG and PNG (grayscale, RGBA, real COCO files), clear errors for files
 * that are not images or are damaged, and the JPEG/PNG encoders checked by decoding their
 * output with imagescript's independent decoders.
 */

import { withTempDir } from "./support/cli.ts";
import { join } from "node:path";
// imagescript's pure-JS PNG encoder makes grayscale and RGBA test files (any channel count).
import pngJs from "imagescript/png/node.js";
import { decodeImage, readImageFile } from "../lib/deno/image_file.ts";
import { DEFAULT_MAX_PIXELS, ImageDecodeError } from "../lib/image/decode.ts";
import { encodeJpeg, encodePng } from "../lib/image/encode.ts";
import {
  jpegScanCount,
  MAX_JPEG_SCANS,
  readImageSize,
  sniffImageFormat,
} from "../lib/image/diagnose.ts";
import type { RgbImage } from "../lib/types.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { handMadeCmykJpeg, pngClaiming } from "./support/hand_made_images.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";

function encodePngChannels(
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Uint8Array {
  const codec = pngJs as { encode(d: Uint8Array, o: Record<string, unknown>): Uint8Array };
  return codec.encode(data, { width, height, channels, level: 1 });
}

/** Flat 8×8 blocks of known colours (aligned to JPEG blocks, so JPEG keeps them clean). */
function blockImage(colors: [number, number, number][][]): RgbImage {
  const height = colors.length * 8, width = colors[0].length * 8;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colors[y >> 3][x >> 3], (y * width + x) * 3);
  }
  return { width, height, data };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const p = (y * image.width + x) * 3;
  return [...image.data.subarray(p, p + 3)];
}

function assertNear(actual: number[], expected: number[], tolerance: number, message: string) {
  assert(
    actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance),
    `${message}: ${actual} not within ${tolerance} of ${expected}`,
  );
}

const COCO_IMAGES = ["coco", "val2017"];

Deno.test({
  name: "COCO JPEGs decode to the sizes their annotations give",
  ignore: ignoreWithoutShared(...DEV_ANNOTATIONS),
  async fn() {
    const annotations = JSON.parse(await Deno.readTextFile(requireShared(...DEV_ANNOTATIONS)));
    const images = annotations.images.slice(0, 8) as {
      file_name: string;
      width: number;
      height: number;
    }[];
    assert(images.some((i) => i.height > i.width), "a portrait image is among them");
    for (const { file_name, width, height } of images) {
      const image = await readImageFile(requireShared(...COCO_IMAGES, file_name));
      assertEquals([image.width, image.height], [width, height], file_name);
      assertEquals(image.data.length, width * height * 3);
      // A photo: not one flat colour.
      assert(new Set(image.data.subarray(0, 3000)).size > 10, `${file_name} has content`);
    }
  },
});

Deno.test({
  name: "a real grayscale COCO JPEG (one component) decodes to R = G = B",
  ignore: ignoreWithoutShared(...COCO_IMAGES, "000000007888.jpg"),
  async fn() {
    const bytes = await Deno.readFile(requireShared(...COCO_IMAGES, "000000007888.jpg"));
    // Its frame header (SOF0) says 1 component and gives the size.
    const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
    assertEquals(bytes[sof + 9], 1, "a grayscale JPEG");
    const height = (bytes[sof + 5] << 8) | bytes[sof + 6];
    const width = (bytes[sof + 7] << 8) | bytes[sof + 8];
    const image = await decodeImage(bytes, "000000007888.jpg");
    assertEquals([image.width, image.height], [width, height]);
    for (let i = 0; i < image.data.length; i += 3) {
      if (image.data[i] !== image.data[i + 1] || image.data[i] !== image.data[i + 2]) {
        throw new Error(`pixel ${i / 3} is not gray`);
      }
    }
  },
});

Deno.test("JPEG written by encodeJpeg decodes back to the same colours", async () => {
  const colors: [number, number, number][][] = [
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]],
    [[0, 0, 0], [128, 128, 128], [200, 100, 50], [20, 180, 230]],
  ];
  const image = blockImage(colors);
  const bytes = encodeJpeg(image, 95);
  assertEquals(sniffImageFormat(bytes), "jpeg");
  const decoded = await decodeImage(bytes, "blocks.jpg");
  assertEquals([decoded.width, decoded.height], [32, 16]);
  colors.forEach((row, by) =>
    row.forEach((color, bx) =>
      assertNear(pixel(decoded, bx * 8 + 4, by * 8 + 4), color, 4, `block ${bx},${by}`)
    )
  );
});

Deno.test("encodeJpeg handles sizes that are not multiples of 8 and smooth content", async () => {
  const width = 37, height = 19;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x * 6, y * 12, 255 - x * 3], (y * width + x) * 3);
  }
  const decoded = await decodeImage(encodeJpeg({ width, height, data }, 90), "ramp.jpg");
  assertEquals([decoded.width, decoded.height], [width, height]);
  let total = 0;
  for (let i = 0; i < data.length; i++) total += Math.abs(decoded.data[i] - data[i]);
  assert(total / data.length < 3, `mean error ${total / data.length} on a smooth ramp`);
  // Lower quality: smaller file.
  const small = encodeJpeg({ width, height, data }, 30).length;
  const large = encodeJpeg({ width, height, data }, 95).length;
  assert(small < large, `quality 30 (${small} bytes) < quality 95 (${large} bytes)`);
});

Deno.test("a grayscale JPEG (one component) decodes to R = G = B", async () => {
  const grays = [[30, 90, 150, 220]];
  const image = blockImage(grays.map((row) => row.map((g) => [g, g, g])));
  const bytes = encodeJpeg(image, 95, { grayscale: true });
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  assertEquals(bytes[sof + 9], 1, "the file has one component");
  const decoded = await decodeImage(bytes, "gray.jpg");
  grays[0].forEach((g, bx) => {
    const [r, gg, b] = pixel(decoded, bx * 8 + 4, 4);
    assert(r === gg && gg === b, `block ${bx} is gray`);
    assertNear([r], [g], 3, `block ${bx}`);
  });
});

Deno.test("a grayscale PNG decodes to R = G = B with the exact values", async () => {
  const gray = new Uint8Array([0, 1, 127, 128, 254, 255]);
  const decoded = await decodeImage(encodePngChannels(gray, 3, 2, 1), "gray.png");
  assertEquals(decoded, {
    width: 3,
    height: 2,
    data: new Uint8Array([
      0,
      0,
      0,
      1,
      1,
      1,
      127,
      127,
      127,
      128,
      128,
      128,
      254,
      254,
      254,
      255,
      255,
      255,
    ]),
  });
});

Deno.test("alpha is dropped, not composited (as OpenCV's IMREAD_COLOR does)", async () => {
  // RGBA pixels: opaque red, half-transparent green, fully transparent blue-ish.
  const rgba = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 128, 10, 20, 200, 0]);
  const decoded = await decodeImage(encodePngChannels(rgba, 3, 1, 4), "rgba.png");
  assertEquals(decoded.data, new Uint8Array([255, 0, 0, 0, 255, 0, 10, 20, 200]));
  // Gray + alpha too.
  const grayAlpha = new Uint8Array([90, 0, 180, 255]);
  const decodedGray = await decodeImage(encodePngChannels(grayAlpha, 2, 1, 2), "ga.png");
  assertEquals(decodedGray.data, new Uint8Array([90, 90, 90, 180, 180, 180]));
});

Deno.test("encodePng is lossless", async () => {
  const data = new Uint8Array(5 * 4 * 3).map((_, i) => (i * 37) % 256);
  const image = { width: 5, height: 4, data };
  assertEquals(await decodeImage(encodePng(image), "x.png"), image);
});

Deno.test("the format comes from the bytes, not the file name", async () => {
  const png = encodePngChannels(new Uint8Array([7, 8, 9]), 1, 1, 3);
  await withTempDir(async (dir) => {
    const misnamed = join(dir, "photo.jpg");
    await Deno.writeFile(misnamed, png);
    assertEquals((await readImageFile(misnamed)).data, new Uint8Array([7, 8, 9]));
  });
});

Deno.test("a text file named .jpg is reported with its path and what it starts with", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "notes.jpg");
    await Deno.writeTextFile(path, "hello, this is text\n");
    const error = await assertRejects(() => readImageFile(path), ImageDecodeError);
    assert(error.message.startsWith(`${path}: not a JPEG or PNG file`), error.message);
    assert(error.message.includes('"hello, t"'), error.message);
    assertEquals((error as ImageDecodeError).source, path);
  });
});

Deno.test("an empty file is reported as empty", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "empty.png");
    await Deno.writeFile(path, new Uint8Array());
    await assertRejects(() => readImageFile(path), ImageDecodeError, `${path}: empty file`);
  });
});

Deno.test("other image formats are named", async () => {
  const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00");
  const error = await assertRejects(() => decodeImage(gif, "anim.gif"), ImageDecodeError);
  assert(error.message.includes("looks like a GIF image"), error.message);
});

Deno.test("a missing file is reported with its path", async () => {
  await assertRejects(
    () => readImageFile("/nonexistent/posekit/x.jpg"),
    ImageDecodeError,
    "/nonexistent/posekit/x.jpg: no such file",
  );
});

Deno.test("truncated JPEGs are errors that say so, wherever the cut is", async () => {
  const ramp = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 7) % 251);
  const jpeg = encodeJpeg({ width: 64, height: 48, data: ramp }, 90);
  const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
  const cuts: [string, number, string][] = [
    ["only the end-of-image marker missing", jpeg.length - 2, "compressed image data"],
    ["cut in the middle of the image data", Math.floor((sos + jpeg.length) / 2), "compressed"],
    ["cut inside the JFIF header", 10, "inside a 16-byte segment that starts at byte 2"],
    ["only the start marker", 3, "truncated JPEG"],
  ];
  for (const [what, length, says] of cuts) {
    const error = await assertRejects(
      () => decodeImage(jpeg.subarray(0, length), "cut.jpg"),
      ImageDecodeError,
      "cut.jpg: truncated JPEG",
    );
    assert(error.message.includes(says), `${what}: ${error.message}`);
  }
});

Deno.test({
  name: "a truncated COCO photo is an error, not a half-gray image",
  ignore: ignoreWithoutShared(...COCO_IMAGES, "000000000785.jpg"),
  async fn() {
    const bytes = await Deno.readFile(requireShared(...COCO_IMAGES, "000000000785.jpg"));
    await assertRejects(
      () => decodeImage(bytes.subarray(0, Math.floor(bytes.length * 0.6)), "785.jpg"),
      ImageDecodeError,
      "785.jpg: truncated JPEG: the file ends after",
    );
  },
});

Deno.test("corrupt JPEGs are reported as corrupt, and the decoder recovers", async () => {
  const image = blockImage([[[10, 20, 30], [200, 100, 0]]]);
  const jpeg = encodeJpeg(image, 90);
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
  const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
  const zeroWidth = jpeg.slice();
  zeroWidth.set([0, 0], sof + 7); // SOF0: length, precision, height, then width
  const missingTable = jpeg.slice();
  missingTable[sos + 6] = 0x33; // SOS: first component uses Huffman tables 3/3, never defined
  const cases: [string, Uint8Array][] = [
    ["zero-width.jpg", zeroWidth],
    ["no-table.jpg", missingTable],
  ];
  for (const [name, bytes] of cases) {
    await assertRejects(
      () => decodeImage(bytes, name),
      ImageDecodeError,
      `${name}: corrupt JPEG (baseline)`,
    );
    const again = await decodeImage(jpeg, "good.jpg");
    assertNear(pixel(again, 4, 4), [10, 20, 30], 4, `decoding works after ${name}`);
  }
});

Deno.test("corrupt and truncated PNGs are errors that say which", async () => {
  const data = new Uint8Array(16 * 16 * 3).map((_, i) => (i * 13) % 256);
  const png = encodePngChannels(data, 16, 16, 3);
  // Chunks: signature (8), IHDR (8 + 13 + 4) → IDAT header at byte 33, its data at 41.
  const flipped = png.slice();
  flipped[45] ^= 0xff;
  await assertRejects(
    () => decodeImage(flipped, "flipped.png"),
    ImageDecodeError,
    "flipped.png: corrupt PNG: checksum mismatch in the IDAT chunk",
  );
  await assertRejects(
    () => decodeImage(png.subarray(0, 60), "cut.png"),
    ImageDecodeError,
    "cut.png: truncated PNG: the file ends after 60 bytes, inside the IDAT chunk",
  );
  await assertRejects(
    () => decodeImage(png.subarray(0, 20), "header.png"),
    ImageDecodeError,
    "header.png: truncated PNG",
  );
});

Deno.test("readImageSize reads a PNG's IHDR and a JPEG's frame header without decoding", async () => {
  assertEquals(readImageSize(await pngClaiming(20000, 20000)), { width: 20000, height: 20000 });
  const jpeg = encodeJpeg(blockImage([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]), 90);
  assertEquals(readImageSize(jpeg), { width: 24, height: 8 });
  assertEquals(readImageSize(new TextEncoder().encode("not an image")), undefined);
});

Deno.test("an image above the pixel limit is refused from its header, before decoding", async () => {
  // 20000 × 20000 = 400,000,000 pixels: 2.8 GB to decode, from a file of a few hundred bytes.
  const huge = await pngClaiming(20000, 20000);
  assert(huge.length < 1000, `the file is tiny (${huge.length} bytes)`);
  await assertRejects(
    () => decodeImage(huge, "huge.png"),
    ImageDecodeError,
    `huge.png: 20000×20000 = 400000000 pixels is above the limit of ${DEFAULT_MAX_PIXELS} ` +
      `(--max-pixels)`,
  );
  // A JPEG claiming 65535 × 65535 (its largest size) is refused the same way.
  const jpeg = encodeJpeg(blockImage([[[1, 2, 3]]]), 90);
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
  const claimsHuge = jpeg.slice();
  claimsHuge.set([0xff, 0xff, 0xff, 0xff], sof + 5); // height, then width
  await assertRejects(
    () => decodeImage(claimsHuge, "huge.jpg"),
    ImageDecodeError,
    "huge.jpg: 65535×65535 = 4294836225 pixels is above the limit",
  );
});

Deno.test("a stray byte before a marker does not hide a JPEG's size from the pixel limit", async () => {
  // libjpeg skips bytes that are not a marker ("Corrupt JPEG data: 1 extraneous bytes") and
  // decodes on, so a size reader that stopped there would let 144 megapixels through.
  const jpeg = encodeJpeg(blockImage([[[1, 2, 3]]]), 90);
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
  const stray = (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes.length + 1);
    out.set(bytes.subarray(0, sof));
    out.set(bytes.subarray(sof), sof + 1); // a 0x00 just before the frame header
    return out;
  };
  const big = jpeg.slice();
  big.set([0x2e, 0xe0, 0x2e, 0xe0], sof + 5); // 12000 × 12000
  await assertRejects(
    () => decodeImage(stray(big), "stray.jpg"),
    ImageDecodeError,
    "stray.jpg: 12000×12000 = 144000000 pixels is above the limit",
  );
  // The same stray byte in a small JPEG: read and decoded, as libjpeg does.
  assertEquals(readImageSize(stray(jpeg)), readImageSize(jpeg));
  const decoded = await decodeImage(stray(jpeg), "small.jpg");
  assertEquals([decoded.width, decoded.height], [8, 8]);
});

Deno.test("a JPEG of more scans than libjpeg-turbo advises is refused before decoding", async () => {
  // Each scan is a pass over the whole image: a few bytes repeated make minutes of decoding.
  const jpeg = encodeJpeg(blockImage([[[1, 2, 3]]]), 90);
  const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
  const scans = (count: number) => {
    const scan = jpeg.subarray(sos, jpeg.length - 2); // SOS and its data, without EOI
    const out = new Uint8Array(sos + count * scan.length + 2);
    out.set(jpeg.subarray(0, sos));
    for (let k = 0; k < count; k++) out.set(scan, sos + k * scan.length);
    out.set([0xff, 0xd9], out.length - 2);
    return out;
  };
  assertEquals(jpegScanCount(jpeg), 1);
  assertEquals(jpegScanCount(scans(501)), 501);
  await assertRejects(
    () => decodeImage(scans(501), "scans.jpg"),
    ImageDecodeError,
    `scans.jpg: JPEG of 501 scans, above the limit of ${MAX_JPEG_SCANS}`,
  );
  // At the limit the file reaches the decoder (which takes the first scan and warns).
  const decoded = await decodeImage(scans(MAX_JPEG_SCANS), "many.jpg");
  assertEquals([decoded.width, decoded.height], [8, 8]);
});

Deno.test("the pixel limit is an option: 32 × 32 = 1024 pixels pass at 1024, not at 1023", async () => {
  const image = blockImage(new Array(4).fill(new Array(4).fill([50, 60, 70])));
  const png = encodePng(image);
  const jpeg = encodeJpeg(image, 90);
  for (const [name, bytes] of [["a.png", png], ["a.jpg", jpeg]] as const) {
    const decoded = await decodeImage(bytes, name, { maxPixels: 1024 });
    assertEquals([decoded.width, decoded.height], [32, 32]);
    await assertRejects(
      () => decodeImage(bytes, name, { maxPixels: 1023 }),
      ImageDecodeError,
      `${name}: 32×32 = 1024 pixels is above the limit of 1023 (--max-pixels)`,
    );
  }
});

Deno.test("a CMYK JPEG decodes, and libjpeg's own messages never reach stderr", async () => {
  const cmyk = handMadeCmykJpeg();
  // A child process, so that its stderr can be read: libjpeg says "Unsupported color
  // conversion request" for CMYK (and "Corrupt JPEG data" for junk before a marker).
  const script = `
    import { decodeImage } from ${
    JSON.stringify(new URL("../lib/deno/image_file.ts", import.meta.url).href)
  };
    import { encodeJpeg } from ${
    JSON.stringify(new URL("../lib/image/encode.ts", import.meta.url).href)
  };
    const cmyk = Uint8Array.from(${JSON.stringify([...cmyk])});
    const image = await decodeImage(cmyk, "cmyk.jpg");
    const good = encodeJpeg({ width: 8, height: 8, data: new Uint8Array(192).fill(99) }, 90);
    const sof = good.findIndex((b, i) => b === 0xff && good[i + 1] === 0xc0);
    const junk = new Uint8Array([...good.subarray(0, sof), 1, 2, 3, ...good.subarray(sof)]);
    await decodeImage(junk, "junk.jpg");
    console.log(JSON.stringify([image.width, image.height, image.data[0]]));
  `;
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(run.stderr);
  assertEquals(run.code, 0, stderr);
  // All four samples are 128: imagescript's CMYK conversion gives 255·(1 − 128/255)² ≈ 64.
  assertEquals(JSON.parse(new TextDecoder().decode(run.stdout)), [8, 8, 64]);
  assertEquals(stderr, "", "nothing on stderr");
});

Deno.test("a PNG with a side of 2^24 pixels or more is refused as beyond the decoder, not as corrupt", async () => {
  // A column of pixels, valid PNGs both: one pixel short of 2^24 decodes, exactly; 2^24 is
  // past what the WebAssembly PNG decoder takes (it failed as "cannot be decompressed").
  const column = (height: number): RgbImage => {
    const data = new Uint8Array(3 * height);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
    return { width: 1, height, data };
  };
  const fits = column(2 ** 24 - 1);
  const decoded = await decodeImage(encodePng(fits), "column.png");
  assertEquals([decoded.width, decoded.height], [1, 2 ** 24 - 1]);
  assert(decoded.data.every((v, i) => v === fits.data[i]), "the pixels come back as written");
  for (const [width, height] of [[1, 2 ** 24], [2 ** 24, 1]]) {
    const png = encodePng(width === 1 ? column(height) : { ...column(width), width, height });
    await assertRejects(
      () => decodeImage(png, "long.png"),
      ImageDecodeError,
      `long.png: PNG of ${width}×${height}: a side of 16777216 pixels or more is beyond the ` +
        `PNG decoder`,
    );
  }
});
