/**
 * `eval --report`: why the AP is what it is. Keypoint errors and what fixing each kind is worth,
 * AP on slices of the ground truth, and a bootstrap interval — all as plain data, computed from
 * the ground truth and results exactly as the README's "eval --report" section defines them.
 * The page (`report_html.ts`) and the files (`summary.json`, `per_image.csv`) are views of it.
 */

import {
  AREA_RANGES,
  evaluateKeypoints,
  type GroundTruthSet,
  IOU_THRESHOLDS,
  type KeypointEvaluation,
  type KeypointResult,
  type KeypointStats,
  RECALL_THRESHOLDS,
} from "./cocoeval.ts";
import { bootstrap, type BootstrapIntervals, WeightedStats } from "./bootstrap.ts";
import {
  diagnoseKeypoints,
  DIAGNOSIS_OKS,
  ERROR_CLASSES,
  type ErrorClass,
  fixKeypoints,
  INVERSION,
  JITTER,
  type KeypointDiagnosis,
  MISS,
  SWAP,
} from "./diagnosis.ts";
import { type EvalKeypointLayout, evalKeypointLayout } from "./layout.ts";
import {
  type EvalCells,
  evaluateVariant,
  groupCells,
  keepPresent,
  type Matching,
  matchResults,
  type OksRows,
  oksRows,
  orderResults,
  type ResultOrder,
  type ResultSet,
  type Selection,
  selectResults,
} from "./variants.ts";
import { csvField } from "../output/csv.ts";

/** The fixes in the order they are applied cumulatively. */
/** The error classes the report fixes, in the order of its cumulative steps. */
export const FIX_ORDER = ["miss", "swap", "inversion", "jitter"] as const;
/** The cumulative steps: the four fixes, then background, score and missed people. */
export const CUMULATIVE_STEPS = [...FIX_ORDER, "background", "score", "missed_people"] as const;
/** One cumulative step. */
export type CumulativeStep = (typeof CUMULATIVE_STEPS)[number];

const CLASS_BITS: Record<(typeof FIX_ORDER)[number], number> = {
  miss: 1 << MISS,
  swap: 1 << SWAP,
  inversion: 1 << INVERSION,
  jitter: 1 << JITTER,
};

/** A slice of the ground truth: people whose measure lies in [min, max] (bounds inclusive). */
export interface SliceBin {
  /** Its name in summary.json. */
  label: string;
  /** Least value. */
  min: number;
  /** Greatest value. */
  max: number;
}

/** The slices: by labelled keypoints, by overlapping neighbours, by area. */
export const SLICES: Readonly<Record<"keypoints" | "overlap" | "area", readonly SliceBin[]>> = {
  keypoints: [
    { label: "1-5", min: 1, max: 5 },
    { label: "6-10", min: 6, max: 10 },
    { label: "11-15", min: 11, max: 15 },
    { label: "16+", min: 16, max: Infinity },
  ],
  overlap: [
    { label: "0", min: 0, max: 0 },
    { label: "1-2", min: 1, max: 2 },
    { label: "3+", min: 3, max: Infinity },
  ],
  area: [
    { label: "32-64", min: 32 ** 2, max: 64 ** 2 },
    { label: "64-96", min: 64 ** 2, max: 96 ** 2 },
    { label: "96-128", min: 96 ** 2, max: 128 ** 2 },
    { label: "128+", min: 128 ** 2, max: 1e10 },
  ],
};
/** A slice kind. */
export type SliceKind = keyof typeof SLICES;

/** A box IoU above this makes two people overlap (the "overlap" slices). */
export const OVERLAP_IOU = 0.1;

/** The bootstrap of the report: 1,000 resamples, a fixed seed (same interval on every run). */
export const REPORT_BOOTSTRAP = { resamples: 1000, seed: 2017 } as const;

/** Options of `buildEvalReport`. */
export interface EvalReportOptions {
  /** Names, sigmas and mirrors of the keypoints; default COCO's. */
  layout?: EvalKeypointLayout;
  /** The plain evaluation of the same files, when already computed (its stats and curves). */
  evaluation?: KeypointEvaluation;
  /** Bootstrap settings, or false for none; default `REPORT_BOOTSTRAP`. */
  bootstrap?: { resamples: number; seed: number } | false;
  /** Results to compare with (paired bootstrap of the AP difference). */
  compare?: readonly KeypointResult[];
}

/** One image's line of per_image.csv. */
export interface ImageDiagnosis {
  /** The image. */
  imageId: number;
  /** People: annotations that count (not crowd, with keypoints). */
  people: number;
  /** Results taking part (each image's 20 best). */
  results: number;
  /** Results matched to people at OKS 0.1. */
  matched: number;
  /** Mean OKS of those matches; -1 when none. */
  meanOks: number;
  /** Keypoint classes of the matched results, in `ERROR_CLASSES` order. */
  classes: number[];
}

/** Precision and recall against the score threshold, at OKS 0.5 over all areas. */
export interface ScoreCurve {
  /** Score thresholds, descending (results scoring at least this are kept). */
  threshold: number[];
  /** Precision of the kept results. */
  precision: number[];
  /** Recall of the kept results. */
  recall: number[];
  /** F1 of the two. */
  f1: number[];
  /** Index of the best F1, -1 when none. */
  best: number;
}

/** Everything `eval --report` shows. */
export interface EvalReport {
  /** The keypoint layout used. */
  layout: EvalKeypointLayout;
  /** The plain evaluation (stats, precision array). */
  evaluation: KeypointEvaluation;
  /** Keypoint class counts. */
  errors: Record<ErrorClass, number>;
  /** Keypoint class counts per keypoint name. */
  errorsPerKeypoint: Record<string, Record<ErrorClass, number>>;
  /** AP: original, each fix alone, and the cumulative steps (-1 where undefined). */
  apFixed: Record<"original" | (typeof FIX_ORDER)[number], number> & {
    cumulative: Record<CumulativeStep, number>;
  };
  /** [T][R] precision (mean over categories) of the original and of each cumulative step. */
  stepPrecision: { step: "original" | CumulativeStep; precision: Float64Array }[];
  /** AP of each slice, null for an empty slice. */
  slices: Record<SliceKind, Record<string, number | null>>;
  /** People (countable annotations) in each slice. */
  sliceSizes: Record<SliceKind, Record<string, number>>;
  /** Bootstrap intervals, unless switched off. */
  intervals?: BootstrapIntervals;
  /** With `compare`: AP − AP(other) and its paired interval. */
  compare?: { difference: number; ci95: [number, number] | null; other: KeypointStats };
  /** Per image, in image id order. */
  perImage: ImageDiagnosis[];
  /** Precision, recall and F1 against the score threshold (OKS 0.5). */
  scoreCurve: ScoreCurve;
  /** Per taking-part result: score, best OKS with any person of its image, true positive at 0.5. */
  scatter: { score: Float64Array; oks: Float64Array; truePositive: Uint8Array };
  /** The grouping, selected results and diagnosis (for drawing the gallery). */
  cells: EvalCells;
  /** See `cells`. */
  selection: Selection;
  /** See `cells`. */
  diagnosis: KeypointDiagnosis;
}

/**
 * Per result, the largest OKS with a person of its cell (an annotation that is not ignored),
 * -Infinity when its image has none.
 */
function bestPersonOks(cells: EvalCells, set: ResultSet, oks: OksRows): Float64Array {
  return Float64Array.from(set.cell, (c, r) => {
    let best = -Infinity;
    for (let p = cells.gtStart[c]; p < cells.gtStart[c + 1]; p++) {
      if (cells.ignored[cells.gtMembers[p]]) continue;
      const v = oks.values[oks.offset[r] + p - cells.gtStart[c]];
      if (v > best) best = v;
    }
    return best;
  });
}

/** pycocotools' box IoU of two non-crowd boxes (maskApi.c's bbIou). */
export function boxIou(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2] + a[0], b[2] + b[0]) - Math.max(a[0], b[0]);
  if (w <= 0) return 0;
  const h = Math.min(a[3] + a[1], b[3] + b[1]) - Math.max(a[1], b[1]);
  if (h <= 0) return 0;
  const i = w * h;
  return i / (a[2] * a[3] + b[2] * b[3] - i);
}

/** Per annotation, the measure of each slice kind. */
function sliceMeasures(cells: EvalCells): Record<SliceKind, Float64Array> {
  const anns = cells.annotations;
  const keypoints = Float64Array.from(anns, (a) => {
    let n = 0;
    for (let i = 2; i < a.keypoints.length; i += 3) if (a.keypoints[i] > 0) n++;
    return n;
  });
  const overlap = Float64Array.from(anns, (a, i) => {
    const c = cells.gtCell[i];
    if (c < 0) return 0;
    let n = 0;
    for (let p = cells.gtStart[c]; p < cells.gtStart[c + 1]; p++) {
      const h = cells.gtMembers[p];
      if (h !== i && !cells.crowd[h] && boxIou(a.bbox, anns[h].bbox) > OVERLAP_IOU) n++;
    }
    return n;
  });
  return { keypoints, overlap, area: Float64Array.from(anns, (a) => a.area) };
}

/** Per result: its area is outside a range (pycocotools then ignores it when unmatched). */
function outsideRange(set: ResultSet, min: number, max: number): Uint8Array {
  return Uint8Array.from(set.area, (a) => (a < min || a > max ? 1 : 0));
}

/** The three area ranges' ten-threshold matchings (all, medium, large), for the bootstrap. */
export function areaMatchings(
  cells: EvalCells,
  set: ResultSet,
  order: ResultOrder,
  oks: OksRows,
): Matching[] {
  return AREA_RANGES.map(({ min, max }) => {
    const gtIgnore = Uint8Array.from(
      cells.annotations,
      (a, i) => (cells.ignored[i] || a.area < min || a.area > max ? 1 : 0),
    );
    return matchResults(cells, set, order, oks, {
      gtIgnore,
      resultOutside: outsideRange(set, min, max),
    });
  });
}

/** [T][R][K] precision averaged over categories where defined: [T][R], -1 where none is. */
function meanOverCategories(precision: Float64Array, numCats: number, stride = 1, at = 0) {
  const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
  const out = new Float64Array(numThr * numRec).fill(-1);
  for (let i = 0; i < numThr * numRec; i++) {
    let sum = 0, n = 0;
    for (let k = 0; k < numCats; k++) {
      const v = precision[(i * numCats + k) * stride + at];
      if (v > -1) [sum, n] = [sum + v, n + 1];
    }
    if (n > 0) out[i] = sum / n;
  }
  return out;
}

/**
 * The PR curve of `matching` at threshold index `t` against the score threshold: precision,
 * recall and F1 of the results scoring at least each distinct score.
 */
function scoreCurve(
  set: ResultSet,
  order: ResultOrder,
  matching: Matching,
  t: number,
): ScoreCurve {
  const n = set.cell.length;
  let npig = 0;
  for (const c of matching.countable) npig += c;
  const sequence = Array.from(order.global).sort((a, b) => set.scores[b] - set.scores[a]);
  const curve: ScoreCurve = { threshold: [], precision: [], recall: [], f1: [], best: -1 };
  let tp = 0, fp = 0;
  for (let i = 0; i < sequence.length; i++) {
    const r = sequence[i];
    if (!matching.ignored[t * n + r]) {
      if (matching.matched[t * n + r]) tp++;
      else fp++;
    }
    const last = i === sequence.length - 1 || set.scores[sequence[i + 1]] !== set.scores[r];
    if (!last || tp + fp === 0 || npig === 0) continue;
    const precision = tp / (tp + fp), recall = tp / npig;
    const f1 = tp === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    curve.threshold.push(set.scores[r]);
    curve.precision.push(precision);
    curve.recall.push(recall);
    curve.f1.push(f1);
    if (curve.best < 0 || f1 > curve.f1[curve.best]) curve.best = curve.f1.length - 1;
  }
  return curve;
}

/** The pieces of one result set that every evaluation of it shares. */
function prepare(cells: EvalCells, results: readonly KeypointResult[]) {
  const selection = selectResults(cells, results);
  const set = selection.set;
  const order = orderResults(cells, set);
  const oks = oksRows(cells, set);
  return { selection, set, order, oks, allOutside: outsideRange(set, 0, 1e10) };
}

/**
 * Builds the report of `results` against `gt` (both as `eval` reads them). Each image's 20
 * best results take part in every step; see the README's "eval --report" for the definitions.
 *
 * @example Swapped wrists cost 0.2 AP
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildEvalReport, parseGroundTruth } from "@posekit/posekit";
 *
 * // One person: left keypoints (odd COCO indices) at x = 60, right ones at x = 180.
 * const keypoints = Array.from({ length: 17 }, (_, k) => [k % 2 ? 60 : 180, 10 * k, 2]).flat();
 * const gt = parseGroundTruth({
 *   images: [{ id: 1 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{
 *     id: 1, image_id: 1, category_id: 1, keypoints, num_keypoints: 17,
 *     area: 19200, bbox: [60, 0, 120, 160],
 *   }],
 * }, "gt.json");
 * // A result exact but for the left and right wrists (keypoints 9 and 10), swapped.
 * const swapped = keypoints.slice();
 * swapped.splice(27, 6, ...keypoints.slice(30, 33), ...keypoints.slice(27, 30));
 * const results = [{ imageId: 1, categoryId: 1, keypoints: swapped, score: 0.9 }];
 * const report = buildEvalReport(gt, results, { bootstrap: false });
 *
 * assert.deepEqual(report.errors, { good: 15, jitter: 0, inversion: 2, swap: 0, miss: 0 });
 * // The wrists are 120 px off (ks ≈ 0): OKS ≈ 15/17 = 0.88 passes 8 of the 10 thresholds
 * // .50:.05:.95. Fixed (moved onto the ks = 0.875 circle), OKS = 16.75/17 = 0.985 passes all.
 * const near = (a: number, b: number) => Math.abs(a - b) < 1e-12; // AP sums round in the last bit
 * assert.ok(near(report.apFixed.original, 0.8));
 * assert.ok(near(report.apFixed.inversion, 1));
 * assert.ok(near(report.apFixed.swap, 0.8)); // no swaps to fix
 * ```
 */
export function buildEvalReport(
  gt: GroundTruthSet,
  results: readonly KeypointResult[],
  options: EvalReportOptions = {},
): EvalReport {
  const layout = options.layout ?? evalKeypointLayout();
  const evaluation = options.evaluation ??
    evaluateKeypoints(gt, results, { sigmas: layout.sigmas });
  const cells = groupCells(gt, layout.sigmas);
  const numCats = cells.categoryIds.length;
  const { selection, set, order, oks, allOutside } = prepare(cells, results);
  const standard = { resultOutside: allOutside };
  const original = evaluateVariant(cells, { set, order, oks }, standard);
  const diagnosis = diagnoseKeypoints(cells, set, order, oks, layout);

  // The fixes cumulatively, each step moving only its class's keypoints (so only the results
  // it moves need new OKS); then each fix alone (miss alone is the first cumulative step).
  const fixed = (from: { set: ResultSet; oks: OksRows }, classes: number) => {
    const { keypoints, changed } = fixKeypoints(
      cells,
      from.set.keypoints,
      diagnosis,
      layout,
      classes,
    );
    const moved: ResultSet = { ...from.set, keypoints };
    return { set: moved, oks: oksRows(cells, moved, from.oks, changed) };
  };
  const cumulative = {} as Record<CumulativeStep, number>;
  const stepPrecision: EvalReport["stepPrecision"] = [
    { step: "original", precision: meanOverCategories(original.precision, numCats) },
  ];
  const record = (step: CumulativeStep, result: { ap: number; precision: Float64Array }) => {
    cumulative[step] = result.ap;
    stepPrecision.push({ step, precision: meanOverCategories(result.precision, numCats) });
  };
  let allFixed = { set, oks };
  for (const name of FIX_ORDER) {
    allFixed = fixed(allFixed, CLASS_BITS[name]);
    record(name, evaluateVariant(cells, { ...allFixed, order }, standard));
  }
  const alone = { miss: cumulative.miss } as Record<(typeof FIX_ORDER)[number], number>;
  for (const name of FIX_ORDER.slice(1)) {
    alone[name] =
      evaluateVariant(cells, { ...fixed({ set, oks }, CLASS_BITS[name]), order }, standard)
        .ap;
  }

  // Background: results that reach no person at OKS 0.1 go.
  const best = bestPersonOks(cells, allFixed.set, allFixed.oks);
  const kept: ResultSet = {
    ...allFixed.set,
    present: Uint8Array.from(set.present, (p, r) => (p && best[r] >= DIAGNOSIS_OKS ? 1 : 0)),
  };
  const keptOrder = keepPresent(order, kept);
  record(
    "background",
    evaluateVariant(cells, { set: kept, order: keptOrder, oks: allFixed.oks }, standard),
  );

  // Score: each remaining result scores its best OKS.
  const rescored: ResultSet = {
    ...kept,
    scores: Float64Array.from(kept.scores, (s, r) => (kept.present[r] ? best[r] : s)),
  };
  const rescoredOrder = orderResults(cells, rescored);
  record(
    "score",
    evaluateVariant(cells, { set: rescored, order: rescoredOrder, oks: allFixed.oks }, standard),
  );

  // Missed people: people that no remaining result reaches at OKS 0.1 go.
  const reached = new Uint8Array(cells.annotations.length);
  for (let r = 0; r < rescored.cell.length; r++) {
    if (!rescored.present[r]) continue;
    const c = rescored.cell[r];
    for (let p = cells.gtStart[c]; p < cells.gtStart[c + 1]; p++) {
      const v = allFixed.oks.values[allFixed.oks.offset[r] + p - cells.gtStart[c]];
      if (v >= DIAGNOSIS_OKS) reached[cells.gtMembers[p]] = 1;
    }
  }
  const removed = Uint8Array.from(
    cells.annotations,
    (_, i) => (cells.gtCell[i] >= 0 && !cells.ignored[i] && !reached[i] ? 1 : 0),
  );
  record(
    "missed_people",
    evaluateVariant(
      cells,
      { set: rescored, order: rescoredOrder, oks: allFixed.oks, removed },
      standard,
    ),
  );

  // Slices: people outside the slice ignored; unmatched results stay false positives.
  const measures = sliceMeasures(cells);
  const slices = {} as EvalReport["slices"];
  const sliceSizes = {} as EvalReport["sliceSizes"];
  for (const kind of Object.keys(SLICES) as SliceKind[]) {
    slices[kind] = {};
    sliceSizes[kind] = {};
    for (const { label, min, max } of SLICES[kind]) {
      const gtIgnore = Uint8Array.from(
        cells.ignored,
        (ig, i) => (ig || measures[kind][i] < min || measures[kind][i] > max ? 1 : 0),
      );
      const sliced = evaluateVariant(cells, { set, order, oks }, { gtIgnore });
      slices[kind][label] = sliced.ap === -1 ? null : sliced.ap;
      sliceSizes[kind][label] = sliced.matching.countable.reduce((sum, c) => sum + c, 0);
    }
  }

  // Counts.
  const errors = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<
    ErrorClass,
    number
  >;
  const errorsPerKeypoint = Object.fromEntries(
    layout.names.map((name) => [name, { ...errors }]),
  ) as Record<string, Record<ErrorClass, number>>;
  const numImages = cells.imageIds.length;
  const perImage: ImageDiagnosis[] = cells.imageIds.map((imageId) => ({
    imageId,
    people: 0,
    results: 0,
    matched: 0,
    meanOks: -1,
    classes: ERROR_CLASSES.map(() => 0),
  }));
  const oksSum = new Float64Array(numImages);
  for (let k = 0; k < diagnosis.count; k++) {
    const name = ERROR_CLASSES[diagnosis.errorClass[k]];
    errors[name]++;
    errorsPerKeypoint[layout.names[diagnosis.keypoint[k]]][name]++;
    perImage[set.cell[diagnosis.result[k]] % numImages].classes[diagnosis.errorClass[k]]++;
  }
  cells.annotations.forEach((_, i) => {
    if (cells.gtCell[i] >= 0 && !cells.ignored[i]) perImage[cells.gtCell[i] % numImages].people++;
  });
  for (let r = 0; r < set.cell.length; r++) {
    const row = perImage[set.cell[r] % numImages];
    row.results++;
    const a = diagnosis.match[r];
    if (a >= 0 && !cells.ignored[a]) {
      row.matched++;
      oksSum[set.cell[r] % numImages] += diagnosis.matchOks[r];
    }
  }
  perImage.forEach((row, m) => row.matched && (row.meanOks = oksSum[m] / row.matched));

  const report: EvalReport = {
    layout,
    evaluation,
    errors,
    errorsPerKeypoint,
    apFixed: { original: original.ap, ...alone, cumulative },
    stepPrecision,
    slices,
    sliceSizes,
    perImage,
    scoreCurve: scoreCurve(set, order, original.matching, IOU_THRESHOLDS.indexOf(0.5)),
    scatter: {
      score: set.scores.slice(),
      oks: bestPersonOks(cells, set, oks),
      truePositive: Uint8Array.from(
        set.cell,
        (_, r) => original.matching.matched[r] && !original.matching.ignored[r] ? 1 : 0, // t = 0: OKS 0.5
      ),
    },
    cells,
    selection,
    diagnosis,
  };

  const settings = options.bootstrap ?? REPORT_BOOTSTRAP;
  let otherStats: WeightedStats | undefined;
  if (options.compare) {
    const other = prepare(cells, options.compare);
    const otherMatchings = areaMatchings(cells, other.set, other.order, other.oks);
    otherStats = new WeightedStats(cells, other.set, other.order, otherMatchings);
    const otherFull = otherStats.stats(new Int32Array(numImages).fill(1));
    report.compare = {
      difference: evaluation.stats.AP - otherFull.AP,
      ci95: null,
      other: otherFull,
    };
  }
  if (settings) {
    const weighted = new WeightedStats(cells, set, order, areaMatchings(cells, set, order, oks));
    report.intervals = bootstrap(weighted, numImages, settings, otherStats);
    if (report.compare) report.compare.ci95 = report.intervals.difference ?? null;
  }
  return report;
}

/** -1 (pycocotools' "undefined") as null, for JSON. */
function orNull(value: number): number | null {
  return value === -1 ? null : value;
}

/**
 * summary.json's object: `stats` (as `eval --json` names them), `errors`,
 * `errors_per_keypoint`, `ap_fixed`, `slices`, `ap_ci95` (and every stat's in `stats_ci95`),
 * `bootstrap` (resamples, seed), and `compare` with a second result set.
 *
 * @example summary.json of a perfect result
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildEvalReport, parseGroundTruth, reportSummary } from "@posekit/posekit";
 *
 * const keypoints = Array.from({ length: 17 }, (_, k) => [100 + 4 * k, 50 + 10 * k, 2]).flat();
 * const gt = parseGroundTruth({
 *   images: [{ id: 1 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{
 *     id: 1, image_id: 1, category_id: 1, keypoints, num_keypoints: 17,
 *     area: 10240, bbox: [100, 50, 64, 160],
 *   }],
 * }, "gt.json");
 * // The result is the ground truth itself.
 * const results = [{ imageId: 1, categoryId: 1, keypoints, score: 0.9 }];
 * const report = buildEvalReport(gt, results, { bootstrap: { resamples: 100, seed: 1 } });
 *
 * const summary = reportSummary(report);
 * assert.deepEqual(summary.errors, { good: 17, jitter: 0, inversion: 0, swap: 0, miss: 0 });
 * assert.deepEqual(summary.bootstrap, { resamples: 100, seed: 1 });
 * // One image: every resample is that image, so the interval is a single point, AP 1.
 * const [low, high] = summary.ap_ci95 as [number, number];
 * assert.ok(low === high && Math.abs(high - 1) < 1e-12);
 * ```
 */
export function reportSummary(report: EvalReport): Record<string, unknown> {
  const { apFixed } = report;
  const summary: Record<string, unknown> = {
    stats: { ...report.evaluation.stats },
    errors: report.errors,
    errors_per_keypoint: report.errorsPerKeypoint,
    ap_fixed: {
      original: orNull(apFixed.original),
      ...Object.fromEntries(FIX_ORDER.map((name) => [name, orNull(apFixed[name])])),
      cumulative: Object.fromEntries(
        CUMULATIVE_STEPS.map((step) => [step, orNull(apFixed.cumulative[step])]),
      ),
    },
    slices: report.slices,
  };
  if (report.intervals) {
    summary.ap_ci95 = report.intervals.stats.AP;
    summary.stats_ci95 = report.intervals.stats;
    summary.bootstrap = { resamples: report.intervals.resamples, seed: report.intervals.seed };
  }
  if (report.compare) {
    summary.compare = { difference: report.compare.difference, ci95: report.compare.ci95 };
  }
  return summary;
}

/**
 * per_image.csv: `image_id, file_name, people, results, matched, mean_oks` and the five
 * class counts, one line per image in id order (`mean_oks` empty without matches).
 *
 * @example One image, its person found exactly
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildEvalReport, parseGroundTruth, perImageCsv } from "@posekit/posekit";
 *
 * const keypoints = Array.from({ length: 17 }, (_, k) => [100 + 4 * k, 50 + 10 * k, 2]).flat();
 * const gt = parseGroundTruth({
 *   images: [{ id: 1 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{
 *     id: 1, image_id: 1, category_id: 1, keypoints, num_keypoints: 17,
 *     area: 10240, bbox: [100, 50, 64, 160],
 *   }],
 * }, "gt.json");
 * // The result is the ground truth itself.
 * const results = [{ imageId: 1, categoryId: 1, keypoints, score: 0.9 }];
 * const report = buildEvalReport(gt, results, { bootstrap: false });
 *
 * // 1 person, 1 result, matched at OKS 1; all 17 keypoints good.
 * assert.equal(
 *   perImageCsv(report, new Map([[1, "person.jpg"]])),
 *   "image_id,file_name,people,results,matched,mean_oks,good,jitter,inversion,swap,miss\n" +
 *     "1,person.jpg,1,1,1,1,17,0,0,0,0\n",
 * );
 * ```
 */
export function perImageCsv(report: EvalReport, fileNames: ReadonlyMap<number, string>): string {
  const header = ["image_id", "file_name", "people", "results", "matched", "mean_oks"];
  const lines = [[...header, ...ERROR_CLASSES].join(",")];
  for (const row of report.perImage) {
    lines.push(
      [
        row.imageId,
        csvField(fileNames.get(row.imageId)),
        row.people,
        row.results,
        row.matched,
        row.meanOks === -1 ? "" : Number(row.meanOks.toFixed(6)),
        ...row.classes,
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}
