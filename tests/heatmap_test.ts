import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  createHeatmapAdapter,
  decodeHeatmaps,
  flipBackHeatmaps,
  gaussianBlurHeatmap,
  gaussianKernel,
} from "../lib/families/heatmap.ts";
import {
  boxToCropRegion,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "../lib/geometry/affine.ts";
import { COCO_FLIP_PAIRS, COCO_KEYPOINT_SIGMAS } from "../lib/coco/keypoints.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { warpCropToTensor } from "../lib/image/preprocess.ts";
import { ModelSession, Runtime } from "../lib/deno/runtime.ts";
import { loadModel } from "../lib/deno/models/load_file.ts";

/** A K×H×W heatmap stack, zero except for the listed values [k, x, y, value]. */
function heatmaps(k: number, h: number, w: number, points: number[][]): Float32Array {
  const data = new Float32Array(k * h * w);
  for (const [c, x, y, v] of points) data[c * h * w + y * w + x] = v;
  return data;
}

/** Keypoint j of a decoded K×3 array as [x, y, score]. */
const point = (kps: Float32Array, j: number) => [kps[3 * j], kps[3 * j + 1], kps[3 * j + 2]];

Deno.test("decodeHeatmaps: argmax plus a quarter pixel toward the higher neighbour", () => {
  const [h, w] = [8, 10];
  // Peak at (5, 4). Right neighbour > left, upper neighbour > lower.
  const hm = heatmaps(1, h, w, [
    [0, 5, 4, 1],
    [0, 6, 4, 0.5], // right
    [0, 4, 4, 0.2], // left
    [0, 5, 3, 0.6], // up
    [0, 5, 5, 0.1], // down
  ]);
  assertEquals(point(decodeHeatmaps(hm, 1, h, w), 0), [5.25, 3.75, 1]);
  // Mirror the neighbours: left > right, lower > upper.
  const mirrored = heatmaps(1, h, w, [
    [0, 5, 4, 1],
    [0, 6, 4, 0.2], // right
    [0, 4, 4, 0.5], // left
    [0, 5, 3, 0.1], // up
    [0, 5, 5, 0.6], // down
  ]);
  assertEquals(point(decodeHeatmaps(mirrored, 1, h, w), 0), [4.75, 4.25, 1]);
  // Equal neighbours: no offset on that axis.
  const tie = heatmaps(1, h, w, [[0, 5, 4, 1], [0, 4, 4, 0.3], [0, 6, 4, 0.3], [0, 5, 5, 0.2]]);
  assertEquals(point(decodeHeatmaps(tie, 1, h, w), 0), [5, 4.25, 1]);
});

Deno.test("decodeHeatmaps: channels are decoded independently, channel after channel", () => {
  const [h, w] = [6, 7];
  const hm = heatmaps(3, h, w, [[0, 1, 0, 0.4], [1, 3, 2, 0.9], [2, 6, 5, 0.7]]);
  const kps = decodeHeatmaps(hm, 3, h, w);
  assertEquals(point(kps, 0), [1, 0, Math.fround(0.4)]);
  // (3, 2) is inside 1 < x < 6, 1 < y < 5, but both neighbours are 0 on each axis.
  assertEquals(point(kps, 1), [3, 2, Math.fround(0.9)]);
  assertEquals(point(kps, 2), [6, 5, Math.fround(0.7)]);
});

Deno.test("decodeHeatmaps: the offset needs 1 < x < W−1 AND 1 < y < H−1 (HRNet)", () => {
  const [h, w] = [8, 10];
  // Each case: peak (x, y) with a higher right and lower neighbour where they exist.
  const cases: [number, number, number, number][] = [
    // x, y, expected x, expected y
    [1, 4, 1, 4], // x = 1: no offset at all, not even in y
    [2, 4, 2.25, 4.25], // x = 2: inside
    [8, 4, 8.25, 4.25], // x = W − 2: inside
    [9, 4, 9, 4], // x = W − 1: no right neighbour, no offset
    [5, 1, 5, 1], // y = 1: none
    [5, 6, 5.25, 6.25], // y = H − 2: inside
    [5, 7, 5, 7], // y = H − 1: none
    [0, 0, 0, 0],
  ];
  for (const [x, y, ex, ey] of cases) {
    const points = [[0, x, y, 1]];
    if (x + 1 < w) points.push([0, x + 1, y, 0.5]);
    if (y + 1 < h) points.push([0, x, y + 1, 0.5]);
    const kps = decodeHeatmaps(heatmaps(1, h, w, points), 1, h, w);
    assertEquals([kps[0], kps[1]], [ex, ey], `peak at (${x}, ${y})`);
  }
});

Deno.test("decodeHeatmaps: a maximum ≤ 0 gives coordinates 0 and the maximum as score", () => {
  const [h, w] = [5, 6];
  const negative = new Float32Array(h * w).fill(-2);
  negative[3 * w + 4] = -0.5;
  assertEquals(point(decodeHeatmaps(negative, 1, h, w), 0), [0, 0, -0.5]);
  assertEquals(point(decodeHeatmaps(new Float32Array(h * w), 1, h, w), 0), [0, 0, 0]);
  // With DARK too.
  assertEquals(point(decodeHeatmaps(negative, 1, h, w, { dark: true }), 0), [0, 0, -0.5]);
});

Deno.test("decodeHeatmaps: equal maxima take the first in row-major order", () => {
  const hm = heatmaps(1, 5, 5, [[0, 3, 1, 1], [0, 1, 3, 1]]);
  assertEquals(point(decodeHeatmaps(hm, 1, 5, 5), 0), [3, 1, 1]);
});

/** Heatmap of a sampled Gaussian with centre (mx, my) and std `sigma`, peak 1. */
function gaussian(h: number, w: number, mx: number, my: number, sigma = 2): Float32Array {
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = Math.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * sigma * sigma));
    }
  }
  return out;
}

Deno.test("DARK recovers a sub-pixel Gaussian centre within 0.05 px, beating the quarter offset", () => {
  const [h, w] = [64, 48];
  let darkError = 0, quarterError = 0, count = 0;
  for (const mx of [10.1, 20.4, 23.5, 30.85]) {
    for (const my of [12.3, 31.6, 45.05]) {
      const hm = gaussian(h, w, mx, my);
      const [dx, dy] = decodeHeatmaps(hm, 1, h, w, { dark: true });
      const [qx, qy] = decodeHeatmaps(hm, 1, h, w);
      const dErr = Math.hypot(dx - mx, dy - my), qErr = Math.hypot(qx - mx, qy - my);
      assert(dErr < 0.05, `DARK error ${dErr} at (${mx}, ${my})`);
      darkError += dErr;
      quarterError += qErr;
      count++;
    }
  }
  assert(darkError / count < quarterError / count / 2, `${darkError} vs ${quarterError}`);
});

Deno.test("DARK leaves peaks near the border (x ≥ W−2 or ≤ 1) on the integer argmax", () => {
  const [h, w] = [20, 16];
  // Centre 14.3: argmax at x = 14 = W − 2, outside 1 < x < W − 2.
  const kps = decodeHeatmaps(gaussian(h, w, 14.3, 9.6), 1, h, w, { dark: true });
  assertEquals([kps[0], kps[1]], [14, 10]);
});

Deno.test("gaussianKernel: OpenCV's kernel (size 11 → sigma 2; fixed small kernels)", () => {
  const k = gaussianKernel(11);
  assertAlmostEquals(k.reduce((a, b) => a + b, 0), 1, 1e-12);
  // Neighbouring taps of a sigma-2 Gaussian: ratio exp((d² − (d−1)²) / 8).
  assertAlmostEquals(k[5] / k[6], Math.exp(1 / 8), 1e-12);
  assertAlmostEquals(k[5] / k[7], Math.exp(4 / 8), 1e-12);
  assertEquals([...gaussianKernel(5)], [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]);
  assertThrows(() => gaussianKernel(4), Error, "odd");
});

Deno.test("gaussianBlurHeatmap: zero padding, max rescaled to the original max", () => {
  const [h, w] = [9, 9];
  const hm = heatmaps(1, h, w, [[0, 4, 4, 2]]);
  const blurred = gaussianBlurHeatmap(hm, h, w, 3);
  // A single 2 blurred with [¼ ½ ¼]⊗[¼ ½ ¼] is 2·(¼·outer product), rescaled to max 2.
  assertAlmostEquals(blurred[4 * w + 4], 2, 1e-12);
  assertAlmostEquals(blurred[4 * w + 5], 1, 1e-12);
  assertAlmostEquals(blurred[5 * w + 5], 0.5, 1e-12);
  assertEquals(blurred[4 * w + 6], 0);
  // At the corner the kernel reaches past the edge: zeros come in (a reflecting border would
  // bring the 1 at (1, 1) back in and give 1 at the corner).
  const corner = gaussianBlurHeatmap(heatmaps(1, h, w, [[0, 1, 1, 1]]), h, w, 3);
  assertAlmostEquals(corner[0], (1 / 16) / (1 / 4), 1e-12);
});

Deno.test("flipBackHeatmaps: the heatmap of the mirrored crop maps back, shifted one pixel", () => {
  const [k, h, w] = [3, 4, 5];
  const pairs: [number, number][] = [[1, 2]];
  const original = Float32Array.from({ length: k * h * w }, (_, i) => i + 1);
  // What the network would produce for the mirrored crop: columns reversed, left/right swapped.
  const swap = [0, 2, 1];
  const mirrored = new Float32Array(k * h * w);
  for (let c = 0; c < k; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        mirrored[c * h * w + y * w + x] = original[swap[c] * h * w + y * w + (w - 1 - x)];
      }
    }
  }
  assertEquals(flipBackHeatmaps(mirrored, k, h, w, pairs, false), original);
  const shifted = flipBackHeatmaps(mirrored, k, h, w, pairs);
  for (let c = 0; c < k; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // out[..., 1:] = out[..., :-1]; column 0 keeps its value.
        const fromX = Math.max(x - 1, 0);
        assertEquals(shifted[c * h * w + y * w + x], original[c * h * w + y * w + fromX]);
      }
    }
  }
});

Deno.test("flipBackHeatmaps: COCO pairs swap left and right channels, nose stays", () => {
  const [k, h, w] = [17, 3, 4];
  // Channel c holds the constant c: mirroring and shifting leave constants alone.
  const constant = Float32Array.from({ length: k * h * w }, (_, i) => Math.floor(i / (h * w)));
  const back = flipBackHeatmaps(constant, k, h, w, COCO_FLIP_PAIRS);
  const channelValue = (c: number) => back[c * h * w];
  assertEquals(
    Array.from({ length: k }, (_, c) => channelValue(c)),
    [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
  );
});

const KEYPOINT_MANIFEST: ModelManifest = {
  name: "heatmap_test",
  task: "keypoints",
  family: "heatmap",
  file: "heatmap_test.onnx",
  input: {
    name: "data",
    width: 24,
    height: 32,
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
  },
  outputs: { heatmaps: "hm" },
  keypoints: ["nose", "left", "right"],
  flipPairs: [[1, 2]],
};

Deno.test("createHeatmapAdapter: fields from the manifest, with defaults", () => {
  const adapter = createHeatmapAdapter(KEYPOINT_MANIFEST);
  assertEquals(adapter.task, "keypoints");
  // The crop spec: 1.25 padding and HRNet's standard affine unless the manifest says otherwise.
  // (Whether crops may be batched is the loaded model's `dynamicBatch` now, not the adapter's.)
  assertEquals(adapter.input, {
    name: "data",
    width: 24,
    height: 32,
    normalization: {
      colorOrder: "rgb",
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
    },
    padding: 1.25,
    aspectRatio: 24 / 32,
    transform: "standard",
    flipShift: true,
  });
  assertEquals(adapter.numKeypoints, 3);
  assertEquals(adapter.flipPairs, [[1, 2]]);
  const coco = createHeatmapAdapter({
    ...KEYPOINT_MANIFEST,
    keypoints: undefined,
    flipPairs: undefined,
    input: { ...KEYPOINT_MANIFEST.input, cropTransform: "udp" },
    options: { padding: 1.5 },
  });
  assertEquals(coco.numKeypoints, 17);
  assertEquals(coco.flipPairs, COCO_FLIP_PAIRS);
  assertEquals(coco.input.padding, 1.5);
  assertEquals(coco.input.transform, "udp");
  const noStd = { ...KEYPOINT_MANIFEST, input: { ...KEYPOINT_MANIFEST.input, std: undefined } };
  assertThrows(() => createHeatmapAdapter(noStd as unknown as ModelManifest), Error, "input.std");
});

Deno.test("heatmap adapter: decode scales heatmap pixels to crop input pixels", () => {
  const adapter = createHeatmapAdapter(KEYPOINT_MANIFEST);
  const [k, h, w] = [3, 8, 6]; // input 24×32: 4 input pixels per heatmap pixel
  const hm = heatmaps(k, h, w, [[0, 3, 4, 0.9], [0, 4, 4, 0.5], [1, 0, 7, 0.4], [2, 5, 0, 0.3]]);
  const kps = adapter.decode({ hm: { data: hm, dims: [1, k, h, w] } });
  assertEquals(point(kps, 0), [3.25 * 4, 4 * 4, Math.fround(0.9)]);
  assertEquals(point(kps, 1), [0, 28, Math.fround(0.4)]);
  assertEquals(point(kps, 2), [20, 0, Math.fround(0.3)]);
  assertThrows(
    () => adapter.decode({ hm: { data: new Float32Array(2 * h * w), dims: [1, 2, h, w] } }),
    Error,
    "3 keypoints",
  );
});

Deno.test("heatmap adapter: the flip test averages with the flipped-back heatmap", () => {
  const adapter = createHeatmapAdapter(KEYPOINT_MANIFEST);
  const [k, h, w] = [3, 8, 6];
  // Original: "left" (1) peaks at (3, 4) with 0.8. The mirrored crop's "right" channel (2)
  // peaks where flip back + one-pixel shift lands on (3, 4): mirrored column w − 1 − (3 − 1).
  const hm = heatmaps(k, h, w, [[1, 3, 4, 0.8]]);
  const flipped = heatmaps(k, h, w, [[2, w - 1 - 2, 4, 0.6], [1, 1, 1, 0.2]]);
  const kps = adapter.decode(
    { hm: { data: hm, dims: [1, k, h, w] } },
    { hm: { data: flipped, dims: [1, k, h, w] } },
  );
  assertAlmostEquals(kps[3 * 1 + 2], (0.8 + 0.6) / 2, 1e-6);
  assertEquals([kps[3], kps[4]], [3 * 4, 4 * 4]);
  // The mirrored "left" (1) at (1, 1) belongs to "right" (2): flipped back to column
  // w − 1 − 1 = 4, shifted to 5; averaged with the original's zeros.
  assertAlmostEquals(kps[3 * 2 + 2], 0.2 / 2, 1e-6);
  assertEquals([kps[6], kps[7]], [5 * 4, 1 * 4]);
});

Deno.test("heatmap adapter: DARK from the manifest or the factory option", () => {
  const [k, h, w] = [3, 32, 24];
  const hm = new Float32Array(k * h * w);
  hm.set(gaussian(h, w, 10.4, 15.7), 0);
  const outputs = { hm: { data: hm, dims: [1, k, h, w] } };
  const plain = createHeatmapAdapter(KEYPOINT_MANIFEST).decode(outputs);
  const manifestDark = createHeatmapAdapter({ ...KEYPOINT_MANIFEST, options: { dark: true } })
    .decode(outputs);
  const optionDark = createHeatmapAdapter(KEYPOINT_MANIFEST, { dark: true }).decode(outputs);
  // Heatmap → input: 24/24 = 1 in x, 32/32 = 1 in y.
  assertEquals([plain[0], plain[1]], [10.25, 15.75]);
  assertAlmostEquals(manifestDark[0], 10.4, 0.05);
  assertAlmostEquals(manifestDark[1], 15.7, 0.05);
  assertEquals(optionDark, manifestDark);
  // HeatmapAdapterOptions.dark "overrides manifest option `dark` when given": false turns it off.
  const off = createHeatmapAdapter({ ...KEYPOINT_MANIFEST, options: { dark: true } }, {
    dark: false,
  });
  assertEquals(off.decode(outputs), plain);
});

/** COCO OKS of one prediction against one annotation (pycocotools' formula). */
function cocoOks(pred: Float32Array, truth: number[], area: number): number {
  let sum = 0, count = 0;
  for (let j = 0; j < 17; j++) {
    if (truth[3 * j + 2] <= 0) continue;
    const d2 = (pred[3 * j] - truth[3 * j]) ** 2 + (pred[3 * j + 1] - truth[3 * j + 1]) ** 2;
    sum += Math.exp(-d2 / (2 * area * (2 * COCO_KEYPOINT_SIGMAS[j]) ** 2));
    count++;
  }
  return sum / count;
}

const MODEL = ["models", "simplepose_nano_256x192.onnx"];
const IMAGE = ["coco", "val2017", "000000000785.jpg"];

Deno.test({
  name: "real SimplePose: heatmap shape, and the keypoints of COCO image 785 from its box",
  ignore: [MODEL, IMAGE, DEV_ANNOTATIONS].some((p) => ignoreWithoutShared(...p)),
  async fn() {
    const session = await ModelSession.load(requireShared(...MODEL));
    try {
      const manifest: ModelManifest = JSON.parse(
        await Deno.readTextFile(new URL("../models/simplepose_nano_256x192.json", import.meta.url)),
      );
      const adapter = createHeatmapAdapter(manifest);
      const dims = [1, 3, adapter.input.height, adapter.input.width];
      const blank = await session.run(adapter.input.name, new Float32Array(3 * 256 * 192), dims);
      assertEquals(blank[manifest.outputs.heatmaps].dims, [1, 17, 64, 48]);

      const coco = JSON.parse(await Deno.readTextFile(requireShared(...DEV_ANNOTATIONS)));
      const truth = coco.annotations.find((a: { image_id: number }) => a.image_id === 785);
      const [bx, by, bw, bh] = truth.bbox;
      const image = await readImageFile(requireShared(...IMAGE));
      const region = boxToCropRegion({ x1: bx, y1: by, x2: bx + bw, y2: by + bh, score: 1 }, 0.75);
      const cropToImage = invertAffine(imageToCropTransform(region, 192, 256));
      const run = async (mirror: boolean) => {
        const input = new Float32Array(3 * 256 * 192);
        warpCropToTensor(
          image,
          cropToImage,
          192,
          256,
          adapter.input.normalization,
          input,
          0,
          mirror,
        );
        return await session.run(adapter.input.name, input, dims);
      };
      const plain = await run(false);
      const flipped = await run(true);
      for (
        const [label, keypoints] of [
          ["no flip", adapter.decode(plain)],
          ["flip", adapter.decode(plain, flipped)],
          ["flip + DARK", createHeatmapAdapter(manifest, { dark: true }).decode(plain, flipped)],
        ] as const
      ) {
        transformKeypoints(cropToImage, keypoints);
        const oks = cocoOks(keypoints, truth.keypoints, truth.area);
        console.log(`  OKS on image 785 (${label}): ${oks.toFixed(3)}`);
        assert(oks > 0.8, `${label}: OKS ${oks}`);
      }
    } finally {
      await session.release();
    }
  },
});

Deno.test({
  name: "loaded SimplePose: a fixed batch of 1 is not a dynamic batch (the loaded model says so)",
  ignore: ignoreWithoutShared(...MODEL),
  async fn() {
    // Whether crops share a run is the loaded model's business now, not the adapter's.
    const runtime = await Runtime.start({ backend: "wasm", threads: 1 });
    const loaded = await loadModel("simplepose_nano_256x192", runtime, {
      modelDirs: [requireShared("models")],
    });
    try {
      assertEquals(loaded.session.inputs[0].shape, [1, 3, 256, 192]);
      assertEquals(loaded.dynamicBatch, false);
      assertEquals(loaded.adapter.task, "keypoints");
      assertEquals(loaded.manifest.name, "simplepose_nano_256x192");
    } finally {
      await loaded.session.release();
    }
  },
});
