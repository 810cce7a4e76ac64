/**
 * `KeypointHandOff`: a pipeline gives part of one image's people to another (in a `PosePool`,
 * another worker) and puts their poses back in place. The reference is the same pipeline run
 * without a hand-off: the poses must be equal bit for bit, OKS-NMS included, whoever ran
 * which person, and whether the other side answered, failed or answered wrongly.
 */

import { join } from "node:path";
import { poseBits } from "./support/poses.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { withTempDir } from "./support/cli.ts";
import { buildSimccModel, createImage, drawSyntheticPerson } from "./support/synthetic_models.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import type { KeypointHandOff } from "../lib/pipeline.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { Runtime } from "../lib/deno/runtime.ts";
import type { Box, Pose } from "../lib/types.ts";

const ignore = ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017");

/**
 * 14 boxes over a 640×480 picture, best score first: a row of distinct people and, at the
 * end, near-copies of the first two (the same person boxed twice), which OKS-NMS removes.
 */
function crowd(): Box[] {
  const boxes: Box[] = Array.from({ length: 12 }, (_, i) => ({
    x1: 20 + 50 * i,
    y1: 40 + 10 * (i % 3),
    x2: 120 + 50 * i,
    y2: 400 - 8 * (i % 4),
    score: 0.99 - 0.01 * i,
  }));
  boxes.push({ ...boxes[0], x1: boxes[0].x1 + 1, score: 0.5 });
  boxes.push({ ...boxes[1], y2: boxes[1].y2 - 1, score: 0.49 });
  return boxes;
}

/** A hand-off that always wants people, and records what it was given. */
function recordingHandOff(
  run: (boxes: Box[]) => Promise<Pose[]>,
): KeypointHandOff & { given: Box[][] } {
  const given: Box[][] = [];
  return {
    given,
    wanted: () => true,
    give: (boxes) => {
      given.push(boxes);
      return run(boxes);
    },
  };
}

Deno.test({
  name: "people handed to another pipeline come back in place: the poses of one pipeline, " +
    "bit for bit, with OKS-NMS and without (where the order shows)",
  ignore,
  async fn() {
    const image = await readImageFile(
      join(requireShared("coco", "val2017"), "000000000785.jpg"),
    );
    // One runtime for all: it queues their runs (onnxruntime-web runs one at a time).
    const runtime = await Runtime.start({ backend: "wasm", threads: 1 });
    for (const oksNmsThreshold of [0.9, 1]) {
      const options = { runtime, modelDirs: [requireShared("models")], oksNmsThreshold };
      const owner = await PosePipeline.create({ ...options, detector: false });
      const other = await PosePipeline.create({ ...options, detector: false });
      try {
        const boxes = crowd();
        const expected = await owner.run(image, boxes);
        if (oksNmsThreshold < 1) {
          assert(expected.length < boxes.length, "OKS-NMS removes the boxed-twice people");
        } else assertEquals(expected.map((p) => p.box), boxes, "without NMS, box order");

        const handOff = recordingHandOff((given) => other.keypointsFor(image, given));
        assertEquals(poseBits(await owner.run(image, boxes, handOff)), poseBits(expected));
        // Asked before every run: half of the 14 not yet started (7), then half of the 6
        // left after the first run (3), then 1 of the 2 left after the next.
        assertEquals(handOff.given.map((g) => g.length), [7, 3, 1]);
        const all = [...handOff.given.flat()].sort((a, b) => b.score - a.score);
        assertEquals(all, boxes.slice(3), "each person given once, the later ones");
        assert(other.timings.model > 0, "the other pipeline ran the models for them");
      } finally {
        await owner.close();
        await other.close();
      }
    }
  },
});

Deno.test({
  name: "when the other side fails or answers for the wrong people, the owner runs them itself",
  ignore,
  async fn() {
    const image = await readImageFile(
      join(requireShared("coco", "val2017"), "000000000785.jpg"),
    );
    const pipeline = await PosePipeline.create({
      backend: "wasm",
      threads: 1,
      modelDirs: [requireShared("models")],
      detector: false,
    });
    try {
      const boxes = crowd();
      const expected = poseBits(await pipeline.run(image, boxes));
      const failing = recordingHandOff(() => Promise.reject(new Error("worker gone")));
      assertEquals(poseBits(await pipeline.run(image, boxes, failing)), expected);
      assert(failing.given.length > 0);
      const short = recordingHandOff(async (given) =>
        (await pipeline.keypointsFor(image, given)).slice(1)
      );
      assertEquals(poseBits(await pipeline.run(image, boxes, short)), expected);
    } finally {
      await pipeline.close();
    }
  },
});

Deno.test("a model that takes a batch hands off whole runs of cropChunk people", async () => {
  await withTempDir(async (dir) => {
    const model = buildSimccModel();
    await Deno.writeFile(join(dir, "simcc.onnx"), model.bytes);
    const manifest = join(dir, "simcc.json");
    await Deno.writeTextFile(manifest, JSON.stringify({ ...model.manifest, file: "simcc.onnx" }));
    const image = createImage(640, 300);
    const people: Box[] = [];
    for (let i = 0; i < 9; i++) {
      const body: [number, number, number, number] = [10 + 68 * i, 40, 56, 220];
      // 17 markers on a 4-wide grid inside the body.
      const keypoints = Array.from(
        { length: 17 },
        (_, j) => [body[0] + 8 + 12 * (j % 4), body[1] + 12 + 40 * Math.floor(j / 4)],
      ) as [number, number][];
      drawSyntheticPerson(image, { body, keypoints, personIndex: 0, markerSize: 3 });
      people.push({
        x1: body[0],
        y1: body[1],
        x2: body[0] + body[2],
        y2: body[1] + body[3],
        score: 0.9 - 0.01 * i,
      });
    }
    // One thread: see tests/support/synthetic_models.ts.
    const runtime = await Runtime.start({ backend: "wasm", threads: 1 });
    const options = { runtime, pose: manifest, detector: false as const, cropChunk: 2 };
    const owner = await PosePipeline.create(options);
    const other = await PosePipeline.create(options);
    try {
      const expected = await owner.run(image, people);
      assert(expected.some((p) => p.keypoints[2] > 0.5), "the model finds the markers");
      const handOff = recordingHandOff((given) => other.keypointsFor(image, given));
      assertEquals(poseBits(await owner.run(image, people, handOff)), poseBits(expected));
      // 9 people are 5 runs of 2, 2, 2, 2, 1: the later 2 runs (3 people) go, then 1 of
      // the 2 runs left after the first.
      assertEquals(handOff.given.map((g) => g.length), [3, 2]);
    } finally {
      await owner.close();
      await other.close();
    }
  });
});
