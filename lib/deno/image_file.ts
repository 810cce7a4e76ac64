/**
 * Images in Deno: the decoders' WebAssembly read from the npm packages' files (compile-safe:
 * nothing is fetched, and `deno compile --include` carries them), one decoder for the process,
 * and image files read with errors that name them.
 */

import {
  type CodecWasm,
  type DecodeOptions,
  ImageDecodeError,
  ImageDecoder,
} from "../image/decode.ts";
import type { RgbImage } from "../types.ts";
import { DEFAULT_MAX_FILE_BYTES } from "./read_input.ts";
// Puts imagescript in the npm graph, so import.meta.resolve of its .wasm gives a file: URL.
import "npm:imagescript@1.3.1/png/node.js";

/** Reads one WebAssembly file that ships in an npm package (a static specifier each). */
function packageWasm(url: string): () => Promise<Uint8Array> {
  return () => Deno.readFile(new URL(url));
}

/** The decoders' WebAssembly, from the npm packages in node_modules (or the compiled binary). */
export const DENO_CODEC_WASM: CodecWasm = {
  mozjpeg: packageWasm(import.meta.resolve("npm:@jsquash/jpeg@1.6.0/codec/dec/mozjpeg_dec.wasm")),
  imagescriptJpeg: packageWasm(import.meta.resolve("npm:imagescript@1.3.1/wasm/any/jpeg.wasm")),
  imagescriptPng: packageWasm(import.meta.resolve("npm:imagescript@1.3.1/wasm/any/png.wasm")),
};

/**
 * The process's decoder: its WebAssembly instances are made once and reused (libjpeg-turbo's
 * is a per-process instance of its package anyway).
 */
const PROCESS_DECODER = new ImageDecoder(DENO_CODEC_WASM);

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
export function decodeImage(
  bytes: Uint8Array,
  source: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  return PROCESS_DECODER.decode(bytes, source, options);
}

/**
 * Reads and decodes an image file.
 * @throws ImageDecodeError when the file cannot be read or decoded
 *
 * @example Read an image, or say why not
 * ```ts ignore
 * import { ImageDecodeError, readImageFile } from "@posekit/posekit";
 *
 * try {
 *   const image = await readImageFile("photo.jpg", { maxPixels: 50_000_000 });
 *   console.log(image.width, image.height); // upright: EXIF orientation applied
 * } catch (error) {
 *   if (!(error instanceof ImageDecodeError)) throw error;
 *   console.error(error.message); // "photo.jpg: no such file", "...: permission denied", ...
 * }
 * ```
 */
export async function readImageFile(
  path: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    const { size } = await Deno.stat(path);
    if (size > DEFAULT_MAX_FILE_BYTES) {
      throw new ImageDecodeError(
        path,
        `the file (${size} bytes) is larger than the limit of ${DEFAULT_MAX_FILE_BYTES} bytes ` +
          `(1 GiB), more than any image within the pixel limit`,
      );
    }
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
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
