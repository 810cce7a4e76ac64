/**
 * Shards: `--shard I/N`, the job-array variables of Kubernetes Indexed Jobs and SLURM arrays,
 * and the split itself (sorted by path, round robin: disjoint, covering, balanced).
 */

import {
  parseShard,
  resolveShard,
  selectShard,
  ShardError,
  shardFromEnvironment,
} from "../lib/output/shard.ts";
import { assert, assertEquals, assertThrows } from "./support/assert.ts";

Deno.test("--shard I/N is 0-based: the shards of a 2-way split are 0/2 and 1/2", () => {
  assertEquals(parseShard("0/2"), { index: 0, count: 2 });
  assertEquals(parseShard("1/2"), { index: 1, count: 2 });
  assertEquals(parseShard("0/1"), { index: 0, count: 1 });
  assertEquals(parseShard(" 7 / 16 "), { index: 7, count: 16 });
});

Deno.test("a bad --shard says what is wrong", () => {
  assertThrows(() => parseShard("2/2"), ShardError, "numbered from 0");
  assertThrows(() => parseShard("2/2"), ShardError, "0/2 … 1/2");
  assertThrows(() => parseShard("0/0"), ShardError, "N must be at least 1");
  for (const text of ["1", "a/b", "-1/2", "1/2/3", "1.5/3", ""]) {
    assertThrows(() => parseShard(text), ShardError, "expected I/N");
  }
});

Deno.test("outside a job array there is no shard", () => {
  assertEquals(shardFromEnvironment({}), undefined);
  assertEquals(shardFromEnvironment({ JOB_COMPLETION_INDEX: "" }), undefined);
});

Deno.test("Kubernetes Indexed Job: the index from JOB_COMPLETION_INDEX, the count from --shards", () => {
  assertEquals(shardFromEnvironment({ JOB_COMPLETION_INDEX: "3" }, 4), { index: 3, count: 4 });
  assertThrows(
    () => shardFromEnvironment({ JOB_COMPLETION_INDEX: "3" }),
    ShardError,
    "pass --shards N",
  );
  assertThrows(
    () => shardFromEnvironment({ JOB_COMPLETION_INDEX: "4" }, 4),
    ShardError,
    "only 4 shards",
  );
  assertThrows(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: "x" }, 4), ShardError, '"x"');
});

Deno.test("SLURM array: the index counts from the array's first task id", () => {
  // --array=0-7
  const zeroBased = { SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_MAX: "7" };
  assertEquals(
    shardFromEnvironment({ ...zeroBased, SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "8" }),
    { index: 5, count: 8 },
  );
  // --array=1-16: task 1 is shard 0, task 16 is shard 15.
  const oneBased = { SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "16" };
  const task = (id: string) => ({
    ...oneBased,
    SLURM_ARRAY_TASK_ID: id,
    SLURM_ARRAY_TASK_COUNT: "16",
  });
  assertEquals(shardFromEnvironment(task("1")), { index: 0, count: 16 });
  assertEquals(shardFromEnvironment(task("16")), { index: 15, count: 16 });
  // --array=0-30:2 has 16 tasks 0, 2, …, 30: task 6 is shard 3.
  assertEquals(
    shardFromEnvironment({
      SLURM_ARRAY_TASK_ID: "6",
      SLURM_ARRAY_TASK_MIN: "0",
      SLURM_ARRAY_TASK_MAX: "30",
      SLURM_ARRAY_TASK_STEP: "2",
      SLURM_ARRAY_TASK_COUNT: "16",
    }),
    { index: 3, count: 16 },
  );
  // Without SLURM_ARRAY_TASK_MIN the ids are taken to start at 0.
  assertEquals(
    shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "3" }),
    { index: 2, count: 3 },
  );
});

Deno.test("SLURM arrays that cannot be split evenly, or disagree with --shards, are errors", () => {
  // --array=1,4,9: three tasks, ids not evenly spaced.
  assertThrows(
    () =>
      shardFromEnvironment({
        SLURM_ARRAY_TASK_ID: "4",
        SLURM_ARRAY_TASK_MIN: "1",
        SLURM_ARRAY_TASK_MAX: "9",
        SLURM_ARRAY_TASK_COUNT: "3",
      }),
    ShardError,
    "evenly spaced",
  );
  assertThrows(
    () => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "4" }, 3),
    ShardError,
    "disagrees",
  );
  assertThrows(
    () => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "1" }),
    ShardError,
    "pass --shards N",
  );
});

Deno.test("--shards without a job array is an error (every machine would do everything)", () => {
  assertThrows(() => shardFromEnvironment({}, 4), ShardError, "needs a job array");
  assertThrows(() => shardFromEnvironment({}, 0), ShardError, "invalid --shards");
});

Deno.test("Kubernetes wins over SLURM when both are set", () => {
  const env = { JOB_COMPLETION_INDEX: "1", SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" };
  assertEquals(shardFromEnvironment(env, 2), { index: 1, count: 2 });
});

Deno.test("an explicit --shard wins over the job-array variables", () => {
  const env = { JOB_COMPLETION_INDEX: "0", SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" };
  assertEquals(resolveShard({ shard: "1/3", env }), { index: 1, count: 3 });
  assertEquals(resolveShard({ shards: 2, env }), { index: 0, count: 2 });
  assertEquals(resolveShard({ env: {} }), undefined);
  assertThrows(() => resolveShard({ shard: "0/2", shards: 2, env }), ShardError, "combined");
});

Deno.test("a shard is every N-th path of the sorted list, starting at I", () => {
  const paths = ["c.jpg", "a.jpg", "e.jpg", "b.jpg", "d.jpg"];
  // Sorted: a b c d e.
  assertEquals(selectShard(paths, 0, 2), ["a.jpg", "c.jpg", "e.jpg"]);
  assertEquals(selectShard(paths, 1, 2), ["b.jpg", "d.jpg"]);
  assertEquals(selectShard(paths, 0, 3), ["a.jpg", "d.jpg"]);
  assertEquals(selectShard(paths, 1, 3), ["b.jpg", "e.jpg"]);
  assertEquals(selectShard(paths, 2, 3), ["c.jpg"]);
  // More shards than items: the last ones are empty.
  assertEquals(selectShard(["x"], 1, 2), []);
});

Deno.test("paths sort by UTF-16 code units, whatever the locale: upper case first, 10 before 2", () => {
  assertEquals(selectShard(["img2.jpg", "a.jpg", "img10.jpg", "B.jpg"], 0, 1), [
    "B.jpg",
    "a.jpg",
    "img10.jpg",
    "img2.jpg",
  ]);
});

Deno.test("shards do not depend on the order the inputs were given in", () => {
  const items = [{ path: "z/1.jpg" }, { path: "a/2.jpg" }, { path: "m/3.jpg" }, {
    path: "a/1.jpg",
  }];
  const reversed = [...items].reverse();
  for (let index = 0; index < 3; index++) {
    assertEquals(
      selectShard(items, index, 3, (item) => item.path),
      selectShard(reversed, index, 3, (item) => item.path),
    );
  }
});

Deno.test("the shards of a list are disjoint, cover it, and differ in size by at most one", () => {
  const paths = Array.from({ length: 23 }, (_, i) => `dir${i % 4}/image_${(i * 7919) % 101}.jpg`);
  for (let count = 1; count <= 8; count++) {
    const shards = Array.from({ length: count }, (_, index) => selectShard(paths, index, count));
    const union = shards.flat();
    assertEquals(union.length, paths.length, `${count} shards: no path in two shards`);
    assertEquals(new Set(union), new Set(paths), `${count} shards: every path in one`);
    const sizes = shards.map((shard) => shard.length);
    assert(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} shards: sizes ${sizes}`);
  }
});

Deno.test("a bad shard index or count for selectShard is an error", () => {
  assertThrows(() => selectShard(["a"], 2, 2), ShardError, "0 … 1");
  assertThrows(() => selectShard(["a"], -1, 2), ShardError);
  assertThrows(() => selectShard(["a"], 0, 0), ShardError, "count");
});
