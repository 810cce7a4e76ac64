/**
 * `--explain` (issue 20): what the keypoint model looked at.
 *
 * - The self-attention pattern on hand-built graphs: found where it is (scale before or after
 *   the product, nn.MultiheadAttention's layout, scaled_dot_product_attention's), not found
 *   elsewhere (Softmax over channels, over heatmap pixels, over the query axis,
 *   cross-attention, a classifier).
 * - A TransPose-shaped model whose attention is known in closed form
 *   (`buildTransPoseModel`): every keypoint's dependency peak and area equal the closed
 *   form's, worked out here from the construction; the model loaded without `explain` has
 *   its own outputs only.
 * - Confidence maps warped into the image: each map's maximum is on the decoded keypoint,
 *   within one map pixel's size in the image (synthetic heatmaps and SimCC, and PP-TinyPose on
 *   a COCO image).
 * - PRTR through the command line: `queries.json` equals the table worked out by hand from
 *   the synthetic model's query layout, and each keypoint's query in `<stem>.explain.json` is
 *   the Hungarian readout's.
 */

import { join } from "node:path";
import { ExplainWriter } from "../lib/deno/explain_files.ts";
import { Runtime } from "../lib/deno/runtime.ts";
import { findSelfAttention } from "../lib/explain/attention_graph.ts";
import { mapInImage } from "../lib/explain/pictures.ts";
import { explainRecord, QueryTable } from "../lib/explain/report.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { encodePng } from "../lib/image/encode.ts";
import { loadModelFrom } from "../lib/models/load.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { type ExplainedPerson, PosePipeline } from "../lib/pipeline.ts";
import { readGraph, withGraphOutputs } from "../lib/runtime/onnx_rewrite.ts";
import type { Box, RgbImage } from "../lib/types.ts";
import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";
import { describeRun, runCli, withTempDir } from "./support/cli.ts";
import { OnnxGraph } from "./support/onnx_builder.ts";
import { ignoreWithoutShared, requireShared, sharedPath } from "./support/shared.ts";
import {
  buildPrtrKeypointModel,
  buildSimccModel,
  buildTransPoseModel,
  createImage,
  drawSyntheticPerson,
  prtrQueryLayout,
  type SyntheticModel,
  transPoseAttentionRow,
} from "./support/synthetic_models.ts";
import { FIGURE } from "./support/poses.ts";

// One WASM thread: onnxruntime-web's threads sometimes never return from runs of synthetic
// graphs on a busy machine (tests/prtr_test.ts); the first session fixes it for the process.
const ONE_THREAD = { backend: "wasm", threads: 1 } as const;

// ---------------------------------------------------------------------------------------------
// The graph pattern, on hand-built graphs (no onnxruntime).

const weights = (rows: number, cols: number) =>
  Array.from({ length: rows * cols }, (_, i) => Math.sin(i + 1) / 4);

/** Multi-head self-attention over tokens `x` [1,N,8], 2 heads of 4; returns its output. */
function multiHead(
  g: OnnxGraph,
  x: string,
  n: number,
  options: { scale?: "before" | "after" | "keys"; keysFrom?: string; axis?: number } = {},
): string {
  const heads = (v: string, perm: number[]) => g.transpose(g.reshape(v, [0, n, 2, 4]), perm);
  let q = heads(g.matmul(x, g.constant(weights(8, 8), [8, 8])), [0, 2, 1, 3]);
  let k = heads(g.matmul(options.keysFrom ?? x, g.constant(weights(8, 8), [8, 8])), [0, 2, 3, 1]);
  const v = heads(g.matmul(x, g.constant(weights(8, 8), [8, 8])), [0, 2, 1, 3]);
  if (options.scale === "before") q = g.mul(q, g.scalar(0.5));
  if (options.scale === "keys") {
    q = g.mul(q, g.scalar(Math.SQRT1_2));
    k = g.mul(k, g.scalar(Math.SQRT1_2));
  }
  let logits = g.matmul(q, k);
  if (options.scale === "after" || options.scale === undefined) {
    logits = g.div(logits, g.scalar(2));
  }
  const attention = g.softmax(logits, options.axis ?? -1);
  return g.reshape(g.transpose(g.matmul(attention, v), [0, 2, 1, 3]), [0, n, 8]);
}

function found(g: OnnxGraph) {
  return findSelfAttention(readGraph(g.toBytes()));
}

Deno.test("self-attention pattern: the scale after the product, before it, or on both sides", () => {
  for (const scale of ["after", "before", "keys"] as const) {
    const g = new OnnxGraph();
    const x = g.input("x", [1, 6, 8]);
    g.output(multiHead(g, x, 6, { scale }), "y");
    const match = found(g);
    assert(match, `scale ${scale}: not found`);
    assertEquals(match.count, 1);
    assertEquals(match.scale, scale === "after" ? "after" : "before");
  }
  // The TransPose-shaped test model, both ways.
  assertEquals(findSelfAttention(readGraph(buildTransPoseModel().bytes))?.scale, "after");
  assertEquals(
    findSelfAttention(readGraph(buildTransPoseModel({ scale: "before" }).bytes))?.scale,
    "before",
  );
});

Deno.test("self-attention pattern: nn.MultiheadAttention's export (packed QKV, perm [1,2,0], src + pos)", () => {
  // [N, B, E] tokens, q = k = src + pos, one packed in_proj split in three, heads folded
  // into the batch: q [B·h, N, d] by perm [1,0,2], keys [B·h, d, N] by perm [1,2,0].
  const g = new OnnxGraph({ opset: 11 });
  const src = g.input("src", [6, 1, 8]);
  const pos = g.input("pos", [6, 1, 8]);
  const qk = g.add(src, pos);
  const packed = g.add(
    g.matmul(qk, g.constant(weights(8, 16), [8, 16])),
    g.constant(weights(1, 16)),
  );
  const [q, k] = g.node("Split", [packed], { axis: 2, split: [8, 8] }, ["q", "k"]);
  const qh = g.transpose(g.reshape(g.mul(q, g.scalar(0.5)), [6, 2, 4]), [1, 0, 2]);
  const kt = g.transpose(g.reshape(k, [6, 2, 4]), [1, 2, 0]);
  // Opset 11: the axis must be given (2, the last of the rank-3 product).
  const attention = g.softmax(g.matmul(qh, kt), 2);
  g.output(attention, "attention");
  const match = found(g);
  assert(match, "not found");
  assertEquals(match.scale, "before");
  assertEquals(match.softmax.attributes.get("axis"), { int: 2 });
});

Deno.test("self-attention pattern: other Softmax nodes are not attention", () => {
  const cases: [string, (g: OnnxGraph) => string][] = [
    ["over channels", (g) => {
      const x = g.input("x", [1, 3, 8, 8]);
      const conv = g.conv(x, { values: weights(17, 27), dims: [17, 3, 3, 3] }, {
        pads: [1, 1, 1, 1],
      });
      return g.softmax(conv, 1);
    }],
    ["over heatmap pixels", (g) => {
      const x = g.input("x", [1, 3, 8, 8]);
      const conv = g.conv(x, { values: weights(17, 27), dims: [17, 3, 3, 3] }, {
        pads: [1, 1, 1, 1],
      });
      return g.softmax(g.reshape(conv, [0, 17, -1]), -1);
    }],
    ["a classifier (weights, not keys)", (g) => {
      const x = g.input("x", [1, 6, 8]);
      return g.softmax(g.matmul(x, g.constant(weights(8, 8), [8, 8])), -1);
    }],
    ["over the query axis", (g) => {
      const x = g.input("x", [1, 6, 8]);
      return multiHead(g, x, 6, { axis: 2 });
    }],
    ["cross-attention (keys from another tensor)", (g) => {
      const x = g.input("x", [1, 6, 8]);
      const memory = g.input("memory", [1, 6, 8]);
      return multiHead(g, x, 6, { keysFrom: memory });
    }],
    ["keys not transposed", (g) => {
      const x = g.input("x", [1, 6, 8]);
      const k = g.matmul(x, g.constant(weights(8, 8), [8, 8]));
      return g.softmax(g.matmul(x, g.reshape(k, [0, 8, 6])), -1);
    }],
  ];
  for (const [what, build] of cases) {
    const g = new OnnxGraph();
    g.output(build(g), "y");
    assertEquals(found(g), undefined, what);
  }
});

Deno.test("self-attention pattern: of several layers the last, behind a classifier Softmax", () => {
  const g = new OnnxGraph();
  const x = g.input("x", [1, 6, 8]);
  const first = multiHead(g, x, 6);
  const second = multiHead(g, g.add(first, x), 6, { scale: "before" });
  g.output(g.softmax(g.matmul(second, g.constant(weights(8, 3), [8, 3])), -1), "classes");
  const graph = readGraph(g.toBytes());
  const match = findSelfAttention(graph);
  assert(match);
  assertEquals(match.count, 2);
  assertEquals(match.scale, "before");
  const softmaxes = graph.nodes.filter((n) => n.opType === "Softmax");
  assertEquals(match.softmax.index, softmaxes[1].index); // the second layer's, not the head's
});

Deno.test("withGraphOutputs adds an output once and keeps everything else", () => {
  const g = new OnnxGraph();
  const x = g.input("x", [1, 6, 8]);
  g.output(multiHead(g, x, 6), "y");
  const bytes = g.toBytes();
  const graph = readGraph(bytes);
  const match = findSelfAttention(graph)!;
  const exposed = withGraphOutputs(bytes, [{ name: match.output }]);
  const after = readGraph(exposed);
  assertEquals(after.outputs, ["y", match.output]);
  assertEquals(after.nodes.length, graph.nodes.length);
  assertEquals(after.nodes.find((n) => n.opType === "Softmax")?.attributes.get("axis"), {
    int: -1,
  });
  assertEquals(withGraphOutputs(exposed, [{ name: match.output }]), exposed); // already there
});

// ---------------------------------------------------------------------------------------------
// The TransPose-shaped model through the pipeline.

const TOKEN = 8; // crop pixels per token
const SCALE = 2; // image pixels per crop pixel: the 384×512 image fills the 192×256 crop
/** Keypoint tokens (column, row) of a person facing the camera, COCO order. */
const TOKENS: [number, number][] = [
  [11, 6],
  [12, 5],
  [10, 5],
  [13, 6],
  [9, 6],
  [14, 9],
  [8, 9],
  [16, 12],
  [6, 12],
  [17, 15],
  [5, 15],
  [13, 17],
  [9, 17],
  [13, 22],
  [9, 22],
  [13, 27],
  [9, 27],
];
/** The box whose crop region (×1.25, aspect 3:4) is exactly the 384×512 image. */
const FULL_BOX: Box = { x1: 38.4, y1: 51.2, x2: 345.6, y2: 460.8, score: 1 };

/** The picture: each marker at the centre of its token's 16×16 image pixels. */
function transPosePicture(): RgbImage {
  const image = createImage(384, 512);
  drawSyntheticPerson(image, {
    body: [60, 40, 270, 450],
    keypoints: TOKENS.map(([tx, ty]) => [16 * tx + 8, 16 * ty + 8]),
  });
  return image;
}

async function pipelineFor(runtime: Runtime, model: SyntheticModel, explain = true) {
  const pose = await loadModelFrom(
    { bytes: model.bytes, path: model.manifest.file, manifest: model.manifest },
    runtime,
    { explain },
  );
  return PosePipeline.fromModels({ runtime, pose });
}

Deno.test("TransPose model: every keypoint's dependency peak and area are the closed form's", async () => {
  const runtime = await Runtime.start(ONE_THREAD);
  const image = transPosePicture();
  for (const scale of ["after", "before"] as const) {
    const pipeline = await pipelineFor(runtime, buildTransPoseModel({ scale }));
    try {
      assertEquals(pipeline.pose.session.outputs.length, 2, "heatmaps and the attention");
      const explained = await pipeline.explain(image, [FULL_BOX]);
      assertEquals(explained.people.length, 1);
      const attention = explained.people[0].crop.attention!;
      assertEquals([attention.gridWidth, attention.gridHeight, attention.stride], [24, 32, 8]);
      assertEquals(attention.heads, 2);
      for (const delta of [0.5, 0.2]) {
        const record = explainRecord("t.png", explained, [], delta);
        record.people[0].keypoints.forEach((keypoint, j) => {
          const [tx, ty] = TOKENS[j];
          // Closed form: head 0 centred 2 tokens right and 3 up of the keypoint's token,
          // head 1 uniform; the area is the tokens at δ × the row's maximum or more.
          const row = transPoseAttentionRow(tx, ty, 24, 32);
          let max = 0;
          for (const v of row) max = Math.max(max, v);
          const tokens = row.filter((v) => v >= delta * max).length;
          const peak = [tx + 2, ty - 3].map((t) => (t * TOKEN + (TOKEN - 1) / 2) * SCALE);
          const where = `${keypoint.name} (scale ${scale}, δ ${delta})`;
          assert(keypoint.dependency, where);
          const [px, py] = keypoint.dependency.peak;
          assert(
            Math.abs(px - peak[0]) <= TOKEN * SCALE && Math.abs(py - peak[1]) <= TOKEN * SCALE,
            `${where}: peak (${px}, ${py}), expected (${peak}) within one token`,
          );
          assertAlmostEquals(px, peak[0], 1e-3, where);
          assertAlmostEquals(py, peak[1], 1e-3, where);
          assertEquals(keypoint.dependency.area_px, tokens * (TOKEN * SCALE) ** 2, where);
          assertEquals(keypoint.query, null);
        });
      }
    } finally {
      await pipeline.close();
    }
  }
});

Deno.test("explain off costs nothing: the model's own outputs, and the same poses", async () => {
  const runtime = await Runtime.start(ONE_THREAD);
  const model = buildTransPoseModel();
  const plain = await pipelineFor(runtime, model, false);
  const explaining = await pipelineFor(runtime, model, true);
  try {
    assertEquals(plain.pose.session.outputs.map((o) => o.name), ["heatmaps"]);
    assertEquals(plain.notes, []);
    assertEquals(explaining.pose.session.outputs.length, 2);
    const image = transPosePicture();
    const poses = await plain.run(image, [FULL_BOX]);
    const explained = await explaining.explain(image, [FULL_BOX]);
    assertEquals(
      explained.poses.map((p) => Array.from(p.keypoints)),
      poses.map((p) => Array.from(p.keypoints)),
    );
    // A plain pipeline's explain still gives the maps (its outputs), without attention.
    const maps = await plain.explain(image, [FULL_BOX]);
    assert(maps.people[0].crop.maps && !maps.people[0].crop.attention);
  } finally {
    await plain.close();
    await explaining.close();
  }
});

Deno.test("a model without self-attention gets a one-line note, not an error", async () => {
  const runtime = await Runtime.start(ONE_THREAD);
  const model = buildSimccModel();
  const pipeline = await pipelineFor(runtime, model);
  try {
    assertEquals(pipeline.pose.session.outputs.map((o) => o.name), ["simcc_x", "simcc_y"]);
    assertEquals(pipeline.notes.length, 1);
    assert(/no self-attention Softmax/.test(pipeline.notes[0]), pipeline.notes[0]);
    assert(!pipeline.notes[0].includes("\n"));
  } finally {
    await pipeline.close();
  }
});

/**
 * Asserts that each of the person's maps, warped into the image, peaks on its decoded
 * keypoint within `tolerance` image pixels along each axis.
 */
function assertMapsPeakOnKeypoints(person: ExplainedPerson, tolerance: number, what: string) {
  const { x1, y1, x2, y2 } = person.pose.box;
  const pad = 0.3 * Math.max(x2 - x1, y2 - y1);
  const x0 = Math.floor(x1 - pad), y0 = Math.floor(y1 - pad);
  const width = Math.ceil(x2 + pad) - x0, height = Math.ceil(y2 + pad) - y0;
  const kp = person.pose.keypoints;
  for (let j = 0; j < kp.length / 3; j++) {
    const map = mapInImage(person, j, x0, y0, width, height);
    let best = 0;
    for (let i = 1; i < map.length; i++) if (map[i] > map[best]) best = i;
    const mx = x0 + (best % width), my = y0 + Math.floor(best / width);
    assert(
      Math.abs(mx - kp[3 * j]) <= tolerance && Math.abs(my - kp[3 * j + 1]) <= tolerance,
      `${what}, keypoint ${j}: map maximum at (${mx}, ${my}), keypoint at ` +
        `(${kp[3 * j].toFixed(2)}, ${kp[3 * j + 1].toFixed(2)}), tolerance ${tolerance}`,
    );
  }
}

Deno.test("heatmap and SimCC overlays: each map's maximum is on the decoded keypoint", async () => {
  const runtime = await Runtime.start(ONE_THREAD);
  const image = transPosePicture();
  // A box that is not the whole picture: an offset, scaled crop.
  const box: Box = { x1: 70, y1: 60, x2: 320, y2: 470, score: 1 };
  const transpose = buildTransPoseModel();
  const udp = {
    ...transpose,
    manifest: {
      ...transpose.manifest,
      input: { ...transpose.manifest.input, cropTransform: "udp" as const },
    },
  };
  // Map pixels in crop pixels: 4 (heatmaps), 191/47 and 255/63 with UDP (the larger), 1 (SimCC).
  const models = [[transpose, 4], [udp, 255 / 63], [buildSimccModel(), 1]] as const;
  for (const [model, mapPixel] of models) {
    const pipeline = await pipelineFor(runtime, model);
    try {
      for (const flip of [true, false]) {
        const explained = await (flip ? pipeline : PosePipeline.fromModels({
          runtime,
          pose: pipeline.pose,
        }, { flip: false })).explain(image, [box]);
        const person = explained.people[0];
        const scale = person.geometry.cropToImage[0]; // image pixels per crop pixel
        assertMapsPeakOnKeypoints(
          person,
          mapPixel * scale,
          `${model.manifest.family}, flip ${flip}`,
        );
      }
    } finally {
      await pipeline.close();
    }
  }
});

Deno.test({
  name: "PP-TinyPose on a COCO image: each heatmap's maximum is on the decoded keypoint",
  ignore: ignoreWithoutShared("models", "pp_tinypose_256x192.onnx"),
  async fn() {
    const runtime = await Runtime.start(ONE_THREAD);
    const path = requireShared("models", "pp_tinypose_256x192.onnx");
    const manifest = JSON.parse(
      await Deno.readTextFile(new URL("../models/pp_tinypose_256x192.json", import.meta.url)),
    ) as ModelManifest;
    const pose = await loadModelFrom(
      { bytes: await Deno.readFile(path), path, manifest },
      runtime,
      { explain: true },
    );
    const pipeline = PosePipeline.fromModels({ runtime, pose });
    try {
      const file = sharedPath("coco", "val2017", "000000000785.jpg");
      const image = await decodeImage(await Deno.readFile(file), file);
      // The skier's ground-truth box (COCO annotation 204673's [x, y, w, h]).
      const box = { x1: 280.79, y1: 44.73, x2: 280.79 + 218.7, y2: 44.73 + 346.68, score: 1 };
      const explained = await pipeline.explain(image, [box]);
      assertEquals(explained.people.length, 1);
      const person = explained.people[0];
      assertEquals([person.crop.maps?.width, person.crop.maps?.height], [48, 64]);
      assertEquals(person.crop.attention, undefined);
      assertMapsPeakOnKeypoints(person, 4 * person.geometry.cropToImage[0], "PP-TinyPose");
    } finally {
      await pipeline.close();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// PRTR: the query table.

Deno.test("query table: counts per query and class, background for the queries left out", () => {
  const table = new QueryTable(4, ["a", "b"]);
  const readout = (queries: number[]) => ({
    numQueries: 4,
    queryOfKeypoint: Int32Array.from(queries),
    classProbabilities: new Float32Array(12),
  });
  table.add(readout([2, 0]));
  table.add(readout([2, 3]));
  assertEquals(table.toRecord(), {
    queries: 4,
    classes: ["a", "b", "background"],
    // q0: b once, unassigned once; q1: unassigned twice; q2: a twice; q3: b once, out once.
    counts: [[0, 1, 1], [0, 0, 2], [2, 0, 0], [0, 1, 1]],
  });
});

Deno.test("PRTR through predict --explain: queries.json is the hand-computed table", async () => {
  await withTempDir(async (dir) => {
    // Two pictures, three people.
    const scenes: [number, number, number, number][][] = [
      [[170, 40, 120, 230]],
      [[30, 30, 120, 220], [300, 50, 110, 210]],
    ];
    const detections: unknown[] = [];
    const images: string[] = [];
    for (const [index, bodies] of scenes.entries()) {
      const picture = createImage(480, 300);
      bodies.forEach((body, personIndex) => {
        const [x0, y0, w, h] = body;
        const keypoints = FIGURE.map(([fx, fy]) =>
          [Math.round(x0 + fx * w), Math.round(y0 + fy * h)] as [number, number]
        );
        drawSyntheticPerson(picture, { body, keypoints, personIndex });
        detections.push({ image_id: index + 1, category_id: 1, bbox: body, score: 1 });
      });
      const file = join(dir, `${String(index + 1).padStart(12, "0")}.png`);
      await Deno.writeFile(file, encodePng(picture));
      images.push(file);
    }
    const boxes = join(dir, "boxes.json");
    await Deno.writeTextFile(boxes, JSON.stringify(detections));
    const model = buildPrtrKeypointModel({ auxLayers: 3 });
    await Deno.writeFile(join(dir, "prtr.onnx"), model.bytes);
    const manifest = join(dir, "prtr.json");
    await Deno.writeTextFile(
      manifest,
      JSON.stringify({ ...model.manifest, name: "prtr", file: "prtr.onnx" }),
    );
    const out = join(dir, "explained");
    const run = await runCli([
      "predict",
      "--pose",
      manifest,
      "--boxes",
      boxes,
      "--backend",
      "wasm",
      "--threads",
      "1",
      "--explain",
      out,
      "--out",
      join(dir, "results.json"),
      "--quiet",
      ...images,
    ]);
    assertEquals(run.code, 0, describeRun(run));

    // By hand from the layout (tests/support/synthetic_models.ts): type j ≥ 2 has one query
    // with 0.9 on it; of the two queries fighting over types 0 and 1, the optimal matching
    // gives type 1 to the one reporting type 1's marker (0.4) and type 0 to the one reporting
    // type 0's (0.5). So keypoint j always comes from the query reporting its marker, and
    // the 83 distractors are left out, once per person.
    const layout = prtrQueryLayout(17, 100);
    const queryOf = Array.from({ length: 17 }, (_, j) => layout.source.indexOf(j));
    const counts = Array.from({ length: 100 }, () => new Array<number>(18).fill(0));
    queryOf.forEach((q, j) => (counts[q][j] = 3));
    layout.source.forEach((source, q) => {
      if (source < 0) counts[q][17] = 3;
    });
    const table = JSON.parse(await Deno.readTextFile(join(out, "queries.json")));
    assertEquals(table.queries, 100);
    assertEquals(table.classes, [...model.manifest.keypoints!, "background"]);
    assertEquals(table.counts, counts);

    for (const [index, bodies] of scenes.entries()) {
      const stem = String(index + 1).padStart(12, "0");
      const record = JSON.parse(await Deno.readTextFile(join(out, `${stem}.explain.json`)));
      assertEquals(record.image, images[index]);
      assertEquals(record.people.length, bodies.length);
      for (const person of record.people) {
        assertEquals(person.keypoints.map((k: { query: number }) => k.query), queryOf);
        assert(person.keypoints.every((k: { dependency: unknown }) => k.dependency === null));
      }
      for (let p = 0; p < bodies.length; p++) {
        await Deno.stat(join(out, `${stem}.person${p}.queries.jpg`));
      }
    }
    await Deno.stat(join(out, "queries.png"));
  });
});

Deno.test("PRTR explanation: the layer paths end at the readout and start near the centre", async () => {
  const runtime = await Runtime.start(ONE_THREAD);
  const model = buildPrtrKeypointModel({ auxLayers: 3 });
  const pipeline = await pipelineFor(runtime, model);
  try {
    const image = createImage(288, 384);
    const keypoints = FIGURE.map(([fx, fy]) =>
      [Math.round(40 + fx * 200), Math.round(40 + fy * 300)] as [number, number]
    );
    drawSyntheticPerson(image, { body: [40, 40, 200, 300], keypoints });
    const explained = await PosePipeline.fromModels({ runtime, pose: pipeline.pose }, {
      flip: false,
    }).explain(image, [{ x1: 40, y1: 40, x2: 240, y2: 340, score: 1 }]);
    const person = explained.people[0];
    const paths = person.crop.queries!.paths!;
    assertEquals(paths.points, 4);
    const crop = person.pose.keypoints.map((v) => v); // image pixels
    const toCrop = (x: number, y: number) => {
      const m = person.geometry.cropToImage;
      return [(x - m[2]) / m[0], (y - m[5]) / m[4]];
    };
    for (let j = 0; j < 17; j++) {
      const [cx, cy] = toCrop(crop[3 * j], crop[3 * j + 1]);
      const last = paths.data.subarray((j * 4 + 3) * 2, (j * 4 + 4) * 2);
      assertAlmostEquals(last[0], cx, 1e-3);
      assertAlmostEquals(last[1], cy, 1e-3);
      // Layer 0 is 3/4 of the way from the keypoint to the crop's centre.
      const first = paths.data.subarray(j * 8, j * 8 + 2);
      assertAlmostEquals(first[0], cx + (144 - cx) * 0.75, 1e-2);
      assertAlmostEquals(first[1], cy + (192 - cy) * 0.75, 1e-2);
    }
    const writer = await withTempDir(async (dir) => {
      const w = await ExplainWriter.open(dir, model.manifest);
      const files = await w.write("a.png", image, explained);
      assertEquals(files.map((f) => f.slice(dir.length + 1)), [
        "a.explain.json",
        "a.person0.queries.jpg",
      ]);
      assertEquals((await w.finish()).length, 2);
      return w;
    });
    assertEquals(writer.notes, []);
  } finally {
    await pipeline.close();
  }
});
