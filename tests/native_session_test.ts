/**
 * Native onnxruntime (onnxruntime-node) against onnxruntime-web's WASM build, on the same
 * inputs from a real COCO image (785: one skier), for three real models:
 * - SimplePose heatmaps: max abs diff ≤ 1e-4 (heatmap peaks are ~0.1–1).
 * - RTMDet-nano (NMS inside the graph): the same detections, boxes within 0.01 input px,
 *   scores within 1e-4.
 * - DEIMv2 atto (a float32 and an int64 input): the queries scoring ≥ 0.05 have the same
 *   labels, boxes within 0.05 image px, scores within 1e-4; its top detection is the skier.
 * Both backends run float32 kernels but with different builds (native x86 vs WASM SIMD), so
 * results differ only by float rounding; the measured differences are printed.
 *
 * Needs --allow-ffi (the addon) and onnxruntime-node installed by `deno install`.
 */

import * as ortWeb from "onnxruntime-web";
import { loadNativeSession, nativeImportFailureMessage } from "../lib/deno/native_session.ts";
import {
  float32Input,
  type InferenceSession,
  int64Input,
  type ModelInputs,
} from "../lib/runtime/session.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import type { ModelOutputs, Normalization, RgbImage } from "../lib/types.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

const IMAGE_785 = ["coco", "val2017", "000000000785.jpg"];
/** The skier's box in the COCO annotations of image 785 (x, y, w, h). */
const SKIER_BBOX = [280.79, 44.73, 218.7, 346.68];

const SIMPLEPOSE = ["models", "simplepose_nano_256x192.onnx"];
const RTMDET = ["models", "rtmdet_nano_person.onnx"];
const DEIMV2_ATTO = ["models", "deimv2_atto_coco.onnx"];

const IMAGENET_RGB: Normalization = {
  colorOrder: "rgb",
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
};

/** Largest |a − b| and largest |a − b| / max(|b|, 1e-3) over two equally long arrays. */
function differences(a: Float32Array, b: Float32Array): { abs: number; rel: number } {
  assertEquals(a.length, b.length, "output lengths");
  let abs = 0, rel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(b[i]), 1e-3));
  }
  return { abs, rel };
}

function report(model: string, output: string, d: { abs: number; rel: number }): void {
  console.log(
    `  ${model} ${output}: max abs diff ${d.abs.toExponential(2)}, ` +
      `max rel diff ${d.rel.toExponential(2)}`,
  );
}

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const area = (r: readonly number[]) => (r[2] - r[0]) * (r[3] - r[1]);
  return (w * h) / (area(a) + area(b) - w * h);
}

const SKIER_BOX = [
  SKIER_BBOX[0],
  SKIER_BBOX[1],
  SKIER_BBOX[0] + SKIER_BBOX[2],
  SKIER_BBOX[1] + SKIER_BBOX[3],
];

/**
 * Samples `image` into an NCHW float tensor (batch 1): output pixel (u, v) reads image point
 * (left + (u + 0.5)·step − 0.5, top + (v + 0.5)·stepY − 0.5) bilinearly, pixels outside the
 * image read as `pad`, then (value − mean) / std per channel in the network's channel order.
 */
function sampleTensor(
  image: RgbImage,
  window: { left: number; top: number; stepX: number; stepY: number },
  width: number,
  height: number,
  norm: Normalization,
  pad: number,
): Float32Array {
  const out = new Float32Array(3 * width * height);
  const order = norm.colorOrder === "rgb" ? [0, 1, 2] : [2, 1, 0];
  const at = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= image.width || y >= image.height
      ? pad
      : image.data[(y * image.width + x) * 3 + c];
  for (let v = 0; v < height; v++) {
    const y = window.top + (v + 0.5) * window.stepY - 0.5;
    const y0 = Math.floor(y), fy = y - y0;
    for (let u = 0; u < width; u++) {
      const x = window.left + (u + 0.5) * window.stepX - 0.5;
      const x0 = Math.floor(x), fx = x - x0;
      for (let c = 0; c < 3; c++) {
        const k = order[c];
        const value = (at(x0, y0, k) * (1 - fx) + at(x0 + 1, y0, k) * fx) * (1 - fy) +
          (at(x0, y0 + 1, k) * (1 - fx) + at(x0 + 1, y0 + 1, k) * fx) * fy;
        out[(c * height + v) * width + u] = (value - norm.mean[c]) / norm.std[c];
      }
    }
  }
  return out;
}

/** SimplePose's input: the skier's box enlarged 1.25×, aspect 3:4, centred, 192×256, RGB. */
function skierCrop(image: RgbImage): Float32Array {
  const [x, y, w, h] = SKIER_BBOX;
  const height = Math.max(h, (w * 256) / 192) * 1.25;
  const step = height / 256;
  const window = {
    left: x + w / 2 - 96 * step,
    top: y + h / 2 - height / 2,
    stepX: step,
    stepY: step,
  };
  return sampleTensor(image, window, 192, 256, IMAGENET_RGB, 0);
}

/** RTMDet's input: long side to 320 keeping the aspect ratio, pad 114 bottom/right, BGR. */
function letterboxed(image: RgbImage, size: number): Float32Array {
  const step = Math.max(image.width, image.height) / size;
  return sampleTensor(image, { left: 0, top: 0, stepX: step, stepY: step }, size, size, {
    colorOrder: "bgr",
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
  }, 114);
}

/** DEIMv2's input: the whole image stretched to size×size, RGB, values / 255. */
function stretched(image: RgbImage, size: number): Float32Array {
  const window = { left: 0, top: 0, stepX: image.width / size, stepY: image.height / size };
  const unit: Normalization = { colorOrder: "rgb", mean: [0, 0, 0], std: [255, 255, 255] };
  return sampleTensor(image, window, size, size, unit, 0);
}

async function withNative<T>(
  parts: string[],
  threads: number,
  use: (session: InferenceSession) => Promise<T>,
): Promise<T> {
  const session = await loadNativeSession(requireShared(...parts), parts.at(-1)!, { threads });
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

/**
 * Runs a model once on onnxruntime-web's WASM build directly (lib/runtime.ts sets it up the
 * same way: the binary read from the npm package, logs off), one thread; float32 outputs,
 * int64 ones converted to numbers.
 */
async function runWasm(parts: string[], inputs: ModelInputs): Promise<ModelOutputs> {
  if (!ortWeb.env.wasm.wasmBinary) {
    const binary = new URL(import.meta.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
    ortWeb.env.wasm.wasmBinary = await Deno.readFile(binary);
    ortWeb.env.wasm.numThreads = 1;
    ortWeb.env.logLevel = "fatal";
  }
  const session = await ortWeb.InferenceSession.create(requireShared(...parts), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  try {
    const feeds: Record<string, ortWeb.Tensor> = {};
    for (const [name, input] of Object.entries(inputs)) {
      feeds[name] = input.type === "float32"
        ? new ortWeb.Tensor("float32", input.data, input.dims)
        : new ortWeb.Tensor("int64", input.data, input.dims);
    }
    const outputs: ModelOutputs = {};
    for (const [name, tensor] of Object.entries(await session.run(feeds))) {
      const data = tensor.data instanceof BigInt64Array
        ? Float32Array.from(tensor.data, Number)
        : tensor.data as Float32Array;
      outputs[name] = { data, dims: tensor.dims };
    }
    return outputs;
  } finally {
    await session.release();
  }
}

Deno.test({
  name: "native SimplePose heatmaps equal WASM's within 1e-4, on 1 and 2 threads",
  ignore: ignoreWithoutShared(...SIMPLEPOSE) || ignoreWithoutShared(...IMAGE_785),
  async fn() {
    const crop = skierCrop(await readImageFile(requireShared(...IMAGE_785)));
    const dims = [1, 3, 256, 192];
    const wasm = await runWasm(SIMPLEPOSE, { data: float32Input(crop, dims) });
    const name = "hybridsequential0_conv7_fwd";
    for (const threads of [1, 2]) {
      const native = await withNative(SIMPLEPOSE, threads, async (session) => {
        assertEquals(session.backend, "native");
        assertEquals(session.inputs, [{ name: "data", type: "float32", shape: dims }]);
        assertEquals(session.outputs, [{ name, type: "float32", shape: [1, 17, 64, 48] }]);
        return await session.run({ data: float32Input(crop, dims) });
      });
      assertEquals(native[name].dims, [1, 17, 64, 48]);
      const d = differences(native[name].data, wasm[name].data);
      report(`simplepose (${threads} threads)`, "heatmaps", d);
      assert(d.abs <= 1e-4, `heatmap max abs diff ${d.abs} > 1e-4`);
    }
  },
});

Deno.test({
  name: "native RTMDet-nano gives WASM's detections: boxes within 0.01 px, scores within 1e-4",
  ignore: ignoreWithoutShared(...RTMDET) || ignoreWithoutShared(...IMAGE_785),
  async fn() {
    const image = await readImageFile(requireShared(...IMAGE_785));
    const data = letterboxed(image, 320);
    const dims = [1, 3, 320, 320];
    const wasm = await runWasm(RTMDET, { input: float32Input(data, dims) });
    const native = await withNative(
      RTMDET,
      2,
      (session) => session.run({ input: float32Input(data, dims) }),
    );
    assertEquals(native.dets.dims, wasm.dets.dims, "dets dims");
    assertEquals(native.labels.data, wasm.labels.data, "labels");
    const dets = native.dets.data, reference = wasm.dets.data;
    let box = 0, score = 0;
    for (let i = 0; i < dets.length; i += 5) {
      for (let k = 0; k < 4; k++) box = Math.max(box, Math.abs(dets[i + k] - reference[i + k]));
      score = Math.max(score, Math.abs(dets[i + 4] - reference[i + 4]));
    }
    console.log(
      `  rtmdet: ${dets.length / 5} detections, max box diff ${box.toExponential(2)} ` +
        `px, max score diff ${score.toExponential(2)}`,
    );
    assert(box <= 0.01, `box max abs diff ${box} px > 0.01`);
    assert(score <= 1e-4, `score max abs diff ${score} > 1e-4`);
  },
});

Deno.test({
  name: "native DEIMv2 atto (float32 + int64 inputs) equals WASM's and finds the skier",
  ignore: ignoreWithoutShared(...DEIMV2_ATTO) || ignoreWithoutShared(...IMAGE_785),
  async fn() {
    const image = await readImageFile(requireShared(...IMAGE_785));
    const pixels = stretched(image, 320);
    const dims = [1, 3, 320, 320];
    const size = int64Input([image.width, image.height], [1, 2]);

    const inputs = { images: float32Input(pixels, dims), orig_target_sizes: size };
    const wasm = await runWasm(DEIMV2_ATTO, inputs);
    const native = await withNative(DEIMV2_ATTO, 2, async (session) => {
      assertEquals(
        session.inputs.map((i) => [i.name, i.type]),
        [["images", "float32"], ["orig_target_sizes", "int64"]],
      );
      return await session.run(inputs);
    });

    // The 300 queries come sorted by score; below 0.05 near-ties could swap places on other
    // CPUs, so the comparison covers the queries scoring at least 0.05 (61 on image 785).
    const webScores = wasm.scores.data;
    const n = webScores.findIndex((v) => v < 0.05);
    assert(n >= 10, `only ${n} queries score 0.05 or more`);
    // int64 labels come back from both as float32 numbers.
    assertEquals(native.labels.data.subarray(0, n), wasm.labels.data.subarray(0, n), "labels");
    const boxes = differences(
      native.boxes.data.subarray(0, 4 * n),
      wasm.boxes.data.subarray(0, 4 * n),
    );
    const scores = differences(native.scores.data.subarray(0, n), webScores.subarray(0, n));
    report(`deimv2 atto (${n} queries)`, "boxes (image px)", boxes);
    report(`deimv2 atto (${n} queries)`, "scores", scores);
    assert(boxes.abs <= 0.05, `box max abs diff ${boxes.abs} px > 0.05`);
    assert(scores.abs <= 1e-4, `score max abs diff ${scores.abs} > 1e-4`);

    // Sanity against the annotation, independent of either backend: the best detection is a
    // person (label 0) with a confident score, boxed where COCO's annotators boxed the skier.
    const s = native.scores.data;
    let best = 0;
    for (let i = 1; i < s.length; i++) if (s[i] > s[best]) best = i;
    const bestBox = [...native.boxes.data.subarray(4 * best, 4 * best + 4)];
    assertEquals(native.labels.data[best], 0, "top detection's class");
    assert(s[best] > 0.5, `top score ${s[best]} ≤ 0.5`);
    const overlap = iou(bestBox, SKIER_BOX);
    assert(overlap >= 0.7, `IoU with the annotated skier ${overlap.toFixed(3)} < 0.7`);
  },
});

Deno.test("a failed import of onnxruntime-node says how to fix it", async () => {
  const missing = await assertRejects(
    () =>
      loadNativeSession(new Uint8Array(), "m.onnx", {
        importModule: () => Promise.reject(new TypeError("Cannot find module 'onnxruntime-node'")),
      }),
    Error,
    'Run "deno install"',
  );
  assert(missing.message.includes("Cannot find module"), "keeps the import's reason");
  assert(missing.message.includes("--backend wasm"), "offers the WASM backend");

  // Deno's own words when --allow-ffi is missing.
  const ffi = new Deno.errors.NotCapable(
    'Requires ffi access to "/x/onnxruntime_binding.node", run again with the --allow-ffi flag',
  );
  const message = nativeImportFailureMessage(ffi);
  assert(message.includes("add --allow-ffi"), message);
  assert(message.includes("--backend wasm"), message);
});

/** Runs a script that loads a native session in a fresh `deno run` with `flags`; its stderr. */
async function failedLoadStderr(
  cwd: string,
  flags: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const script = `${cwd}/load_native.ts`;
  const module = new URL("../lib/deno/native_session.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { loadNativeSession } from ${JSON.stringify(module)};\n` +
      `await loadNativeSession(new Uint8Array(), "m.onnx", {});\n`,
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(!output.success, "loading was expected to fail");
  return new TextDecoder().decode(output.stderr);
}

Deno.test("without --allow-ffi, or without the package, loading says how to fix it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = new URL("../deno.json", import.meta.url).pathname;
    const noFfi = await failedLoadStderr(dir, ["--config", config, "--allow-read", "--allow-env"]);
    assert(noFfi.includes("add --allow-ffi to the deno command"), noFfi);
    // An empty Deno cache, offline: as where the package is not installed.
    const noPackage = await failedLoadStderr(dir, ["--no-config", "--cached-only", "--allow-all"], {
      DENO_DIR: dir,
    });
    assert(noPackage.includes('Run "deno install"'), noPackage);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "native model-load and run errors name the model and carry onnxruntime's reason",
  ignore: ignoreWithoutShared(...SIMPLEPOSE),
  async fn() {
    const bad = await assertRejects(
      () => loadNativeSession(new Uint8Array([1, 2, 3]), "broken.onnx", { threads: 1 }),
      Error,
      "cannot load model broken.onnx",
    );
    assert(/protobuf|parsing|invalid/i.test(bad.message), bad.message);
    await assertRejects(
      () => loadNativeSession("/nonexistent/x.onnx", "x.onnx", { threads: 1 }),
      Error,
      "cannot read model x.onnx",
    );
    await withNative(SIMPLEPOSE, 1, async (session) => {
      const wrong = await assertRejects(
        () => session.run({ data: float32Input(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]) }),
        Error,
        "simplepose_nano_256x192.onnx failed on inputs",
      );
      assert(wrong.message.includes("[1,3,8,8]"), wrong.message);
      assert(/dimension|shape|index/i.test(wrong.message), wrong.message);
    });
  },
});
