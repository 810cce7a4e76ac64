/**
 * Many machines for real: the repository's SLURM script (`examples/slurm/predict.sbatch`, the
 * one the README shows) submitted as an array job to a real slurmctld and slurmd, started by
 * the test on 127.0.0.1 and stopped by it (tests/support/slurm.ts). Four tasks over twelve
 * shared images, one killed mid-run by the scheduler and requeued: the merged parts are the
 * bytes of one single-process run; a task whose shard holds no image succeeds with an empty
 * part; every task plans for the one CPU SLURM gave it, on a machine of more.
 *
 * Needs Linux, SLURM and munge (`.ci/run` installs slurm-wlm and munge) and root (slurmd starts
 * jobs as their user). Outside CI the test is skipped where they are missing; in CI it runs.
 */

import { basename, join } from "node:path";
import { selectShard } from "../lib/output/shard.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, REPO_DIR, runCli, withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { hasSlurm, killMarked, SlurmCluster, type SlurmTask } from "./support/slurm.ts";

const ignore = Deno.env.get("CI") !== "true" &&
  (Deno.build.os !== "linux" || !hasSlurm() || ignoreWithoutShared("models") ||
    ignoreWithoutShared("coco", "val2017"));

/** The script the README shows, submitted as it is. */
const SCRIPT = join(REPO_DIR, "examples", "slurm", "predict.sbatch");

/** Task states after which a task will not complete by itself. */
const FAILED = ["FAILED", "NODE_FAIL", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"];

/** Copies the first `count` shared COCO images (sorted) into `dir`; their paths there. */
async function copyImages(dir: string, count: number): Promise<string[]> {
  const source = requireShared("coco", "val2017");
  const names = [...Deno.readDirSync(source)].map((e) => e.name)
    .filter((n) => n.endsWith(".jpg")).sort().slice(0, count);
  await Deno.mkdir(dir, { recursive: true });
  for (const name of names) await Deno.copyFile(join(source, name), join(dir, name));
  return names.map((name) => join(dir, name));
}

/** The complete record lines of a `.jsonl` being written (its header and a torn line not). */
async function recordLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const lines = text.split("\n").slice(0, -1); // the last piece has no "\n" yet
  return lines.filter((line) => line !== "" && !line.startsWith('{"posekit"'));
}

/** Waits until every task of `jobId` is COMPLETED; a task that failed ends the wait. */
async function waitForCompletion(
  cluster: SlurmCluster,
  jobId: string,
  tasks: number,
  timeoutMs: number,
): Promise<SlurmTask[]> {
  let last: SlurmTask[] = [];
  await cluster.waitUntil(`the ${tasks} tasks of job ${jobId} to complete`, async () => {
    last = await cluster.tasks(jobId);
    const failed = last.find((task) => FAILED.includes(task.state));
    if (failed) {
      throw new Error(`task ${failed.arrayTaskId} of job ${jobId} ended ${failed.state}`);
    }
    return last.length === tasks && last.every((task) => task.state === "COMPLETED");
  }, timeoutMs);
  return last.sort((a, b) => Number(a.arrayTaskId) - Number(b.arrayTaskId));
}

Deno.test({
  name: "SLURM: the array script over 4 tasks merges to one run's bytes, after a task is " +
    "killed mid-run and requeued; an empty shard succeeds; all stopped at the end",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = await copyImages(join(dir, "photos"), 12);
      const options = ["--models", requireShared("models"), "--backend", "wasm", "--no-flip"];
      // The reference: one process over the same folder, one thread as each task will have.
      const whole = join(dir, "whole.json");
      const reference = await runCli([
        "predict",
        join(dir, "photos"),
        ...options,
        "--threads",
        "1",
        "--quiet",
        "--out",
        whole,
      ]);
      assertEquals(reference.code, 0, describeRun(reference));

      const cluster = await SlurmCluster.start();
      let leftovers = 0;
      try {
        const logs = join(dir, "logs");
        await Deno.mkdir(logs);
        const submit = async (photos: string, out: string, array: string) => {
          const env = {
            PHOTOS: photos,
            OUT: out,
            POSEKIT_ARGS: options.join(" "),
            POSEKIT_HOME: REPO_DIR,
          };
          const args = [
            "--parsable",
            `--array=${array}`,
            "--cpus-per-task=1",
            `--output=${join(logs, "posekit-%A_%a.out")}`,
            SCRIPT,
          ];
          // Submitted from the temporary folder, as a user submits from theirs.
          const printed = await cluster.check("sbatch", args, { cwd: dir, env });
          return printed.trim().split(";")[0];
        };
        const log = async (jobId: string, task: number) =>
          await Deno.readTextFile(join(logs, `posekit-${jobId}_${task}.out`)).catch(() => "");

        // Job A: 12 images, 4 tasks of 3 images each.
        const parts = join(dir, "parts");
        const jobA = await submit(join(dir, "photos"), parts, "0-3");
        const part0 = join(parts, "part-0.jsonl");
        // Kill task 0 through the scheduler once its first image is written (of 3; the last,
        // 000000001000.jpg, has 15 people and takes longest), then requeue it.
        await cluster.waitUntil(
          "task 0's first image",
          async () => (await recordLines(part0)).length >= 1,
          180_000,
          25, // the kill must land before its other two images are done
        );
        await cluster.check("scancel", ["--signal=KILL", `${jobA}_0`]);
        await cluster.waitUntil("task 0 to be cancelled", async () => {
          const [task] = await cluster.tasks(`${jobA}_0`);
          return task.state === "CANCELLED";
        }, 60_000);
        const partial = (await recordLines(part0)).length;
        assert(partial >= 1 && partial < 3, `task 0 was killed after ${partial} of its 3 images`);
        await cluster.check("scontrol", ["requeue", `${jobA}_0`]);
        const tasksA = await waitForCompletion(cluster, jobA, 4, 240_000);
        assertEquals(tasksA.map((t) => [t.arrayTaskId, t.state, t.exitCode]), [
          ["0", "COMPLETED", "0:0"],
          ["1", "COMPLETED", "0:0"],
          ["2", "COMPLETED", "0:0"],
          ["3", "COMPLETED", "0:0"],
        ]);
        assertEquals(tasksA[0].restarts, 1, "task 0 ran twice");
        const rerun = await log(jobA, 0);
        assert(rerun.includes(`${partial} already done`), `task 0 resumed:\n${rerun}`);

        // Each part holds exactly its shard: SLURM's variables reached posekit.
        const partPaths = [0, 1, 2, 3].map((i) => join(parts, `part-${i}.jsonl`));
        for (const [i, path] of partPaths.entries()) {
          const files = (await recordLines(path)).map((line) => JSON.parse(line).file);
          assertEquals(files, selectShard(images, i, 4), `part ${i}`);
          // One CPU per task (--cpus-per-task=1): one worker of one thread, not one per core.
          const text = await log(jobA, i);
          assert(/on wasm, 1 thread;/.test(text), `task ${i} ran on 1 thread:\n${text}`);
        }

        // The merge is the single-process run, byte for byte, with nothing to warn about.
        const merged = join(dir, "merged.json");
        const merge = await runCli(["merge", ...partPaths, "--out", merged]);
        assertEquals(merge.code, 0, describeRun(merge));
        assert(!merge.stderr.includes("warning"), merge.stderr);
        assertEquals(await Deno.readTextFile(merged), await Deno.readTextFile(whole));

        // Job B: one image over 2 tasks: task 1's shard is empty; it succeeds with an empty
        // part, and the merge takes it.
        const oneImage = await copyImages(join(dir, "one"), 1);
        const partsB = join(dir, "parts-one");
        const jobB = await submit(join(dir, "one"), partsB, "0-1");
        const tasksB = await waitForCompletion(cluster, jobB, 2, 180_000);
        assertEquals(tasksB.map((t) => [t.state, t.exitCode]), [
          ["COMPLETED", "0:0"],
          ["COMPLETED", "0:0"],
        ]);
        const empty = await Deno.readTextFile(join(partsB, "part-1.jsonl"));
        assertEquals(empty.split("\n").length, 2, `just a header line:\n${empty}`);
        assertEquals(Object.keys(JSON.parse(empty.split("\n")[0])), ["posekit"]);
        const mergedB = join(dir, "merged-one.json");
        const mergeB = await runCli([
          "merge",
          join(partsB, "part-0.jsonl"),
          join(partsB, "part-1.jsonl"),
          "--out",
          mergedB,
        ]);
        assertEquals(mergeB.code, 0, describeRun(mergeB));
        const name = basename(oneImage[0]);
        const expected = JSON.parse(await Deno.readTextFile(whole))
          .filter((r: { file_name: string }) => basename(r.file_name) === name)
          .map((r: { file_name: string }) => ({ ...r, file_name: oneImage[0] }));
        assertEquals(JSON.parse(await Deno.readTextFile(mergedB)), expected);
      } finally {
        leftovers = await cluster.stop();
      }
      // Everything is stopped: nothing that carries the cluster's marker is left.
      assertEquals(killMarked(cluster.dir), 0, "no process of the cluster is left");
      assert(leftovers >= 0);
    });
  },
});
