/**
 * `deno task bench`'s command line: usage errors are one line (exit 2), its help lists only
 * the options it takes, and it runs as the README shows it (no --models).
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { type CliRun, describeRun, hasStackTrace, nonEmptyLines, REPO_DIR } from "./support/cli.ts";
import { ignoreWithoutShared } from "./support/shared.ts";

async function bench(args: string[]): Promise<CliRun> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_DIR, "bench", "predict_bench.ts"), ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("bench: usage errors are one line with a hint, exit 2, no stack trace", async () => {
  for (
    const [args, says] of [
      [["--limit", "abc"], 'invalid value for --limit: "abc"'],
      [["--limt", "3"], 'unknown option "--limt" (did you mean --limit?)'],
      [["--boxes", "gt"], "bench does not take --boxes (it times the detector too)"],
    ] as [string[], string][]
  ) {
    const run = await bench(args);
    assertEquals(run.code, 2, describeRun(run));
    assert(!hasStackTrace(run.stderr), `no stack trace\n${describeRun(run)}`);
    assertEquals(
      nonEmptyLines(run.stderr),
      [`posekit: ${says} (see "deno task bench --help")`],
      args.join(" "),
    );
  }
});

Deno.test("bench --help lists only what bench takes", async () => {
  const run = await bench(["--help"]);
  assertEquals(run.code, 0, describeRun(run));
  for (const option of ["--limit", "--warmup", "--json", "--backend", "--detector"]) {
    assert(run.stdout.includes(option), `lists ${option}`);
  }
  for (const option of ["--boxes", "--box-thr", "--out", "--draw"]) {
    assert(!run.stdout.includes(option), `does not list ${option}`);
  }
});

Deno.test({
  name: "bench runs as the README shows it, without --models",
  ignore: ignoreWithoutShared("models", "simplepose_nano_256x192.onnx") ||
    ignoreWithoutShared("coco", "val2017"),
  fn: async () => {
    const run = await bench(["--limit", "1", "--warmup", "0", "--backend", "wasm", "--json"]);
    assertEquals(run.code, 0, describeRun(run));
    const report = JSON.parse(run.stdout);
    assertEquals(report.images, 1);
    assertEquals(report.pose, "simplepose_nano_256x192");
  },
});
