/**
 * How sure an AP is: a bootstrap over images. Images are drawn with replacement, each with all
 * its results and ground truth, and the ten stats recomputed; the 2.5th and 97.5th percentiles
 * of the resampled values are the 95% interval. Paired with a second result set (the same
 * draws for both), it gives the interval of the difference between the two.
 *
 * Resampling only reweights images, so matching never changes: the flags of the full
 * evaluation are computed once, and each resample is one weighted pass over the results in
 * score order per (category, area range, threshold). A drawn image's copies are evaluated as
 * separate images placed where the image is, each result's copies next to each other; each
 * run of w true positives then steps precision once, as w copies would. With every weight 1
 * this is exactly COCOeval.
 */

import {
  AREA_RANGES,
  EPS,
  IOU_THRESHOLDS,
  type KeypointStats,
  RECALL_THRESHOLDS,
  STAT_NAMES,
  summarizeStats,
} from "./cocoeval.ts";
import type { EvalCells, Matching, ResultOrder, ResultSet } from "./variants.ts";

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32): the same draws everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many times each of `numImages` images is drawn in one resample. */
export function drawWeights(numImages: number, random: () => number): Int32Array {
  const weights = new Int32Array(numImages);
  for (let i = 0; i < numImages; i++) weights[Math.floor(random() * numImages)]++;
  return weights;
}

/**
 * numpy's `np.percentile(values, q)` (linear interpolation between the closest ranks).
 * `values` must be sorted ascending and not empty.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const position = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(position), hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/** The central `level` interval of `values` (undefined ones, -1 or NaN, left out); null if none. */
export function centralInterval(values: readonly number[], level = 0.95): [number, number] | null {
  const defined = Float64Array.from(values.filter((v) => v > -1)).sort();
  if (defined.length === 0) return null;
  const tail = (1 - level) * 50;
  return [percentile(defined, tail), percentile(defined, 100 - tail)];
}

/**
 * The ten stats of one evaluation under image weights. Built from the matchings of the three
 * area ranges (all, medium, large; pycocotools' keypoint ranges, ten thresholds each).
 */
export class WeightedStats {
  #numCats: number;
  #numImages: number;
  /** Per (category, area, threshold): non-ignored results in accumulate order. */
  #lists: Int32Array[] = [];
  /** Per list: 1 for a true positive. */
  #positive: Uint8Array[] = [];
  /** Per (category, area): countable annotations of each image. */
  #countable: Int32Array[] = [];
  #imageOf: Int32Array;
  #tp: Float64Array;
  #pr: Float64Array;

  /**
   * @param matchings one ten-threshold matching per `AREA_RANGES` entry, in that order
   */
  constructor(cells: EvalCells, set: ResultSet, order: ResultOrder, matchings: Matching[]) {
    if (matchings.length !== AREA_RANGES.length) throw new Error("one matching per area range");
    this.#numCats = cells.categoryIds.length;
    this.#numImages = cells.imageIds.length;
    const n = set.cell.length;
    this.#imageOf = Int32Array.from(set.cell, (c) => c % this.#numImages);
    const numThr = IOU_THRESHOLDS.length;
    for (let k = 0; k < this.#numCats; k++) {
      const sequence = order.global.subarray(order.globalStart[k], order.globalStart[k + 1]);
      for (let a = 0; a < matchings.length; a++) {
        const { matched, ignored, countable } = matchings[a];
        this.#countable.push(countable.slice(k * this.#numImages, (k + 1) * this.#numImages));
        for (let t = 0; t < numThr; t++) {
          const list: number[] = [], positive: number[] = [];
          for (const r of sequence) {
            if (ignored[t * n + r]) continue;
            list.push(r);
            positive.push(matched[t * n + r]);
          }
          this.#lists.push(Int32Array.from(list));
          this.#positive.push(Uint8Array.from(positive));
        }
      }
    }
    const longest = Math.max(0, ...this.#lists.map((l) => l.length));
    this.#tp = new Float64Array(longest);
    this.#pr = new Float64Array(longest);
  }

  /** The ten stats with image m counted `weights[m]` times. */
  stats(weights: ArrayLike<number>): KeypointStats {
    const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
    const numAreas = AREA_RANGES.length, numCats = this.#numCats;
    const precision = new Float64Array(numThr * numRec * numCats * numAreas).fill(-1);
    const recall = new Float64Array(numThr * numCats * numAreas).fill(-1);
    const imageOf = this.#imageOf, tpAt = this.#tp, prAt = this.#pr;
    for (let k = 0; k < numCats; k++) {
      for (let a = 0; a < numAreas; a++) {
        const countable = this.#countable[k * numAreas + a];
        let npig = 0;
        for (let m = 0; m < this.#numImages; m++) npig += weights[m] * countable[m];
        if (npig === 0) continue;
        for (let t = 0; t < numThr; t++) {
          const index = (k * numAreas + a) * numThr + t;
          const list = this.#lists[index], positive = this.#positive[index];
          let tp = 0, fp = 0, events = 0;
          for (let i = 0; i < list.length; i++) {
            const w = weights[imageOf[list[i]]];
            if (w === 0) continue;
            if (positive[i]) {
              tp += w;
              tpAt[events] = tp;
              prAt[events++] = tp / (fp + tp + EPS);
            } else fp += w;
          }
          recall[(t * numCats + k) * numAreas + a] = tp / npig;
          for (let e = events - 1; e > 0; e--) if (prAt[e] > prAt[e - 1]) prAt[e - 1] = prAt[e];
          let e = 0;
          for (let r = 0; r < numRec; r++) {
            while (e < events && tpAt[e] / npig < RECALL_THRESHOLDS[r]) e++;
            precision[((t * numRec + r) * numCats + k) * numAreas + a] = e < events ? prAt[e] : 0;
          }
        }
      }
    }
    return summarizeStats(precision, recall, numCats);
  }
}

/** What `bootstrap` gives. */
export interface BootstrapIntervals {
  /** Resamples drawn. */
  resamples: number;
  /** The generator's seed. */
  seed: number;
  /** 95% interval of each of the ten stats; null where no resample defines it. */
  stats: Record<keyof KeypointStats, [number, number] | null>;
  /** With a second evaluation: the interval of AP − AP(other) over the same draws. */
  difference?: [number, number] | null;
}

/**
 * `resamples` bootstrap draws over `numImages` images (seeded): intervals of the ten stats of
 * `evaluation`, and, with `other`, of the paired AP difference.
 */
export function bootstrap(
  evaluation: WeightedStats,
  numImages: number,
  options: { resamples: number; seed: number; level?: number },
  other?: WeightedStats,
): BootstrapIntervals {
  const random = seededRandom(options.seed);
  const samples = STAT_NAMES.map(() => [] as number[]);
  const differences: number[] = [];
  for (let b = 0; b < options.resamples; b++) {
    const weights = drawWeights(numImages, random);
    const stats = evaluation.stats(weights);
    STAT_NAMES.forEach((name, i) => samples[i].push(stats[name]));
    if (other) {
      const ap = other.stats(weights).AP;
      if (stats.AP > -1 && ap > -1) differences.push(stats.AP - ap);
    }
  }
  const intervals = Object.fromEntries(
    STAT_NAMES.map((name, i) => [name, centralInterval(samples[i], options.level)]),
  ) as BootstrapIntervals["stats"];
  const out: BootstrapIntervals = {
    resamples: options.resamples,
    seed: options.seed,
    stats: intervals,
  };
  if (other) {
    // Differences may be negative: no value is "undefined" here.
    const sorted = Float64Array.from(differences).sort();
    const tail = (1 - (options.level ?? 0.95)) * 50;
    out.difference = sorted.length
      ? [percentile(sorted, tail), percentile(sorted, 100 - tail)]
      : null;
  }
  return out;
}
