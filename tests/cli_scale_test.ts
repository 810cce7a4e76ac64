/**
 * predict at scale, through the command line as a user runs it: JSON Lines streamed as images
 * finish, a run killed with SIGKILL and resumed, shards merged, and 1 vs 2 workers — each must
 * give exactly the results of one uninterrupted run.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { CLI_MAIN, describeRun, runCli, withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

const ignore = ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017");

/** The first `count` shared COCO images, sorted. */
function sharedImages(count: number): string[] {
  const dir = requireShared("coco", "val2017");
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".jpg")).sort()
    .slice(0, count).map((name) => join(dir, name));
}

/** Fast settings for runs whose results are compared, not scored. */
function predictArgs(...args: string[]): string[] {
  return [
    "predict",
    "--models",
    requireShared("models"),
    "--backend",
    "wasm",
    "--threads",
    "1",
    "--no-flip",
    "--quiet",
    ...args,
  ];
}

async function merged(dir: string, ...inputs: string[]): Promise<unknown> {
  const out = join(dir, `merged_${crypto.randomUUID()}.json`);
  const run = await runCli(["merge", ...inputs, "--out", out, "--quiet"]);
  assertEquals(run.code, 0, describeRun(run));
  return JSON.parse(await Deno.readTextFile(out));
}

Deno.test({
  name: "predict --out .jsonl: one line per image, people or not, in input order",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = sharedImages(6);
      const out = join(dir, "r.jsonl");
      const run = await runCli(predictArgs(...images, "--out", out));
      assertEquals(run.code, 0, describeRun(run));
      const [header, ...lines] = (await Deno.readTextFile(out)).trimEnd().split("\n")
        .map((l) => JSON.parse(l));
      assertEquals(Object.keys(header), ["posekit"], "a header line first");
      assertEquals(lines.map((l) => l.file), images);
      for (const line of lines) {
        assertEquals(Object.keys(line), ["file", "image_id", "people"]);
        for (const person of line.people) {
          assertEquals(Object.keys(person).sort(), ["bbox", "keypoints", "score"]);
          assertEquals(person.keypoints.length, 51);
        }
      }
      assert(lines.some((l) => l.people.length === 0), "an image without people still has a line");
    });
  },
});

Deno.test({
  name:
    "predict: kill -9 during a 100-image .jsonl run, --resume, merge: the uninterrupted results",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const images = sharedImages(100);
      const whole = join(dir, "whole.jsonl");
      const full = await runCli(predictArgs(...images, "--out", whole));
      assertEquals(full.code, 0, describeRun(full));

      const out = join(dir, "x.jsonl");
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI_MAIN, ...predictArgs(...images, "--out", out)],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      // Kill it part-way: once a few lines are out, and long before the end.
      for (let i = 0; i < 600; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const text = await Deno.readTextFile(out).catch(() => "");
        if (text.split("\n").length > 15) break;
      }
      child.kill("SIGKILL");
      await child.status;
      const partial = (await Deno.readTextFile(out)).split("\n").length - 2; // less the header
      assert(partial > 0 && partial < 100, `killed after ${partial} of 100 lines`);

      const resumed = await runCli(predictArgs(...images, "--out", out, "--resume"));
      assertEquals(resumed.code, 0, describeRun(resumed));
      const lines = (await Deno.readTextFile(out)).trimEnd().split("\n");
      assertEquals(lines.length, 1 + 100, "the header, then each image once");
      assertEquals(await merged(dir, out), await merged(dir, whole));
    });
  },
});

Deno.test({
  name: "predict --shard 0/2 and 1/2, merged: the results of one run over all images",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = sharedImages(10);
      const whole = join(dir, "whole.jsonl");
      assertEquals((await runCli(predictArgs(...images, "--out", whole))).code, 0);
      const parts = [];
      for (const shard of ["0/2", "1/2"]) {
        const out = join(dir, `part${shard[0]}.jsonl`);
        const run = await runCli(predictArgs(...images, "--shard", shard, "--out", out));
        assertEquals(run.code, 0, describeRun(run));
        parts.push(out);
      }
      const sizes = await Promise.all(
        parts.map(async (p) => (await Deno.readTextFile(p)).trimEnd().split("\n").length),
      );
      assertEquals(sizes, [1 + 5, 1 + 5], "a header each, and disjoint halves");
      assertEquals(await merged(dir, ...parts), await merged(dir, whole));
      // The same split from a SLURM array's variables.
      const slurm = join(dir, "slurm1.jsonl");
      const run = await runCli(predictArgs(...images, "--out", slurm), {
        env: { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2", SLURM_ARRAY_TASK_MIN: "0" },
      });
      assertEquals(run.code, 0, describeRun(run));
      assertEquals(await Deno.readTextFile(slurm), await Deno.readTextFile(parts[1]));
    });
  },
});

Deno.test({
  name: "predict --workers 2: the same results file as one worker, in input order",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = sharedImages(8);
      const outputs = [];
      for (const workers of ["1", "2"]) {
        const out = join(dir, `w${workers}.json`);
        const run = await runCli(predictArgs(...images, "--workers", workers, "--out", out));
        assertEquals(run.code, 0, describeRun(run));
        outputs.push(await Deno.readTextFile(out));
      }
      assert(outputs[0].length > 100, "some people were found");
      assertEquals(outputs[1], outputs[0]);
    });
  },
});

Deno.test({
  name: "predict --out .jsonl --overwrite: a model that cannot load leaves the file as it was",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const out = join(dir, "keep.jsonl");
      await Deno.writeTextFile(out, '{"file":"a.jpg","image_id":1,"people":[]}\n');
      const run = await runCli(
        predictArgs(
          ...sharedImages(2),
          "--out",
          out,
          "--overwrite",
          "--pose",
          join(dir, "nothere.onnx"),
        ),
      );
      assertEquals(run.code, 1, describeRun(run));
      assertEquals(await Deno.readTextFile(out), '{"file":"a.jpg","image_id":1,"people":[]}\n');
    });
  },
});

Deno.test("a shard that holds no input succeeds and writes an empty part that merge accepts", async () => {
  await withTempDir(async (dir) => {
    // Two inputs over four shards: shards 2 and 3 get none. The files are never read (no model
    // is loaded for an empty shard), so they need not be images.
    const photos = join(dir, "photos");
    await Deno.mkdir(photos);
    for (const name of ["a.jpg", "b.jpg"]) await Deno.writeTextFile(join(photos, name), "x");
    const part = join(dir, "part-3.jsonl");
    const run = await runCli(["predict", photos, "--shard", "3/4", "--out", part], { cwd: dir });
    assertEquals(run.code, 0, describeRun(run));
    assert(run.stderr.includes("shard 3/4 holds none of the 2 inputs"), run.stderr);
    const lines = (await Deno.readTextFile(part)).split("\n");
    assertEquals(lines.length, 2, "one header line, then nothing");
    assertEquals(Object.keys(JSON.parse(lines[0])), ["posekit"]);
    // Run again (a requeued task): --resume keeps it as it is.
    const again = await runCli(
      ["predict", photos, "--shard", "3/4", "--out", part, "--resume", "--quiet"],
      { cwd: dir },
    );
    assertEquals(again.code, 0, describeRun(again));
    assertEquals((await Deno.readTextFile(part)).split("\n").length, 2);
    const json = join(dir, "part-2.json");
    const asJson = await runCli(["predict", photos, "--shard", "2/4", "--out", json, "--quiet"]);
    assertEquals(asJson.code, 0, describeRun(asJson));
    assertEquals(await Deno.readTextFile(json), "[]\n");
    assertEquals(await merged(dir, part), []);
  });
});
