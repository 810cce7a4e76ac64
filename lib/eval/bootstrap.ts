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
import { seededRandom } from "../math/random.ts";

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
  #numAreas: number;
  /**
   * Per (category, area): the results in accumulate order that count at some threshold (not
   * ignored at all ten), as image indices, with bit t of `#positive` set for a true positive
   * at threshold t and of `#ignored` for one ignored there.
   */
  #image: Int32Array[] = [];
  /** See `#image`. */
  #positive: Uint16Array[] = [];
  /** See `#image`. */
  #ignored: Uint16Array[] = [];
  /** Per (category, area): countable annotations of each image. */
  #countable: Int32Array[] = [];
  /** Scratch: per threshold, the true positives and precision at each true positive. */
  #tp: Float64Array[];
  #pr: Float64Array[];

  /**
   * @param matchings one ten-threshold matching per `AREA_RANGES` entry, in that order
   */
  constructor(cells: EvalCells, set: ResultSet, order: ResultOrder, matchings: Matching[]) {
    if (matchings.length !== AREA_RANGES.length) throw new Error("one matching per area range");
    const numThr = IOU_THRESHOLDS.length;
    this.#numCats = cells.categoryIds.length;
    this.#numImages = cells.imageIds.length;
    this.#numAreas = matchings.length;
    const n = set.cell.length;
    let longest = 0;
    for (let k = 0; k < this.#numCats; k++) {
      const sequence = order.global.subarray(order.globalStart[k], order.globalStart[k + 1]);
      longest = Math.max(longest, sequence.length);
      for (const { matched, ignored, countable } of matchings) {
        this.#countable.push(countable.slice(k * this.#numImages, (k + 1) * this.#numImages));
        const image: number[] = [], positive: number[] = [], skip: number[] = [];
        for (const r of sequence) {
          let tpBits = 0, skipBits = 0;
          for (let t = 0; t < numThr; t++) {
            if (ignored[t * n + r]) skipBits |= 1 << t;
            else if (matched[t * n + r]) tpBits |= 1 << t;
          }
          if (skipBits === (1 << numThr) - 1) continue;
          image.push(set.cell[r] % this.#numImages);
          positive.push(tpBits);
          skip.push(skipBits);
        }
        this.#image.push(Int32Array.from(image));
        this.#positive.push(Uint16Array.from(positive));
        this.#ignored.push(Uint16Array.from(skip));
      }
    }
    this.#tp = Array.from({ length: numThr }, () => new Float64Array(longest));
    this.#pr = Array.from({ length: numThr }, () => new Float64Array(longest));
  }

  /** The ten stats with image m counted `weights[m]` times. */
  stats(weights: Int32Array): KeypointStats {
    const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
    const numAreas = this.#numAreas, numCats = this.#numCats;
    const precision = new Float64Array(numThr * numRec * numCats * numAreas).fill(-1);
    const recall = new Float64Array(numThr * numCats * numAreas).fill(-1);
    const tp = new Float64Array(numThr), fp = new Float64Array(numThr);
    const events = new Int32Array(numThr);
    for (let k = 0; k < numCats; k++) {
      for (let a = 0; a < numAreas; a++) {
        const image = this.#image[k * numAreas + a];
        const countable = this.#countable[k * numAreas + a];
        let npig = 0;
        for (let m = 0; m < this.#numImages; m++) npig += weights[m] * countable[m];
        if (npig === 0) continue;
        const positive = this.#positive[k * numAreas + a];
        const skip = this.#ignored[k * numAreas + a];
        tp.fill(0);
        fp.fill(0);
        events.fill(0);
        // One pass for all thresholds: each result's weight is read once. A false positive
        // at every threshold (the usual background result) adds to one shared count.
        // Weights are integers, so these sums are exact in any order.
        let fpAll = 0;
        for (let i = 0; i < image.length; i++) {
          const w = weights[image[i]];
          if (w === 0) continue;
          const bits = positive[i], ignored = skip[i];
          if ((bits | ignored) === 0) {
            fpAll += w;
            continue;
          }
          for (let t = 0; t < numThr; t++) {
            const bit = 1 << t;
            if (ignored & bit) continue;
            if (bits & bit) {
              const sum = (tp[t] += w);
              const e = events[t]++;
              this.#tp[t][e] = sum;
              this.#pr[t][e] = sum / (fp[t] + fpAll + sum + EPS);
            } else fp[t] += w;
          }
        }
        for (let t = 0; t < numThr; t++) {
          const tpAt = this.#tp[t], prAt = this.#pr[t], count = events[t];
          recall[(t * numCats + k) * numAreas + a] = tp[t] / npig;
          for (let e = count - 1; e > 0; e--) if (prAt[e] > prAt[e - 1]) prAt[e - 1] = prAt[e];
          let e = 0;
          for (let r = 0; r < numRec; r++) {
            while (e < count && tpAt[e] / npig < RECALL_THRESHOLDS[r]) e++;
            precision[((t * numRec + r) * numCats + k) * numAreas + a] = e < count ? prAt[e] : 0;
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
