/**
 * `eval --report`'s numbers against an independent reference.
 *
 * Where the expected values come from:
 * - tests/fixtures/eval/report_cases.json: generated cases with planted errors (a mirrored left
 *   arm, a keypoint taken from a neighbour, jitter at a known ks, a keypoint far away, false
 *   positives, duplicates, crowds, more than 20 results on an image), with the report's numbers
 *   computed by tests/fixtures/eval/report_reference.py: pure Python + numpy, pycocotools'
 *   keypoint evaluation ported loop for loop (the port first reproduces, to 1e-12, every stat
 *   that pycocotools itself produced for cases.json and dev_perturbed.json), the report's
 *   definitions written out plainly on top.
 * - tests/fixtures/eval/report_dev.json: the same on the shared dev annotations, against
 *   results built by `devReportResults` below (the closed formula of the script's
 *   dev_report_results).
 * - The planted case's counts are also stated by hand, and the bootstrap is checked against
 *   `evaluateKeypoints` on resampled files built by hand.
 */

import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";
import {
  evaluateKeypoints,
  type GroundTruthAnnotation,
  type KeypointResult,
  STAT_NAMES,
} from "../lib/eval/cocoeval.ts";
import { drawWeights, WeightedStats } from "../lib/eval/bootstrap.ts";
import { seededRandom } from "../lib/math/random.ts";
import { groupCells, oksRows, orderResults, selectResults } from "../lib/eval/variants.ts";
import { type CocoGroundTruth, parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import {
  areaMatchings,
  buildEvalReport,
  CUMULATIVE_STEPS,
  FIX_ORDER,
  reportSummary,
} from "../lib/eval/report.ts";
import { ERROR_CLASSES } from "../lib/eval/diagnosis.ts";
import { COCO_KEYPOINT_SIGMAS } from "../lib/coco/keypoints.ts";
import { evalKeypointLayout, mirrorsFromNames } from "../lib/eval/layout.ts";
import { COCO_KEYPOINT_NAMES } from "../lib/coco/keypoints.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";

interface Expected {
  stats: number[];
  errors: Record<string, number>;
  errorsPerKeypoint: Record<string, Record<string, number>>;
  apFixed: Record<string, number | null> & { cumulative: Record<string, number | null> };
  slices: Record<string, Record<string, number | null>>;
  perImage: {
    imageId: number;
    people: number;
    results: number;
    matched: number;
    meanOks: number | null;
    good: number;
    jitter: number;
    inversion: number;
    swap: number;
    miss: number;
  }[];
}

interface ReportCase {
  name: string;
  description: string;
  groundTruth: unknown;
  results: unknown[];
  expected: Expected;
}

const fixtureDir = new URL("./fixtures/eval/", import.meta.url);
const cases = JSON.parse(Deno.readTextFileSync(new URL("report_cases.json", fixtureDir))) as {
  cases: ReportCase[];
};

/** AP values: the reference sums in numpy's order too, so 1e-6 is far more than needed. */
const TOLERANCE = 1e-6;

function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assertEquals(actual, null, what);
    return;
  }
  assert(actual !== null, `${what}: null, expected ${expected}`);
  assertAlmostEquals(actual, expected, TOLERANCE, what);
}

/** Compares a report with the reference's numbers. */
function assertMatchesReference(
  gt: CocoGroundTruth,
  results: KeypointResult[],
  expected: Expected,
  name: string,
): void {
  const report = buildEvalReport(gt, results, { bootstrap: false });
  const summary = reportSummary(report) as {
    errors: Record<string, number>;
    errors_per_keypoint: Record<string, Record<string, number>>;
    ap_fixed: Record<string, number | null> & { cumulative: Record<string, number | null> };
    slices: Record<string, Record<string, number | null>>;
  };
  const stats = report.evaluation.stats;
  STAT_NAMES.forEach((stat, i) => close(stats[stat], expected.stats[i], `${name}: ${stat}`));
  assertEquals(summary.errors, expected.errors, `${name}: class counts`);
  assertEquals(summary.errors_per_keypoint, expected.errorsPerKeypoint, `${name}: per keypoint`);
  for (const key of ["original", ...FIX_ORDER]) {
    close(summary.ap_fixed[key] as number | null, expected.apFixed[key], `${name}: AP ${key}`);
  }
  for (const step of CUMULATIVE_STEPS) {
    close(
      summary.ap_fixed.cumulative[step],
      expected.apFixed.cumulative[step],
      `${name}: cumulative ${step}`,
    );
  }
  for (const [kind, bins] of Object.entries(expected.slices)) {
    for (const [label, value] of Object.entries(bins)) {
      close(summary.slices[kind][label], value, `${name}: slice ${kind} ${label}`);
    }
  }
  assertEquals(report.perImage.length, expected.perImage.length);
  report.perImage.forEach((row, i) => {
    const want = expected.perImage[i];
    const where = `${name}: image ${want.imageId}`;
    assertEquals(
      [row.imageId, row.people, row.results, row.matched, ...row.classes],
      [
        want.imageId,
        want.people,
        want.results,
        want.matched,
        ...ERROR_CLASSES.map((c) => want[c]),
      ],
      where,
    );
    close(row.meanOks === -1 ? null : row.meanOks, want.meanOks, `${where} mean OKS`);
  });
}

for (const c of cases.cases) {
  Deno.test(`report equals the Python reference: ${c.name} — ${c.description.split("\n")[0]}`, () => {
    const gt = parseGroundTruth(c.groundTruth, `${c.name} ground truth`);
    const { results } = parseResults(c.results, `${c.name} results`, gt);
    assertMatchesReference(gt, results, c.expected, c.name);
  });
}

Deno.test("the planted case has exactly the planted errors", () => {
  const planted = cases.cases.find((c) => c.name === "planted")!;
  const gt = parseGroundTruth(planted.groundTruth, "planted");
  const { results } = parseResults(planted.results, "planted", gt);
  const report = buildEvalReport(gt, results, { bootstrap: false });
  // 3 people × 17 keypoints; 2 inversions (left elbow, wrist), 1 swap, 1 jitter, 1 miss.
  assertEquals(report.errors, { good: 46, jitter: 1, inversion: 2, swap: 1, miss: 1 });
  const per = report.errorsPerKeypoint;
  assertEquals([per.left_elbow.inversion, per.left_wrist.inversion], [1, 1]);
  assertEquals([per.right_wrist.swap, per.left_knee.jitter, per.left_ankle.miss], [1, 1, 1]);
  assertEquals(per.right_knee.good, 3, "ks 0.9 is good");
  // A's left hip halfway between its two hips: the tie goes to its own keypoint.
  assertEquals([per.left_hip.good, per.left_hip.inversion], [3, 0]);
  // Fixing everything that is wrong makes every match perfect at every threshold.
  assertEquals(report.apFixed.cumulative.jitter, 1);
});

// ------------------------------------------------------------------------ shared dev set

/** The closed formula of report_reference.py's dev_report_results (see its docstring). */
function devReportResults(gt: CocoGroundTruth): KeypointResult[] {
  const mirror = mirrorsFromNames(COCO_KEYPOINT_NAMES);
  const withKeypoints = gt.annotations.filter((a) => a.numKeypoints > 0);
  const results: KeypointResult[] = [];
  withKeypoints.forEach((ann, a) => {
    const [bx, by, bw, bh] = ann.bbox;
    const s = Math.sqrt(ann.area);
    const neighbour = withKeypoints.slice(a + 1).find((o) => o.imageId === ann.imageId);
    const keypoints: number[] = [];
    for (let k = 0; k < 17; k++) {
      const [x, y, v] = ann.keypoints.subarray(3 * k, 3 * k + 3);
      if (!(v > 0)) {
        keypoints.push(bx + bw / 2, by + bh / 2, 1);
        continue;
      }
      const u = COCO_KEYPOINT_SIGMAS[k] * s;
      const c = ((3 * a + 5 * k) % 7) * 0.4 + 0.1;
      let [px, py] = [x + c * u, y + (c * u) / 2];
      const m = ann.keypoints.subarray(3 * mirror[k], 3 * mirror[k] + 3);
      if ((a + k) % 9 === 4 && mirror[k] !== k && m[2] > 0) [px, py] = [m[0] + 0.5, m[1]];
      if ((a + 2 * k) % 13 === 5 && neighbour && neighbour.keypoints[3 * k + 2] > 0) {
        [px, py] = [neighbour.keypoints[3 * k], neighbour.keypoints[3 * k + 1] + 0.5];
      }
      keypoints.push(px, py, 1);
    }
    if (a % 6 !== 2) {
      results.push({
        imageId: ann.imageId,
        categoryId: 1,
        keypoints,
        score: 0.3 + ((29 * a) % 70) / 100,
      });
    }
    if (a % 4 === 1) {
      results.push({
        imageId: ann.imageId,
        categoryId: 1,
        keypoints: keypoints.map((v, i) => (i % 3 === 0 ? v + 2 * bw : v)),
        score: 0.45,
      });
    }
  });
  return results;
}

Deno.test({
  name: "report equals the Python reference on the shared dev set (perturbed ground truth)",
  ignore: ignoreWithoutShared(...DEV_ANNOTATIONS),
  fn() {
    const path = requireShared(...DEV_ANNOTATIONS);
    const gt = parseGroundTruth(JSON.parse(Deno.readTextFileSync(path)), path);
    const expected = JSON.parse(Deno.readTextFileSync(new URL("report_dev.json", fixtureDir)))
      .expected as Expected;
    // Through the results JSON, as eval reads a file (areas from the keypoints' extent).
    const results = devReportResults(gt).map((r) => ({
      image_id: r.imageId,
      category_id: r.categoryId,
      keypoints: Array.from(r.keypoints),
      score: r.score,
    }));
    const parsed = parseResults(results, "dev results", gt).results;
    assertMatchesReference(gt, parsed, expected, "dev");
    for (const c of ERROR_CLASSES) assert(expected.errors[c] > 0, `the dev set has some ${c}`);
  },
});

// ------------------------------------------------------------------------------- bootstrap

/** The ten stats as `WeightedStats` computes them for `weights`, and as files resampled by hand. */
function weightedAndByHand(gt: CocoGroundTruth, results: KeypointResult[], weights: Int32Array) {
  const cells = groupCells(gt, COCO_KEYPOINT_SIGMAS);
  const { set } = selectResults(cells, results);
  const order = orderResults(cells, set);
  const oks = oksRows(cells, set);
  const weighted = new WeightedStats(cells, set, order, areaMatchings(cells, set, order, oks));
  // Copy c of the m-th image gets id 1000 m + c: copies next to each other, in image order.
  const imageIds: number[] = [];
  const annotations: GroundTruthAnnotation[] = [];
  const copies: KeypointResult[] = [];
  cells.imageIds.forEach((id, m) => {
    for (let c = 0; c < weights[m]; c++) {
      const newId = 1000 * m + c;
      imageIds.push(newId);
      for (const a of gt.annotations) {
        if (a.imageId === id) {
          annotations.push({ ...a, id: annotations.length + 1, imageId: newId });
        }
      }
      for (const r of results) if (r.imageId === id) copies.push({ ...r, imageId: newId });
    }
  });
  const byHand = evaluateKeypoints(
    { imageIds, categoryIds: gt.categoryIds, annotations },
    copies,
  ).stats;
  return { weighted: weighted.stats(weights), byHand };
}

Deno.test({
  name: "report equals the Python reference on the shared dev set with a real model's results",
  ignore: ignoreWithoutShared(...DEV_ANNOTATIONS),
  fn() {
    // RTMDet-nano + SimplePose-nano on the 56 dev images, as `eval --images` wrote them (AP
    // 0.5700, the README's row): posekit's output is the input, the numbers are the script's.
    const path = requireShared(...DEV_ANNOTATIONS);
    const gt = parseGroundTruth(JSON.parse(Deno.readTextFileSync(path)), path);
    const read = (name: string) => JSON.parse(Deno.readTextFileSync(new URL(name, fixtureDir)));
    const parsed = parseResults(read("dev_model_results.json"), "model results", gt).results;
    const expected = read("report_dev_model.json").expected as Expected;
    assertMatchesReference(gt, parsed, expected, "dev, a model");
    assertAlmostEquals(expected.apFixed.original!, 0.57, 0.0005, "the README's AP");
  },
});

Deno.test("bootstrap: a resample's stats equal COCOeval on the resampled files", () => {
  for (const name of ["scene", "generated_seed1", "generated_seed2"]) {
    const c = cases.cases.find((c) => c.name === name)!;
    const gt = parseGroundTruth(c.groundTruth, c.name);
    // Distinct scores: the order among tied results of one image is the one thing that a
    // weighted pass and real copies could order differently.
    const results = parseResults(c.results, c.name, gt).results
      .map((r, i) => ({ ...r, score: r.score + i * 1e-7 }));
    const random = seededRandom(3);
    for (let b = 0; b < 4; b++) {
      const weights = b === 0
        ? new Int32Array(gt.imageIds.length).fill(1)
        : drawWeights(gt.imageIds.length, random);
      const { weighted, byHand } = weightedAndByHand(gt, results, weights);
      for (const stat of STAT_NAMES) {
        assertAlmostEquals(weighted[stat], byHand[stat], 1e-12, `${name}, draw ${b}: ${stat}`);
      }
    }
  }
});

Deno.test("bootstrap: the interval holds the AP, has a spread, and repeats with its seed", () => {
  const c = cases.cases.find((c) => c.name === "generated_seed1")!;
  const gt = parseGroundTruth(c.groundTruth, c.name);
  const { results } = parseResults(c.results, c.name, gt);
  const report = buildEvalReport(gt, results, { bootstrap: { resamples: 200, seed: 7 } });
  const interval = report.intervals!.stats.AP!;
  const ap = report.evaluation.stats.AP;
  assert(interval[0] < ap && ap < interval[1], `${interval} holds ${ap}`);
  assert(interval[1] - interval[0] > 0.02, `a real spread: ${interval}`);
  const again = buildEvalReport(gt, results, { bootstrap: { resamples: 200, seed: 7 } });
  assertEquals(again.intervals, report.intervals);
  // Compared with itself: a difference of exactly 0 in every draw.
  const self = buildEvalReport(gt, results, {
    bootstrap: { resamples: 50, seed: 7 },
    compare: results,
  });
  assertEquals(self.compare?.difference, 0);
  assertEquals(self.compare?.ci95, [0, 0]);
  // Against far worse results: a positive difference, its interval away from 0.
  const worse = results.map((r) => ({
    ...r,
    keypoints: Array.from(r.keypoints, (v, i) => (i % 3 === 2 ? v : v + 7)),
  }));
  const better = buildEvalReport(gt, results, {
    bootstrap: { resamples: 200, seed: 7 },
    compare: worse,
  });
  const worseAp = evaluateKeypoints(gt, worse).stats.AP;
  assertAlmostEquals(better.compare!.difference, ap - worseAp, 1e-12);
  assert(better.compare!.ci95![0] > 0, `${better.compare!.ci95}`);
});

Deno.test("any keypoint set: mirrors from left_/right_ names, its own sigmas and names", () => {
  const names = ["head", "left_hand", "right_hand", "left_foot", "right_foot", "tail"];
  const layout = evalKeypointLayout(names, [0.05, 0.06, 0.06, 0.08, 0.08, 0.1]);
  assertEquals([...layout.mirror], [0, 2, 1, 4, 3, 5]);
  const person = (id: number, x: number): GroundTruthAnnotation => ({
    id,
    imageId: 1,
    categoryId: 1,
    keypoints: Float64Array.from([
      [x, 10, 2],
      [x + 30, 50, 2],
      [x - 30, 50, 2],
      [x + 15, 120, 2],
      [x - 15, 120, 2],
      [x, 80, 2],
    ].flat()),
    numKeypoints: 6,
    area: 8000,
    bbox: [x - 40, 0, 80, 130],
    iscrowd: false,
  });
  const a = person(1, 100), b = person(2, 300);
  const gt = { imageIds: [1], categoryIds: [1], annotations: [a, b] };
  // A's hands exchanged (two inversions); B's tail on A's tail (a swap); B's head 200 px off.
  const ra = Array.from(a.keypoints, (v, i) => (i % 3 === 2 ? 1 : v));
  [ra[3], ra[6]] = [ra[6], ra[3]];
  const rb = Array.from(b.keypoints, (v, i) => (i % 3 === 2 ? 1 : v + 0.5));
  [rb[15], rb[16]] = [a.keypoints[15], a.keypoints[16]];
  rb[1] += 200;
  const results: KeypointResult[] = [
    { imageId: 1, categoryId: 1, keypoints: ra, score: 0.9 },
    { imageId: 1, categoryId: 1, keypoints: rb, score: 0.8 },
  ];
  const report = buildEvalReport(gt, results, { layout, bootstrap: false });
  assertEquals(report.errors, { good: 8, jitter: 0, inversion: 2, swap: 1, miss: 1 });
  assertEquals(Object.keys(report.errorsPerKeypoint), names);
  assertEquals(report.errorsPerKeypoint.left_hand.inversion, 1);
  assertEquals(report.errorsPerKeypoint.tail.swap, 1);
  assertEquals(report.errorsPerKeypoint.head.miss, 1);
  // With everything fixed, both people are found at every threshold.
  assertEquals(report.apFixed.cumulative.jitter, 1);
  assert(report.apFixed.original < 1);
});

Deno.test("a NaN OKS (an ignored annotation of area −ε) is matched as pycocotools matches it", () => {
  // Two annotations of one person on one image; the first, ignored (its area is under 0), has
  // area −2^−52, so its OKS is 0 / 0 = NaN (area + ε = 0). pycocotools matches the result to
  // the countable one (OKS 1), as the report must: a NaN in the row must not hide that match.
  const keypoints = Array.from({ length: 51 }, (_, i) => (i % 3 === 2 ? 2 : 100 + 7 * i));
  const annotation = {
    image_id: 1,
    category_id: 1,
    keypoints,
    num_keypoints: 17,
    bbox: [100, 100, 100, 200],
    iscrowd: 0,
  };
  const gt = parseGroundTruth({
    images: [{ id: 1 }],
    categories: [{ id: 1 }],
    annotations: [
      { ...annotation, id: 1, area: -(2 ** -52) },
      { ...annotation, id: 2, area: 5000 },
    ],
  }, "gt.json");
  const { results } = parseResults(
    [{ image_id: 1, category_id: 1, keypoints, score: 0.9 }],
    "results.json",
    gt,
  );
  const report = buildEvalReport(gt, results, { bootstrap: false });
  assertAlmostEquals(report.evaluation.stats.AP, 1, 1e-12);
  assertAlmostEquals(report.apFixed.original, 1, 1e-12);
});
