/**
 * JPEG decoding on the system's libjpeg-turbo (its TurboJPEG API, Debian's `libturbojpeg0`)
 * through Deno's FFI: the same library, settings and pixels as the WebAssembly decoder of
 * `lib/image/decode.ts` (accurate integer IDCT, fancy upsampling), about 4× faster (10–13 → 3 ms for a
 * 640×480 COCO image on this machine). It goes with `--backend native`, the opt-in to native
 * code; where it cannot open (not installed, FFI not allowed for its folder, a compiled binary
 * without --allow-ffi) `open` returns undefined and the WebAssembly decoder is used.
 */

import type { DecodeOptions, JpegDecoder } from "../image/decode.ts";
import type { RgbImage } from "../types.ts";

const SYMBOLS = {
  tjInitDecompress: { parameters: [], result: "pointer" },
  tjDecompressHeader3: {
    parameters: ["pointer", "buffer", "u64", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  tjDecompress2: {
    parameters: ["pointer", "buffer", "u64", "buffer", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  tjGetErrorCode: { parameters: ["pointer"], result: "i32" },
  tjDestroy: { parameters: ["pointer"], result: "i32" },
} as const;

/** TurboJPEG's constants (turbojpeg.h, API 2.x). */
const TJPF_RGB = 0;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
const TJERR_WARNING = 0;

/** Where libjpeg-turbo's TurboJPEG library is installed, per platform. */
export function turboJpegCandidates(os: typeof Deno.build.os = Deno.build.os): string[] {
  if (os === "darwin") {
    return ["/opt/homebrew/lib/libturbojpeg.0.dylib", "/usr/local/lib/libturbojpeg.0.dylib"];
  }
  if (os === "windows") return ["C:\\libjpeg-turbo64\\bin\\turbojpeg.dll"];
  return [
    "/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0",
    "/usr/lib/aarch64-linux-gnu/libturbojpeg.so.0",
    "/usr/lib64/libturbojpeg.so.0",
    "/usr/lib/libturbojpeg.so.0",
    "/usr/local/lib/libturbojpeg.so.0",
  ];
}

/**
 * libjpeg-turbo through FFI; one decompressor, used by one thread at a time.
 *
 * @example Decoding with it where it is installed (needs --allow-ffi for its folder)
 * ```ts ignore
 * import { decodeImage, TurboJpegDecoder } from "@posekit/posekit";
 *
 * const jpegDecoder = TurboJpegDecoder.open(); // undefined where it cannot open
 * const bytes = await Deno.readFile("photo.jpg");
 * const image = await decodeImage(bytes, "photo.jpg", { jpegDecoder });
 * console.log(image.width, image.height, jpegDecoder?.path ?? "WebAssembly");
 * jpegDecoder?.close();
 * ```
 */
export class TurboJpegDecoder implements JpegDecoder {
  readonly #library: Deno.DynamicLibrary<typeof SYMBOLS>;
  /** Replaced after a failure: libjpeg's state after an error exit is not to be trusted. */
  #handle: Deno.PointerObject | null;
  /** Header outputs: width, height, subsampling, colour space, and a view of each. */
  readonly #header = new Int32Array(4);
  readonly #fields = [0, 1, 2, 3].map((i) => this.#header.subarray(i, i + 1));

  private constructor(
    library: Deno.DynamicLibrary<typeof SYMBOLS>,
    handle: Deno.PointerObject,
    /** The library file opened. */
    readonly path: string,
  ) {
    this.#library = library;
    this.#handle = handle;
  }

  /**
   * Opens the first of `candidates` (default: `$POSEKIT_TURBOJPEG`, else the usual places)
   * that exists and that FFI is allowed for; undefined when none (never a permission prompt).
   */
  static open(
    candidates: string[] = Deno.env.get("POSEKIT_TURBOJPEG")?.split(":") ?? turboJpegCandidates(),
  ): TurboJpegDecoder | undefined {
    for (const path of candidates) {
      if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
      let library: Deno.DynamicLibrary<typeof SYMBOLS>;
      try {
        library = Deno.dlopen(path, SYMBOLS);
      } catch {
        continue; // not there, or not this library
      }
      const handle = library.symbols.tjInitDecompress();
      if (handle === null) {
        library.close();
        continue;
      }
      return new TurboJpegDecoder(library, handle, path);
    }
    return undefined;
  }

  decode(bytes: Uint8Array): RgbImage | undefined {
    const tj = this.#library.symbols;
    this.#handle ??= tj.tjInitDecompress();
    if (this.#handle === null) return undefined;
    const h = this.#header;
    const size = BigInt(bytes.byteLength);
    const [width, height, subsampling, colorspace] = this.#fields;
    if (tj.tjDecompressHeader3(this.#handle, bytes, size, width, height, subsampling, colorspace)) {
      return this.#failed();
    }
    // CMYK: the WebAssembly path converts it as imagescript does (libjpeg cannot).
    if (h[3] === TJCS_CMYK || h[3] === TJCS_YCCK) return undefined;
    const data = new Uint8Array(h[0] * h[1] * 3);
    if (tj.tjDecompress2(this.#handle, bytes, size, data, h[0], 0, h[1], TJPF_RGB, 0) !== 0) {
      // A warning (corrupt data libjpeg decodes through) keeps the pixels, as the WebAssembly
      // decoder does; anything else goes to it, to decode or to explain.
      if (tj.tjGetErrorCode(this.#handle) !== TJERR_WARNING) return this.#failed();
    }
    return { width: h[0], height: h[1], data };
  }

  /** Drops the decompressor after an error (a fresh one decodes the next image). */
  #failed(): undefined {
    if (this.#handle) this.#library.symbols.tjDestroy(this.#handle);
    this.#handle = null;
    return undefined;
  }

  /** Frees the decompressor and closes the library. */
  close(): void {
    if (this.#handle) this.#library.symbols.tjDestroy(this.#handle);
    this.#handle = null;
    this.#library.close();
  }
}

/**
 * Decode options for a pipeline on `backend`: on native onnxruntime (the opt-in to native
 * code) `base` with the native JPEG decoder when it opens, and otherwise a note saying how to
 * get it; on any other backend `base` as it is.
 */
export function decodeOptionsFor(
  backend: string,
  base: DecodeOptions = {},
): { decode: DecodeOptions; note?: string } {
  if (backend !== "native") return { decode: base };
  const jpegDecoder = TurboJpegDecoder.open();
  if (jpegDecoder) return { decode: { ...base, jpegDecoder } };
  return {
    decode: base,
    note: "JPEG images are decoded in WebAssembly (about 10 ms more an image than native): " +
      "install libjpeg-turbo's TurboJPEG library (Debian: libturbojpeg0) and allow FFI for it, " +
      "or set POSEKIT_TURBOJPEG to its path",
  };
}
