/**
 * `PosePool`: the pose pipeline in N Deno Workers, on real models and COCO images from
 * ../shared (WASM backend).
 *
 * The reference is the pipeline itself, run in this process with one thread: a pool must give
 * exactly its poses (bit for bit: same code, same single-threaded kernels, keypoints copied
 * across threads without conversion), in input order, whatever the scheduling.
 */

import { poseBits } from "./support/poses.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  DIE_AFTER_HAND_OFF,
  DIE_ON_JOB,
  DIE_ON_PART,
  readDeaths,
} from "./support/worker_deaths.ts";
import { basename, join } from "node:path";
import { allocatedCores } from "../lib/deno/cpu_allocation.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { type PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import type { Box, Pose } from "../lib/types.ts";
import {
  type PoolItem,
  type PoolOptions,
  type PoolResult,
  PosePool,
} from "../lib/deno/workers/pool.ts";

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
async function withTwoWorkers<T>(
  body: (pool: PosePool) => Promise<T>,
  options: Partial<PoolOptions> = {},
): Promise<T> {
  const pool = await PosePool.create({
    workers: 2,
    threadsPerWorker: 1,
    pipeline: pipelineOptions(),
    ...options,
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

/**
 * Workers that stop on purpose (an uncaught error, as a bug or a WebAssembly abort would) on
 * images marked by name: the pool's `workerModule` test hook with
 * tests/support/dying_pose_worker.ts. A marked image is given as bytes under a name of its own
 * in a temporary folder, where the dying worker records what it held (`readDeaths`). Deno
 * prints each such worker's uncaught error on stderr: expected.
 */
const DYING: Partial<PoolOptions> = {
  workerModule: new URL("./support/dying_pose_worker.ts", import.meta.url),
};

/** `file`'s bytes under a name starting with `marker`, in `dir`. */
async function markedItem(dir: string, marker: string, file: string, boxes?: Box[]) {
  const path = join(dir, `${marker}-${basename(file)}`);
  return { path, bytes: await Deno.readFile(file), ...(boxes ? { boxes } : {}) };
}

/** `count` boxes over the people of the first shared image: a crowded image to share. */
function crowd(count: number): Box[] {
  return Array.from({ length: count }, (_, i) => ({
    x1: 10 + 30 * i,
    y1: 20 + 5 * (i % 4),
    x2: 150 + 30 * i,
    y2: 400 - 6 * (i % 3),
    score: 0.95 - 0.01 * i,
  }));
}

/** Asserts that `result` is the error result of an image whose worker stopped. */
function assertStopped(result: PoolResult, worker: string, reason: string): void {
  const { error, item } = result;
  assert(error !== undefined, `${item.path} has an error result`);
  assert(error.startsWith(`${item.path}: `), `names the image: ${error}`);
  assert(error.includes(`${worker} stopped`), `says that its worker stopped: ${error}`);
  assert(error.includes(reason), `and why: ${error}`);
  assertEquals(result.poses, undefined);
}

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "posekit_pool_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "a worker that stops mid-run costs only the images it held: an error result each, " +
    "naming the image and the stop; the others get a plain run's poses, and the pool goes on",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const files = sharedImages(10);
      const plainItems: PoolItem[] = files.map((path) => ({ path }));
      // The reference: the same images in a run where no worker stops.
      const plain = await withTwoWorkers((pool) => collect(pool, plainItems));
      assert(plain.every((r) => r.error === undefined && r.poses), "the plain run has poses");

      const marked = 5;
      const items = [...plainItems];
      items[marked] = await markedItem(dir, DIE_ON_JOB, files[marked]);
      await withTwoWorkers(async (pool) => {
        const results = await collect(pool, items);
        assertEquals(results.map((r) => r.item), items, "one result per item, in input order");
        const deaths = readDeaths(dir);
        assertEquals(deaths.length, 1, "one worker stopped");
        const [death] = deaths;
        assert(death.held.includes(items[marked].path), JSON.stringify(death));
        const reason = `${DIE_ON_JOB}: stopping on purpose at ${items[marked].path}`;
        const failed = results.filter((r) => r.error !== undefined);
        const failedPaths = failed.map((r) => r.item.path);
        // Every image it held fails, and no more than a worker holds (one running, one
        // waiting). The pool counts one still on its way to the worker as held, and one the
        // worker had answered as it stopped (the answer and the stop come by two channels, in
        // either order): such an image fails too, never one the pool had not sent it.
        for (const path of death.held) assert(failedPaths.includes(path), `${path} failed`);
        assert(failed.length <= 2, `at most the 2 images a worker holds: ${failedPaths}`);
        for (const result of failed) assertStopped(result, death.worker, reason);
        results.forEach((result, i) => {
          if (result.error !== undefined) return;
          assertEquals(poseBits(result.poses!), poseBits(plain[i].poses!), `poses of ${files[i]}`);
        });
        // Images lost with the worker are not counted as anybody's.
        const stats = pool.stats();
        assertEquals(stats.length, 2, "two workers still");
        assertEquals(stats[0].images + stats[1].images, items.length - failed.length);

        // The pool goes on: the same images again, now all as in the plain run.
        const again = await collect(pool, plainItems);
        again.forEach((result, i) => {
          assertEquals(result.error, undefined, `no error for ${files[i]}`);
          assertEquals(poseBits(result.poses!), poseBits(plain[i].poses!), `poses of ${files[i]}`);
        });
      }, DYING);
    }),
});

Deno.test({
  name: "people handed off to a worker that stops are run by their image's own worker: " +
    "the image's poses are complete, a plain run's bit for bit",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const [file] = sharedImages(1);
      const boxes = crowd(16);
      const [plain] = await withTwoWorkers((pool) => collect(pool, [{ path: file, boxes }]));
      assert(plain.poses && plain.poses.length > 1, "several poses in the plain run");

      const item = await markedItem(dir, DIE_ON_PART, file, boxes);
      await withTwoWorkers(async (pool) => {
        const [result] = await collect(pool, [item]);
        const deaths = readDeaths(dir);
        // The idle worker asked for people and stopped on receiving them; a replacement
        // loaded in time may ask, and stop, again.
        assert(deaths.length >= 1, "the worker sent the people stopped");
        for (const death of deaths) {
          assertEquals(death.marker, DIE_ON_PART);
          assert(death.held.includes(item.path), JSON.stringify(death));
        }
        assertEquals(result.error, undefined);
        assertEquals(poseBits(result.poses!), poseBits(plain.poses!));
        const stats = pool.stats();
        const helper = stats.find((s) => s.images === 0);
        assert(helper, JSON.stringify(stats));
        assertEquals(helper.timings.keypoints, 0, "no worker but the image's ran its people");

        const [again] = await collect(pool, [{ path: file, boxes }]);
        assertEquals(poseBits(again.poses!), poseBits(plain.poses!), "the pool goes on");
      }, DYING);
    }),
});

Deno.test({
  name: "an image whose worker stops after handing some of its people off gets an error " +
    "result, never a partial one; the next image and the next run are a plain run's",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const [file, other] = sharedImages(2);
      const boxes = crowd(16);
      const plainItems: PoolItem[] = [
        { path: file, boxes },
        { path: other, boxes: crowd(2) },
      ];
      const plain = await withTwoWorkers((pool) => collect(pool, plainItems));
      assert(plain.every((r) => r.poses), "the plain run has poses");

      const items = [await markedItem(dir, DIE_AFTER_HAND_OFF, file, boxes), plainItems[1]];
      await withTwoWorkers(async (pool) => {
        const results = await collect(pool, items);
        const deaths = readDeaths(dir);
        assertEquals(deaths.map((d) => d.marker), [DIE_AFTER_HAND_OFF], "its worker stopped");
        assertStopped(
          results[0],
          deaths[0].worker,
          `${DIE_AFTER_HAND_OFF}: stopping on purpose at ${items[0].path}`,
        );
        assertEquals(results[1].error, undefined);
        assertEquals(poseBits(results[1].poses!), poseBits(plain[1].poses!));

        // The people it gave away came back to nobody; nothing of them is left in the pool.
        const again = await collect(pool, plainItems);
        again.forEach((result, i) => {
          assertEquals(result.error, undefined);
          assertEquals(poseBits(result.poses!), poseBits(plain[i].poses!));
        });
      }, DYING);
    }),
});

Deno.test({
  name: "images that stop every worker: as many replacements as workers, then the pool " +
    "fails, saying so, after yielding the images' error results; it still closes cleanly",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const [file] = sharedImages(1);
      const bytes = await Deno.readFile(file);
      const items: PoolItem[] = Array.from(
        { length: 6 },
        (_, i) => ({ path: join(dir, `${DIE_ON_JOB}-${i}.jpg`), bytes }),
      );
      // One image per worker at a time: 2 workers and their 2 replacements take one each.
      await withTwoWorkers(async (pool) => {
        const results: PoolResult[] = [];
        const error = await assertRejects(async () => {
          for await (const result of pool.process(items)) results.push(result);
        });
        const deaths = readDeaths(dir);
        assertEquals(deaths.length, 4, "2 workers, then 2 replacements, stopped");
        assertEquals(results.map((r) => r.item), items.slice(0, 4), "the 4 images sent");
        results.forEach((result, i) => {
          const death = deaths.find((d) => d.image === result.item.path);
          assert(death, `${result.item.path} stopped a worker`);
          assertStopped(result, death.worker, `stopping on purpose at ${items[i].path}`);
        });
        assert(error.message.includes("the pose pool has no worker left"), error.message);
        assert(error.message.includes("4 stopped"), error.message);
        assert(error.message.includes("2 replacements started (at most 2)"), error.message);
        assert(error.message.includes("stopping on purpose"), error.message);
        // Failed for good: a later call says why at once.
        await assertRejects(() => collect(pool, items), Error, "no worker left");
        assertEquals(pool.stats().length, 2);
      }, { ...DYING, queueDepth: 1 });
    }),
});

Deno.test({
  name: "threads beyond the cores are cut in each worker, and the pool reports the count in force",
  ignore,
  async fn() {
    const cores = allocatedCores().cores;
    const pool = await PosePool.create({
      workers: 1,
      threadsPerWorker: cores + 3,
      pipeline: pipelineOptions(),
    });
    try {
      assertEquals(pool.threadsPerWorker, cores);
      assertEquals(pool.loaded.runtime.threads, cores);
      assert(
        pool.loaded.notes.includes(
          `${cores + 3} threads asked for, ${cores} CPU core${cores === 1 ? "" : "s"} here: ` +
            `using ${cores}`,
        ),
        pool.loaded.notes.join("; "),
      );
    } finally {
      await pool.close();
    }
  },
});
