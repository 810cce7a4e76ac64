import { ModelSession } from "../lib/deno/runtime.ts";
import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";
import { float, OnnxGraph, onnxSchema } from "./support/onnx_builder.ts";
import {
  buildDetrPersonModel,
  buildSimccModel,
  createImage,
  DETR_NO_OBJECT_LOGIT,
  DETR_NORMALIZATION,
  drawMarker,
  drawPersonBody,
  imageToInput,
} from "./support/synthetic_models.ts";

// onnxruntime-web's WASM threads sometimes never finish a run of these synthetic graphs in
// Deno (seen with 2 threads on 2 busy cores, most often with the sequential PRTR model); the
// models are tiny, so this file runs them on one thread (the first session of the process
// fixes the thread count, so every session here asks for one).
const ONE_THREAD = { backend: "wasm", threads: 1 } as const;

/**
 * Top-level fields of a protobuf message as (field number, wire type, payload) — a reader
 * written from the wire-format spec, independent of protobufjs.
 */
function readFields(bytes: Uint8Array): { field: number; wire: number; payload: Uint8Array }[] {
  const fields = [];
  let i = 0;
  const varint = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[i++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  while (i < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key & 7;
    let start = i;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const length = varint();
      start = i;
      i += length;
    } else throw new Error(`unexpected wire type ${wire}`);
    fields.push({ field, wire, payload: bytes.subarray(start, i) });
  }
  return fields;
}

Deno.test("onnx builder: field numbers on the wire match onnx.proto", () => {
  const g = new OnnxGraph({ name: "wire" });
  const x = g.input("x", [1, 2]);
  g.output(g.add(x, g.constant([1, 2], [1, 2])), "y", [1, 2]);
  const model = readFields(g.toBytes());
  // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
  // opset_import = 8 (from onnx.proto).
  assertEquals(new Set(model.map((f) => f.field)), new Set([1, 2, 3, 7, 8]));
  assertEquals(model.find((f) => f.field === 1)!.payload[0], 8, "ir_version 8 as a varint");
  const opset = readFields(model.find((f) => f.field === 8)!.payload);
  // OperatorSetIdProto: domain = 1 (empty string), version = 2.
  assertEquals(opset.map((f) => f.field), [1, 2]);
  assertEquals(opset[1].payload[0], 17);
  const graph = readFields(model.find((f) => f.field === 7)!.payload);
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  assertEquals(new Set(graph.map((f) => f.field)), new Set([1, 2, 5, 11, 12]));
  const name = graph.find((f) => f.field === 2)!.payload;
  assertEquals(new TextDecoder().decode(name), "wire");
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  const initializer = readFields(graph.find((f) => f.field === 5)!.payload);
  assertEquals(new Set(initializer.map((f) => f.field)), new Set([1, 2, 8, 9]));
  const raw = initializer.find((f) => f.field === 9)!.payload;
  assertEquals(Array.from(new Float32Array(new Uint8Array(raw).buffer)), [1, 2]);
});

Deno.test("onnx builder: the schema decodes what it wrote, attributes typed as asked", () => {
  const g = new OnnxGraph();
  const x = g.input("x", ["n", 4]);
  g.output(g.op("LeakyRelu", [x], { alpha: float(2) }), "y");
  g.output(g.transpose(x, [1, 0]), "t");
  g.output(g.op("Concat", [x, x], { axis: 1 }), "c");
  const decoded = onnxSchema.ModelProto.toObject(onnxSchema.ModelProto.decode(g.toBytes()), {
    longs: Number,
  });
  const nodes = decoded.graph.node as { op_type: string; attribute?: Record<string, unknown>[] }[];
  const leaky = nodes.find((n) => n.op_type === "LeakyRelu")!;
  assertEquals(leaky.attribute![0].type, 1, "FLOAT");
  assertEquals(leaky.attribute![0].f, 2);
  const transpose = nodes.find((n) => n.op_type === "Transpose")!;
  assertEquals(transpose.attribute![0].type, 7, "INTS");
  assertEquals(transpose.attribute![0].ints, [1, 0]);
  const concat = nodes.find((n) => n.op_type === "Concat")!;
  assertEquals(concat.attribute![0].type, 2, "INT");
  const inputDims = decoded.graph.input[0].type.tensor_type.shape.dim;
  assertEquals(inputDims, [{ dim_param: "n" }, { dim_value: 4 }]);
});

Deno.test("onnx builder: onnxruntime-web runs a built graph to the expected numbers", async () => {
  // y = softmax(x · W + b) over the last axis, m = mean over axis 1, s = x[:, 1:3],
  // k = x gathered at columns [2, 0], r = 0..n−1 from the dynamic dimension.
  const g = new OnnxGraph();
  const x = g.input("x", ["n", 3]);
  const W = [1, 0, -1, 2, 0.5, 0]; // 3×2, row-major
  const b = [0.5, -0.5];
  const logits = g.add(g.matmul(x, g.constant(W, [3, 2])), g.constant(b, [2]));
  g.output(g.softmax(logits, -1), "y", ["n", 2]);
  g.output(g.reduceMean(x, [1], false), "m", ["n"]);
  g.output(g.slice(x, [1], [3], [1]), "s", ["n", 2]);
  g.output(g.gather(x, [2, 0], 1), "k", ["n", 2]);
  g.output(g.rangeOfDim(x, 0), "r", ["n"]);
  const session = await ModelSession.load(g.toBytes(), "builder-test", ONE_THREAD);
  const data = Float32Array.of(1, 2, 3, -1, 0.5, 4);
  const out = await session.run("x", data, [2, 3]);

  // Hand computation: row 0: x·W = [1·1 + 2·(−1) + 3·0.5, 1·0 + 2·2 + 3·0] = [0.5, 4];
  // + b = [1, 3.5]; row 1: [−1 − 0.5 + 2, 0 + 1 + 0] = [0.5, 1]; + b = [1, 0.5].
  const softmax2 = (a: number, c: number) => [1 / (1 + Math.exp(c - a)), 1 / (1 + Math.exp(a - c))];
  const expected = [...softmax2(1, 3.5), ...softmax2(1, 0.5)];
  assertEquals(out.y.dims, [2, 2]);
  out.y.data.forEach((v, i) => assertAlmostEquals(v, expected[i], 1e-6));
  assertEquals(Array.from(out.m.data), [2, 3.5 / 3].map(Math.fround));
  assertEquals(Array.from(out.s.data), [2, 3, 0.5, 4]);
  assertEquals(Array.from(out.k.data), [3, 1, 4, -1]);
  assertEquals(Array.from(out.r.data), [0, 1]);
  assertEquals(session.inputs[0].shape, ["n", 3]);
  await session.release();
});

Deno.test("onnx builder: Conv and MaxPool agree with direct loops", async () => {
  const h = 5, w = 6;
  const image = Float32Array.from({ length: h * w }, (_, i) => ((i * 7) % 11) - 5);
  const kernel = [0, 1, 0, 1, -4, 1, 0, 1, 0]; // a Laplacian
  const g = new OnnxGraph();
  const x = g.input("x", [1, 1, h, w]);
  g.output(
    g.conv(x, { values: kernel, dims: [1, 1, 3, 3] }, { bias: [0.5], pads: [1, 1, 1, 1] }),
    "c",
  );
  g.output(g.maxPool(x, [3, 3], { pads: [1, 1, 1, 1] }), "p");
  const session = await ModelSession.load(g.toBytes(), "conv-test", ONE_THREAD);
  const out = await session.run("x", image, [1, 1, h, w]);
  const at = (
    y: number,
    x: number,
  ) => (y < 0 || x < 0 || y >= h || x >= w ? undefined : image[y * w + x]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let conv = 0.5, max = -Infinity;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const v = at(y + dy, x + dx);
          if (v === undefined) continue; // zero padding for Conv; ignored by MaxPool
          conv += v * kernel[(dy + 1) * 3 + dx + 1];
          max = Math.max(max, v);
        }
      }
      assertAlmostEquals(out.c.data[y * w + x], conv, 1e-5);
      assertEquals(out.p.data[y * w + x], max);
    }
  }
  await session.release();
});

Deno.test("synthetic DETR model: boxes and scores as documented", async () => {
  const image = createImage(160, 120);
  drawPersonBody(image, 0, 20, 10, 50, 90); // pixels x 20..69, y 10..99
  drawPersonBody(image, 1, 100, 30, 40, 60); // pixels x 100..139, y 30..89
  drawMarker(image, 3, 17, 40, 50); // markers leave the blue channel (and boxes) alone
  const model = buildDetrPersonModel({ numQueries: 6, personLogits: [10, 7] });
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  const input = imageToInput(image, DETR_NORMALIZATION);
  const out = await session.run(model.manifest.input.name, input.data, input.dims);
  assertEquals(out.pred_logits.dims, [1, 6, 92]);
  assertEquals(out.pred_boxes.dims, [1, 6, 4]);
  // Default: person i at query Q−1−i; level 85 (person 2) is absent.
  const expectBox = (q: number, x0: number, y0: number, bw: number, bh: number) => {
    const box = Array.from(out.pred_boxes.data.subarray(q * 4, q * 4 + 4));
    const want = [(x0 + bw / 2) / 160, (y0 + bh / 2) / 120, bw / 160, bh / 120];
    box.forEach((v, i) => assertAlmostEquals(v, want[i], 1e-6, `query ${q} box[${i}]`));
  };
  expectBox(5, 20, 10, 50, 90);
  expectBox(4, 100, 30, 40, 60);
  for (const q of [0, 1, 2, 3]) {
    assertEquals(Array.from(out.pred_boxes.data.subarray(q * 4, q * 4 + 4)), [0, 0, 0, 0]);
  }
  const logitRow = (q: number) => Array.from(out.pred_logits.data.subarray(q * 92, q * 92 + 92));
  const expectRow = (q: number, index: number, value: number) =>
    assertEquals(logitRow(q), Array.from({ length: 92 }, (_, c) => (c === index ? value : 0)));
  expectRow(5, 1, 10);
  expectRow(4, 1, 7);
  expectRow(3, 91, DETR_NO_OBJECT_LOGIT); // person 2 absent
  expectRow(0, 91, DETR_NO_OBJECT_LOGIT);
  await session.release();
});

Deno.test("synthetic SimCC model: vectors peak at the markers", async () => {
  const image = createImage(64, 48);
  drawMarker(image, 0, 3, 10, 20, 3);
  drawMarker(image, 2, 3, 40, 7, 5);
  const model = buildSimccModel({ width: 64, height: 48, numTypes: 3, splitRatio: 2, sigma: 2 });
  const session = await ModelSession.load(model.bytes, model.manifest.file, ONE_THREAD);
  const input = imageToInput(image, DETR_NORMALIZATION);
  const out = await session.run("input", input.data, input.dims);
  assertEquals(out.simcc_x.dims, [1, 3, 128]);
  assertEquals(out.simcc_y.dims, [1, 3, 96]);
  const gauss = (i: number, centre: number) => Math.exp(-((i - centre) ** 2) / (2 * 2 * 2));
  for (let i = 0; i < 128; i++) {
    assertAlmostEquals(out.simcc_x.data[i], gauss(i, 20), 1e-5);
    assertEquals(out.simcc_x.data[128 + i], 0, "type 1 has no marker");
    assertAlmostEquals(out.simcc_x.data[256 + i], gauss(i, 80), 1e-5);
  }
  for (let i = 0; i < 96; i++) {
    assertAlmostEquals(out.simcc_y.data[i], gauss(i, 40), 1e-5);
    assertAlmostEquals(out.simcc_y.data[192 + i], gauss(i, 14), 1e-5);
  }
  assert(model.manifest.options?.splitRatio === 2);
  await session.release();
});
