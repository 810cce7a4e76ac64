/**
 * The Kubernetes Indexed Job the README shows (`examples/kubernetes/job.yaml`), checked for
 * what can be checked without a cluster: it parses as YAML into an Indexed Job whose
 * `--shards` is its `completions`, and its container's command, run by `sh` once per index
 * with `JOB_COMPLETION_INDEX` set as Kubernetes sets it (and `posekit` on the PATH, as in the
 * image), writes parts that merge to the bytes of one single-process run. What is not checked
 * here: the image, the volume, the scheduling, the CPU limit's effect in a pod (the cgroup
 * quota parsing is unit-tested in cpu_allocation_test.ts).
 */

import { join } from "node:path";
import { parse } from "yaml";
import { selectShard } from "../lib/output/shard.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { CLI_MAIN, describeRun, REPO_DIR, runCli, withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

const MANIFEST = join(REPO_DIR, "examples", "kubernetes", "job.yaml");

interface Container {
  name: string;
  command: string[];
  args: string[];
  env?: { name: string; value: string }[];
  resources?: { limits?: { cpu?: string } };
}

interface Job {
  apiVersion: string;
  kind: string;
  spec: {
    completions: number;
    parallelism: number;
    completionMode: string;
    template: { spec: { restartPolicy: string; containers: Container[] } };
  };
}

async function readJob(): Promise<Job> {
  return parse(await Deno.readTextFile(MANIFEST)) as Job;
}

Deno.test("the Kubernetes Job parses as an Indexed Job whose --shards is its completions", async () => {
  const job = await readJob();
  assertEquals([job.apiVersion, job.kind], ["batch/v1", "Job"]);
  assertEquals(job.spec.completionMode, "Indexed");
  assert(job.spec.parallelism >= 1 && job.spec.parallelism <= job.spec.completions);
  // A restarted pod resumes its own part; a failed one is not given up on at once.
  assertEquals(job.spec.template.spec.restartPolicy, "OnFailure");
  const [container] = job.spec.template.spec.containers;
  assertEquals(container.command, ["sh", "-c"]);
  assertEquals(container.args.length, 1);
  const script = container.args[0];
  const shards = /--shards (\d+)/.exec(script);
  assertEquals(Number(shards?.[1]), job.spec.completions, "--shards N with N = completions");
  for (const part of ["posekit predict", "--resume", "$JOB_COMPLETION_INDEX", "--out"]) {
    assert(script.includes(part), `the command has ${part}: ${script}`);
  }
  assert(!/--shard\s/.test(script), "no fixed --shard: the index comes from the Job");
  // A CPU limit: posekit plans its workers for it (the container's cgroup quota).
  assert(container.resources?.limits?.cpu !== undefined, "the container has a CPU limit");
});

Deno.test({
  name: "the Job's command, run for every JOB_COMPLETION_INDEX, gives parts that merge to one run",
  ignore: ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017"),
  async fn() {
    await withTempDir(async (dir) => {
      const job = await readJob();
      const [container] = job.spec.template.spec.containers;
      const source = requireShared("coco", "val2017");
      const photos = join(dir, "photos");
      await Deno.mkdir(photos);
      // Fewer images than completions: some pods get an empty shard, and succeed.
      const names = [...Deno.readDirSync(source)].map((e) => e.name)
        .filter((n) => n.endsWith(".jpg")).sort().slice(0, 2);
      for (const name of names) await Deno.copyFile(join(source, name), join(photos, name));
      const images = names.map((name) => join(photos, name));
      const options = ["--models", requireShared("models"), "--backend", "wasm", "--no-flip"];

      // `posekit` as the image has it: here the CLI through deno.
      const bin = join(dir, "bin");
      await Deno.mkdir(bin);
      await Deno.writeTextFile(
        join(bin, "posekit"),
        `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${CLI_MAIN}" "$@"\n`,
        { mode: 0o755 },
      );
      const out = join(dir, "out");
      const env = {
        ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value])),
        PHOTOS: photos,
        OUT: out,
        POSEKIT_ARGS: [...options, "--threads", "1", "--quiet"].join(" "),
        PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
      };
      const count = job.spec.completions;
      const runIndex = async (index: number) => {
        const { code, stderr } = await new Deno.Command("sh", {
          args: [...container.command.slice(1), container.args[0]],
          env: { ...env, JOB_COMPLETION_INDEX: String(index) },
          stdin: "null",
          stdout: "null",
        }).output();
        assertEquals(code, 0, `index ${index}: ${new TextDecoder().decode(stderr)}`);
      };
      // Two pods at a time.
      for (let index = 0; index < count; index += 2) {
        await Promise.all([runIndex(index), ...(index + 1 < count ? [runIndex(index + 1)] : [])]);
      }
      const parts = Array.from({ length: count }, (_, i) => join(out, `part-${i}.jsonl`));
      for (const [i, part] of parts.entries()) {
        const lines = (await Deno.readTextFile(part)).trimEnd().split("\n");
        assertEquals(Object.keys(JSON.parse(lines[0])), ["posekit"], `part ${i} has its header`);
        const files = lines.slice(1).map((line) => JSON.parse(line).file);
        assertEquals(files, selectShard(images, i, count), `part ${i} holds its shard`);
      }
      const whole = join(dir, "whole.json");
      const single = await runCli([
        "predict",
        photos,
        ...options,
        "--threads",
        "1",
        "--quiet",
        "--out",
        whole,
      ]);
      assertEquals(single.code, 0, describeRun(single));
      const merged = join(dir, "merged.json");
      const merge = await runCli(["merge", ...parts, "--out", merged]);
      assertEquals(merge.code, 0, describeRun(merge));
      assert(!merge.stderr.includes("warning"), merge.stderr);
      assertEquals(await Deno.readTextFile(merged), await Deno.readTextFile(whole));
    });
  },
});
