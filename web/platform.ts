/**
 * posekit's platform in a page: onnxruntime-web loaded once (the import map points
 * `onnxruntime-web` at its WebGPU build, which also runs WASM), its WebAssembly fetched from
 * the server's `/ort/`, models and decoder WebAssembly fetched by URL.
 */

import * as ort from "onnxruntime-web";
import type { CodecWasm, RuntimePlatform } from "../core.ts";

/** Fetches a URL's bytes, with an error that names it. */
export async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The page's runtime platform. WASM threads need `crossOriginIsolated` (the server's COOP and
 * COEP headers): without it onnxruntime-web silently runs one thread, so the count asked for
 * is cut to 1 here and the page shows it.
 */
export function browserPlatform(ortBase = "/ort/"): RuntimePlatform {
  ort.env.wasm.wasmPaths = ortBase;
  ort.env.logLevel = "fatal";
  let threadsInForce: number | undefined;
  return {
    cores: navigator.hardwareConcurrency ?? 1,
    name: "this browser",
    wasm(threads) {
      // onnxruntime-web fixes its thread count with the first session of the page.
      if (threadsInForce === undefined) {
        threadsInForce = globalThis.crossOriginIsolated ? threads : 1;
        ort.env.wasm.numThreads = threadsInForce;
      }
      return Promise.resolve({ ort, threads: threadsInForce });
    },
    webgpu: () => Promise.resolve(ort),
    readModel: fetchBytes,
  };
}

/** The image decoders' WebAssembly, served by `deno task serve` under `/vendor/`. */
export function browserCodecWasm(base = "/vendor/"): CodecWasm {
  const compile = (file: string) => () => WebAssembly.compileStreaming(fetch(base + file));
  return {
    mozjpeg: compile("jsquash/mozjpeg_dec.wasm"),
    imagescriptJpeg: compile("imagescript/jpeg.wasm"),
    imagescriptPng: compile("imagescript/png.wasm"),
  };
}
