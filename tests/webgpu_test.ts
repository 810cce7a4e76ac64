/**
 * The WebGPU backend computes what the WASM backend computes, on the real models and real
 * COCO images from ../shared.
 *
 * Both backends run in this one process (two onnxruntime-web builds side by side), the
 * WebGPU one forced onto whatever adapter there is: CI installs Mesa's lavapipe, a software
 * Vulkan driver, so the comparison runs there too. It is slow (about 0.7 s per model run), so
 * only a few images and crops are used.
 *
 * Tolerances. The two backends run the same float32 graph with differently ordered sums
 * (GPU kernels tile and reduce convolutions and matrix products in another order than
 * onnxruntime's CPU kernels), so results differ by float32 rounding, amplified through the
 * network. Largest differences measured here (lavapipe, LLVM 15, 256-bit; rerun with
 * POSEKIT_SHOW_DIFFERENCES=1 to see them) and the tolerances, about ten times as much:
 * - detector boxes in image pixels: RTMDet 1.1e-3 px, YOLOX 3.1e-4 px → 0.01 px;
 * - detector scores: 8e-7 (RTMDet), YOLOX raw objectness/class scores 2.0e-5 → 2e-4
 *   (lavapipe is not bit-reproducible from run to run: 1.4e-5 to 2.0e-5 seen);
 * - YOLOX raw box terms (grid-relative centres, log sizes): 2.7e-4 → 3e-3;
 * - SimplePose heatmaps (values up to ~1): 1.4e-6 → 1e-5 (WebGPU runs the model with its
 *   ReLU6 nodes moved to opset 11, see `withOpset11Clip`);
 * - decoded keypoints: positions identical. They are quantized to quarter heatmap pixels, so
 *   they agree exactly unless the peak or the order of its neighbours flips; keypoints whose
 *   deciding heatmap differences are within twice the heatmap tolerance are left out (none
 *   were here). Scores (heatmap maxima) within the heatmap tolerance: 5.4e-7 measured.
 */

import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  boxToCropRegion,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "../lib/geometry/affine.ts";
import type { DetectorAdapter, KeypointAdapter } from "../lib/families/family.ts";
import { createHeatmapAdapter, flipBackHeatmaps } from "../lib/families/heatmap.ts";
import { rtmdetFamily } from "../lib/families/rtmdet.ts";
import { yoloxFamily } from "../lib/families/yolox.ts";
import { probeDenoWebGpu as probeWebGpu } from "../lib/deno/runtime.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { findManifest } from "../lib/models/catalog.ts";
import { imageToTensor, warpCropToTensor } from "../lib/image/preprocess.ts";
import { ModelSession, Runtime } from "../lib/deno/runtime.ts";
import { withOpset11Clip, withSymbolicBatch } from "../lib/runtime/runtime.ts";
import { OnnxGraph } from "./support/onnx_builder.ts";
import type { Box, ModelOutputs, RgbImage } from "../lib/types.ts";

const BOX_TOLERANCE_PX = 0.01;
const SCORE_TOLERANCE = 2e-4;
const YOLOX_BOX_TERM_TOLERANCE = 3e-3;
const HEATMAP_TOLERANCE = 1e-5;

const RTMDET = "rtmdet_nano_person.onnx";
const YOLOX = "yolox_nano.onnx";
const SIMPLEPOSE = "simplepose_nano_256x192.onnx";
/** One person (785), four people (196141), a crowd (350679). */
const IMAGES = { single: 785, four: 196141, crowd: 350679 } as const;

const IN_CI = Deno.env.get("CI") === "true";

/**
 * Largest differences seen, by kind; printed when POSEKIT_SHOW_DIFFERENCES=1, to re-measure the
 * tolerances on another adapter.
 */
const measured: Record<string, number> = {};
function measure(kind: string, difference: number): number {
  measured[kind] = Math.max(measured[kind] ?? 0, difference);
  return difference;
}
globalThis.addEventListener("unload", () => {
  if (Deno.env.get("POSEKIT_SHOW_DIFFERENCES") === "1") console.log(measured);
});
const probe = await probeWebGpu();
/** Outside CI a machine without any WebGPU adapter skips these tests; in CI they fail. */
const ignoreWithoutGpu = !probe.adapter && !IN_CI;

function requireAdapter(): void {
  if (!probe.adapter) {
    throw new Error(
      `no WebGPU adapter (${probe.error}); CI installs mesa-vulkan-drivers (lavapipe) for these tests`,
    );
  }
}

function ignoreUnlessReady(...sharedFiles: (readonly string[])[]): boolean {
  return ignoreWithoutGpu || sharedFiles.some((parts) => ignoreWithoutShared(...parts));
}

function imagePath(id: number): string[] {
  return ["coco", "val2017", `${String(id).padStart(12, "0")}.jpg`];
}

async function loadImage(id: number): Promise<RgbImage> {
  return await readImageFile(requireShared(...imagePath(id)));
}

/** The same model on both backends. */
async function loadBoth(file: string): Promise<Record<"wasm" | "webgpu", ModelSession>> {
  const path = requireShared("models", file);
  return {
    wasm: await ModelSession.load(path, file, { backend: "wasm" }),
    webgpu: await ModelSession.load(path, file, { backend: "webgpu" }),
  };
}

async function releaseBoth(sessions: Record<"wasm" | "webgpu", ModelSession>): Promise<void> {
  await sessions.wasm.release();
  await sessions.webgpu.release();
}

function maxAbsDifference(a: Float32Array, b: Float32Array, keep = (_i: number) => true): number {
  assertEquals(a.length, b.length, "output sizes");
  let max = 0;
  for (let i = 0; i < a.length; i++) if (keep(i)) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function boxDistance(a: Box, b: Box): number {
  return Math.max(
    Math.abs(a.x1 - b.x1),
    Math.abs(a.y1 - b.y1),
    Math.abs(a.x2 - b.x2),
    Math.abs(a.y2 - b.y2),
  );
}

/**
 * Every box scoring at least `minScore` on one backend has a twin on the other: corners within
 * BOX_TOLERANCE_PX and score within SCORE_TOLERANCE. Boxes are matched rather than compared in
 * order because near-equal scores may swap places, and only boxes well above the score
 * thresholds must match (one within rounding of a threshold may exist on one backend only).
 * Returns how many WASM boxes were matched.
 */
function assertSameBoxes(
  wasm: Box[],
  webgpu: Box[],
  minScore: number,
  what: "RTMDet" | "YOLOX",
): number {
  const matchAll = (from: Box[], to: Box[], direction: string) => {
    let matched = 0;
    for (const box of from) {
      if (box.score < minScore) continue;
      const twin = to.find((other) =>
        boxDistance(box, other) <= BOX_TOLERANCE_PX &&
        Math.abs(box.score - other.score) <= SCORE_TOLERANCE
      );
      const nearest = Math.min(...to.map((other) => boxDistance(box, other)));
      assert(
        twin,
        `${what} ${direction}: no twin for ${JSON.stringify(box)} (nearest ${nearest} px)`,
      );
      measure(`${what} box px`, boxDistance(box, twin));
      measure(`${what} box score`, Math.abs(box.score - twin.score));
      matched++;
    }
    return matched;
  };
  matchAll(webgpu, wasm, "WebGPU→WASM");
  return matchAll(wasm, webgpu, "WASM→WebGPU");
}

function manifestAdapter<A>(
  name: string,
  create: (m: NonNullable<ReturnType<typeof findManifest>>) => A,
): A {
  const manifest = findManifest(name);
  assert(manifest, `catalog manifest ${name}`);
  return create(manifest);
}

Deno.test({
  name: "WebGPU starts on the adapter navigator.gpu offers, and its runtime loads models there",
  ignore: ignoreWithoutGpu,
  async fn() {
    requireAdapter();
    const runtime = await Runtime.start({ backend: "webgpu" });
    const info = runtime.info;
    assertEquals(info.backend, "webgpu");
    assert(info.adapter?.includes(probe.adapter!.description), `adapter "${info.adapter}"`);
    assertEquals(runtime.notes, []);
    // A model loaded on this runtime runs on WebGPU: y = x + x.
    const g = new OnnxGraph();
    const x = g.input("x", [4]);
    g.output(g.add(x, x), "y", [4]);
    const session = await runtime.load(g.toBytes(), "doubling.onnx");
    try {
      assertEquals(session.backend, "webgpu");
      const out = await session.run({
        x: { type: "float32", data: Float32Array.of(1, 2, -3, 0.5), dims: [4] },
      });
      assertEquals(Array.from(out.y.data), [2, 4, -6, 1]);
    } finally {
      await session.release();
    }
    assertEquals(runtime.notes, []);
  },
});

Deno.test({
  name: "RTMDet-nano finds the same person boxes on WebGPU as on WASM",
  ignore: ignoreUnlessReady(["models", RTMDET], imagePath(IMAGES.single), imagePath(IMAGES.crowd)),
  async fn() {
    requireAdapter();
    const adapter = manifestAdapter(
      "rtmdet_nano_person",
      (m) => rtmdetFamily.createAdapter(m, {}),
    ) as DetectorAdapter;
    const sessions = await loadBoth(RTMDET);
    const inputs: ReturnType<typeof imageToTensor>[] = [];
    for (const id of [IMAGES.single, IMAGES.crowd]) {
      inputs.push(imageToTensor(await loadImage(id), adapter.input));
    }
    // The export keeps boxes down to 0.05 after its own NMS; compare everything from 0.1 up.
    const decode = (outputs: ModelOutputs, i: number) =>
      adapter.decode(outputs, inputs[i].frame, { scoreThreshold: 0.05, keypointScoreThreshold: 0 });
    const wasm: Box[][] = [];
    for (const [i, { data, dims }] of inputs.entries()) {
      const expected = decode(await sessions.wasm.run("input", data, dims), i);
      const actual = decode(await sessions.webgpu.run("input", data, dims), i);
      const matched = assertSameBoxes(expected, actual, 0.1, "RTMDet");
      assert(matched >= 1, `image ${i}: nothing to compare`);
      wasm.push(expected);
    }
    assert(wasm[1].filter((box) => box.score >= 0.3).length >= 5, "the crowd has people");
    await releaseBoth(sessions);
  },
});

Deno.test({
  name: "YOLOX-nano gives the same raw outputs and person boxes on WebGPU as on WASM",
  ignore: ignoreUnlessReady(["models", YOLOX], imagePath(IMAGES.four), imagePath(IMAGES.crowd)),
  async fn() {
    requireAdapter();
    const adapter = manifestAdapter(
      "yolox_nano",
      (m) => yoloxFamily.createAdapter(m, {}),
    ) as DetectorAdapter;
    const sessions = await loadBoth(YOLOX);
    for (const id of [IMAGES.four, IMAGES.crowd]) {
      const { data, dims, frame } = imageToTensor(await loadImage(id), adapter.input);
      const expected = await sessions.wasm.run(adapter.input.name, data, dims);
      const actual = await sessions.webgpu.run(adapter.input.name, data, dims);
      const [name] = Object.keys(expected);
      assertEquals(actual[name].dims, expected[name].dims);
      // Each row: cx, cy, log w, log h (grid-relative), objectness, 80 class scores.
      const rowLength = expected[name].dims[2];
      const isBoxTerm = (i: number) => i % rowLength < 4;
      const boxTerms = measure(
        "YOLOX raw box terms",
        maxAbsDifference(expected[name].data, actual[name].data, isBoxTerm),
      );
      const scores = measure(
        "YOLOX raw scores",
        maxAbsDifference(expected[name].data, actual[name].data, (i) => !isBoxTerm(i)),
      );
      assert(boxTerms <= YOLOX_BOX_TERM_TOLERANCE, `image ${id}: box terms differ by ${boxTerms}`);
      assert(scores <= SCORE_TOLERANCE, `image ${id}: scores differ by ${scores}`);
      const options = { scoreThreshold: 0.05, keypointScoreThreshold: 0 };
      const matched = assertSameBoxes(
        adapter.decode(expected, frame, options),
        adapter.decode(actual, frame, options),
        0.1,
        "YOLOX",
      );
      assert(matched >= 3, `image ${id}: only ${matched} boxes compared`);
    }
    await releaseBoth(sessions);
  },
});

interface Annotation {
  image_id: number;
  bbox: [number, number, number, number];
  num_keypoints: number;
}

/**
 * Keypoints whose decoded position depends on heatmap differences smaller than the backend
 * tolerance: the peak barely above another pixel, or the quarter-pixel offset deciding
 * between two near-equal neighbours. Their positions may legitimately differ by a quarter
 * heatmap pixel or more between backends.
 */
function fragileKeypoints(heatmaps: Float32Array, k: number, h: number, w: number): Set<number> {
  const fragile = new Set<number>();
  const margin = 2 * HEATMAP_TOLERANCE;
  for (let j = 0; j < k; j++) {
    const hm = heatmaps.subarray(j * h * w, (j + 1) * h * w);
    let best = 0;
    for (let i = 1; i < hm.length; i++) if (hm[i] > hm[best]) best = i;
    const runnerUp = Math.max(...hm.filter((_, i) => i !== best));
    const x = best % w, y = Math.floor(best / w);
    const close = (a: number, b: number) => Math.abs(a - b) < margin;
    const inside = 1 < x && x < w - 1 && 1 < y && y < h - 1;
    if (
      hm[best] - runnerUp < margin || Math.abs(hm[best]) < margin ||
      (inside && (close(hm[best + 1], hm[best - 1]) || close(hm[best + w], hm[best - w])))
    ) fragile.add(j);
  }
  return fragile;
}

/** Batch item `index` of every output, as a batch of 1. */
function batchItem(outputs: ModelOutputs, index: number, count: number): ModelOutputs {
  const item: ModelOutputs = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    assertEquals(tensor.dims[0], count, `${name} batch size`);
    const size = tensor.data.length / count;
    item[name] = {
      data: tensor.data.subarray(index * size, (index + 1) * size),
      dims: [1, ...tensor.dims.slice(1)],
    };
  }
  return item;
}

Deno.test({
  name: "withSymbolicBatch lets SimplePose take several crops per run, with the same results",
  ignore: ignoreWithoutShared("models", SIMPLEPOSE) || ignoreWithoutShared("models", RTMDET),
  async fn() {
    const original = await Deno.readFile(requireShared("models", SIMPLEPOSE));
    const single = await ModelSession.load(original, SIMPLEPOSE, { backend: "wasm" });
    const batched = await ModelSession.load(withSymbolicBatch(original), SIMPLEPOSE, {
      backend: "wasm",
    });
    assertEquals(single.inputs[0].shape, [1, 3, 256, 192]);
    assertEquals(batched.inputs[0].shape, ["batch", 3, 256, 192]);
    assertEquals(batched.outputs[0].shape, ["batch", 17, 64, 48]);
    // Two different inputs in one run give what two single runs give.
    const size = 3 * 256 * 192;
    const input = Float32Array.from({ length: 2 * size }, (_, i) => Math.sin(i * 0.001) * 2);
    const both = await batched.run("data", input, [2, 3, 256, 192]);
    for (let i = 0; i < 2; i++) {
      const alone = await single.run("data", input.subarray(i * size, (i + 1) * size), [
        1,
        3,
        256,
        192,
      ]);
      const [name] = Object.keys(alone);
      const difference = maxAbsDifference(alone[name].data, batchItem(both, i, 2)[name].data);
      assert(difference <= 1e-6, `item ${i} differs by ${difference}`);
    }
    await single.release();
    await batched.release();
    // RTMDet's batch is already symbolic: nothing to change.
    const rtmdet = await Deno.readFile(requireShared("models", RTMDET));
    assert(withSymbolicBatch(rtmdet) === rtmdet, "RTMDet was rewritten");
  },
});

Deno.test({
  name: "withOpset11Clip moves SimplePose's ReLU6 to opset 11 without changing its results",
  ignore: ignoreWithoutShared("models", SIMPLEPOSE) || ignoreWithoutShared("models", RTMDET),
  async fn() {
    // Opset 8 with Clip(min=0, max=6) attributes: WebGPU has no kernel for that Clip.
    const original = await Deno.readFile(requireShared("models", SIMPLEPOSE));
    const upgraded = withOpset11Clip(original);
    assert(upgraded !== original, "SimplePose was not rewritten");
    // onnxruntime's CPU backend is the reference: it runs both forms of Clip.
    const before = await ModelSession.load(original, SIMPLEPOSE, { backend: "wasm" });
    const after = await ModelSession.load(upgraded, SIMPLEPOSE, { backend: "wasm" });
    // Inputs wide enough (−6 to 6 after normalization) that many activations hit both bounds.
    const input = Float32Array.from({ length: 3 * 256 * 192 }, (_, i) => 6 * Math.sin(i * 0.37));
    const expected = await before.run("data", input, [1, 3, 256, 192]);
    const actual = await after.run("data", input, [1, 3, 256, 192]);
    const [name] = Object.keys(expected);
    const difference = maxAbsDifference(expected[name].data, actual[name].data);
    assert(difference <= HEATMAP_TOLERANCE, `outputs differ by ${difference}`);
    await before.release();
    await after.release();
    // Nothing left to do on the result; RTMDet (opset 11 already) is not touched.
    assert(withOpset11Clip(upgraded) === upgraded, "rewritten twice");
    const rtmdet = await Deno.readFile(requireShared("models", RTMDET));
    assert(withOpset11Clip(rtmdet) === rtmdet, "RTMDet was rewritten");
  },
});

Deno.test({
  name: "SimplePose gives the same heatmaps and keypoints on WebGPU as on WASM, batched",
  ignore: ignoreUnlessReady(
    ["models", SIMPLEPOSE],
    DEV_ANNOTATIONS,
    imagePath(IMAGES.four),
    imagePath(IMAGES.crowd),
  ),
  async fn() {
    requireAdapter();
    const adapter = manifestAdapter(
      "simplepose_nano_256x192",
      createHeatmapAdapter,
    ) as KeypointAdapter;
    const annotations = (JSON.parse(
      await Deno.readTextFile(requireShared(...DEV_ANNOTATIONS)),
    ).annotations as Annotation[]).filter((a) => a.num_keypoints > 0);
    const W = adapter.input.width, H = adapter.input.height, size = 3 * W * H;
    // A large and a small person from one image, a person from the crowd: 3 crops and their
    // mirrored copies for the flip test, laid out as the pipeline batches them.
    const people = [
      ...annotations.filter((a) => a.image_id === IMAGES.four).slice(0, 2),
      ...annotations.filter((a) => a.image_id === IMAGES.crowd).slice(0, 1),
    ];
    assertEquals(people.length, 3);
    const count = 2 * people.length;
    const input = new Float32Array(count * size);
    const cropsToImage = [];
    for (const [i, person] of people.entries()) {
      const image = await loadImage(person.image_id);
      const [x, y, bw, bh] = person.bbox;
      const box = { x1: x, y1: y, x2: x + bw, y2: y + bh, score: 1 };
      const cropToImage = invertAffine(
        imageToCropTransform(boxToCropRegion(box, W / H, adapter.input.padding), W, H),
      );
      cropsToImage.push(cropToImage);
      warpCropToTensor(image, cropToImage, W, H, adapter.input.normalization, input, 2 * i * size);
      warpCropToTensor(
        image,
        cropToImage,
        W,
        H,
        adapter.input.normalization,
        input,
        (2 * i + 1) * size,
        true,
      );
    }
    const model = await Deno.readFile(requireShared("models", SIMPLEPOSE));
    const wasm = await ModelSession.load(model, SIMPLEPOSE, { backend: "wasm" });
    const gpu = await ModelSession.load(model, SIMPLEPOSE, { backend: "webgpu" });
    const gpuBatched = await ModelSession.load(withSymbolicBatch(model), SIMPLEPOSE, {
      backend: "webgpu",
    });
    const dims = (n: number) => [n, 3, H, W];
    const item = (i: number) => input.subarray(i * size, (i + 1) * size);
    // WASM: one run per crop (the model's declared batch). WebGPU: all six in one run.
    const expected: ModelOutputs[] = [];
    for (let i = 0; i < count; i++) {
      expected.push(await wasm.run(adapter.input.name, item(i), dims(1)));
    }
    const batch = await gpuBatched.run(adapter.input.name, input, dims(count));
    const actual = Array.from({ length: count }, (_, i) => batchItem(batch, i, count));
    // And WebGPU with the model as published, one crop, agrees with its batched self.
    const gpuSingle = await gpu.run(adapter.input.name, item(0), dims(1));

    const [name] = Object.keys(expected[0]);
    const singleDifference = maxAbsDifference(gpuSingle[name].data, actual[0][name].data);
    assert(singleDifference <= HEATMAP_TOLERANCE, `WebGPU single vs batched: ${singleDifference}`);
    for (let i = 0; i < count; i++) {
      const difference = measure(
        "SimplePose heatmaps",
        maxAbsDifference(expected[i][name].data, actual[i][name].data),
      );
      assert(difference <= HEATMAP_TOLERANCE, `crop ${i}: heatmaps differ by ${difference}`);
    }

    let compared = 0, total = 0;
    for (const [i, cropToImage] of cropsToImage.entries()) {
      const [plain, flipped] = [2 * i, 2 * i + 1];
      const wasmKeypoints = transformKeypoints(
        cropToImage,
        adapter.decode(expected[plain], expected[flipped]),
      );
      const gpuKeypoints = transformKeypoints(
        cropToImage,
        adapter.decode(actual[plain], actual[flipped]),
      );
      // The heatmaps the decoder sees: plain and flipped-back averaged, as in the flip test.
      const [, k, h, w] = expected[plain][name].dims;
      const back = flipBackHeatmaps(expected[flipped][name].data, k, h, w, adapter.flipPairs);
      const fused = expected[plain][name].data.map((v, j) => (v + back[j]) * 0.5);
      const fragile = fragileKeypoints(fused, k, h, w);
      for (let j = 0; j < k; j++) {
        total++;
        const scoreDifference = measure(
          "SimplePose keypoint scores",
          Math.abs(wasmKeypoints[3 * j + 2] - gpuKeypoints[3 * j + 2]),
        );
        assert(scoreDifference <= HEATMAP_TOLERANCE, `keypoint ${j}: scores ${scoreDifference}`);
        if (fragile.has(j)) continue;
        compared++;
        measure(
          "SimplePose keypoint px",
          Math.hypot(
            gpuKeypoints[3 * j] - wasmKeypoints[3 * j],
            gpuKeypoints[3 * j + 1] - wasmKeypoints[3 * j + 1],
          ),
        );
        assertEquals(
          [gpuKeypoints[3 * j], gpuKeypoints[3 * j + 1]],
          [wasmKeypoints[3 * j], wasmKeypoints[3 * j + 1]],
          `crop ${i}, keypoint ${j}`,
        );
      }
    }
    measure("SimplePose keypoints left out", total - compared);
    assert(compared >= 0.8 * total, `only ${compared} of ${total} keypoint positions compared`);
    for (const session of [wasm, gpu, gpuBatched]) await session.release();
  },
});

/** Runs `code` in a fresh Deno process that sees no WebGPU adapter; returns its output. */
async function withoutAdapter(code: string): Promise<{ success: boolean; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    cwd: new URL("..", import.meta.url),
    env: {
      // Vulkan only, with no driver to load: navigator.gpu finds nothing.
      DENO_WEBGPU_BACKEND: "vulkan",
      VK_ICD_FILENAMES: "/nonexistent/icd.json",
      VK_DRIVER_FILES: "/nonexistent/icd.json",
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") || "/tmp",
    },
  }).output();
  const decoder = new TextDecoder();
  return {
    success: result.success,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

const RUNTIME_URL = new URL("../lib/deno/runtime.ts", import.meta.url).href;

Deno.test("without an adapter, forced WebGPU is a clear error and auto falls back to WASM", async () => {
  const forced = await withoutAdapter(
    `import { Runtime } from "${RUNTIME_URL}";
     try { await Runtime.start({ backend: "webgpu" }); console.log("started"); }
     catch (error) { console.log("ERROR " + error.message); }`,
  );
  assert(forced.success, forced.output);
  assert(
    /^ERROR WebGPU is not available: .+\. Use --backend wasm \(or auto\)\.$/m.test(forced.output),
    forced.output,
  );

  const auto = await withoutAdapter(
    `import { Runtime } from "${RUNTIME_URL}";
     const runtime = await Runtime.start({ threads: 1 });
     console.log(JSON.stringify({ ...runtime.info, notes: runtime.notes }));`,
  );
  assert(auto.success, auto.output);
  const info = JSON.parse(auto.output.trim().split("\n").pop()!);
  assertEquals(info.backend, "wasm");
  assertEquals(info.threads, 1);
  assertEquals(info.notes.length, 1, `notes: ${info.notes}`);
  assert(/^backend auto: .*WASM/.test(info.notes[0]), `note: ${info.notes[0]}`);
});

Deno.test({
  name: "a model WebGPU cannot load is an error naming the file",
  ignore: ignoreWithoutGpu,
  async fn() {
    requireAdapter();
    await assertRejects(
      () => ModelSession.load(new Uint8Array([1, 2, 3]), "garbage.onnx", { backend: "webgpu" }),
      Error,
      "garbage.onnx",
    );
  },
});
