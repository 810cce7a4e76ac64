/// <reference lib="dom" />
/**
 * `posekit eval --report DIR` end to end: the real command line on the shared COCO dev
 * annotations — the three files and what they hold, `--compare`, bad input leaving nothing
 * written, and (once, on 3 images with the shared models) the gallery, with the page opened in
 * headless Chromium to check that it needs nothing from the network.
 *
 * With POSEKIT_REPORT_SCREENSHOT=FILE the Chromium test saves a full-page picture of its page
 * there. (docs/eval_report.png was taken the same way, with `withChromium`, of the report on
 * all 56 dev images: pp_tinypose_256x192 on RTMDet-nano boxes.)
 */

import { join } from "node:path";
import type { HTTPRequest } from "puppeteer-core";
import { assert, assertEquals } from "./support/assert.ts";
import {
  type CliRun,
  describeRun,
  hasStackTrace,
  nonEmptyLines,
  runCli,
  withTempDir,
} from "./support/cli.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { chromiumAvailable, withChromium } from "./support/chromium.ts";
import { COCO_KEYPOINT_NAMES } from "../lib/coco/keypoints.ts";

const ignore = ignoreWithoutShared(...DEV_ANNOTATIONS);
const FILES = ["per_image.csv", "report.html", "summary.json"];

interface Annotation {
  image_id: number;
  keypoints: number[];
  num_keypoints: number;
  iscrowd: number;
  bbox: number[];
}

interface GroundTruth {
  images: { id: number; file_name: string }[];
  annotations: Annotation[];
}

function readGroundTruth(): GroundTruth {
  return JSON.parse(Deno.readTextFileSync(requireShared(...DEV_ANNOTATIONS)));
}

/**
 * Results with some of each error: every person found with keypoints a few pixels off; every
 * third with its wrists exchanged (inversions); every fifth with its ankles 300 px away (misses);
 * a false positive on every fourth image. `shift` moves all keypoints further.
 */
function perturbedResults(gt: GroundTruth, shift = 0): object[] {
  const people = gt.annotations.filter((a) => !a.iscrowd && a.num_keypoints > 0);
  const results: object[] = people.map((a, n) => {
    const k = a.keypoints.map((v, i) => (i % 3 === 2 ? 1 : v + shift + ((n + i) % 5) - 2));
    if (n % 3 === 0) {
      for (const j of [0, 1]) [k[27 + j], k[30 + j]] = [k[30 + j], k[27 + j]];
    }
    if (n % 5 === 0) { for (const i of [45, 48]) k[i] += 300; }
    return { image_id: a.image_id, category_id: 1, keypoints: k, score: 0.5 + (n % 7) / 20 };
  });
  gt.images.forEach((image, m) => {
    if (m % 4 !== 0) return;
    const k = Array.from({ length: 51 }, (_, i) => (i % 3 === 2 ? 1 : 5 + 3 * i));
    results.push({ image_id: image.id, category_id: 1, keypoints: k, score: 0.3 });
  });
  return results;
}

function evaluate(args: string[]): Promise<CliRun> {
  return runCli(["eval", "--gt", requireShared(...DEV_ANNOTATIONS), ...args]);
}

function assertExit(run: CliRun, code: number): void {
  assertEquals(run.code, code, `exit code\n${describeRun(run)}`);
  assert(!hasStackTrace(run.stderr), `no stack trace\n${describeRun(run)}`);
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** The page needs nothing it does not carry: no script, stylesheet or remote reference. */
function assertSelfContained(html: string): void {
  assert(!/<script|<link|<iframe|@import|url\(/i.test(html), "no script, link or CSS import");
  const remote = html.match(/(?:src|href)\s*=\s*["']?(?!data:)[a-z]+:/gi);
  assertEquals(remote, null, "no src/href to another address");
}

Deno.test({
  name: "eval --report: summary.json, per_image.csv and an offline report.html; --json unchanged",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = readGroundTruth();
      const resultsPath = join(dir, "results.json");
      await Deno.writeTextFile(resultsPath, JSON.stringify(perturbedResults(gt)));
      const reportDir = join(dir, "new", "report");
      const run = await evaluate(["--results", resultsPath, "--report", reportDir, "--json"]);
      assertExit(run, 0);
      const lines = nonEmptyLines(run.stdout);
      assertEquals(lines.length, 1, "stdout is still one JSON object");
      const stats = JSON.parse(lines[0]);
      assertEquals(await listFiles(reportDir), FILES);

      const summary = JSON.parse(await Deno.readTextFile(join(reportDir, "summary.json")));
      assertEquals(summary.stats, stats, "summary.json's stats are --json's");
      const counts = summary.errors;
      assertEquals(Object.keys(counts), ["good", "jitter", "inversion", "swap", "miss"]);
      assert(counts.inversion > 0 && counts.miss > 0 && counts.good > 0, JSON.stringify(counts));
      assertEquals(Object.keys(summary.errors_per_keypoint), [...COCO_KEYPOINT_NAMES]);
      // Exchanged wrists are inversions of the wrists; ankles far away are ankle misses.
      assert(summary.errors_per_keypoint.left_wrist.inversion > 0);
      assert(summary.errors_per_keypoint.left_ankle.miss > 0);
      assertEquals(summary.ap_fixed.original, stats.AP);
      assertEquals(
        Object.keys(summary.ap_fixed),
        ["original", "miss", "swap", "inversion", "jitter", "cumulative"],
      );
      const steps = ["miss", "swap", "inversion", "jitter", "background", "score", "missed_people"];
      assertEquals(Object.keys(summary.ap_fixed.cumulative), steps);
      assert(summary.ap_fixed.miss > stats.AP && summary.ap_fixed.inversion > stats.AP);
      assertEquals(Object.keys(summary.slices.keypoints), ["1-5", "6-10", "11-15", "16+"]);
      assertEquals(Object.keys(summary.slices.overlap), ["0", "1-2", "3+"]);
      assertEquals(Object.keys(summary.slices.area), ["32-64", "64-96", "96-128", "128+"]);
      const [low, high] = summary.ap_ci95;
      assert(low <= stats.AP && stats.AP <= high && low < high, `${low} ≤ ${stats.AP} ≤ ${high}`);
      assertEquals(summary.compare, undefined);

      const csv = (await Deno.readTextFile(join(reportDir, "per_image.csv"))).trimEnd().split("\n");
      assertEquals(
        csv[0],
        "image_id,file_name,people,results,matched,mean_oks,good,jitter,inversion,swap,miss",
      );
      assertEquals(csv.length, gt.images.length + 1, "a line per image");
      const row785 = csv.find((line) => line.startsWith("785,"))!.split(",");
      const on785 = (perturbedResults(gt) as { image_id: number }[])
        .filter((r) => r.image_id === 785).length;
      assertEquals(row785.slice(1, 5), ["000000000785.jpg", "1", String(on785), "1"]);

      const html = await Deno.readTextFile(join(reportDir, "report.html"));
      assertSelfContained(html);
      assert((html.match(/<svg /g) ?? []).length >= 14, "the charts are inline SVG");
      assert(html.includes("With --images, the worst images"), "no gallery without --images");
    }),
});

Deno.test({
  name: "eval --report --compare: the paired AP difference and its interval",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = readGroundTruth();
      const a = join(dir, "a.json"), b = join(dir, "b.jsonl");
      await Deno.writeTextFile(a, JSON.stringify(perturbedResults(gt)));
      // The other results as predict's JSON Lines (a line per image), worse by 4 px.
      const worse = perturbedResults(gt, 4) as {
        image_id: number;
        keypoints: number[];
        score: number;
      }[];
      const lines = gt.images.map((image) =>
        JSON.stringify({
          file: image.file_name,
          image_id: image.id,
          people: worse.filter((r) => r.image_id === image.id).map((r) => {
            const xs = r.keypoints.filter((_, i) => i % 3 === 0);
            const ys = r.keypoints.filter((_, i) => i % 3 === 1);
            const [x, y] = [Math.min(...xs), Math.min(...ys)];
            const bbox = [x, y, Math.max(...xs) - x, Math.max(...ys) - y];
            return { bbox, score: r.score, keypoints: r.keypoints };
          }),
        })
      );
      await Deno.writeTextFile(b, lines.join("\n") + "\n");
      const run = await evaluate(["--results", a, "--report", join(dir, "r"), "--compare", b]);
      assertExit(run, 0);
      const summary = JSON.parse(await Deno.readTextFile(join(dir, "r", "summary.json")));
      const other = await evaluate(["--results", b, "--json"]);
      assertExit(other, 0);
      const otherAP = JSON.parse(other.stdout).AP;
      assertEquals(summary.compare.difference, summary.stats.AP - otherAP);
      const [low, high] = summary.compare.ci95;
      assert(low <= summary.compare.difference && summary.compare.difference <= high);
      const html = await Deno.readTextFile(join(dir, "r", "report.html"));
      assert(html.includes("Compared with") && html.includes(b), "the page names the comparison");
    }),
});

Deno.test({
  name: "eval --report: bad input is one clear error and nothing is written",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const gt = readGroundTruth();
      const good = join(dir, "good.json");
      await Deno.writeTextFile(good, JSON.stringify(perturbedResults(gt)));
      const bad = join(dir, "bad.json");
      await Deno.writeTextFile(
        bad,
        JSON.stringify([{ ...(perturbedResults(gt)[0]), image_id: 424242 }]),
      );

      // --compare without --report: a usage error.
      assertExit(await evaluate(["--results", good, "--compare", good]), 2);
      // A --compare file with an unknown image: an error naming it; the folder stays empty.
      const out = join(dir, "out");
      const run = await evaluate(["--results", good, "--report", out, "--compare", bad]);
      assertExit(run, 1);
      assert(run.stderr.includes(bad) && run.stderr.includes("424242"), run.stderr);
      assertEquals(await listFiles(out), []);
      // A --report that is a file: refused before anything is evaluated.
      const file = join(dir, "file.txt");
      await Deno.writeTextFile(file, "keep me\n");
      const onFile = await evaluate(["--results", good, "--report", file]);
      assertExit(onFile, 1);
      assert(onFile.stderr.includes("--report"), onFile.stderr);
      assertEquals(await Deno.readTextFile(file), "keep me\n");
      // A bad results file: nothing in the report folder.
      const again = await evaluate(["--results", bad, "--report", out]);
      assertExit(again, 1);
      assertEquals(await listFiles(out), []);
    }),
});

Deno.test({
  name: "eval --images --report: the models run once; the gallery's pictures load in Chromium",
  ignore: ignore || ignoreWithoutShared("models", "simplepose_nano_256x192.onnx"),
  fn: () =>
    withTempDir(async (dir) => {
      const gt = readGroundTruth();
      const chosen = [785, 196141, 151938];
      const imagesDir = join(dir, "images");
      await Deno.mkdir(imagesDir);
      for (const id of chosen) {
        const image = gt.images.find((im) => im.id === id)!;
        await Deno.copyFile(
          requireShared("coco", "val2017", image.file_name),
          join(imagesDir, image.file_name),
        );
      }
      // Only the three images: a ground truth of their own.
      const subset = {
        ...gt,
        images: gt.images.filter((im) => chosen.includes(im.id)),
        annotations: gt.annotations.filter((a) => chosen.includes(a.image_id)),
      };
      const gtPath = join(dir, "gt.json");
      await Deno.writeTextFile(gtPath, JSON.stringify(subset));
      const reportDir = join(dir, "report");
      const run = await runCli([
        "eval",
        "--gt",
        gtPath,
        "--images",
        imagesDir,
        "--boxes",
        "gt",
        "--models",
        requireShared("models"),
        "--backend",
        "wasm",
        "--report",
        reportDir,
        "--json",
      ]);
      assertExit(run, 0);
      const html = await Deno.readTextFile(join(reportDir, "report.html"));
      assertSelfContained(html);
      const pictures = html.match(/src="data:image\/jpeg;base64,/g) ?? [];
      assertEquals(pictures.length, chosen.length, "a drawn picture per image");
      const summary = JSON.parse(await Deno.readTextFile(join(reportDir, "summary.json")));
      assert(summary.errors.good > 0, "a real model gets most keypoints right");

      if (!chromiumAvailable()) return;
      await withChromium(async (browser) => {
        const page = await browser.newPage();
        const fileUrl = `file://${join(reportDir, "report.html")}`;
        const requests: string[] = [];
        await page.setRequestInterception(true);
        page.on("request", (request: HTTPRequest) => {
          const url = request.url();
          if (url !== fileUrl && !url.startsWith("data:")) requests.push(url);
          request.continue();
        });
        await page.setViewport({ width: 1300, height: 900 });
        await page.goto(fileUrl, { waitUntil: "load" });
        assertEquals(requests, [], "the page asks for nothing");
        const loaded = await page.evaluate(() =>
          [...document.images].map((img) => img.complete && img.naturalWidth > 0)
        );
        assertEquals(loaded, chosen.map(() => true), "every picture decodes");
        const charts = await page.evaluate(() => document.querySelectorAll("svg").length);
        assert(charts >= 14, `${charts} charts`);
        const screenshot = Deno.env.get("POSEKIT_REPORT_SCREENSHOT");
        if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
      });
    }),
});
