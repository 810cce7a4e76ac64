/**
 * Legacy repair: BatchNormalization nodes with the obsolete `spatial` attribute (opset 7–8),
 * which onnxruntime refuses. Checked on the real legacy export in ../shared (its authors'
 * file) against the repaired copy beside it, and on constructed models against hand values.
 */

import {
  doublingModel,
  LegacyRepairError,
  MAX_REPAIR_RECORDS,
  withoutBatchNormSpatial,
} from "../lib/runtime/onnx_rewrite.ts";
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

/** One encoded protobuf field: a varint, or length-delimited bytes (a string or a message). */
function field(number: number, value: number | string | Uint8Array): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
    out.push(n);
    return out;
  };
  if (typeof value === "number") return Uint8Array.from([...varint(number << 3), ...varint(value)]);
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  return concat(
    Uint8Array.from(varint((number << 3) | 2)),
    Uint8Array.from(varint(bytes.length)),
    bytes,
  );
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((at, part) => (out.set(part, at), at + part.length), 0);
  return out;
}

/** `count` copies of `unit`, end to end. */
function repeated(unit: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(unit.length * count);
  for (let i = 0; i < count; i++) out.set(unit, i * unit.length);
  return out;
}

/** The fields of a small message (varint or length-delimited), with their bytes. */
function fieldsOf(bytes: Uint8Array): { number: number; payload?: Uint8Array; raw: Uint8Array }[] {
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1;; scale *= 128) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const fields = [];
  while (at < bytes.length) {
    const start = at;
    const tag = varint();
    let payload: Uint8Array | undefined;
    if (tag % 8 === 0) varint();
    else if (tag % 8 === 2) {
      const length = varint();
      payload = bytes.subarray(at, at += length);
    } else throw new Error(`wire type ${tag % 8} in a test model`);
    fields.push({ number: Math.floor(tag / 8), payload, raw: bytes.subarray(start, at) });
  }
  return fields;
}

/**
 * `model` with `graphPadding` appended to its graph and `nodePadding` to its BatchNormalization
 * node (ModelProto.graph = 7, GraphProto.node = 1).
 */
function padded(model: Uint8Array, graphPadding: Uint8Array, nodePadding: Uint8Array): Uint8Array {
  const rebuild = (
    bytes: Uint8Array,
    number: number,
    change: (payload: Uint8Array) => Uint8Array,
  ) =>
    concat(
      ...fieldsOf(bytes).map((f) =>
        f.number === number && f.payload ? field(number, change(f.payload)) : f.raw
      ),
    );
  return rebuild(model, 7, (graph) =>
    concat(
      rebuild(graph, 1, (node) =>
        new TextDecoder().decode(node).includes("BatchNormalization")
          ? concat(node, nodePadding)
          : node),
      graphPadding,
    ));
}

Deno.test("Legacy repair: a file of millions of tiny fields is walked in place, keeping almost nothing", () => {
  // 1.5 M empty nodes in the graph and 0.5 M empty doc_strings (NodeProto field 6) in the
  // BatchNormalization node: 4 MB. Kept as objects, such fields took 90 bytes of heap each.
  const graphPadding = repeated(field(1, new Uint8Array(0)), 1_500_000);
  const nodePadding = repeated(field(6, ""), 500_000);
  const small = batchNormModel(1, [2]);
  const model = padded(small, graphPadding, nodePadding);
  assert(model.length > 4_000_000, `${model.length} bytes`);

  const { bytes, repaired, records } = withoutBatchNormSpatial(model);
  assertEquals(repaired, 1);
  assert(records <= 2, `${records} records kept (one node and its spatial attribute)`);
  // Exactly the small model's repair, padded the same way.
  const expected = padded(withoutBatchNormSpatial(small).bytes, graphPadding, nodePadding);
  assert(bytes.length === expected.length && bytes.every((v, i) => v === expected[i]));
  const again = withoutBatchNormSpatial(bytes);
  assertEquals([again.repaired, again.records], [0, 0]);
});

Deno.test("Legacy repair: past its record limit, an error naming the file instead of exhausting memory", () => {
  // 50 001 tiny BatchNormalization nodes, each with spatial = 1: 100 002 records.
  const node = concat(
    field(4, "BatchNormalization"),
    field(5, concat(field(1, "spatial"), field(3, 1), field(20, 2))),
  );
  const count = MAX_REPAIR_RECORDS / 2 + 1;
  const model = field(7, repeated(field(1, node), count));
  assertThrows(
    () => withoutBatchNormSpatial(model, { source: "crafted.onnx" }),
    LegacyRepairError,
    `crafted.onnx: more than ${MAX_REPAIR_RECORDS} BatchNormalization nodes and attributes`,
  );
  // One fewer node fits: all are repaired.
  const fits = field(7, repeated(field(1, node), count - 1));
  assertEquals(withoutBatchNormSpatial(fits).repaired, count - 1);
  // A refused node names the file too.
  assertThrows(
    () => withoutBatchNormSpatial(batchNormModel(0, [2, 1, 2]), { source: "old.onnx" }),
    LegacyRepairError,
    'old.onnx: cannot repair the legacy BatchNormalization "spatial" attribute',
  );
});
