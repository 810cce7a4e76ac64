/**
 * posekit's platform in a page: one onnxruntime-web per page, its WebAssembly fetched from
 * the server's `/ort/`, models and decoder WebAssembly fetched by URL.
 *
 * Which build: onnxruntime-web's WebGPU build also runs WASM, but its WASM (built with
 * asyncify for WebGPU's sake) ran posekit's models 2.7× slower in Chromium here than the
 * plain WASM build (10 images: 11.0 s against 4.1 s, one thread). So the page loads one build
 * for its life: the WebGPU build when WebGPU will run, the plain one otherwise; a change of
 * backend reloads the page.
 */

import type * as OrtModule from "npm:onnxruntime-web@1.30.0";
import type { CodecWasm, RuntimePlatform } from "../core.ts";
import { type BackendChoice, chooseBackend, probeWebGpu } from "../lib/runtime/backend.ts";

/** Fetches a URL's bytes, with an error that names it. */
export async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The onnxruntime-web build for `choice`: WebGPU's when WebGPU will run, else plain WASM. */
export async function ortBuildFor(choice: BackendChoice): Promise<"webgpu" | "wasm"> {
  if (choice !== "auto") return choice;
  const probed = await probeWebGpu({ platformName: "this browser" });
  return chooseBackend("auto", probed.adapter).backend === "webgpu" ? "webgpu" : "wasm";
}

/** Loads onnxruntime-web's `build` from `base` (the server's copy of its dist/ folder). */
export async function loadOrt(build: "webgpu" | "wasm", base = "/ort/"): Promise<typeof OrtModule> {
  const file = build === "webgpu" ? "ort.webgpu.min.mjs" : "ort.wasm.min.mjs";
  const ort = await import(base + file) as typeof OrtModule;
  ort.env.wasm.wasmPaths = base;
  ort.env.logLevel = "fatal";
  return ort;
}

/**
 * The page's runtime platform on one onnxruntime-web module. WASM threads need
 * `crossOriginIsolated` (the server's COOP and COEP headers): without it onnxruntime-web
 * silently runs one thread, so the count asked for is cut to 1 here and the page shows it.
 */
export function browserPlatform(ort: typeof OrtModule, webgpu: boolean): RuntimePlatform {
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
    webgpu: () =>
      webgpu
        ? Promise.resolve(ort)
        : Promise.reject(new Error("this page loaded onnxruntime-web's WASM build")),
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
