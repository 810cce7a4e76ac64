/**
 * Shards: splitting one job's input list into N deterministic parts, one per machine, from
 * `--shard I/N` or from the job array that started the process (a Kubernetes Indexed Job or a
 * SLURM array). Pure functions: the environment is passed in.
 *
 * The split: the inputs are sorted by path (UTF-16 code units, so the order does not depend on
 * the locale or the order the paths were given in), then shard I takes the items at sorted
 * positions I, I+N, I+2N, … (round robin). Round robin rather than contiguous blocks because
 * sorted paths cluster similar work (a folder of 24-megapixel photos next to a folder of
 * thumbnails, a crowded sequence): every shard gets a slice of each cluster, so the machines
 * finish at about the same time. Either way shard sizes differ by at most one, the union of the
 * N shards is the whole list and no item is in two shards. `deno task merge` sorts by path
 * again, so the merged results come back in the sorted order.
 */

/** One part of a sharded job: `index` in 0 … count − 1. */
export interface Shard {
  /** This shard, 0-based. */
  index: number;
  /** How many shards the job has. */
  count: number;
}

/**
 * A shard that cannot be used (bad `--shard`, `--shards` or job-array variables).
 *
 * @example Reporting a bad `--shard` to the user
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShard, ShardError } from "@posekit/posekit";
 *
 * try {
 *   parseShard("1-3"); // a range, not I/N
 *   assert.fail("expected a ShardError");
 * } catch (error) {
 *   if (!(error instanceof ShardError)) throw error; // a bug, not the user's input
 *   assert.equal(error.message, 'invalid --shard "1-3": expected I/N, e.g. 0/4 (shard 0 of 4)');
 * }
 * ```
 */
export class ShardError extends Error {}

/**
 * Parses `--shard I/N` (0-based: the shards of a 2-way split are 0/2 and 1/2).
 * Throws `ShardError` for anything else, saying what is wrong.
 *
 * @example Shard 1 of 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShard, ShardError } from "@posekit/posekit";
 *
 * assert.deepEqual(parseShard("1/3"), { index: 1, count: 3 });
 * assert.throws(() => parseShard("3/3"), ShardError); // indices are 0-based
 * ```
 */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new ShardError(`invalid --shard "${text}": expected I/N, e.g. 0/4 (shard 0 of 4)`);
  }
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count)) {
    throw new ShardError(`invalid --shard "${text}": number too large`);
  }
  if (count < 1) throw new ShardError(`invalid --shard "${text}": N must be at least 1`);
  if (index >= count) {
    throw new ShardError(
      `invalid --shard "${text}": shards are numbered from 0, so I must be below N ` +
        `(the shards of ${count} are 0/${count} … ${count - 1}/${count})`,
    );
  }
  return { index, count };
}

/** Environment variables, name to value (in Deno: `env.toObject()`). */
export type Environment = Record<string, string | undefined>;

function integerVariable(env: Environment, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === "") return undefined;
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ShardError(`${name}="${value}" is not a non-negative integer`);
  }
  return Number(value);
}

/**
 * The shard given by the job array that started this process, or undefined outside one:
 * - Kubernetes Indexed Job: the index is `JOB_COMPLETION_INDEX`; Kubernetes does not pass the
 *   completion count to the pod, so it comes from `shardsOption` (`--shards N`, the Job's
 *   `completions`); without it, a `ShardError`.
 * - SLURM array (`--array=0-15`, `1-16`, `0-30:2`): the index is counted from the array's first
 *   task, `(SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`, and the count
 *   is `SLURM_ARRAY_TASK_COUNT` (else `--shards`, else from `SLURM_ARRAY_TASK_MAX`). Arrays
 *   whose ids are not evenly spaced (`--array=1,4,9`) cannot be mapped and are an error.
 * Kubernetes wins when both are set. `--shards` with neither set is an error: each machine
 * would otherwise process every image.
 */
export function shardFromEnvironment(
  env: Environment,
  shardsOption?: number,
): Shard | undefined {
  if (shardsOption !== undefined && !(Number.isSafeInteger(shardsOption) && shardsOption >= 1)) {
    throw new ShardError(`invalid --shards ${shardsOption}: expected a whole number ≥ 1`);
  }
  const jobIndex = integerVariable(env, "JOB_COMPLETION_INDEX");
  if (jobIndex !== undefined) {
    if (shardsOption === undefined) {
      throw new ShardError(
        `JOB_COMPLETION_INDEX=${jobIndex} is set (a Kubernetes Indexed Job) but not the number ` +
          `of shards: pass --shards N with N = the Job's completions`,
      );
    }
    return checked(jobIndex, shardsOption, `JOB_COMPLETION_INDEX=${jobIndex}`);
  }
  const taskId = integerVariable(env, "SLURM_ARRAY_TASK_ID");
  if (taskId !== undefined) {
    const min = integerVariable(env, "SLURM_ARRAY_TASK_MIN") ?? 0;
    const step = integerVariable(env, "SLURM_ARRAY_TASK_STEP") ?? 1;
    const max = integerVariable(env, "SLURM_ARRAY_TASK_MAX");
    const taskCount = integerVariable(env, "SLURM_ARRAY_TASK_COUNT");
    const where = `SLURM_ARRAY_TASK_ID=${taskId}`;
    if (step < 1) throw new ShardError(`SLURM_ARRAY_TASK_STEP=${step} must be at least 1`);
    if (taskId < min || (taskId - min) % step !== 0) {
      throw new ShardError(
        `${where} is not MIN + k × STEP (MIN=${min}, STEP=${step}): only evenly spaced ` +
          `arrays (--array=A-B or A-B:S) can be split into shards`,
      );
    }
    const fromMax = max === undefined ? undefined : Math.floor((max - min) / step) + 1;
    const count = taskCount ?? shardsOption ?? fromMax;
    if (count === undefined) {
      throw new ShardError(
        `${where} is set (a SLURM array) but not SLURM_ARRAY_TASK_COUNT: pass --shards N`,
      );
    }
    if (shardsOption !== undefined && shardsOption !== count) {
      throw new ShardError(
        `--shards ${shardsOption} disagrees with the SLURM array's ${count} tasks`,
      );
    }
    if (fromMax !== undefined && fromMax !== count) {
      throw new ShardError(
        `the SLURM array's ${count} tasks are not evenly spaced from ${min} to ${max} ` +
          `(step ${step}): only arrays like --array=A-B or A-B:S can be split into shards`,
      );
    }
    return checked((taskId - min) / step, count, where);
  }
  if (shardsOption !== undefined) {
    throw new ShardError(
      `--shards ${shardsOption} needs a job array: JOB_COMPLETION_INDEX (Kubernetes) or ` +
        `SLURM_ARRAY_TASK_ID (SLURM) is not set; use --shard I/N to pick a shard by hand`,
    );
  }
  return undefined;
}

function checked(index: number, count: number, where: string): Shard {
  if (count < 1) throw new ShardError(`${where}: the number of shards must be at least 1`);
  if (index >= count) {
    throw new ShardError(`${where} gives shard ${index}, but there are only ${count} shards`);
  }
  return { index, count };
}

/** What the command line and the environment say about sharding. */
export interface ShardRequest {
  /** `--shard I/N` as given. */
  shard?: string;
  /** `--shards N` (the count for a Kubernetes Indexed Job). */
  shards?: number;
  /** The process environment, name to value. */
  env: Environment;
}

/**
 * The shard of this run: `--shard I/N` when given (it wins over any job-array variables, so a
 * single shard can be rerun by hand inside a job), else `shardFromEnvironment`; undefined when
 * the run is not sharded. `--shard` together with `--shards` is a `ShardError`.
 */
export function resolveShard(request: ShardRequest): Shard | undefined {
  if (request.shard !== undefined) {
    if (request.shards !== undefined) {
      throw new ShardError(`--shard ${request.shard} and --shards cannot be combined`);
    }
    return parseShard(request.shard);
  }
  return shardFromEnvironment(request.env, request.shards);
}

/** Compares by UTF-16 code units, so the order does not depend on the locale. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The items of shard `index` of `count`: `items` sorted by `pathOf(item)` (a stable sort, by
 * UTF-16 code units), then every `count`-th item starting at position `index`. Returned in
 * sorted order. Over index 0 … count − 1 the shards cover every item exactly once.
 *
 * @example Half of four files
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectShard } from "@posekit/posekit";
 *
 * const files = ["c.jpg", "a.jpg", "b.jpg", "d.jpg"];
 * assert.deepEqual(selectShard(files, 0, 2), ["a.jpg", "c.jpg"]);
 * assert.deepEqual(selectShard(files, 1, 2), ["b.jpg", "d.jpg"]);
 * ```
 */
export function selectShard<T>(
  items: readonly T[],
  index: number,
  count: number,
  pathOf: (item: T) => string = String,
): T[] {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ShardError(`invalid shard count ${count}: expected a whole number ≥ 1`);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new ShardError(`invalid shard index ${index}: expected 0 … ${count - 1}`);
  }
  const sorted = items
    .map((item, position) => ({ item, path: pathOf(item), position }))
    .sort((a, b) => comparePaths(a.path, b.path) || a.position - b.position);
  return sorted.filter((_, i) => i % count === index).map(({ item }) => item);
}
