/**
 * JPEG and PNG decoding to `RgbImage`, as OpenCV's `imread(path, IMREAD_COLOR)` gives it: the
 * EXIF orientation applied (phone photos come out upright), grayscale expanded, alpha dropped.
 *
 * JPEG decoding uses libjpeg-turbo's decoder (mozjpeg compiled to WebAssembly, from
 * @jsquash/jpeg) with its defaults, so pixels are bit-identical to what OpenCV's imread and
 * PIL give: the reference pipelines' numbers depend on it (a flip-test AP moved by 0.003 with
 * another decoder). imagescript's WebAssembly decoders take CMYK JPEGs (which libjpeg cannot
 * convert to RGB) and PNG. The WebAssembly modules come in through `CodecWasm`, from files in
 * Deno and from URLs in a page: nothing here reads files or fetches.
 */

import decodeMozjpeg, { init as initMozjpeg } from "npm:@jsquash/jpeg@1.6.0/decode.js";
import { applyOrientation, readJpegOrientation } from "./exif.ts";
import {
  describeBadJpeg,
  describeBadPng,
  describeNonImage,
  jpegScanCount,
  jpegTruncation,
  MAX_JPEG_SCANS,
  readImageSize,
  sniffImageFormat,
} from "./diagnose.ts";
import type { RgbImage } from "../types.ts";

/**
 * A file that cannot be read as an image; the message names the file and the reason.
 *
 * @example Telling a bad file from a bug
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeImage, ImageDecodeError } from "@posekit/posekit";
 *
 * try {
 *   // Bytes that are no image are refused before any decoder loads.
 *   await decodeImage(new Uint8Array(0), "empty.jpg");
 *   assert.fail("expected an ImageDecodeError");
 * } catch (error) {
 *   if (!(error instanceof ImageDecodeError)) throw error; // a bug, not a bad file
 *   assert.equal(error.source, "empty.jpg");
 *   assert.equal(error.reason, "empty file (0 bytes), not an image");
 *   assert.equal(error.message, "empty.jpg: empty file (0 bytes), not an image");
 * }
 * ```
 */
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

/**
 * The default pixel limit of `decodeImage`: 100 megapixels. Decoding takes about 7 bytes per
 * pixel at its peak (the decoder's RGBA plus our RGB copy), so 0.7 GB here; every common
 * camera stays below it (full-frame and medium-format sensors go up to 100 MP), while a
 * hostile 48 KB PNG claiming 20000×20000 (400 MP, 2.8 GB) is refused.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * The side, in pixels, from which the WebAssembly PNG decoder fails: a valid PNG of 1×2^24 is
 * to it as corrupt as a damaged one (measured: 2^24 − 1 decodes), so it is refused as such.
 */
const MAX_PNG_SIDE = 2 ** 24;

/**
 * Why a `width × height` picture is refused under `maxPixels` (default `DEFAULT_MAX_PIXELS`),
 * or undefined when it fits: one wording for images and video frames alike.
 */
export function pixelLimitReason(
  width: number,
  height: number,
  maxPixels: number = DEFAULT_MAX_PIXELS,
): string | undefined {
  const pixels = width * height;
  if (pixels <= maxPixels) return undefined;
  return `${width}×${height} = ${pixels} pixels is above the limit of ${maxPixels} (--max-pixels)`;
}

/**
 * A JPEG decoder for `DecodeOptions.jpegDecoder`: the pixels, or undefined to decline.
 *
 * @example A decoder that declines every image (the WebAssembly decoder then decodes it)
 * ```ts
 * import type { JpegDecoder } from "@posekit/posekit";
 *
 * const none: JpegDecoder = { decode: () => undefined };
 * console.log(none.decode(new Uint8Array([0xff, 0xd8]))); // undefined
 * ```
 */
export interface JpegDecoder {
  /**
   * The image as RGB, or undefined when this decoder declines it (CMYK, a fatal libjpeg error):
   * the WebAssembly decoder then decodes it, or says what is wrong with it.
   */
  decode(bytes: Uint8Array): RgbImage | undefined;
}

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

/** Compiled WebAssembly, or bytes to compile, of one decoder. */
export type WasmSource = () => Promise<WebAssembly.Module | BufferSource>;

/**
 * Where the decoders' WebAssembly comes from: the files that ship in the npm packages
 * `@jsquash/jpeg` (`codec/dec/mozjpeg_dec.wasm`) and `imagescript` (`wasm/any/jpeg.wasm`,
 * `wasm/any/png.wasm`).
 */
export interface CodecWasm {
  /** libjpeg-turbo (mozjpeg's decoder build). */
  mozjpeg: WasmSource;
  /** imagescript's JPEG decoder (CMYK JPEGs). */
  imagescriptJpeg: WasmSource;
  /** imagescript's PNG decoder. */
  imagescriptPng: WasmSource;
}

interface JpegFramebuffer {
  width: number;
  height: number;
  /** 0: grayscale, 1: RGB, 2: CMYK (one byte per sample, interleaved). */
  format: number;
  buffer: Uint8Array;
}

interface PngFramebuffer {
  width: number;
  height: number;
  framebuffer: Uint8Array;
}

/**
 * A JPEG and PNG decoder. Its WebAssembly instances are made on first use and reused; one
 * that failed half-way is dropped (its memory may be in a bad state) and made anew. One
 * decoder serves a whole process or page (libjpeg-turbo's instance is the package's own).
 *
 * @example Decoding in a page
 * ```ts ignore
 * import { ImageDecoder } from "@posekit/posekit/core";
 *
 * const compile = (url: string) => () => WebAssembly.compileStreaming(fetch(url));
 * const decoder = new ImageDecoder({
 *   mozjpeg: compile("/vendor/mozjpeg_dec.wasm"),
 *   imagescriptJpeg: compile("/vendor/imagescript_jpeg.wasm"),
 *   imagescriptPng: compile("/vendor/imagescript_png.wasm"),
 * });
 * const file = document.querySelector("input")!.files![0];
 * const image = await decoder.decode(new Uint8Array(await file.arrayBuffer()), file.name);
 * ```
 */
export class ImageDecoder {
  #mozjpegReady: Promise<void> | undefined;
  #jpeg: Promise<{ decode(bytes: Uint8Array): JpegFramebuffer }> | undefined;
  #png: Promise<{ decode(bytes: Uint8Array): PngFramebuffer }> | undefined;

  /** A decoder whose WebAssembly comes from `wasm`. */
  constructor(private readonly wasm: CodecWasm) {}

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
  async decode(
    bytes: Uint8Array,
    source: string,
    options: DecodeOptions = {},
  ): Promise<RgbImage> {
    const format = sniffImageFormat(bytes);
    const size = readImageSize(bytes);
    const tooLarge = size && pixelLimitReason(size.width, size.height, options.maxPixels);
    if (tooLarge) throw new ImageDecodeError(source, tooLarge);
    if (format === "jpeg") {
      // libjpeg decodes a truncated file with a warning and grey fill: refuse it first.
      const truncation = jpegTruncation(bytes);
      if (truncation) throw new ImageDecodeError(source, truncation);
      const scans = jpegScanCount(bytes);
      if (scans > MAX_JPEG_SCANS) {
        throw new ImageDecodeError(
          source,
          `JPEG of ${scans} scans, above the limit of ${MAX_JPEG_SCANS} (a photo has about ` +
            `ten; each is a pass over the whole image): refused rather than decoded for minutes`,
        );
      }
      const image = options.jpegDecoder?.decode(bytes) ?? await this.#decodeJpeg(bytes, source);
      return applyOrientation(image, readJpegOrientation(bytes));
    }
    if (format === "png") {
      if (size && Math.max(size.width, size.height) >= MAX_PNG_SIDE) {
        throw new ImageDecodeError(
          source,
          `PNG of ${size.width}×${size.height}: a side of ${MAX_PNG_SIDE} pixels or more is ` +
            `beyond the PNG decoder`,
        );
      }
      return await this.#decodePng(bytes, source);
    }
    throw new ImageDecodeError(source, describeNonImage(bytes));
  }

  /**
   * Instantiates libjpeg-turbo. Its Emscripten module would print libjpeg's own messages
   * ("Corrupt JPEG data: …", "Aborted()") with console.error, without a file name: they are
   * dropped, and posekit's error (naming the file) says what went wrong.
   */
  #loadMozjpeg(): Promise<void> {
    this.#mozjpegReady ??= (async () => {
      const silent = () => {};
      // The .d.ts lists only the options argument; the JS takes (module, options).
      const init = initMozjpeg as unknown as (
        module: WebAssembly.Module,
        options: { print(text: string): void; printErr(text: string): void },
      ) => Promise<void>;
      await init(await compiled(this.wasm.mozjpeg), { print: silent, printErr: silent });
    })().catch((error) => {
      // A start that failed (an unreadable .wasm) is tried again by the next image.
      this.#mozjpegReady = undefined;
      throw error;
    });
    return this.#mozjpegReady;
  }

  /** libjpeg-turbo in WebAssembly (the caller has refused truncated files). */
  async #decodeJpeg(bytes: Uint8Array, source: string): Promise<RgbImage> {
    await this.#loadMozjpeg();
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
      if (error instanceof WebAssembly.RuntimeError) this.#mozjpegReady = undefined;
      // CMYK and other colour spaces libjpeg cannot turn into RGB: imagescript's decoder.
      return await this.#decodeJpegFallback(bytes, source);
    }
  }

  async #decodeJpegFallback(bytes: Uint8Array, source: string): Promise<RgbImage> {
    this.#jpeg ??= compiled(this.wasm.imagescriptJpeg).then(imagescriptJpeg);
    let frame: JpegFramebuffer;
    try {
      frame = (await this.#jpeg).decode(bytes);
    } catch (error) {
      this.#jpeg = undefined;
      throw new ImageDecodeError(source, describeBadJpeg(bytes, error));
    }
    return jpegFramebufferToRgb(frame, source);
  }

  async #decodePng(bytes: Uint8Array, source: string): Promise<RgbImage> {
    this.#png ??= compiled(this.wasm.imagescriptPng).then(imagescriptPng);
    let decoded: PngFramebuffer;
    try {
      decoded = (await this.#png).decode(bytes);
    } catch (error) {
      this.#png = undefined;
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
}

async function compiled(source: WasmSource): Promise<WebAssembly.Module> {
  const got = await source();
  return got instanceof WebAssembly.Module ? got : await WebAssembly.compile(got);
}

/** imagescript's JPEG decoder on its WebAssembly module (its wasm/node/jpeg.js, portably). */
function imagescriptJpeg(module: WebAssembly.Module): { decode(b: Uint8Array): JpegFramebuffer } {
  const wasm = new WebAssembly.Instance(module).exports as Record<string, CallableFunction> & {
    memory: WebAssembly.Memory;
  };
  const view = (ptr: number, size: number) => new Uint8Array(wasm.memory.buffer, ptr, size);
  return {
    decode(bytes) {
      const input = wasm.walloc(bytes.length) as number;
      view(input, bytes.length).set(bytes);
      const ptr = wasm.decode(input, bytes.length, undefined, undefined) as number;
      if (ptr === 0) throw new Error("jpg: failed to decode");
      if (ptr === 1) throw new Error("jpg: failed to scale decoder");
      const frame = {
        width: wasm.decode_width(ptr) as number,
        height: wasm.decode_height(ptr) as number,
        format: wasm.decode_format(ptr) as number,
        buffer: view(wasm.decode_buffer(ptr) as number, wasm.wlen() as number).slice(),
      };
      wasm.decode_free(ptr);
      return frame;
    },
  };
}

/** imagescript's PNG decoder on its WebAssembly module (its wasm/node/png.js, portably). */
function imagescriptPng(module: WebAssembly.Module): { decode(b: Uint8Array): PngFramebuffer } {
  let heap: Uint8Array;
  const exports = new WebAssembly.Instance(module, {
    env: { emscripten_notify_memory_growth: () => heap = new Uint8Array(memory.buffer) },
  }).exports as Record<string, CallableFunction> & { memory: WebAssembly.Memory };
  const memory = exports.memory;
  heap = new Uint8Array(memory.buffer);
  return {
    decode(bytes) {
      const input = exports.walloc(bytes.length) as number;
      heap.set(bytes, input);
      const status = exports.decode(input, bytes.length) as number;
      exports.wfree(input);
      if (status < 0) throw new Error(`png: failed to decode (${status})`);
      const width = exports.width() as number;
      const height = exports.height() as number;
      const framebuffer = heap.slice(status, status + 4 * width * height);
      exports.wfree(status);
      return { width, height, framebuffer };
    },
  };
}

function jpegFramebufferToRgb(frame: JpegFramebuffer, source: string): RgbImage {
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
