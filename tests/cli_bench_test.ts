/**
 * `deno task bench`'s command line: usage errors are one line (exit 2), its help lists only
 * the options it takes, and it runs as the README shows it (no --models).
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import {
  type CliRun,
  describeRun,
  hasStackTrace,
  nonEmptyLines,
  REPO_DIR,
  runDeno,
} from "./support/cli.ts";
import { ignoreWithoutShared } from "./support/shared.ts";

function bench(args: string[]): Promise<CliRun> {
  return runDeno(["-A", join(REPO_DIR, "bench", "predict_bench.ts"), ...args]);
}

Deno.test("bench: usage errors are one line with a hint, exit 2, no stack trace", async () => {
  for (
    const [args, says] of [
      [["--limit", "abc"], 'invalid value for --limit: "abc"'],
      [["--limt", "3"], 'unknown option "--limt" (did you mean --limit?)'],
      [["--boxes", "gt"], "bench does not take --boxes (it times the detector too)"],
      [["--workers", "0"], 'invalid value for --workers: "0"'],
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
  for (
    const option of ["--limit", "--warmup", "--json", "--backend", "--detector", "--workers"]
  ) {
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

Deno.test({
  name: "bench --workers runs in a pool and reports model time inside the stages that hold it",
  ignore: ignoreWithoutShared("models", "simplepose_nano_256x192.onnx") ||
    ignoreWithoutShared("coco", "val2017"),
  fn: async () => {
    const run = await bench([
      "--limit",
      "2",
      "--warmup",
      "1",
      "--workers",
      "2",
      "--threads",
      "1",
      "--backend",
      "wasm",
      "--json",
    ]);
    assertEquals(run.code, 0, describeRun(run));
    const report = JSON.parse(run.stdout);
    assertEquals(report.images, 2);
    assertEquals([report.workers, report.threadsPerWorker], [2, 1]);
    assert(report.imagesPerSecond > 0, "imagesPerSecond is kept");
    // The model runs happen inside the detect and keypoint stages, so they cannot exceed them.
    const ms = report.msPerImage;
    assert(ms.model > 0 && ms.model <= ms.detect + ms.keypoints, JSON.stringify(ms));
    assert(report.overheadShare > 0 && report.overheadShare < 1, String(report.overheadShare));
    // Two workers, each listed, together the timed images (the warm-up ones excluded).
    assertEquals(report.memory.perWorker.length, 2);
    assertEquals(
      report.memory.perWorker.reduce((n: number, w: { images: number }) => n + w.images, 0),
      2,
    );
    assert(report.memory.peakRssMiB > 0);
  },
});
