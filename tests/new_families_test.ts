/**
 * The new families through the real pipeline on small constructed ONNX models: an RT-DETR
 * style export with its int64 size input, a YOLO-pose export, and a coordinate-regression
 * keypoint model. Each is recognized from its bare graph, decoded to image pixels worked out
 * by hand, and a malformed output gives an error naming the model and the output.
 */

import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { OnnxGraph } from "./support/onnx_builder.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import type { RgbImage } from "../lib/types.ts";

function grayImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(128) };
}

/** The image input, consumed (× 0) so that the graph keeps it. */
function imageTerm(g: OnnxGraph, name: string, size: number): string {
  const image = g.input(name, [1, 3, size, size]);
  return g.mul(g.reduceSum(image, [1, 2, 3], false), g.scalar(0));
}

/**
 * RT-DETR-style graph: three queries with labels [0, 2, 0], scores [0.9, 0.95, 0.2] and
 * normalized corner boxes scaled by orig_target_sizes (w, h), as the exported post-processor
 * does. `boxDims` lets a test make the boxes output malformed.
 */
function rtdetrModel(boxDims: number[] = [1, 3, 4]): Uint8Array {
  const g = new OnnxGraph();
  const zero = imageTerm(g, "images", 32);
  const sizes = g.cast(g.input("orig_target_sizes", [1, 2], "int64"), "float");
  const scale = g.concat([sizes, sizes], 1); // [1, 4] = w, h, w, h
  const normalized = g.constant(
    [0.1, 0.2, 0.5, 0.8, 0, 0, 1, 1, 0.6, 0.1, 0.9, 0.9],
    [1, 3, 4],
  );
  const boxes = g.reshape(g.add(g.mul(normalized, g.reshape(scale, [1, 1, 4])), zero), boxDims);
  g.output(boxes, "boxes");
  g.output(g.add(g.constant([0.9, 0.95, 0.2], [1, 3]), zero), "scores");
  g.output(g.int64([0, 2, 0], [1, 3]), "labels", [1, 3], "int64");
  return g.toBytes();
}

/**
 * YOLO-pose graph on a 64×64 input, two anchors: anchor 0 (score 0.9) a box centred at
 * (32, 32) of 20×40 with every keypoint at (32, 40), visibility 0.8; anchor 1 (score 0.6)
 * nearly the same box, which class-agnostic NMS removes.
 */
function yoloPoseModel(channels = 56): Uint8Array {
  const g = new OnnxGraph();
  const zero = imageTerm(g, "images", 64);
  const values: number[] = [];
  const anchors = [
    [32, 32, 20, 40, 0.9],
    [33, 32, 20, 40, 0.6],
  ];
  // Channel-major [1, C, 2]: channel c of anchor a at c * 2 + a.
  for (let c = 0; c < channels; c++) {
    for (const anchor of anchors) {
      if (c < 5) values.push(anchor[c]);
      else values.push([32, 40, 0.8][(c - 5) % 3]);
    }
  }
  g.output(g.add(g.constant(values, [1, channels, 2]), zero), "output0");
  return g.toBytes();
}

/** Regression graph: 17 keypoints all at normalized (0.25, 0.5), scores 0.7. */
function regressionModel(): Uint8Array {
  const g = new OnnxGraph();
  const crop = g.input("input", [1, 3, 64, 48]);
  const zero = g.mul(g.reduceSum(crop, [1, 2, 3], false), g.scalar(0));
  const coords = Array.from({ length: 17 }, () => [0.25, 0.5]).flat();
  g.output(g.add(g.constant(coords, [1, 17, 2]), zero), "keypoints");
  g.output(g.add(g.constant(new Array(17).fill(0.7), [1, 17]), zero), "scores");
  return g.toBytes();
}

async function writeModel(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

const options = { backend: "wasm" as const, threads: 1 };

Deno.test("rtdetr: the int64 size input scales the boxes; person label only, best first", async () => {
  await withTempDir(async (dir) => {
    const pipeline = await PosePipeline.create({
      ...options,
      detector: await writeModel(dir, "rtdetr.onnx", rtdetrModel()),
      pose: await writeModel(dir, "regression.onnx", regressionModel()),
    });
    try {
      assertEquals(pipeline.detector!.manifest.family, "rtdetr");
      // A 200 × 100 image: query 0 is (0.1, 0.2, 0.5, 0.8) × (200, 100, 200, 100); query 1 is
      // label 2 (not a person); query 2 scores 0.2, under the 0.3 threshold.
      const boxes = await pipeline.detect(grayImage(200, 100));
      assertEquals(boxes.length, 1);
      assertAlmostEquals(boxes[0].x1, 20, 1e-4);
      assertAlmostEquals(boxes[0].y1, 20, 1e-4);
      assertAlmostEquals(boxes[0].x2, 100, 1e-4);
      assertAlmostEquals(boxes[0].y2, 80, 1e-4);
      assertAlmostEquals(boxes[0].score, 0.9, 1e-6);
    } finally {
      await pipeline.close();
    }
  });
});

Deno.test("rtdetr: a malformed boxes output names the model and the output", async () => {
  await withTempDir(async (dir) => {
    const pipeline = await PosePipeline.create({
      ...options,
      detector: await writeModel(dir, "bad_rtdetr.onnx", rtdetrModel([1, 4, 3])),
      pose: await writeModel(dir, "regression.onnx", regressionModel()),
    });
    try {
      await assertRejects(() => pipeline.detect(grayImage(200, 100)), Error, "bad_rtdetr.onnx");
      await assertRejects(() => pipeline.detect(grayImage(200, 100)), Error, '"boxes"');
    } finally {
      await pipeline.close();
    }
  });
});

Deno.test("yolo-pose: centred letterbox undone, NMS keeps one person, export's own score", async () => {
  await withTempDir(async (dir) => {
    const pipeline = await PosePipeline.create({
      ...options,
      pose: await writeModel(dir, "yolo_pose.onnx", yoloPoseModel()),
    });
    try {
      assertEquals(pipeline.pose.manifest.family, "yolo-pose");
      assertEquals(pipeline.needsBoxes, false);
      // 128 × 64 into 64 × 64: scale 0.5, content 64 × 32, 16 rows of padding above.
      // Input (32, 40) → image ((32 − 0) / 0.5, (40 − 16) / 0.5) = (64, 48).
      const poses = await pipeline.run(grayImage(128, 64));
      assertEquals(poses.length, 1);
      assertAlmostEquals(poses[0].score, 0.9, 1e-6);
      assertAlmostEquals(poses[0].keypoints[0], 64, 1e-4);
      assertAlmostEquals(poses[0].keypoints[1], 48, 1e-4);
      assertAlmostEquals(poses[0].keypoints[2], 0.8, 1e-6);
      // Box (22, 12)–(42, 52) in input pixels → (44, −8)–(84, 72), clipped to the image.
      assertAlmostEquals(poses[0].box.x1, 44, 1e-4);
      assertAlmostEquals(poses[0].box.y1, 0, 1e-4);
      assertAlmostEquals(poses[0].box.x2, 84, 1e-4);
      assertAlmostEquals(poses[0].box.y2, 64, 1e-4);
    } finally {
      await pipeline.close();
    }
  });
});

Deno.test("yolo-pose: an output with the wrong channel count names the model and output", async () => {
  await withTempDir(async (dir) => {
    // 53 channels: not 5 + 3·17; recognition passes it to YOLOX, so give a manifest.
    const model = await writeModel(dir, "yolo_bad.onnx", yoloPoseModel(53));
    await Deno.writeTextFile(
      join(dir, "yolo_bad.json"),
      JSON.stringify({
        name: "yolo_bad",
        task: "end2end",
        family: "yolo-pose",
        file: "yolo_bad.onnx",
        input: {
          name: "images",
          width: 64,
          height: 64,
          resize: "letterbox-centred",
          colorOrder: "rgb",
          mean: [0, 0, 0],
          std: [255, 255, 255],
        },
        outputs: { output: "output0" },
      }),
    );
    const pipeline = await PosePipeline.create({ ...options, pose: model });
    try {
      const error = await assertRejects(() => pipeline.run(grayImage(64, 64)), Error);
      assert(error.message.includes("yolo_bad.onnx"), error.message);
      assert(error.message.includes('"output0"'), error.message);
      assert(error.message.includes("[1, 56, N]"), error.message);
    } finally {
      await pipeline.close();
    }
  });
});

Deno.test("regression: normalized crop coordinates back to the image; flip averages", async () => {
  await withTempDir(async (dir) => {
    const pose = await writeModel(dir, "regression.onnx", regressionModel());
    // Box 48 × 64 at (100, 50): aspect 48:64 already, ×1.25 → region 60 × 80 centred at
    // (124, 82); the crop's scale is 48 / 60 = 0.8, so crop (x, y) → image
    // (124 + (x − 24) / 0.8, 82 + (y − 32) / 0.8).
    const box = { x1: 100, y1: 50, x2: 148, y2: 114, score: 1 };
    for (const flip of [false, true]) {
      const pipeline = await PosePipeline.create({ ...options, pose, detector: false, flip });
      try {
        assertEquals(pipeline.pose.manifest.family, "regression");
        const [person] = await pipeline.run(grayImage(300, 200), [box]);
        // Crop x = 0.25 · 48 = 12; the mirrored crop gives 12 too, mirrored back to
        // 48 − 1 − 12 = 35, so the flip test averages to 23.5. Crop y = 0.5 · 64 = 32.
        const cropX = flip ? 23.5 : 12;
        assertAlmostEquals(person.keypoints[0], 124 + (cropX - 24) / 0.8, 1e-3);
        assertAlmostEquals(person.keypoints[1], 82, 1e-3);
        assertAlmostEquals(person.keypoints[2], 0.7, 1e-6);
      } finally {
        await pipeline.close();
      }
    }
  });
});
