/**
 * `PosePool`: the pose pipeline in N Deno Workers, on real models and COCO images from
 * ../shared (WASM backend).
 *
 * The reference is the pipeline itself, run in this process with one thread: a pool must give
 * exactly its poses (bit for bit: same code, same single-threaded kernels, keypoints copied
 * across threads without conversion), in input order, whatever the scheduling.
 */

import { poseBits } from "./support/poses.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { join } from "node:path";
import { decodeImage } from "../lib/deno/image_file.ts";
import { type PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import type { Box, Pose } from "../lib/types.ts";
import { type PoolItem, type PoolResult, PosePool } from "../lib/deno/workers/pool.ts";

const ignore = ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017");

function pipelineOptions(): Omit<PipelineOptions, "threads"> {
  return { backend: "wasm", modelDirs: [requireShared("models")] };
}

/** The first `count` shared COCO images, sorted by name. */
function sharedImages(count: number): string[] {
  const dir = requireShared("coco", "val2017");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".jpg"));
  return names.sort().slice(0, count).map((n) => join(dir, n));
}

/** Poses from the pipeline run in this process, one thread: the reference. */
async function inProcessPoses(items: PoolItem[]): Promise<Pose[][]> {
  const pipeline = await PosePipeline.create({ ...pipelineOptions(), threads: 1 });
  try {
    const out: Pose[][] = [];
    for (const item of items) {
      const bytes = item.bytes ?? await Deno.readFile(item.path);
      out.push(await pipeline.run(await decodeImage(bytes, item.path), item.boxes ?? "detector"));
    }
    return out;
  } finally {
    await pipeline.close();
  }
}

/** Runs `body` with a pool of 2 single-thread WASM workers, closed afterwards. */
async function withTwoWorkers<T>(body: (pool: PosePool) => Promise<T>): Promise<T> {
  const pool = await PosePool.create({
    workers: 2,
    threadsPerWorker: 1,
    pipeline: pipelineOptions(),
  });
  try {
    return await body(pool);
  } finally {
    await pool.close();
  }
}

async function collect(pool: PosePool, items: Iterable<PoolItem>): Promise<PoolResult[]> {
  const results: PoolResult[] = [];
  for await (const result of pool.process(items)) results.push(result);
  return results;
}

Deno.test({
  name: "2 workers × 1 thread give the in-process pipeline's poses bit for bit, in input order",
  ignore,
  async fn() {
    const files = sharedImages(8);
    // A hand-drawn box for one image (the boxes are used, not the detector's), and one image
    // handed over as bytes already read (as from stdin).
    const box: Box = { x1: 40, y1: 30, x2: 300, y2: 420, score: 1 };
    const items: PoolItem[] = files.map((path) => ({ path }));
    items[2] = { path: files[2], boxes: [box] };
    items[5] = { path: files[5], bytes: await Deno.readFile(files[5]) };

    const expected = await inProcessPoses(items);
    assert(expected.some((p) => p.length > 1), "the images must include several people");
    assertEquals(expected[2].length, 1, "one pose for the one given box");

    await withTwoWorkers(async (pool) => {
      const results = await collect(pool, items);
      assertEquals(results.map((r) => r.item), items, "one result per item, in input order");
      for (let i = 0; i < items.length; i++) {
        assertEquals(results[i].error, undefined, `no error for ${items[i].path}`);
        assertEquals(
          poseBits(results[i].poses!),
          poseBits(expected[i]),
          `poses of ${items[i].path}`,
        );
        assert(results[i].decodeMs > 0, "decoding is timed in the worker");
      }
      const stats = pool.stats();
      assertEquals(stats.length, 2);
      assertEquals(stats[0].images + stats[1].images, items.length);
      assert(stats.every((s) => s.images > 0), "both workers took images");
      assert(stats.every((s) => s.peakRss > 0 && s.timings.detect > 0));
    });
  },
});

Deno.test({
  name: "a corrupt or missing image gives an error result for it alone; the others come back",
  ignore,
  async fn() {
    const files = sharedImages(4);
    const dir = await Deno.makeTempDir({ prefix: "posekit_pool_" });
    try {
      const corrupt = join(dir, "corrupt.jpg");
      // A JPEG start-of-image marker followed by noise: sniffed as JPEG, fails to decode.
      await Deno.writeFile(
        corrupt,
        Uint8Array.from({ length: 3000 }, (_, i) => i < 2 ? [0xff, 0xd8][i] : (i * 7919) % 251),
      );
      const missing = join(dir, "missing.jpg");
      const items: PoolItem[] = [
        { path: files[0] },
        { path: files[1] },
        { path: corrupt },
        { path: files[2] },
        { path: missing },
        { path: files[3] },
      ];
      await withTwoWorkers(async (pool) => {
        const results = await collect(pool, items);
        assertEquals(results.map((r) => r.item.path), items.map((i) => i.path));
        assert(results[2].error?.includes(corrupt), `corrupt image error: ${results[2].error}`);
        assertEquals(results[2].poses, undefined);
        assert(results[4].error?.includes(missing), `missing image error: ${results[4].error}`);
        for (const i of [0, 1, 3, 5]) {
          assertEquals(results[i].error, undefined, `no error for ${items[i].path}`);
          assert(Array.isArray(results[i].poses));
        }
        // The workers survive: the pool takes another batch.
        const again = await collect(pool, [{ path: files[0] }]);
        assertEquals(poseBits(again[0].poses!), poseBits(results[0].poses!));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the input is pulled lazily, never more than workers × 2 in flight plus 8 × workers buffered",
  ignore,
  async fn() {
    const files = sharedImages(30);
    let pulled = 0;
    function* lazy(): Generator<PoolItem> {
      for (const path of files) {
        pulled++;
        yield { path };
      }
    }
    await withTwoWorkers(async (pool) => {
      let yielded = 0;
      for await (const result of pool.process(lazy())) {
        assertEquals(result.item.path, files[yielded]);
        yielded++;
        assert(pulled - yielded <= 2 * 2 + 8 * 2, `${pulled} pulled, ${yielded} yielded`);
      }
      assertEquals(yielded, files.length);
    });
  },
});

Deno.test({
  name: "a slow image holds up no other worker: the other goes on past it and takes back " +
    "the image waiting behind it",
  ignore,
  async fn() {
    const [slowFile, fastFile] = sharedImages(2);
    // 48 boxes (96 crops with flip test) against one or two: the first image keeps worker 0
    // busy long after worker 1 has run all the others.
    const boxes = (count: number): Box[] =>
      Array.from({ length: count }, (_, i) => ({
        x1: 10 + i,
        y1: 20 + i,
        x2: 200 + 2 * i,
        y2: 380 + i,
        score: 1,
      }));
    const items: PoolItem[] = [
      { path: slowFile, boxes: boxes(48) },
      ...Array.from({ length: 6 }, (_, i) => ({ path: fastFile, boxes: boxes(1 + (i % 2)) })),
    ];
    const expected = await inProcessPoses(items);
    await withTwoWorkers(async (pool) => {
      const results = await collect(pool, items);
      assertEquals(results.map((r) => r.item), items, "input order");
      results.forEach((r, i) => assertEquals(poseBits(r.poses!), poseBits(expected[i])));
      // Item 2 was sent to worker 0, behind the slow image; worker 1 takes it back at the
      // end. Its finished results wait for item 0 without stopping it (the reorder window).
      assertEquals(pool.stats().map((s) => s.images), [1, 6]);
    });
  },
});

Deno.test({
  name: "one crowded image keeps both workers busy: the idle one takes half of its people, " +
    "and the poses are one pipeline's bit for bit",
  ignore,
  async fn() {
    const [file] = sharedImages(1);
    const boxes: Box[] = Array.from({ length: 16 }, (_, i) => ({
      x1: 10 + 30 * i,
      y1: 20 + 5 * (i % 4),
      x2: 150 + 30 * i,
      y2: 400 - 6 * (i % 3),
      score: 0.95 - 0.01 * i,
    }));
    const items: PoolItem[] = [{ path: file, boxes }];
    const [expected] = await inProcessPoses(items);
    await withTwoWorkers(async (pool) => {
      const [result] = await collect(pool, items);
      assertEquals(result.error, undefined);
      assertEquals(poseBits(result.poses!), poseBits(expected));
      const stats = pool.stats();
      assertEquals(stats.map((s) => s.images).sort(), [0, 1], "one worker owns the image");
      const helper = stats.find((s) => s.images === 0)!;
      const owner = stats.find((s) => s.images === 1)!;
      assert(helper.timings.model > 0, "the other worker ran keypoints for some of its people");
      // Asked before the owner's first person, the helper takes half of them (then half of
      // what is left whenever it is idle again): a share near the owner's, not a token one.
      assert(helper.timings.model > 0.3 * owner.timings.model, JSON.stringify(stats));
      // The image's own figures include the people run elsewhere.
      const both = owner.timings.keypoints + helper.timings.keypoints;
      assert(Math.abs(result.timings.keypoints - both) < 1e-6 * both, "keypoint time summed");
    });
  },
});

/**
 * Run in a child process: a worker left running keeps a Deno process alive (the test runner's
 * sanitizers do not see workers), so "the child exits by itself" is what proves none is left.
 */
Deno.test({
  name: "a model that cannot be found is one clear load error, and no worker is left running",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "posekit_pool_" });
    try {
      const badModel = join(dir, "no_such_model.onnx");
      const script = join(dir, "load_error.ts");
      const poolUrl = new URL("../lib/deno/workers/pool.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { PosePool } from ${JSON.stringify(poolUrl)};
try {
  await PosePool.create({
    workers: 2,
    threadsPerWorker: 1,
    pipeline: { backend: "wasm", pose: ${JSON.stringify(badModel)} },
  });
  console.log("created");
} catch (error) {
  console.log("rejected: " + (error as Error).message);
}
`,
      );
      const config = new URL("../deno.json", import.meta.url).pathname;
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--config", config, script],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      assertEquals(child.signal, null, "the child exits by itself (no worker keeps it alive)");
      assertEquals(child.code, 0, new TextDecoder().decode(child.stderr));
      assert(out.startsWith("rejected: pose worker 0 could not load the pipeline"), out);
      assert(out.includes(badModel), out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
