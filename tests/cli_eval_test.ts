/**
 * `posekit eval` end to end: the real command line in a separate process, on the shared COCO
 * dev annotations. Only one test runs the models (on 3 images); the others evaluate results
 * files, which needs no model. (The 56-image reference AP is in pipeline_shared_test.ts.)
 */

import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";
import {
  type CliRun,
  describeRun,
  hasStackTrace,
  nonEmptyLines,
  runCli,
  withTempDir,
} from "./support/cli.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";

const ignore = ignoreWithoutShared(...DEV_ANNOTATIONS);
const STAT_KEYS = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"];

interface Annotation {
  id: number;
  image_id: number;
  category_id: number;
  keypoints: number[];
  num_keypoints: number;
  iscrowd: number;
  bbox: number[];
}

interface GroundTruth {
  images: { id: number; file_name: string }[];
  annotations: Annotation[];
}

async function readGroundTruth(): Promise<GroundTruth> {
  return JSON.parse(await Deno.readTextFile(requireShared(...DEV_ANNOTATIONS)));
}

/** The people pycocotools evaluates: not crowd, at least one labelled keypoint. */
function evaluatedPeople(gt: GroundTruth): Annotation[] {
  return gt.annotations.filter((a) => !a.iscrowd && a.num_keypoints > 0);
}

/**
 * The ground truth as keypoint results (score 1), each keypoint moved by `shift` pixels. With
 * no shift every person is found exactly, so every AP and AR is 1 by definition.
 */
function groundTruthAsResults(gt: GroundTruth, shift = 0): object[] {
  return evaluatedPeople(gt).map((a) => ({
    image_id: a.image_id,
    category_id: 1,
    keypoints: a.keypoints.map((v, i) => (i % 3 === 2 ? v : v + shift)),
    score: 1,
  }));
}

function evaluate(args: string[]): Promise<CliRun> {
  return runCli(["eval", "--gt", requireShared(...DEV_ANNOTATIONS), ...args]);
}

function assertCleanFailure(run: CliRun, code: number): void {
  assertEquals(run.code, code, `exit code\n${describeRun(run)}`);
  assert(!hasStackTrace(run.stderr), `no stack trace on stderr\n${describeRun(run)}`);
}

/** The one JSON object that `--json` prints: stdout must be exactly that and nothing else. */
function parseStats(run: CliRun): Record<string, unknown> {
  const lines = nonEmptyLines(run.stdout);
  assertEquals(lines.length, 1, `one line on stdout\n${describeRun(run)}`);
  const stats = JSON.parse(lines[0]);
  assert(stats && typeof stats === "object" && !Array.isArray(stats), "a JSON object");
  for (const key of STAT_KEYS) {
    const value = stats[key];
    assert(typeof value === "number" && value >= 0 && value <= 1, `${key} = ${value}`);
  }
  return stats;
}

/** Runs eval on `results` written (as text) to a temp file; returns the run and the path. */
async function evaluateText(dir: string, name: string, text: string, args: string[] = []) {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return { path, run: await evaluate(["--results", path, ...args]) };
}

/** A result with keypoints of the right shape on image `imageId`. */
function someResult(imageId: number): Record<string, unknown> {
  return { image_id: imageId, category_id: 1, keypoints: new Array(51).fill(1), score: 0.5 };
}

Deno.test({
  name: "eval --json: the ground truth as results scores 1 everywhere, far-off keypoints 0",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = await readGroundTruth();
      const perfect = await evaluateText(
        dir,
        "perfect.json",
        JSON.stringify(groundTruthAsResults(gt)),
        ["--json"],
      );
      assertCleanFailure(perfect.run, 0);
      const stats = parseStats(perfect.run);
      assertEquals(Object.keys(stats).sort(), [...STAT_KEYS].sort(), "exactly the ten stats");
      for (const key of STAT_KEYS) assertEquals(stats[key], 1, key);

      // 1000 px off: no OKS reaches even 0.5, so nothing matches.
      const far = await evaluateText(
        dir,
        "far.json",
        JSON.stringify(groundTruthAsResults(gt, 1000)),
        ["--json"],
      );
      assertCleanFailure(far.run, 0);
      const farStats = parseStats(far.run);
      for (const key of STAT_KEYS) assertEquals(farStats[key], 0, key);
    }),
});

Deno.test({
  name: "eval without --json prints pycocotools' ten summary lines",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = await readGroundTruth();
      const { run } = await evaluateText(dir, "r.json", JSON.stringify(groundTruthAsResults(gt)));

      assertCleanFailure(run, 0);
      // pycocotools' _summarizeKps, written out by hand from its format string
      // ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'.
      const expected = [
        " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000",
        " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 1.000",
        " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets= 20 ] = 1.000",
        " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = 1.000",
        " Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 1.000",
        " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000",
        " Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 1.000",
        " Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets= 20 ] = 1.000",
        " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = 1.000",
        " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 1.000",
      ];
      assertEquals(run.stdout.split("\n").slice(0, 10), expected);
    }),
});

Deno.test({
  name: "eval: each kind of bad results file is one clear error, never a stack trace",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = await readGroundTruth();
      const known = gt.images[0].id;
      const cases: { name: string; text: string; says: RegExp[] }[] = [
        {
          name: "malformed.json",
          text: '[{"image_id": 785, "keypoints": [1, 2',
          says: [/not valid JSON/],
        },
        {
          name: "object.json",
          text: JSON.stringify({ results: [someResult(known)] }),
          says: [/JSON array/],
        },
        {
          name: "short.json",
          text: JSON.stringify([{ ...someResult(known), keypoints: new Array(50).fill(1) }]),
          says: [/results\[0\]\.keypoints/, /50/, /51/],
        },
        {
          // JSON has no Infinity; 1e999 is how one sneaks in (JSON.parse reads it as Infinity).
          name: "infinite.json",
          text: JSON.stringify([someResult(known)]).replace('"score":0.5', '"score":1e999'),
          says: [/results\[0\]\.score/, /finite/, /Infinity/],
        },
        {
          name: "unknown_ids.json",
          text: JSON.stringify([someResult(known), someResult(424242), someResult(987654321)]),
          says: [/424242/, /987654321/],
        },
      ];
      for (const { name, text, says } of cases) {
        const { path, run } = await evaluateText(dir, name, text, ["--json"]);
        assertCleanFailure(run, 1);
        assertEquals(run.stdout, "", `no stats for ${name}`);
        const lines = nonEmptyLines(run.stderr);
        assertEquals(lines.length, 1, `one line for ${name}\n${describeRun(run)}`);
        assert(lines[0].includes(path), `names the file: ${lines[0]}`);
        for (const pattern of says) assert(pattern.test(lines[0]), `${pattern} in: ${lines[0]}`);
      }
    }),
});

Deno.test({
  name: "eval: a missing --gt, or not exactly one of --results/--images, is a usage error",
  ignore,
  fn: async () => {
    const gt = requireShared(...DEV_ANNOTATIONS);
    for (
      const [args, says] of [
        [["--results", "r.json"], /--gt/],
        [["--gt", gt], /--results.*--images/],
        [["--gt", gt, "--results", "r.json", "--images", "."], /--results.*--images/],
        [["--gt", gt, "--results", "r.json", "--out", "o.json"], /--out/],
      ] as [string[], RegExp][]
    ) {
      const run = await runCli(["eval", ...args]);
      assertCleanFailure(run, 2);
      const lines = nonEmptyLines(run.stderr);
      assertEquals(lines.length, 1, `one line for ${args.join(" ")}\n${describeRun(run)}`);
      assert(says.test(lines[0]), `${says} in: ${lines[0]}`);
      assertEquals(run.stdout, "");
    }
  },
});

Deno.test({
  name: "eval --images: runs the pipeline, warns how many images are missing, writes --out",
  ignore: ignore || ignoreWithoutShared("models", "simplepose_nano_256x192.onnx"),
  fn: () =>
    withTempDir(async (dir) => {
      const gt = await readGroundTruth();
      // Three annotated images, one with several people; the rest of the 56 are missing.
      const chosen = [785, 196141, 139];
      const imagesDir = join(dir, "images");
      await Deno.mkdir(imagesDir);
      for (const id of chosen) {
        const image = gt.images.find((im) => im.id === id)!;
        await Deno.copyFile(
          requireShared("coco", "val2017", image.file_name),
          join(imagesDir, image.file_name),
        );
      }
      const out = join(dir, "results.json");

      const run = await evaluate([
        "--images",
        imagesDir,
        "--boxes",
        "gt",
        "--json",
        "--out",
        out,
        "--models",
        requireShared("models"),
        "--backend",
        "wasm",
      ]);

      assertCleanFailure(run, 0);
      const stats = parseStats(run);
      const missing = gt.images.length - chosen.length;
      const warning = nonEmptyLines(run.stderr).find((l) => l.includes("warning"));
      assert(
        warning !== undefined && warning.includes(`${missing} of ${gt.images.length} images`),
        `a counted warning about the missing images\n${describeRun(run)}`,
      );
      assert(warning.includes(imagesDir), `it names the folder: ${warning}`);

      // --boxes gt: one person per evaluated annotation of the three images.
      const results = JSON.parse(await Deno.readTextFile(out)) as { image_id: number }[];
      const expectedPeople = evaluatedPeople(gt).filter((a) => chosen.includes(a.image_id));
      assertEquals(results.length, expectedPeople.length, "people written to --out");
      assertEquals(new Set(results.map((r) => r.image_id)), new Set(chosen));

      // The written results evaluate to the same numbers.
      const again = await evaluate(["--results", out, "--json"]);
      assertCleanFailure(again, 0);
      const againStats = parseStats(again);
      for (const key of STAT_KEYS) assertEquals(againStats[key], stats[key], key);
    }),
});

Deno.test({
  name: "eval --only-gt-images drops results on unknown image ids with a counted warning",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = await readGroundTruth();
      const results = [...groundTruthAsResults(gt), someResult(424242), someResult(424242)];
      const text = JSON.stringify(results);

      const refused = await evaluateText(dir, "r.json", text, ["--json"]);
      assertCleanFailure(refused.run, 1);
      assert(
        refused.run.stderr.includes("--only-gt-images"),
        `a hint\n${describeRun(refused.run)}`,
      );

      const { run } = await evaluateText(dir, "r.json", text, ["--json", "--only-gt-images"]);
      assertCleanFailure(run, 0);
      // The ground truth's own people are found exactly: AP 1, as without the extra results.
      assertAlmostEquals(JSON.parse(run.stdout).AP, 1, 1e-12);
      const warning = nonEmptyLines(run.stderr).find((l) => l.includes("warning"));
      assert(
        warning?.includes(`dropped 2 of ${results.length} results, on 1 image ids`) &&
          warning.includes("424242"),
        `counted\n${describeRun(run)}`,
      );
    }),
});

Deno.test({
  name: "eval --images refuses ground-truth file names that leave the images folder",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const imagesDir = join(dir, "images");
      await Deno.mkdir(imagesDir);
      await Deno.copyFile(
        requireShared("coco", "val2017", "000000000785.jpg"),
        join(imagesDir, "000000000785.jpg"),
      );
      // Both exist on this machine (as root or not): a reader that followed them would find
      // a file.
      const escaping = ["../../../../../../etc/hostname", "/etc/hostname"];
      await Deno.writeTextFile(join(dir, "escape.jpg"), "outside the images folder");
      escaping.push("../escape.jpg");
      // Inside, though they start with two dots: a name, not a step up.
      const inside = ["..foo.jpg", "sub/..bar.jpg", "sub/../..baz.jpg"];
      await Deno.mkdir(join(imagesDir, "sub"));
      for (const name of inside) await Deno.writeTextFile(join(imagesDir, name), "not a JPEG");
      const gtPath = join(dir, "gt.json");
      await Deno.writeTextFile(
        gtPath,
        JSON.stringify({
          images: [
            { id: 785, file_name: "000000000785.jpg", width: 640, height: 425 },
            ...escaping.map((file_name, i) => ({ id: 1 + i, file_name, width: 9, height: 9 })),
            ...inside.map((file_name, i) => ({ id: 100 + i, file_name, width: 9, height: 9 })),
          ],
          annotations: [],
          categories: [{ id: 1, name: "person" }],
        }),
      );

      // A model that does not exist: the refusal comes before any model is looked for.
      const run = await runCli([
        "eval",
        "--gt",
        gtPath,
        "--images",
        imagesDir,
        "--pose",
        "/nonexistent_model.onnx",
      ]);

      assertCleanFailure(run, 1);
      const line = nonEmptyLines(run.stderr).find((l) => l.includes("outside --images"));
      assert(line, `a counted error\n${describeRun(run)}`);
      assert(line.includes(`3 of 7 images in ${gtPath}`), line);
      for (const name of escaping) assert(line.includes(JSON.stringify(name)), `${name}: ${line}`);
      for (const name of inside) assert(!line.includes(JSON.stringify(name)), `${name}: ${line}`);
    }),
});

Deno.test({
  name: "eval --boxes FILE that covers few of the images warns with the counts",
  ignore: ignore || ignoreWithoutShared("coco", "detections"),
  fn: async () => {
    const gt = await readGroundTruth();
    const boxesPath = requireShared(
      "coco",
      "detections",
      "COCO_val2017_detections_AP_H_56_person.4img.json",
    );
    const boxes = JSON.parse(await Deno.readTextFile(boxesPath)) as { image_id: number }[];
    const gtIds = new Set(gt.images.map((im) => im.id));
    const covered = new Set(boxes.map((b) => b.image_id).filter((id) => gtIds.has(id))).size;
    assert(covered < gt.images.length, "the file covers only some images");

    const run = await evaluate([
      "--images",
      requireShared("coco", "val2017"),
      "--boxes",
      boxesPath,
      "--pose",
      "/nonexistent_model.onnx",
    ]);

    const warning = nonEmptyLines(run.stderr).find((l) => l.includes("warning"));
    assert(
      warning?.includes(`has boxes for ${covered} of ${gt.images.length} images`),
      `counted\n${describeRun(run)}`,
    );
  },
});

Deno.test({
  name: "eval: pipeline options with --results, and a near-miss option, are usage errors",
  ignore,
  fn: async () => {
    for (
      const [args, says] of [
        [["--results", "r.json", "--pose", "x"], /--pose goes with --images/],
        [["--results", "r.json", "--only-gt-imgs"], /did you mean --only-gt-images\?/],
        [["--images", ".", "--only-gt-images"], /--only-gt-images goes with --results/],
      ] as [string[], RegExp][]
    ) {
      const run = await evaluate(args);
      assertCleanFailure(run, 2);
      const lines = nonEmptyLines(run.stderr);
      assertEquals(lines.length, 1, `one line for ${args.join(" ")}\n${describeRun(run)}`);
      assert(says.test(lines[0]), `${says} in: ${lines[0]}`);
      assert(lines[0].endsWith('(see "deno task eval --help")'), lines[0]);
    }
  },
});

Deno.test("eval: the ground truth's warnings reach stderr, naming the file", () =>
  withTempDir(async (dir) => {
    // An image listed twice, and an annotation on an image the file does not list: pycocotools
    // evaluates around both without a word; posekit says so.
    const keypoints = Array.from({ length: 51 }, (_, i) => (i % 3 === 2 ? 2 : 100 + 5 * i));
    const person = { category_id: 1, keypoints, num_keypoints: 17, area: 5000, iscrowd: 0 };
    const gt = {
      images: [{ id: 1 }, { id: 1 }],
      categories: [{ id: 1, name: "person" }],
      annotations: [
        { ...person, id: 1, image_id: 1, bbox: [100, 100, 50, 100] },
        { ...person, id: 2, image_id: 7, bbox: [100, 100, 50, 100] },
      ],
    };
    const gtPath = join(dir, "gt.json"), resultsPath = join(dir, "results.json");
    await Deno.writeTextFile(gtPath, JSON.stringify(gt));
    await Deno.writeTextFile(
      resultsPath,
      JSON.stringify([{ image_id: 1, category_id: 1, keypoints, score: 0.9 }]),
    );
    const run = await runCli(["eval", "--gt", gtPath, "--results", resultsPath, "--json"]);
    assertCleanFailure(run, 0);
    assertAlmostEquals(JSON.parse(run.stdout).AP, 1, 1e-12);
    const warnings = nonEmptyLines(run.stderr).filter((line) => line.includes("warning"));
    assertEquals(warnings, [
      `posekit: warning: ${gtPath}: 1 image id(s) are listed twice`,
      `posekit: warning: ${gtPath}: 1 annotation(s) are not evaluated, as in pycocotools ` +
      `(unlisted image ids 7)`,
    ]);
  }));
