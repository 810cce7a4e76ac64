/**
 * `deno run --allow-read --allow-env --allow-sys --allow-ffi --allow-run bench/native_bench.ts`
 *
 * Model-only time of onnxruntime-web WASM against native onnxruntime (onnxruntime-node), side
 * by side in one run, on 1 and 2 threads: SimplePose 256x192 and RTMDet-nano 320 on COCO image
 * 785. Each thread count runs in its own child process (onnxruntime-web fixes its WASM thread
 * count once per process), where WASM and native runs alternate so that both see the same
 * load. Prints the median ms per run (after warm-up) and the native speed-up, or one JSON
 * object with --json.
 */

import { parseArgs } from "node:util";
import * as ortWeb from "onnxruntime-web";
import { loadNativeSession } from "../lib/deno/native_session.ts";
import { float32Input } from "../lib/runtime/session.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import type { RgbImage } from "../lib/types.ts";

const SHARED = new URL("../../shared/", import.meta.url);
const IMAGE = new URL("coco/val2017/000000000785.jpg", SHARED).pathname;

interface BenchModel {
  name: string;
  file: string;
  input: string;
  width: number;
  height: number;
}

const MODELS: readonly BenchModel[] = [
  {
    name: "SimplePose 256x192",
    file: "simplepose_nano_256x192.onnx",
    input: "data",
    width: 192,
    height: 256,
  },
  {
    name: "RTMDet-nano 320",
    file: "rtmdet_nano_person.onnx",
    input: "input",
    width: 320,
    height: 320,
  },
];

const THREADS = [1, 2];

/** Median ms per run of each backend, for one model and thread count. */
interface Timing {
  wasm: number;
  native: number;
}

/** Timings by model name, for one thread count. */
type Timings = Record<string, Timing>;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
    "child-threads": { type: "string" },
  },
});
const runs = Number(values.runs), warmup = Number(values.warmup);
if (!(Number.isInteger(runs) && runs > 0 && Number.isInteger(warmup) && warmup >= 0)) {
  console.error("native_bench: --runs must be a positive integer, --warmup a whole number");
  Deno.exit(2);
}

if (values["child-threads"]) {
  console.log(JSON.stringify(await timeBoth(Number(values["child-threads"]))));
} else {
  const results: Record<number, Timings> = {};
  for (const threads of THREADS) results[threads] = await runChild(threads);
  if (values.json) console.log(JSON.stringify({ runs, warmup, results }));
  else printTable(results);
}

/** Times both backends with `threads` threads in a fresh process. */
async function runChild(threads: number): Promise<Timings> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "--allow-ffi",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL(import.meta.url).pathname,
      `--child-threads=${threads}`,
      `--runs=${runs}`,
      `--warmup=${warmup}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`native_bench: the ${threads}-thread run failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * Both backends on each model, their runs interleaved (WASM, native, WASM, …) so that both
 * see the same load on a shared machine.
 */
async function timeBoth(threads: number): Promise<Timings> {
  const image = await readImageFile(IMAGE);
  // Set up as lib/runtime.ts does: the binary from the npm package, threads fixed here.
  const binary = new URL(import.meta.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  ortWeb.env.wasm.wasmBinary = await Deno.readFile(binary);
  ortWeb.env.wasm.numThreads = threads;
  ortWeb.env.logLevel = "fatal";
  const timings: Timings = {};
  for (const model of MODELS) {
    const path = new URL(`models/${model.file}`, SHARED).pathname;
    const data = resizedInput(image, model.width, model.height);
    const dims = [1, 3, model.height, model.width];
    const wasm = await ortWeb.InferenceSession.create(path, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    const native = await loadNativeSession(path, model.file, { threads });
    const runWasm = () => wasm.run({ [model.input]: new ortWeb.Tensor("float32", data, dims) });
    const runNative = () => native.run({ [model.input]: float32Input(data, dims) });
    for (let i = 0; i < warmup; i++) {
      await runWasm();
      await runNative();
    }
    const wasmMs: number[] = [], nativeMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      wasmMs.push(await elapsedMs(runWasm));
      nativeMs.push(await elapsedMs(runNative));
    }
    await wasm.release();
    await native.release();
    timings[model.name] = { wasm: median(wasmMs), native: median(nativeMs) };
  }
  return timings;
}

async function elapsedMs(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/**
 * The image stretched to the input size, nearest pixel, values scaled to about [-2, 2]: a real
 * picture's content (so RTMDet's in-graph NMS has boxes to sort), exact preprocessing aside.
 */
function resizedInput(image: RgbImage, width: number, height: number): Float32Array {
  const out = new Float32Array(3 * width * height);
  const plane = width * height;
  for (let v = 0; v < height; v++) {
    const y = Math.min(image.height - 1, Math.floor(((v + 0.5) * image.height) / height));
    for (let u = 0; u < width; u++) {
      const x = Math.min(image.width - 1, Math.floor(((u + 0.5) * image.width) / width));
      for (let c = 0; c < 3; c++) {
        out[c * plane + v * width + u] = (image.data[(y * image.width + x) * 3 + c] - 120) / 58;
      }
    }
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function printTable(results: Record<number, Timings>): void {
  console.log(`median ms per run (${runs} runs after ${warmup} warm-up), model only`);
  console.log("model                threads   wasm ms   native ms   native speed-up");
  for (const model of MODELS) {
    for (const threads of THREADS) {
      const { wasm, native } = results[threads][model.name];
      console.log(
        `${model.name.padEnd(20)} ${String(threads).padStart(7)} ${wasm.toFixed(2).padStart(9)} ` +
          `${native.toFixed(2).padStart(11)} ${(wasm / native).toFixed(2).padStart(16)}x`,
      );
    }
  }
}
