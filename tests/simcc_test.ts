import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { decodeSimcc, fuseFlippedSimcc, simccFamily, simccVectors } from "../lib/families/simcc.ts";
import type { KeypointAdapter } from "../lib/families/family.ts";
import { COCO_FLIP_PAIRS } from "../lib/coco/keypoints.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import type { OutputTensor } from "../lib/types.ts";
import { ModelSession, Runtime } from "../lib/deno/runtime.ts";
import { loadModel } from "../lib/deno/models/load_file.ts";
import { join } from "node:path";
import {
  buildSimccModel,
  createImage,
  drawSyntheticPerson,
  imageToInput,
  mirrorImage,
} from "./support/synthetic_models.ts";

// onnxruntime-web's threaded WASM sometimes never returns from a run of the synthetic graphs in
// Deno (see tests/prtr_test.ts); they are tiny, so they run on one thread (the first session of
// the process fixes the thread count).
const ONE_THREAD = { backend: "wasm", threads: 1 } as const;

/** The SimCC family's adapter for a manifest. */
function createSimccAdapter(manifest: ModelManifest): KeypointAdapter {
  return simccFamily.createAdapter(manifest, {}) as KeypointAdapter;
}

function tensor(rows: number[][]): OutputTensor {
  return { data: Float32Array.from(rows.flat()), dims: [1, rows.length, rows[0].length] };
}

function assertKeypoints(actual: Float32Array, expected: number[], tolerance = 1e-6): void {
  assertEquals(actual.length, expected.length, "values");
  expected.forEach((value, i) => assertAlmostEquals(actual[i], value, tolerance, `value ${i}`));
}

// A 4×3 pixel crop with split ratio 2: x vectors have 8 bins, y vectors 6.
Deno.test("decodeSimcc: location = argmax / r, score = the smaller maximum", () => {
  const vectors = simccVectors(
    tensor([
      [0, 0.1, 0, 0, 0.2, 0.9, 0.3, 0], // keypoint 0: x bin 5 → 2.5 px, max 0.9
      [0.3, 0, 0, 0, 0, 0, 0, 0.2], // keypoint 1: x bin 0 → 0 px, max 0.3
    ]),
    tensor([
      [0, 0.5, 0.7, 0, 0, 0], // keypoint 0: y bin 2 → 1 px, max 0.7
      [0, 0, 0, 0, 0.1, 0.8], // keypoint 1: y bin 5 → 2.5 px, max 0.8
    ]),
  );
  assertKeypoints(decodeSimcc(vectors, 2), [2.5, 1, 0.7, 0, 2.5, 0.3]);
});

Deno.test("decodeSimcc: raw logits (negative, above 1) are taken as they are", () => {
  const vectors = simccVectors(tensor([[-3, -1, -2]]), tensor([[4, 7, 5, 6]]));
  // x: bin 1 (−1), y: bin 1 (7); score = min(−1, 7) = −1. Split ratio 1: bins are pixels.
  assertKeypoints(decodeSimcc(vectors, 1), [1, 1, -1]);
});

Deno.test("decodeSimcc: ties go to the first bin", () => {
  const vectors = simccVectors(tensor([[0, 0.5, 0.5, 0]]), tensor([[0.4, 0.4]]));
  assertKeypoints(decodeSimcc(vectors, 2), [0.5, 0, 0.4]);
});

Deno.test("simccVectors: reads the first batch item and checks K", () => {
  const x: OutputTensor = { data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), dims: [2, 1, 4] };
  const y: OutputTensor = { data: Float32Array.of(1, 2, 3, 4), dims: [2, 1, 2] };
  const vectors = simccVectors(x, y);
  assertEquals([...vectors.x], [1, 2, 3, 4]);
  assertEquals([...vectors.y], [1, 2]);
  assertThrows(
    () => simccVectors(x, { data: new Float32Array(4), dims: [1, 2, 2] }),
    Error,
    "same K",
  );
});

Deno.test("fuseFlippedSimcc: mirrors x bins, swaps left/right channels, averages", () => {
  // Three keypoints, 1 and 2 a left/right pair; x vectors of 6 bins, y vectors of 4.
  const original = simccVectors(
    tensor([
      [0, 0, 1, 0, 0, 0],
      [0, 0.6, 0, 0, 0, 0],
      [0, 0, 0, 0, 0.2, 0],
    ]),
    tensor([
      [0, 0.4, 0, 0],
      [0, 0, 0, 0.9],
      [0.3, 0, 0, 0],
    ]),
  );
  const flipped = simccVectors(
    tensor([
      [0, 0, 0, 0.8, 0, 0], // keypoint 0 mirrored: bin 3 ↔ bin 6−1−3 = 2
      [0.4, 0, 0, 0, 0, 0], // seen as keypoint 1 in the mirror = keypoint 2: bin 0 ↔ 5
      [0, 0, 0, 0, 1, 0], // seen as keypoint 2 in the mirror = keypoint 1: bin 4 ↔ 1
    ]),
    tensor([
      [0, 0.2, 0, 0],
      [0.1, 0, 0, 0], // → keypoint 2 (y is not mirrored)
      [0, 0, 0, 0.5], // → keypoint 1
    ]),
  );
  const fused = fuseFlippedSimcc(original, flipped, [[1, 2]]);
  // Worked by hand: mean of the original row and the swapped, x-reversed flipped row.
  assertEquals(
    [...fused.x].map((v) => Math.round(v * 1000) / 1000),
    [
      [0, 0, 0.9, 0, 0, 0], // (1 + 0.8) / 2 at bin 2
      [0, 0.8, 0, 0, 0, 0], // (0.6 + 1) / 2 at bin 1
      [0, 0, 0, 0, 0.1, 0.2], // 0.2 / 2 at bin 4, 0.4 / 2 at bin 5
    ].flat(),
  );
  assertEquals(
    [...fused.y].map((v) => Math.round(v * 1000) / 1000),
    [
      [0, 0.3, 0, 0], // (0.4 + 0.2) / 2
      [0, 0, 0, 0.7], // (0.9 + 0.5) / 2
      [0.2, 0, 0, 0], // (0.3 + 0.1) / 2
    ].flat(),
  );
  // Decoded with r = 2: keypoint 2's strongest fused x bin is 5 (the mirror's vote).
  assertKeypoints(decodeSimcc(fused, 2), [1, 0.5, 0.3, 0.5, 1.5, 0.7, 2.5, 0, 0.2], 1e-6);
});

Deno.test("fuseFlippedSimcc: outputs of different shapes are refused", () => {
  const a = simccVectors(tensor([[0, 1]]), tensor([[0, 1]]));
  const b = simccVectors(tensor([[0, 1, 0]]), tensor([[0, 1]]));
  assertThrows(() => fuseFlippedSimcc(a, b, []), Error, "shape");
});

const MANIFEST: ModelManifest = {
  name: "rtmpose_test",
  task: "keypoints",
  family: "simcc",
  file: "rtmpose_test.onnx",
  input: {
    name: "input",
    width: 4,
    height: 3,
    colorOrder: "rgb",
    mean: [123.675, 116.28, 103.53],
    std: [58.395, 57.12, 57.375],
    dynamicBatch: true,
  },
  outputs: { simcc_x: "sx", simcc_y: "sy" },
  keypoints: ["a", "b", "c"],
  flipPairs: [[1, 2]],
};

Deno.test("simccFamily.createAdapter: the manifest's crop, normalization and metadata", () => {
  const adapter = createSimccAdapter(MANIFEST);
  assertEquals(adapter.task, "keypoints");
  // The crop spec: the standard protocol's 1.25 padding and HRNet's affine by default.
  // (Whether crops may be batched is the loaded model's `dynamicBatch` now, not the adapter's.)
  assertEquals(adapter.input, {
    name: "input",
    width: 4,
    height: 3,
    normalization: {
      colorOrder: "rgb",
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
    },
    padding: 1.25,
    aspectRatio: 4 / 3,
    transform: "standard",
    flipShift: true,
  });
  assertEquals(adapter.numKeypoints, 3);
  assertEquals(adapter.flipPairs, [[1, 2]]);
  // Without keypoint metadata: COCO's 17 and its flip pairs.
  const coco = createSimccAdapter({ ...MANIFEST, keypoints: undefined, flipPairs: undefined });
  assertEquals(coco.numKeypoints, 17);
  assertEquals(coco.flipPairs, COCO_FLIP_PAIRS);
  assertThrows(
    () => createSimccAdapter({ ...MANIFEST, input: { ...MANIFEST.input, width: 0 } }),
    Error,
    "input.width",
  );
  assertThrows(
    () => createSimccAdapter({ ...MANIFEST, options: { splitRatio: -2 } }),
    Error,
    "splitRatio",
  );
});

Deno.test("simccFamily.createAdapter: the split ratio comes from the option or from the x length", () => {
  // x length 12 over a 4-pixel-wide crop: r = 3. Bin 7 → 7/3 px, y bin 4 → 4/3 px.
  const outputs = {
    sx: tensor([[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]]),
    sy: tensor([[0, 0, 0, 0, 0.5, 0, 0, 0, 0]]),
  };
  const manifest = { ...MANIFEST, keypoints: ["a"], flipPairs: [] };
  assertKeypoints(createSimccAdapter(manifest).decode(outputs), [7 / 3, 4 / 3, 0.5]);
  // An explicit option wins: r = 2 → 3.5 and 2.
  const withOption = createSimccAdapter({ ...manifest, options: { splitRatio: 2 } });
  assertKeypoints(withOption.decode(outputs), [3.5, 2, 0.5]);
  assertThrows(() => createSimccAdapter(manifest).decode({ sx: outputs.sx }), Error, `"sy"`);
});

Deno.test("simccFamily.createAdapter: decode with the mirrored crop fuses both", () => {
  const adapter = createSimccAdapter({ ...MANIFEST, options: { splitRatio: 2 } });
  // Keypoint 0 only in the original at x bin 2 (0.6); the mirror puts it at bin 8−1−5 = 2 too
  // (0.4), so the fused peak is bin 2 at 0.5 → x = 1. y bin 1 in both (0.8 and 0.6) → 0.7.
  const zeros = (n: number) => new Array(n).fill(0);
  const row = (n: number, at: number, v: number) => zeros(n).map((_, i) => (i === at ? v : 0));
  const original = {
    sx: tensor([row(8, 2, 0.6), row(8, 0, 0.1), row(8, 0, 0.1)]),
    sy: tensor([row(6, 1, 0.8), row(6, 0, 0.1), row(6, 0, 0.1)]),
  };
  const mirrored = {
    sx: tensor([row(8, 5, 0.4), row(8, 7, 0.1), row(8, 7, 0.1)]),
    sy: tensor([row(6, 1, 0.6), row(6, 0, 0.1), row(6, 0, 0.1)]),
  };
  const keypoints = adapter.decode(original, mirrored);
  assertKeypoints(keypoints.subarray(0, 3), [1, 0.5, 0.5]);
  // Without the mirror: x bin 2 → 1, y bin 1 → 0.5, score min(0.6, 0.8).
  assertKeypoints(adapter.decode(original).subarray(0, 3), [1, 0.5, 0.6]);
});

// The synthetic SimCC model (tests/support/synthetic_models.ts) run by onnxruntime-web: for a
// marker at (x, y), simcc_x holds a Gaussian (σ = 3 bins) centred on bin r·x, simcc_y one on r·y;
// the left keypoint of a pair is reported at whichever of the two markers lies further right.

Deno.test("synthetic SimCC through onnxruntime: keypoints with and without the flip test", async () => {
  // A 48×64 crop, three keypoint types with 1/2 a left/right pair, split ratio 2.
  const { bytes, manifest } = buildSimccModel({
    width: 48,
    height: 64,
    numTypes: 3,
    flipPairs: [[1, 2]],
    splitRatio: 2,
  });
  const adapter = createSimccAdapter(manifest);
  const crop = createImage(48, 64);
  // Keypoint 0 at (20, 10); the left keypoint 1 at (30, 30), right of the right one (14, 30).
  drawSyntheticPerson(crop, { body: [4, 4, 40, 56], keypoints: [[20, 10], [30, 30], [14, 30]] });
  const session = await ModelSession.load(bytes, manifest.file, ONE_THREAD);
  try {
    const run = async (image: typeof crop) => {
      const input = imageToInput(image, adapter.input.normalization);
      return await session.run(adapter.input.name, input.data, input.dims);
    };
    const outputs = await run(crop);
    assertEquals(outputs.simcc_x.dims, [1, 3, 96]);
    assertEquals(outputs.simcc_y.dims, [1, 3, 128]);
    // Every centre r·x, r·y is a whole bin: peak value exp(0) = 1.
    assertKeypoints(adapter.decode(outputs), [20, 10, 1, 30, 30, 1, 14, 30, 1], 1e-4);

    // The mirrored crop: keypoint 0 at x' = 47 − 20 = 27; the model calls the marker now further
    // right (x' = 47 − 14 = 33) "left". Reversing bins (i → 95 − i) puts the mirror's peak for
    // keypoint 0 at bin 95 − 54 = 41 (20.5 px) against the original's 40 (20 px); keypoint 1
    // takes the mirror's channel 2 (x' = 17, bin 34 → 61, 30.5 px) against 60. Each fused x
    // vector is the mean of two Gaussians one bin apart: peak at either bin, value
    // (1 + e^(−1/18)) / 2; y is not mirrored, so its peak stays 1.
    const fused = adapter.decode(outputs, await run(mirrorImage(crop)));
    const peak = (1 + Math.exp(-1 / 18)) / 2;
    const expected = [[20, 10], [30, 30], [14, 30]];
    expected.forEach(([x, y], k) => {
      assertAlmostEquals(fused[k * 3], x + 0.25, 0.25 + 1e-6, `keypoint ${k} x`);
      assertAlmostEquals(fused[k * 3 + 1], y, 1e-6, `keypoint ${k} y`);
      assertAlmostEquals(fused[k * 3 + 2], peak, 1e-4, `keypoint ${k} score`);
    });
  } finally {
    await session.release();
  }
});

Deno.test("loaded synthetic SimCC: a symbolic batch makes a dynamic batch without the manifest", async () => {
  // Whether crops share a run is the loaded model's business now, not the adapter's: from the
  // manifest's input.dynamicBatch, or else from the graph's batch dimension ("batch" here).
  const { bytes, manifest } = buildSimccModel({ width: 48, height: 64, numTypes: 3 });
  const dir = await Deno.makeTempDir();
  try {
    const { dynamicBatch: _, ...input } = manifest.input;
    await Deno.writeFile(join(dir, manifest.file), bytes);
    await Deno.writeTextFile(
      join(dir, "synthetic.json"),
      JSON.stringify({ ...manifest, name: "synthetic", input }),
    );
    const runtime = await Runtime.start(ONE_THREAD);
    const loaded = await loadModel(join(dir, "synthetic.json"), runtime);
    try {
      assertEquals(loaded.session.inputs[0].shape[0], "batch");
      assertEquals(loaded.manifest.input.dynamicBatch, undefined);
      assertEquals(loaded.dynamicBatch, true);
    } finally {
      await loaded.session.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
