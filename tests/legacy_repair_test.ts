/**
 * Legacy repair: BatchNormalization nodes with the obsolete `spatial` attribute (opset 7–8),
 * which onnxruntime refuses. Checked on the real legacy export in ../shared (its authors'
 * file) against the repaired copy beside it, and on constructed models against hand values.
 */

import { doublingModel, withoutBatchNormSpatial } from "../lib/runtime/onnx_rewrite.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import { float, OnnxGraph } from "./support/onnx_builder.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
} from "./support/assert.ts";

const LEGACY = ["models", "legacy", "simplepose_nano_256x192.spatial-bn.onnx"];
const REPAIRED = ["models", "simplepose_nano_256x192.onnx"];

Deno.test({
  name:
    "Legacy repair: SimplePose's 58 spatial=0 BatchNorm nodes, results exactly the repaired file's",
  ignore: ignoreWithoutShared(...LEGACY) || ignoreWithoutShared(...REPAIRED),
  async fn() {
    const legacy = await Deno.readFile(requireShared(...LEGACY));
    const reference = await Deno.readFile(requireShared(...REPAIRED));
    const { bytes, repaired } = withoutBatchNormSpatial(legacy);
    assertEquals(repaired, 58);
    // Each removed attribute is 16 bytes (tag 2 + length 1, name "spatial" 9, type INT 3,
    // i = 0 2): 58 × 16 = 928 bytes fewer, the size difference between the two shared files.
    assertEquals(legacy.length - bytes.length, 58 * 16);
    // Byte for byte the file repaired beside it in ../shared.
    assert(
      bytes.length === reference.length && bytes.every((v, i) => v === reference[i]),
      "the repaired bytes equal the shared repaired file",
    );
    // A second pass finds nothing left to do.
    assertEquals(withoutBatchNormSpatial(bytes).repaired, 0);

    // The same pseudo-random input (a fixed LCG) for all.
    const dims = [1, 3, 256, 192];
    const input = new Float32Array(3 * 256 * 192);
    let state = 12345;
    for (let i = 0; i < input.length; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      input[i] = (state / 2 ** 31) * 4 - 2;
    }
    // As published, onnxruntime refuses to run the file.
    const published = await ModelSession.load(legacy, "legacy");
    try {
      await assertRejects(() => published.run("data", input, dims), Error, "BatchNorm");
    } finally {
      await published.release();
    }

    const ours = await ModelSession.load(bytes, "repaired in memory");
    const theirs = await ModelSession.load(reference, "repaired file");
    try {
      const a = await ours.run("data", input, dims);
      const b = await theirs.run("data", input, dims);
      const name = "hybridsequential0_conv7_fwd";
      assertEquals(a[name].dims, [1, 17, 64, 48]);
      let maxDiff = 0;
      for (let i = 0; i < a[name].data.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[name].data[i] - b[name].data[i]));
      }
      assertEquals(maxDiff, 0, "max abs difference of the heatmaps");
      assert(a[name].data.some((v) => v !== 0), "the heatmaps are not all zero");
    } finally {
      await ours.release();
      await theirs.release();
    }
  },
});

Deno.test("Legacy repair: a model without BatchNormalization comes back as is", () => {
  const model = doublingModel();
  const result = withoutBatchNormSpatial(model);
  assertEquals(result.repaired, 0);
  assert(result.bytes === model, "the same bytes object");
  // Not a protobuf message at all: unchanged too (onnxruntime will say what is wrong).
  const junk = Uint8Array.of(0xff, 0xff, 0xff);
  assert(withoutBatchNormSpatial(junk).bytes === junk);
});

/**
 * y = BatchNormalization(x) over x [1, 2, 1, 2] at opset 8 with `spatial`, scale (2, 1),
 * bias (0.5, 0), mean (1, 3), variance (4, 1), epsilon 0; statistics of shape `statsDims`.
 */
function batchNormModel(spatial: number, statsDims: number[]): Uint8Array {
  const g = new OnnxGraph({ opset: 8, irVersion: 3 });
  const x = g.input("x", [1, 2, 1, 2]);
  const repeat = statsDims.reduce((a, b) => a * b, 1) / 2;
  const stat = (values: number[]) =>
    g.constant(values.flatMap((v) => Array(repeat).fill(v)), statsDims);
  const [y] = g.node(
    "BatchNormalization",
    [
      x,
      stat([2, 1]),
      stat([0.5, 0]),
      stat([1, 3]),
      stat([4, 1]),
    ],
    { epsilon: float(0), spatial },
    ["bn"],
  );
  g.output(y, "y", [1, 2, 1, 2]);
  return g.toBytes();
}

Deno.test("Legacy repair: a constructed spatial=0 node with [C] statistics runs per channel", async () => {
  for (const spatial of [0, 1]) {
    const { bytes, repaired } = withoutBatchNormSpatial(batchNormModel(spatial, [2]));
    assertEquals(repaired, 1);
    const session = await ModelSession.load(bytes, `bn spatial=${spatial}`);
    try {
      const out = await session.run("x", Float32Array.of(3, 5, 4, 2), [1, 2, 1, 2]);
      // Channel 0: 2·(3 − 1)/√4 + 0.5 = 2.5 and 2·(5 − 1)/2 + 0.5 = 4.5;
      // channel 1: (4 − 3)/1 = 1 and (2 − 3)/1 = −1.
      [2.5, 4.5, 1, -1].forEach((v, i) => assertAlmostEquals(out.y.data[i], v, 1e-6));
    } finally {
      await session.release();
    }
  }
});

Deno.test("Legacy repair: refuses spatial=0 with per-activation [C, H, W] statistics", () => {
  assertThrows(
    () => withoutBatchNormSpatial(batchNormModel(0, [2, 1, 2])),
    Error,
    "spatial=0 and its scale, bias, mean and variance are not one [C] each",
  );
  // spatial=1 is per channel whatever the exporter wrote: always removable.
  assertEquals(withoutBatchNormSpatial(batchNormModel(1, [2])).repaired, 1);
});
