/**
 * COCO keypoint evaluation (OKS AP), computing exactly what pycocotools' COCOeval computes with
 * iouType "keypoints": same OKS, same greedy matching, same accumulation, same ten stats.
 *
 * The steps follow pycocotools one for one, with a few details that decide the numbers:
 * - only ground-truth images are evaluated, in ascending id order, each category separately;
 * - results are sorted by score with a stable sort (pycocotools: mergesort) and cut to maxDets
 *   per image and category; across images, ties keep image order, then per-image order;
 * - ground truth is ignored when crowd or `num_keypoints == 0`, or, per area range, when its
 *   `area` is outside the range (bounds inclusive); ignored ground truth goes last in matching;
 * - a result matched to ignored ground truth is ignored, so is an unmatched result whose area is
 *   outside the range; crowd ground truth may be matched many times;
 * - "matched" means a non-zero matched annotation id, as pycocotools tests `dtMatches` for truth;
 * - precision is made monotone, then sampled at 101 recall points (searchsorted, side "left");
 * - sums run in numpy's pairwise order, so the stats come out bit for bit in practice (numpy's
 *   vectorized exp may differ from Math.exp in the last bit, which only matters for an OKS
 *   exactly at a threshold).
 *
 * Pure functions on typed arrays; parsing JSON lives in `coco_json.ts`, text in `summary.ts`.
 */

import { COCO_KEYPOINT_NAMES, COCO_KEYPOINT_SIGMAS } from "../coco/keypoints.ts";

/** One ground-truth person annotation (COCO keypoints format). */
export interface GroundTruthAnnotation {
  /** Annotation id. */
  id: number;
  /** The image it is on. */
  imageId: number;
  /** Its category (1 for COCO's person). */
  categoryId: number;
  /** K × 3 values: x, y, visibility (0 = not labelled). */
  keypoints: Float64Array;
  /** The annotation's `num_keypoints` field (0 makes it ignored, whatever `keypoints` says). */
  numKeypoints: number;
  /** The annotation's `area` field (segmentation area): OKS scale and area range. */
  area: number;
  /** [x, y, width, height]; OKS of annotations without labelled keypoints uses it. */
  bbox: readonly [number, number, number, number];
  /** Crowd regions match results without counting as misses or hits. */
  iscrowd: boolean;
}

/** What the evaluator needs from a ground-truth set. */
export interface GroundTruthSet {
  /** Ids of all images to evaluate, annotated or not (sorted and made unique by the evaluator). */
  imageIds: readonly number[];
  /** Category ids to evaluate (sorted and made unique by the evaluator). */
  categoryIds: readonly number[];
  /** The annotations, any order. */
  annotations: readonly GroundTruthAnnotation[];
}

/** One keypoint result (COCO results format). */
export interface KeypointResult {
  /** The image it is on. */
  imageId: number;
  /** Its category (1 for COCO's person). */
  categoryId: number;
  /** K × 3 values: x, y, score. */
  keypoints: ArrayLike<number>;
  /** Person score: results are matched best score first. */
  score: number;
  /**
   * Area for the area ranges. When absent: the keypoints' extent over all K keypoints, as
   * pycocotools' loadRes computes it for keypoint results without a bbox.
   */
  area?: number;
}

/** The ten COCO keypoint stats, in pycocotools' order; -1 where undefined. */
export interface KeypointStats {
  /** AP averaged over OKS thresholds 0.50:0.05:0.95, all areas. */
  AP: number;
  /** AP at OKS 0.50. */
  AP50: number;
  /** AP at OKS 0.75. */
  AP75: number;
  /** AP of medium people (area 32² to 96²). */
  APm: number;
  /** AP of large people (area above 96²). */
  APl: number;
  /** AR averaged over OKS thresholds 0.50:0.05:0.95, all areas. */
  AR: number;
  /** AR at OKS 0.50. */
  AR50: number;
  /** AR at OKS 0.75. */
  AR75: number;
  /** AR of medium people. */
  ARm: number;
  /** AR of large people. */
  ARl: number;
}

/** Stat names in pycocotools' `stats` order. */
export const STAT_NAMES: readonly (keyof KeypointStats)[] = [
  "AP",
  "AP50",
  "AP75",
  "APm",
  "APl",
  "AR",
  "AR50",
  "AR75",
  "ARm",
  "ARl",
];

/** An area range of pycocotools' keypoint parameters (bounds inclusive). */
export interface AreaRange {
  /** pycocotools' label of the range. */
  label: "all" | "medium" | "large";
  /** Least area, pixels². */
  min: number;
  /** Greatest area, pixels². */
  max: number;
}

/** pycocotools' keypoint area ranges: there is no "small" for keypoints. */
export const AREA_RANGES: readonly AreaRange[] = [
  { label: "all", min: 0, max: 1e10 },
  { label: "medium", min: 32 ** 2, max: 96 ** 2 },
  { label: "large", min: 96 ** 2, max: 1e10 },
];

/** pycocotools' results per image for keypoints. */
export const DEFAULT_MAX_DETS = 20;

/** numpy's `np.linspace(start, stop, num)`: `i * step + start`, the last value set to `stop`. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const values = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) values[i] = i * step + start;
  values[num - 1] = stop;
  return values;
}

/** OKS thresholds .50:.05:.95, bit for bit as pycocotools' np.linspace(.5, .95, 10). */
export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
/** Recall points 0:.01:1, bit for bit as pycocotools' np.linspace(0, 1, 101). */
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);

/** numpy's `np.spacing(1)`, added to areas and denominators as pycocotools does. */
export const EPS = 2.220446049250313e-16;

/** Options of `evaluateKeypoints`. */
export interface EvaluateOptions {
  /** Per-keypoint OKS sigmas (also fixes K); default COCO's 17. */
  sigmas?: ArrayLike<number>;
  /** Results per image and category that count; default 20 (pycocotools' keypoint maxDets). */
  maxDets?: number;
  /** Compute the per-keypoint breakdown; default true. */
  perKeypoint?: boolean;
  /** Compute the per-image breakdown; default false. */
  perImage?: boolean;
}

/**
 * How well each keypoint type is placed, over the result/ground-truth pairs matched at OKS 0.50
 * (area "all", countable ground truth only), for the keypoints labelled in the ground truth.
 */
export interface KeypointBreakdown {
  /** Keypoint index in the K keypoints. */
  index: number;
  /** Keypoint name (COCO's for 17 keypoints). */
  name: string;
  /** Labelled ground-truth keypoints in matched pairs. */
  count: number;
  /** Mean of the keypoint's OKS term exp(-d² / (2 s² κ²)); -1 when count is 0. */
  meanSimilarity: number;
  /** Mean distance divided by the object scale √area; -1 when count is 0. */
  meanNormalizedError: number;
}

/** One image's share of the evaluation (area "all"). */
export interface ImageBreakdown {
  /** The image. */
  imageId: number;
  /** Countable ground truth: not crowd, `num_keypoints > 0`. */
  groundTruth: number;
  /** Results that were evaluated (after the maxDets cut). */
  results: number;
  /** Results matched to countable ground truth at OKS 0.50. */
  matched50: number;
  /** Results matched to countable ground truth at OKS 0.75. */
  matched75: number;
  /** Mean OKS of the OKS 0.50 matches; -1 when there are none. */
  meanOks: number;
  /** AP (.50:.95) of this image alone, as pycocotools would give it; -1 without countable gt. */
  AP: number;
}

/** The result of `evaluateKeypoints`. */
export interface KeypointEvaluation {
  /** The ten COCO stats. */
  stats: KeypointStats;
  /** Sorted unique category ids that were evaluated. */
  categoryIds: number[];
  /** Sorted unique image ids that were evaluated. */
  imageIds: number[];
  /** pycocotools' `eval['precision']`: [T][R][K][A] flattened (M = 1), -1 where undefined. */
  precision: Float64Array;
  /** pycocotools' `eval['recall']`: [T][K][A] flattened, -1 where undefined. */
  recall: Float64Array;
  /** Results that took part (known image and category), before the maxDets cut. */
  evaluatedResults: number;
  /** Notes for people: results ignored, results beyond maxDets. */
  warnings: string[];
  /** Per keypoint type, when `perKeypoint` is on (the default). */
  perKeypoint?: KeypointBreakdown[];
  /** Per image, in `imageIds` order, when `perImage` is on. */
  perImage?: ImageBreakdown[];
}

/**
 * numpy's pairwise summation (`np.add.reduce` on a contiguous float64 array): blocks of up to
 * 128 values summed with 8 accumulators, larger runs split in halves rounded to 8.
 */
export function pairwiseSum(values: ArrayLike<number>, start = 0, count = values.length): number {
  if (count < 8) {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += values[start + i];
    return sum;
  }
  if (count <= 128) {
    let r0 = values[start], r1 = values[start + 1], r2 = values[start + 2];
    let r3 = values[start + 3], r4 = values[start + 4], r5 = values[start + 5];
    let r6 = values[start + 6], r7 = values[start + 7];
    const whole = count - (count % 8);
    let i = 8;
    for (; i < whole; i += 8) {
      const p = start + i;
      r0 += values[p];
      r1 += values[p + 1];
      r2 += values[p + 2];
      r3 += values[p + 3];
      r4 += values[p + 4];
      r5 += values[p + 5];
      r6 += values[p + 6];
      r7 += values[p + 7];
    }
    let sum = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < count; i++) sum += values[start + i];
    return sum;
  }
  let half = Math.floor(count / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, count - half);
}

/** pycocotools' `np.mean(s[s > -1])`, or -1 when nothing is defined. */
export function meanOfDefined(values: Float64Array): number {
  const defined = values.filter((v) => v > -1);
  return defined.length === 0 ? -1 : pairwiseSum(defined) / defined.length;
}

/** `(2σ)²` per keypoint, as pycocotools' `vars`. */
export function oksVariances(sigmas: ArrayLike<number>): Float64Array {
  return Float64Array.from(sigmas, (s) => (s * 2) * (s * 2));
}

/**
 * Object keypoint similarity between a result and a ground-truth annotation, as pycocotools'
 * computeOks: over the labelled ground-truth keypoints, or, when none is labelled, over all
 * keypoints using their distance to the ground-truth box grown by its size on every side.
 *
 * `scratch` (length ≥ K) avoids an allocation per pair.
 *
 * @example One labelled keypoint, off by a known distance
 * ```ts
 * import assert from "node:assert/strict";
 * import { COCO_KEYPOINT_SIGMAS, objectKeypointSimilarity } from "@posekit/posekit";
 *
 * // Only the nose (σ = 0.026) is labelled; area 10000. OKS = exp(−d² / (2 · area · (2σ)²)),
 * // so d = 5.2 px gives d² / (2 · 10000 · 0.002704) = 0.5.
 * const gt = new Float64Array(17 * 3);
 * gt.set([50, 50, 2]);
 * const result = new Float64Array(17 * 3);
 * result.set([55.2, 50, 0.9]);
 * assert.ok(Math.abs(COCO_KEYPOINT_SIGMAS[0] - 0.026) < 1e-15);
 * const oks = objectKeypointSimilarity(result, { keypoints: gt, area: 10000, bbox: [0, 0, 100, 100] });
 * assert.ok(Math.abs(oks - Math.exp(-0.5)) < 1e-12);
 * ```
 */
export function objectKeypointSimilarity(
  result: ArrayLike<number>,
  gt: Pick<GroundTruthAnnotation, "keypoints" | "area" | "bbox">,
  sigmas: ArrayLike<number> = COCO_KEYPOINT_SIGMAS,
  scratch: Float64Array = new Float64Array(sigmas.length),
): number {
  return oksWithVariances(result, 0, gt, oksVariances(sigmas), scratch);
}

/**
 * `objectKeypointSimilarity` with the variances precomputed (`oksVariances`) and the result's
 * keypoints read from `offset` in `result`, for callers that score many pairs (the report).
 */
export function oksWithVariances(
  result: ArrayLike<number>,
  offset: number,
  gt: Pick<GroundTruthAnnotation, "keypoints" | "area" | "bbox">,
  variances: Float64Array,
  terms: Float64Array,
): number {
  const k = variances.length;
  const g = gt.keypoints;
  const scale = gt.area + EPS;
  let labelled = 0;
  for (let j = 0; j < k; j++) if (g[3 * j + 2] > 0) labelled++;
  if (labelled > 0) {
    let n = 0;
    for (let j = 0; j < k; j++) {
      if (!(g[3 * j + 2] > 0)) continue;
      const dx = result[offset + 3 * j] - g[3 * j];
      const dy = result[offset + 3 * j + 1] - g[3 * j + 1];
      terms[n++] = Math.exp(-((dx * dx + dy * dy) / variances[j] / scale / 2));
    }
    return pairwiseSum(terms, 0, n) / n;
  }
  const [bx, by, bw, bh] = gt.bbox;
  const x0 = bx - bw, x1 = bx + bw * 2;
  const y0 = by - bh, y1 = by + bh * 2;
  for (let j = 0; j < k; j++) {
    const xd = result[offset + 3 * j], yd = result[offset + 3 * j + 1];
    const dx = Math.max(0, x0 - xd) + Math.max(0, xd - x1);
    const dy = Math.max(0, y0 - yd) + Math.max(0, yd - y1);
    terms[j] = Math.exp(-((dx * dx + dy * dy) / variances[j] / scale / 2));
  }
  return pairwiseSum(terms, 0, k) / k;
}

/** Area of a result as pycocotools' loadRes gives keypoint results: the keypoints' extent. */
export function keypointExtentArea(keypoints: ArrayLike<number>): number {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i + 1 < keypoints.length; i += 3) {
    const x = keypoints[i], y = keypoints[i + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return (x1 - x0) * (y1 - y0);
}

/**
 * The most (category, image) pairs evaluated: each pair is a cell of the evaluation, as in
 * pycocotools, and 2^25 of them (100 categories × 335 000 images) take a few hundred MB.
 */
export const MAX_EVALUATION_CELLS = 2 ** 25;

/**
 * Refuses a ground truth of more (category, image) pairs than `MAX_EVALUATION_CELLS`, with
 * the counts (`source` names the file, when there is one), rather than failing to allocate.
 */
export function checkEvaluationSize(categories: number, images: number, source?: string): void {
  if (categories * images <= MAX_EVALUATION_CELLS) return;
  throw new Error(
    `${source ? `${source}: ` : ""}${categories} categories × ${images} images are ` +
      `${categories * images} (category, image) pairs to evaluate, more than the ` +
      `${MAX_EVALUATION_CELLS} posekit evaluates: keep only the categories to evaluate ` +
      `(person keypoints: one)`,
  );
}

function sortedUnique(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Compressed rows: the members of group g are `members[start[g] .. start[g + 1])`. */
function groupBy(count: number, groups: number, groupOf: (i: number) => number) {
  const start = new Int32Array(groups + 1);
  const group = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    group[i] = groupOf(i);
    if (group[i] >= 0) start[group[i] + 1]++;
  }
  for (let g = 0; g < groups; g++) start[g + 1] += start[g];
  const fill = start.slice(0, groups);
  const members = new Int32Array(start[groups]);
  for (let i = 0; i < count; i++) if (group[i] >= 0) members[fill[group[i]]++] = i;
  return { start, members };
}

/**
 * pycocotools' accumulate for one category and area range over the results at `order` (already
 * in the global score order). `matched` and `ignored` are [T][stride] flags. Writes T × R
 * precision values and T recall values; `pr` and `rc` are scratch of length ≥ `order.length`.
 */
export function precisionRecall(
  order: Int32Array,
  matched: Uint8Array,
  ignored: Uint8Array,
  stride: number,
  countable: number,
  precisionOut: Float64Array,
  recallOut: Float64Array,
  pr: Float64Array,
  rc: Float64Array,
): void {
  const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
  const nd = order.length;
  for (let t = 0; t < numThr; t++) {
    let tp = 0, fp = 0;
    const row = t * stride;
    for (let i = 0; i < nd; i++) {
      const p = row + order[i];
      if (!ignored[p]) {
        if (matched[p]) tp++;
        else fp++;
      }
      rc[i] = tp / countable;
      pr[i] = tp / (fp + tp + EPS);
    }
    recallOut[t] = nd ? rc[nd - 1] : 0;
    for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    // searchsorted(rc, recThrs, side="left"): first i with rc[i] >= r; 0 past the last result.
    let i = 0;
    for (let r = 0; r < numRec; r++) {
      while (i < nd && rc[i] < RECALL_THRESHOLDS[r]) i++;
      precisionOut[t * numRec + r] = i < nd ? pr[i] : 0;
    }
  }
}

/**
 * Evaluates keypoint results against ground truth exactly as pycocotools'
 * `COCOeval(gt, dt, "keypoints")` + evaluate + accumulate + summarize.
 *
 * Throws when results name images that are not in the ground truth (pycocotools: "Results do
 * not correspond to current coco set") or have the wrong number of keypoint values. Results
 * whose category is not a ground-truth category are ignored, as pycocotools does, with a
 * warning.
 *
 * @example Two annotated people, one found exactly
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   evaluateKeypoints,
 *   parseGroundTruth,
 *   parseResults,
 *   type Pose,
 *   toCocoResults,
 * } from "@posekit/posekit";
 *
 * // The same person annotated on images 1 and 2, all 17 keypoints labelled (visibility 2).
 * const keypoints = Array.from({ length: 17 }, (_, k) => [100 + 4 * k, 50 + 10 * k, 2]).flat();
 * const annotation = { category_id: 1, keypoints, num_keypoints: 17, area: 6000, iscrowd: 0 };
 * const gt = parseGroundTruth({
 *   images: [{ id: 1 }, { id: 2 }],
 *   categories: [{ id: 1, name: "person" }],
 *   annotations: [
 *     { id: 1, image_id: 1, bbox: [100, 50, 64, 160], ...annotation },
 *     { id: 2, image_id: 2, bbox: [100, 50, 64, 160], ...annotation },
 *   ],
 * }, "gt.json");
 *
 * // Image 1: a pose exactly on the labels (OKS 1); image 2: nothing found.
 * const pose: Pose = {
 *   box: { x1: 100, y1: 50, x2: 164, y2: 210, score: 0.9 },
 *   keypoints: Float32Array.from(keypoints, (v, i) => i % 3 === 2 ? 0.9 : v),
 *   score: 0.9,
 * };
 * const { results } = parseResults(toCocoResults(1, [pose]), "results.json", gt);
 * const { stats } = evaluateKeypoints(gt, results);
 *
 * // Precision 1 up to recall 0.5, then nothing: 51 of the 101 recall points.
 * assert.ok(Math.abs(stats.AP - 51 / 101) < 1e-12);
 * assert.equal(stats.AR, 0.5);
 * assert.equal(stats.APl, -1); // no large (area > 96²) ground truth
 * ```
 */
export function evaluateKeypoints(
  gt: GroundTruthSet,
  results: readonly KeypointResult[],
  options: EvaluateOptions = {},
): KeypointEvaluation {
  const sigmas = options.sigmas ?? COCO_KEYPOINT_SIGMAS;
  const variances = oksVariances(sigmas);
  const numKpts = variances.length;
  const maxDets = options.maxDets ?? DEFAULT_MAX_DETS;
  const imageIds = sortedUnique(gt.imageIds);
  const categoryIds = sortedUnique(gt.categoryIds);
  const numImages = imageIds.length, numCats = categoryIds.length;
  checkEvaluationSize(numCats, numImages);
  const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
  const numAreas = AREA_RANGES.length;
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, i) => [id, i]));
  const warnings: string[] = [];

  // Results: known images only (an error otherwise), known categories only (ignored otherwise).
  const unknownImages = new Set<number>();
  const unknownCategories = new Set<number>();
  for (const r of results) {
    if (!imageIndex.has(r.imageId)) unknownImages.add(r.imageId);
    if (!categoryIndex.has(r.categoryId)) unknownCategories.add(r.categoryId);
    if (r.keypoints.length !== 3 * numKpts) {
      throw new Error(
        `a result on image ${r.imageId} has ${r.keypoints.length} keypoint values; ` +
          `expected ${3 * numKpts} (${numKpts} keypoints × x, y, score)`,
      );
    }
  }
  if (unknownImages.size > 0) {
    throw new Error(
      `results refer to ${unknownImages.size} image id(s) absent from the ground truth: ` +
        `${listIds(unknownImages)} (pycocotools: "Results do not correspond to current coco set")`,
    );
  }
  if (unknownCategories.size > 0) {
    const n = results.filter((r) => !categoryIndex.has(r.categoryId)).length;
    warnings.push(
      `${n} result(s) have category ids that are not ground-truth categories ` +
        `(${listIds(unknownCategories)}); they are ignored, as pycocotools does`,
    );
  }

  // Ground truth and results grouped by (category, image), in pycocotools' order.
  const anns = gt.annotations;
  const gtGroups = groupBy(anns.length, numCats * numImages, (i) => {
    const c = categoryIndex.get(anns[i].categoryId), m = imageIndex.get(anns[i].imageId);
    return c === undefined || m === undefined ? -1 : c * numImages + m;
  });
  const dtGroups = groupBy(results.length, numCats * numImages, (i) => {
    const c = categoryIndex.get(results[i].categoryId);
    return c === undefined ? -1 : c * numImages + imageIndex.get(results[i].imageId)!;
  });
  const evaluatedResults = dtGroups.members.length;

  const gtIgnore = Uint8Array.from(anns, (a) => (a.numKeypoints === 0 || a.iscrowd ? 1 : 0));
  const gtCrowd = Uint8Array.from(anns, (a) => (a.iscrowd ? 1 : 0));
  const gtArea = Float64Array.from(anns, (a) => a.area);
  const gtLabelled = Uint8Array.from(anns, (a) => {
    for (let j = 0; j < numKpts; j++) if (a.keypoints[3 * j + 2] > 0) return 1;
    return 0;
  });
  const dtScore = Float64Array.from(results, (r) => r.score);
  const dtArea = Float64Array.from(results, (r) => r.area ?? keypointExtentArea(r.keypoints));

  const precision = new Float64Array(numThr * numRec * numCats * numAreas).fill(-1);
  const recall = new Float64Array(numThr * numCats * numAreas).fill(-1);
  const perKeypoint = options.perKeypoint ?? true;
  const kpCount = new Float64Array(numKpts);
  const kpSimilarity = new Float64Array(numKpts);
  const kpError = new Float64Array(numKpts);
  const perImage = options.perImage
    ? imageIds.map((imageId): ImageBreakdown => ({
      imageId,
      groundTruth: 0,
      results: 0,
      matched50: 0,
      matched75: 0,
      meanOks: -1,
      AP: -1,
    }))
    : undefined;
  const imageOksSum = new Float64Array(numImages);
  const imageApSum = new Float64Array(numImages);
  const imageApCount = new Int32Array(numImages);
  const t50 = IOU_THRESHOLDS.indexOf(0.5), t75 = IOU_THRESHOLDS.indexOf(0.75);
  let overMaxDets = 0;

  const terms = new Float64Array(numKpts);
  for (let c = 0; c < numCats; c++) {
    // The category's evaluated results, image after image, each image's best first.
    const imageStart = new Int32Array(numImages + 1);
    const sortedResults: number[] = [];
    for (let m = 0; m < numImages; m++) {
      const g = c * numImages + m;
      const members = Array.from(
        dtGroups.members.subarray(dtGroups.start[g], dtGroups.start[g + 1]),
      );
      members.sort((a, b) => dtScore[b] - dtScore[a] || a - b);
      if (members.length > maxDets) overMaxDets++;
      for (let i = 0; i < Math.min(maxDets, members.length); i++) sortedResults.push(members[i]);
      imageStart[m + 1] = sortedResults.length;
    }
    const total = sortedResults.length;
    const matched = Array.from({ length: numAreas }, () => new Uint8Array(numThr * total));
    const ignored = Array.from({ length: numAreas }, () => new Uint8Array(numThr * total));
    const countable = new Int32Array(numAreas * numImages);
    const present = new Uint8Array(numImages);

    for (let m = 0; m < numImages; m++) {
      const g = c * numImages + m;
      const gts = gtGroups.members.subarray(gtGroups.start[g], gtGroups.start[g + 1]);
      const first = imageStart[m], numDt = imageStart[m + 1] - first;
      const numGt = gts.length;
      if (numGt === 0 && numDt === 0) continue;
      present[m] = 1;
      const oks = new Float64Array(numDt * numGt);
      if (numGt > 0) {
        for (let d = 0; d < numDt; d++) {
          const r = results[sortedResults[first + d]];
          for (let j = 0; j < numGt; j++) {
            oks[d * numGt + j] = oksWithVariances(r.keypoints, 0, anns[gts[j]], variances, terms);
          }
        }
      }
      for (let a = 0; a < numAreas; a++) {
        const { min, max } = AREA_RANGES[a];
        // Ground truth with countable ones first, each part in file order.
        const order: number[] = [];
        const ignoreOf = (j: number) =>
          gtIgnore[gts[j]] || gtArea[gts[j]] < min || gtArea[gts[j]] > max ? 1 : 0;
        for (let j = 0; j < numGt; j++) if (!ignoreOf(j)) order.push(j);
        countable[a * numImages + m] = order.length;
        for (let j = 0; j < numGt; j++) if (ignoreOf(j)) order.push(j);
        const sortedIgnore = Uint8Array.from(order, ignoreOf);
        const taken = new Uint8Array(numGt);
        for (let t = 0; t < numThr; t++) {
          taken.fill(0);
          const row = t * total + first;
          for (let d = 0; d < numDt; d++) {
            let best = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
            let match = -1;
            for (let s = 0; s < numGt; s++) {
              const j = order[s];
              if (taken[s] && !gtCrowd[gts[j]]) continue;
              if (match > -1 && !sortedIgnore[match] && sortedIgnore[s]) break;
              const value = oks[d * numGt + j];
              if (value < best) continue;
              best = value;
              match = s;
            }
            let truthy = false;
            if (match > -1) {
              const j = order[match];
              const ann = gts[j];
              taken[match] = 1;
              truthy = anns[ann].id !== 0;
              matched[a][row + d] = truthy ? 1 : 0;
              ignored[a][row + d] = sortedIgnore[match];
              if (a === 0 && !sortedIgnore[match]) {
                if (t === t50) {
                  if (perImage) {
                    perImage[m].matched50++;
                    imageOksSum[m] += oks[d * numGt + j];
                  }
                  if (perKeypoint && gtLabelled[ann]) {
                    addKeypointErrors(
                      results[sortedResults[first + d]].keypoints,
                      anns[ann],
                      variances,
                      kpCount,
                      kpSimilarity,
                      kpError,
                    );
                  }
                }
                if (t === t75 && perImage) perImage[m].matched75++;
              }
            }
            const area = dtArea[sortedResults[first + d]];
            if (!truthy && (area < min || area > max)) ignored[a][row + d] = 1;
          }
        }
      }
    }

    // Accumulate: all images' results in one stable score order.
    const globalOrder = Int32Array.from({ length: total }, (_, i) => i);
    globalOrder.sort((i, j) => dtScore[sortedResults[j]] - dtScore[sortedResults[i]] || i - j);
    const pr = new Float64Array(total), rc = new Float64Array(total);
    const q = new Float64Array(numThr * numRec), rec = new Float64Array(numThr);
    for (let a = 0; a < numAreas; a++) {
      let npig = 0;
      for (let m = 0; m < numImages; m++) npig += countable[a * numImages + m];
      if (npig === 0) continue;
      precisionRecall(globalOrder, matched[a], ignored[a], total, npig, q, rec, pr, rc);
      for (let t = 0; t < numThr; t++) {
        recall[(t * numCats + c) * numAreas + a] = rec[t];
        for (let r = 0; r < numRec; r++) {
          precision[((t * numRec + r) * numCats + c) * numAreas + a] = q[t * numRec + r];
        }
      }
    }

    if (perImage) {
      for (let m = 0; m < numImages; m++) {
        const numDt = imageStart[m + 1] - imageStart[m];
        perImage[m].results += numDt;
        const npig = countable[m]; // area "all" (index 0)
        perImage[m].groundTruth += npig;
        if (!present[m] || npig === 0) continue;
        // Within one image the results are already in score order.
        const order = Int32Array.from({ length: numDt }, (_, i) => imageStart[m] + i);
        precisionRecall(order, matched[0], ignored[0], total, npig, q, rec, pr, rc);
        imageApSum[m] += pairwiseSum(q) / q.length;
        imageApCount[m]++;
      }
    }
  }

  if (overMaxDets > 0) {
    warnings.push(
      `${overMaxDets} image(s) have more than ${maxDets} results of one category; only the ` +
        `${maxDets} highest-scored count (pycocotools' maxDets)`,
    );
  }

  const evaluation: KeypointEvaluation = {
    stats: summarizeStats(precision, recall, numCats),
    categoryIds,
    imageIds,
    precision,
    recall,
    evaluatedResults,
    warnings,
  };
  if (perKeypoint) {
    evaluation.perKeypoint = Array.from({ length: numKpts }, (_, j) => ({
      index: j,
      name: numKpts === COCO_KEYPOINT_NAMES.length ? COCO_KEYPOINT_NAMES[j] : `keypoint ${j}`,
      count: kpCount[j],
      meanSimilarity: kpCount[j] ? kpSimilarity[j] / kpCount[j] : -1,
      meanNormalizedError: kpCount[j] ? kpError[j] / kpCount[j] : -1,
    }));
  }
  if (perImage) {
    for (let m = 0; m < numImages; m++) {
      const row = perImage[m];
      if (row.matched50 > 0) row.meanOks = imageOksSum[m] / row.matched50;
      if (imageApCount[m] > 0) row.AP = imageApSum[m] / imageApCount[m];
    }
    evaluation.perImage = perImage;
  }
  return evaluation;
}

function addKeypointErrors(
  result: ArrayLike<number>,
  gt: GroundTruthAnnotation,
  variances: Float64Array,
  count: Float64Array,
  similarity: Float64Array,
  error: Float64Array,
): void {
  const g = gt.keypoints;
  const scale = Math.sqrt(gt.area);
  for (let j = 0; j < variances.length; j++) {
    if (!(g[3 * j + 2] > 0)) continue;
    const dx = result[3 * j] - g[3 * j], dy = result[3 * j + 1] - g[3 * j + 1];
    const d2 = dx * dx + dy * dy;
    count[j]++;
    similarity[j] += Math.exp(-(d2 / variances[j] / (gt.area + EPS) / 2));
    error[j] += Math.sqrt(d2) / scale;
  }
}

/**
 * pycocotools' summarize for keypoints: the ten stats from `precision` [T][R][K][A] and
 * `recall` [T][K][A], averaging the defined (> -1) values in numpy's order and summation.
 */
export function summarizeStats(
  precision: Float64Array,
  recall: Float64Array,
  numCats: number,
): KeypointStats {
  const numRec = RECALL_THRESHOLDS.length;
  const numAreas = AREA_RANGES.length;
  const area = (label: AreaRange["label"]) => AREA_RANGES.findIndex((r) => r.label === label);
  // pycocotools picks a threshold by float equality (np.where(iouThr == p.iouThrs)).
  const thresholds = (iouThr?: number) =>
    iouThr === undefined
      ? [...IOU_THRESHOLDS.keys()]
      : [...IOU_THRESHOLDS.keys()].filter((t) => IOU_THRESHOLDS[t] === iouThr);
  const ap = (a: number, iouThr?: number) => {
    const values: number[] = [];
    for (const t of thresholds(iouThr)) {
      for (let r = 0; r < numRec; r++) {
        for (let c = 0; c < numCats; c++) {
          values.push(precision[((t * numRec + r) * numCats + c) * numAreas + a]);
        }
      }
    }
    return meanOfDefined(Float64Array.from(values));
  };
  const ar = (a: number, iouThr?: number) => {
    const values: number[] = [];
    for (const t of thresholds(iouThr)) {
      for (let c = 0; c < numCats; c++) values.push(recall[(t * numCats + c) * numAreas + a]);
    }
    return meanOfDefined(Float64Array.from(values));
  };
  const all = area("all"), medium = area("medium"), large = area("large");
  return {
    AP: ap(all),
    AP50: ap(all, 0.5),
    AP75: ap(all, 0.75),
    APm: ap(medium),
    APl: ap(large),
    AR: ar(all),
    AR50: ar(all, 0.5),
    AR75: ar(all, 0.75),
    ARm: ar(medium),
    ARl: ar(large),
  };
}

/** The stats as pycocotools' `stats` array. */
export function statsToArray(stats: KeypointStats): number[] {
  return STAT_NAMES.map((name) => stats[name]);
}

/** Ids for a message: sorted, the first `limit` of them, then how many more. */
export function listIds(ids: Iterable<number>, limit = 10): string {
  const all = [...ids].sort((a, b) => a - b);
  const shown = all.slice(0, limit).join(", ");
  return all.length > limit ? `${shown}, … (${all.length - limit} more)` : shown;
}
