/**
 * Boxes that would once cost an image its results or exhaust memory: more boxes than
 * --max-people, ten thousand boxes on one image, degenerate boxes beside good ones, ground
 * truth without image sizes, and a manifest whose input size disagrees with its model.
 */

import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { describeRun, nonEmptyLines, runCli, withTempDir } from "./support/cli.ts";
import { OnnxGraph } from "./support/onnx_builder.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { groundTruthBoxes } from "../lib/coco/boxes.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";

const IMAGE = ["coco", "val2017", "000000000785.jpg"];
const ignore = ignoreWithoutShared(...IMAGE) || ignoreWithoutShared("models");

/** A COCO detection results file with `boxes` ([x, y, w, h, score]) for image 785. */
async function boxFile(dir: string, boxes: number[][]): Promise<string> {
  const path = join(dir, "boxes.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify(boxes.map(([x, y, w, h, score]) => ({
      image_id: 785,
      category_id: 1,
      bbox: [x, y, w, h],
      score,
    }))),
  );
  return path;
}

function predict(...args: string[]) {
  return runCli([
    "predict",
    "--models",
    requireShared("models"),
    "--backend",
    "wasm",
    "--no-flip",
    ...args,
  ]);
}

/** n boxes spread over the image, scores decreasing. */
function manyBoxes(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [
    (i * 37) % 560,
    (i * 53) % 340,
    40 + (i % 40),
    60 + (i % 20),
    1 - i / (n + 1),
  ]);
}

Deno.test({
  name: "--boxes: 200 boxes give at most --max-people people, the best-scoring ones",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const boxes = await boxFile(dir, manyBoxes(200));
      const run = await predict(requireShared(...IMAGE), "--boxes", boxes, "--max-people", "7");
      assertEquals(run.code, 0, describeRun(run));
      const people = JSON.parse(run.stdout) as { bbox: number[] }[];
      assert(people.length <= 7, `${people.length} people`);
      // OKS-NMS may drop some; what is kept comes from the 7 best boxes.
      const best = new Set(manyBoxes(7).map((b) => b.slice(0, 2).join(",")));
      assert(people.every((p) => best.has(p.bbox.slice(0, 2).join(","))), run.stdout.slice(0, 300));
    });
  },
});

Deno.test({
  name: "--boxes: a 0×0 box and a 1e308 box are skipped with a counted warning; the person stays",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const boxes = await boxFile(dir, [
        [300, 40, 0, 0, 0.99],
        [1e308, 1e308, 1e308, 1e308, 0.98],
        [280, 40, 220, 350, 0.97],
      ]);
      const run = await predict(requireShared(...IMAGE), "--boxes", boxes);
      assertEquals(run.code, 0, describeRun(run));
      const people = JSON.parse(run.stdout);
      assertEquals(people.length, 1, "the skier's box is kept");
      const warning = nonEmptyLines(run.stderr).find((l) => l.includes("skipped")) ?? "";
      assert(warning?.includes("000000000785.jpg"), describeRun(run));
      assert(warning.includes("skipped 2 boxes that cannot be cropped"), warning);
      assert(/2 boxes skipped/.test(run.stderr), run.stderr);
    });
  },
});

Deno.test("groundTruthBoxes: the annotated boxes as they are, empty ones and unlisted images dropped", () => {
  const keypoints = [10, 20, 2];
  const boxes = groundTruthBoxes({
    images: [{ id: 1, width: 40, height: 60 }, { id: 2 }],
    annotations: [
      // Beyond the image on the left and the bottom: kept as annotated, not clipped.
      { image_id: 1, bbox: [-5, 10, 50, 80], keypoints, iscrowd: 0 },
      { image_id: 1, bbox: [3, 4, 0, 10], keypoints }, // no width
      { image_id: 1, bbox: [3, 4, 5, 6], keypoints: [0, 0, 0] }, // no keypoints
      { image_id: 1, bbox: [3, 4, 5, 6], keypoints, iscrowd: 1 },
      { image_id: 2, bbox: [1.5, 2.25, 3, 4], keypoints },
      { image_id: 3, bbox: [1, 1, 1, 1], keypoints }, // not in images
    ],
  });
  assertEquals(boxes.get(1), [{ x1: -5, y1: 10, x2: 45, y2: 90, score: 1 }]);
  assertEquals(boxes.get(2), [{ x1: 1.5, y1: 2.25, x2: 4.5, y2: 6.25, score: 1 }]);
  assertEquals(boxes.has(3), false);
});

Deno.test({
  name: "a manifest whose input size disagrees with its model fails once, at load",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const model = join(dir, "pose.onnx");
      await Deno.copyFile(requireShared("models", "pp_tinypose_128x96.onnx"), model);
      const manifest = JSON.parse(
        await Deno.readTextFile(new URL("../models/pp_tinypose_256x192.json", import.meta.url)),
      );
      await Deno.writeTextFile(
        join(dir, "pose.json"),
        JSON.stringify({ ...manifest, name: "pose", file: "pose.onnx", sha256: undefined }),
      );
      await assertRejects(
        () => PosePipeline.create({ pose: join(dir, "pose.json"), detector: false }),
        Error,
        "the manifest says the input is 192x256 but the model takes 96x128",
      );
    });
  },
});

/**
 * Runs `body` with a keypoint-only pipeline (WASM, one thread) on a regression model with a
 * symbolic batch that puts every crop's 17 keypoints at (0.5, 0.5), closing it after.
 */
async function withConstantPosePipeline(
  options: { maxPeople: number; oksNmsThreshold?: number },
  body: (pipeline: PosePipeline) => Promise<void>,
): Promise<void> {
  const g = new OnnxGraph();
  const crop = g.input("input", ["batch", 3, 64, 48]);
  const zero = g.reshape(g.mul(g.reduceSum(crop, [1, 2, 3], true), g.scalar(0)), [-1, 1, 1]);
  g.output(g.add(g.constant(new Array(34).fill(0.5), [1, 17, 2]), zero), "keypoints");
  await withTempDir(async (dir) => {
    const model = join(dir, "regression.onnx");
    await Deno.writeFile(model, g.toBytes());
    const pipeline = await PosePipeline.create({
      pose: model,
      detector: false,
      backend: "wasm",
      threads: 1,
      ...options,
    });
    try {
      await body(pipeline);
    } finally {
      await pipeline.close();
    }
  });
}

Deno.test("crops run in chunks of 16 boxes: 300 boxes with flip never make a batch above 32", async () => {
  await withConstantPosePipeline({ maxPeople: 1000, oksNmsThreshold: 1 }, async (pipeline) => {
    assert(pipeline.pose.dynamicBatch, "the symbolic batch is seen");
    const session = pipeline.pose.session;
    const batches: number[] = [];
    const run = session.run.bind(session);
    session.run = (inputs) => {
      batches.push(inputs.input.dims[0]);
      return run(inputs);
    };
    const image = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 3) };
    const boxes = Array.from({ length: 300 }, (_, i) => ({
      x1: i % 150,
      y1: i % 120,
      x2: (i % 150) + 40,
      y2: (i % 120) + 60,
      score: 1,
    }));
    const poses = await pipeline.run(image, boxes);
    assertEquals(poses.length, 300);
    assertEquals(Math.max(...batches), 32, `batches ${batches.join(",")}`);
    assertEquals(batches.reduce((a, b) => a + b, 0), 600, "every crop and its mirror ran");
  });
});

Deno.test("given boxes scoring Infinity or NaN are skipped and counted, before ranking: no place taken, no score 0", async () => {
  await withConstantPosePipeline({ maxPeople: 1 }, async (pipeline) => {
    const image = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 3) };
    const box = (x1: number, score: number) => ({ x1, y1: 20, x2: x1 + 40, y2: 80, score });
    const poses = await pipeline.run(image, [box(10, Infinity), box(60, NaN), box(110, 0.9)]);
    assertEquals(poses.map((p) => p.box), [box(110, 0.9)], "the real box keeps its place");
    assert(poses.every((p) => Number.isFinite(p.score)), "a finite score");
    assertEquals(pipeline.warnings.skippedBoxes, 2);
  });
});
