/**
 * `deno run -A bench/eval_bench.ts [--images N] [--runs N] [--write DIR] [--report]`: times
 * the COCO keypoint evaluator on a synthetic set of the size of COCO val2017 (5,000 images, 8 results per image: 40,000),
 * generated deterministically from a seeded PRNG. Prints the time of JSON parsing + checking
 * and of `evaluateKeypoints` (median, min and max over the runs, after one warm-up run).
 *
 * pycocotools takes a few seconds on such a set; the target here is well under 5 s. With
 * --write, the set is also saved as DIR/gt.json and DIR/results.json (to run pycocotools on).
 * With --report, each run also builds `eval --report`'s numbers, page, summary and CSV
 * (without the bootstrap, which is timed once on its own), and the ratio of eval --report to
 * plain eval (parsing + evaluation) is printed: it must stay under 5×.
 */

import { parseArgs } from "node:util";
import { evaluateKeypoints } from "../lib/eval/cocoeval.ts";
import { parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import { formatTable } from "../lib/eval/summary.ts";
import {
  buildEvalReport,
  perImageCsv,
  REPORT_BOOTSTRAP,
  reportSummary,
} from "../lib/eval/report.ts";
import { renderReportHtml } from "../lib/eval/report_html.ts";
import { seededRandom } from "../lib/math/random.ts";

const RESULTS_PER_IMAGE = 8;

/** A standing person in a unit box, COCO keypoint order. */
const TEMPLATE = [
  [.50, .08],
  [.53, .06],
  [.47, .06],
  [.57, .08],
  [.43, .08],
  [.65, .22],
  [.35, .22],
  [.72, .38],
  [.28, .38],
  [.75, .52],
  [.25, .52],
  [.60, .55],
  [.40, .55],
  [.60, .75],
  [.40, .75],
  [.60, .95],
  [.40, .95],
];

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Ground truth and results as parsed JSON values, as a user's files would give them. */
function syntheticSet(numImages: number, seed: number) {
  const rand = seededRandom(seed);
  const images = [];
  const annotations = [];
  const results = [];
  let annId = 0;
  for (let i = 0; i < numImages; i++) {
    const imageId = 1 + i * 7;
    images.push({ id: imageId, width: 640, height: 480, file_name: `${imageId}.jpg` });
    const people = Math.floor(rand() * 9);
    let imageResults = 0;
    for (let p = 0; p < people; p++) {
      const w = 10 + rand() * rand() * 250, h = w * (1.6 + rand());
      const x = rand() * 600, y = rand() * 400;
      const kind = rand();
      const keypoints: number[] = [];
      for (const [u, v] of TEMPLATE) {
        const labelled = kind > 0.1 && rand() < 0.8;
        keypoints.push(...(labelled ? [round2(x + u * w), round2(y + v * h), 2] : [0, 0, 0]));
      }
      const crowd = kind < 0.03;
      annotations.push({
        id: ++annId,
        image_id: imageId,
        category_id: 1,
        keypoints: crowd ? new Array(51).fill(0) : keypoints,
        num_keypoints: crowd
          ? 0
          : keypoints.filter((_, j) => j % 3 === 2 && keypoints[j] > 0).length,
        area: round2(w * h * 0.6),
        bbox: [round2(x), round2(y), round2(w), round2(h)],
        iscrowd: crowd ? 1 : 0,
      });
      if (imageResults < RESULTS_PER_IMAGE && rand() < 0.85) {
        const noise = rand() * 0.08 * w;
        results.push({
          image_id: imageId,
          category_id: 1,
          keypoints: TEMPLATE.flatMap(([u, v]) => [
            round2(x + u * w + (rand() - 0.5) * noise),
            round2(y + v * h + (rand() - 0.5) * noise),
            1,
          ]),
          score: round2(rand()),
        });
        imageResults++;
      }
    }
    for (; imageResults < RESULTS_PER_IMAGE; imageResults++) {
      const w = 20 + rand() * 150, x = rand() * 600, y = rand() * 400;
      results.push({
        image_id: imageId,
        category_id: 1,
        keypoints: TEMPLATE.flatMap(([u, v]) => [round2(x + u * w), round2(y + v * w * 2), 1]),
        score: round2(rand() * 0.7),
      });
    }
  }
  return {
    gt: { images, annotations, categories: [{ id: 1, name: "person" }] },
    results,
  };
}

function time<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, performance.now() - start];
}

function describe(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `median ${median.toFixed(1)} ms (min ${sorted[0].toFixed(1)}, max ${
    sorted[sorted.length - 1].toFixed(1)
  }) over ${ms.length} runs`;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    images: { type: "string", default: "5000" },
    runs: { type: "string", default: "5" },
    write: { type: "string" },
    report: { type: "boolean" },
  },
});
const numImages = Number(values.images);
const runs = Number(values.runs);

const set = syntheticSet(numImages, 2017);
const gtText = JSON.stringify(set.gt), resultsText = JSON.stringify(set.results);
if (values.write) {
  Deno.mkdirSync(values.write, { recursive: true });
  Deno.writeTextFileSync(`${values.write}/gt.json`, gtText);
  Deno.writeTextFileSync(`${values.write}/results.json`, resultsText);
}
console.log(
  `synthetic set: ${numImages} images, ${set.gt.annotations.length} annotations, ` +
    `${set.results.length} results (${(gtText.length / 1e6).toFixed(1)} + ` +
    `${(resultsText.length / 1e6).toFixed(1)} MB of JSON)`,
);

// Side by side, run after run (so that both see the same machine load): plain eval, and
// eval --report without the bootstrap (the report's numbers, its page, summary and CSV; no
// disk). Run 0 of each warms up.
const parseTimes: number[] = [];
const evalTimes: number[] = [];
const reportTimes: number[] = [];
let stats;
for (let run = 0; run <= runs; run++) {
  const [parsed, parseMs] = time(() => {
    const gt = parseGroundTruth(JSON.parse(gtText), "synthetic ground truth");
    return { gt, ...parseResults(JSON.parse(resultsText), "synthetic results", gt) };
  });
  const [evaluation, evalMs] = time(() => evaluateKeypoints(parsed.gt, parsed.results));
  stats = evaluation.stats;
  const [, reportMs] = values.report
    ? time(() => {
      const report = buildEvalReport(parsed.gt, parsed.results, { evaluation, bootstrap: false });
      const fileNames = new Map(parsed.gt.images.map((im) => [im.id, im.fileName ?? ""]));
      return [
        renderReportHtml({ report, groundTruth: "gt.json", results: "results.json" }),
        JSON.stringify(reportSummary(report)),
        perImageCsv(report, fileNames),
      ];
    })
    : [undefined, 0];
  if (run > 0) {
    parseTimes.push(parseMs);
    evalTimes.push(evalMs);
    reportTimes.push(reportMs);
  }
}
const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
console.log(`JSON.parse + parseGroundTruth + parseResults: ${describe(parseTimes)}`);
console.log(`evaluateKeypoints: ${describe(evalTimes)}`);
if (values.report) {
  console.log(`report (no bootstrap: numbers, page, summary, CSV): ${describe(reportTimes)}`);
  const plain = parseTimes.map((p, i) => p + evalTimes[i]);
  const withReport = plain.map((p, i) => p + reportTimes[i]);
  console.log(
    `eval --report / eval, median per run: ${(median(withReport) / median(plain)).toFixed(2)}× ` +
      `(${median(withReport).toFixed(0)} ms vs ${median(plain).toFixed(0)} ms; the report ` +
      `alone is ${(median(reportTimes) / median(evalTimes)).toFixed(2)}× evaluateKeypoints)`,
  );
  const gt = parseGroundTruth(JSON.parse(gtText), "synthetic ground truth");
  const { results } = parseResults(JSON.parse(resultsText), "synthetic results", gt);
  const evaluation = evaluateKeypoints(gt, results);
  const [, bootstrapMs] = time(() => buildEvalReport(gt, results, { evaluation }));
  console.log(
    `report with the bootstrap (${REPORT_BOOTSTRAP.resamples} resamples): ` +
      `${bootstrapMs.toFixed(0)} ms`,
  );
}
console.log(formatTable(stats!));
