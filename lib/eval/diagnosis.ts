/**
 * Why a keypoint is wrong: each keypoint of a matched result is classed good, jitter,
 * inversion (the mirror keypoint: left for right), swap (someone else's) or miss, and any
 * class can be fixed to see how much AP it costs.
 *
 * The classes follow the keypoint error analysis of Ruggero Ronchi and Pietro Perona
 * ("Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation", ICCV 2017), with
 * the definitions written out in the README ("eval --report"): results are matched by
 * pycocotools' own matching at OKS 0.1; a keypoint's class comes from the candidate ground-truth
 * keypoint it is most similar to and that similarity; fixing moves it onto the ks = 0.875
 * circle around its own ground-truth keypoint.
 */

import { EPS } from "./cocoeval.ts";
import type { EvalKeypointLayout } from "./layout.ts";
import {
  type EvalCells,
  matchResults,
  type OksRows,
  type ResultOrder,
  type ResultSet,
} from "./variants.ts";

/** The keypoint classes, in the order counts and plots list them. */
export const ERROR_CLASSES = ["good", "jitter", "inversion", "swap", "miss"] as const;
/** One keypoint class. */
export type ErrorClass = (typeof ERROR_CLASSES)[number];
/** Class indices, as stored in `KeypointDiagnosis.errorClass`. */
export const GOOD = 0, JITTER = 1, INVERSION = 2, SWAP = 3, MISS = 4;

/** The OKS at which results are matched for the diagnosis: low, so that bad ones still match. */
export const DIAGNOSIS_OKS = 0.1;
/** A keypoint at least this similar to its own ground truth is good. */
export const GOOD_SIMILARITY = 0.85;
/** Below this similarity to every candidate, a keypoint is a miss. */
export const WRONG_SIMILARITY = 0.5;
/** Fixed keypoints are moved to this similarity (between jitter and a perfect keypoint). */
export const FIXED_SIMILARITY = 0.875;

/**
 * One keypoint's similarity, ks = exp(−d² / (2 A (2σ)²)), written as pycocotools writes an OKS
 * term (`d² / var / (A + ε) / 2`), so an area of 0 gives 0 instead of dividing by zero.
 */
export function keypointSimilarity(
  dx: number,
  dy: number,
  area: number,
  variance: number,
): number {
  return Math.exp(-((dx * dx + dy * dy) / variance / (area + EPS) / 2));
}

/**
 * Radius of the ks = `similarity` circle around a keypoint of an annotation of `area`:
 * r = 2σ √(−2 A ln ks); 0 when the area is not positive.
 */
export function similarityRadius(sigma: number, area: number, similarity: number): number {
  return area > 0 ? 2 * sigma * Math.sqrt(-2 * area * Math.log(similarity)) : 0;
}

/** The diagnosis of a result set: its matches at OKS 0.1 and its classified keypoints. */
export interface KeypointDiagnosis {
  /** Per result: the annotation it matched at OKS 0.1 (area "all"), or -1. */
  match: Int32Array;
  /** Per result: its OKS with that annotation, or -1. */
  matchOks: Float64Array;
  /** Number of classified keypoints (labelled keypoints of matched annotations). */
  count: number;
  /** Per classified keypoint: the result. */
  result: Int32Array;
  /** Per classified keypoint: the keypoint index i. */
  keypoint: Int32Array;
  /** Per classified keypoint: the annotation its result matched. */
  annotation: Int32Array;
  /** Per classified keypoint: its class (`GOOD` … `MISS`). */
  errorClass: Uint8Array;
  /** Per classified keypoint: the largest ks m over the candidates. */
  similarity: Float64Array;
}

/**
 * Matches `set` at OKS 0.1 and classes every labelled keypoint of every matched annotation.
 *
 * Candidates for keypoint i of a result matched to annotation g: g's keypoint i; g's mirror
 * keypoint when it has one and it is labelled; keypoints i and mirror(i) of every other
 * non-crowd annotation of the image (same category) where labelled — each with its own
 * annotation's area, and σ_i for all. The largest ks wins (ties: the earlier candidate).
 */
export function diagnoseKeypoints(
  cells: EvalCells,
  set: ResultSet,
  order: ResultOrder,
  oks: OksRows,
  layout: EvalKeypointLayout,
): KeypointDiagnosis {
  const matching = matchResults(cells, set, order, oks, {
    thresholds: [DIAGNOSIS_OKS],
    keepMatches: true,
  });
  const match = matching.match!;
  const n = set.cell.length;
  const numKpts = cells.variances.length;
  const stride = 3 * numKpts;
  const { mirror } = layout;
  const anns = cells.annotations;
  const matchOks = new Float64Array(n).fill(-1);
  let capacity = 0;
  for (let r = 0; r < n; r++) {
    if (match[r] < 0) continue;
    matchOks[r] = oks.values[oks.offset[r] + cells.gtSlot[match[r]]];
    const g = anns[match[r]].keypoints;
    for (let i = 0; i < numKpts; i++) if (g[3 * i + 2] > 0) capacity++;
  }
  const out: KeypointDiagnosis = {
    match,
    matchOks,
    count: 0,
    result: new Int32Array(capacity),
    keypoint: new Int32Array(capacity),
    annotation: new Int32Array(capacity),
    errorClass: new Uint8Array(capacity),
    similarity: new Float64Array(capacity),
  };
  const kp = set.keypoints;
  for (let r = 0; r < n; r++) {
    const a = match[r];
    if (a < 0) continue;
    const g = anns[a].keypoints;
    const c = set.cell[r];
    const g0 = cells.gtStart[c], g1 = cells.gtStart[c + 1];
    for (let i = 0; i < numKpts; i++) {
      if (!(g[3 * i + 2] > 0)) continue;
      const px = kp[r * stride + 3 * i], py = kp[r * stride + 3 * i + 1];
      const variance = cells.variances[i];
      const j = mirror[i];
      const area = anns[a].area;
      let best = keypointSimilarity(px - g[3 * i], py - g[3 * i + 1], area, variance);
      let kind = GOOD; // GOOD: own keypoint, INVERSION: own mirror, SWAP: someone else's
      if (j !== i && g[3 * j + 2] > 0) {
        const v = keypointSimilarity(px - g[3 * j], py - g[3 * j + 1], area, variance);
        if (v > best) [best, kind] = [v, INVERSION];
      }
      for (let p = g0; p < g1; p++) {
        const h = cells.gtMembers[p];
        if (h === a || cells.crowd[h]) continue;
        const q = anns[h].keypoints, other = anns[h].area;
        if (q[3 * i + 2] > 0) {
          const v = keypointSimilarity(px - q[3 * i], py - q[3 * i + 1], other, variance);
          if (v > best) [best, kind] = [v, SWAP];
        }
        if (j !== i && q[3 * j + 2] > 0) {
          const v = keypointSimilarity(px - q[3 * j], py - q[3 * j + 1], other, variance);
          if (v > best) [best, kind] = [v, SWAP];
        }
      }
      const k = out.count++;
      out.result[k] = r;
      out.keypoint[k] = i;
      out.annotation[k] = a;
      out.similarity[k] = best;
      out.errorClass[k] = best < WRONG_SIMILARITY
        ? MISS
        : kind === GOOD && best < GOOD_SIMILARITY
        ? JITTER
        : kind;
    }
  }
  return out;
}

/**
 * `keypoints` (a result set's, N × 3K) with every classified keypoint whose class is in `classes`
 * (a bit per class: `1 << MISS`, …) fixed: moved onto the ks = 0.875 circle around its own ground-truth keypoint,
 * along the line from that keypoint to where it was; a keypoint already inside the circle (or
 * on the ground truth) stays. Returns the new keypoints and which results changed.
 */
export function fixKeypoints(
  cells: EvalCells,
  keypoints: Float64Array,
  diagnosis: KeypointDiagnosis,
  layout: EvalKeypointLayout,
  classes: number,
): { keypoints: Float64Array; changed: Uint8Array } {
  const stride = 3 * cells.variances.length;
  const changed = new Uint8Array(keypoints.length / stride);
  keypoints = keypoints.slice();
  const logSimilarity = Math.log(FIXED_SIMILARITY);
  for (let k = 0; k < diagnosis.count; k++) {
    if (!(classes & (1 << diagnosis.errorClass[k]))) continue;
    const r = diagnosis.result[k], i = diagnosis.keypoint[k];
    const ann = cells.annotations[diagnosis.annotation[k]];
    const qx = ann.keypoints[3 * i], qy = ann.keypoints[3 * i + 1];
    const p = r * stride + 3 * i;
    const dx = keypoints[p] - qx, dy = keypoints[p + 1] - qy;
    const distance = Math.sqrt(dx * dx + dy * dy);
    // similarityRadius, with the logarithm taken once.
    const radius = ann.area > 0
      ? 2 * layout.sigmas[i] * Math.sqrt(-2 * ann.area * logSimilarity)
      : 0;
    if (!(distance > radius)) continue;
    keypoints[p] = qx + dx * (radius / distance);
    keypoints[p + 1] = qy + dy * (radius / distance);
    changed[r] = 1;
  }
  return { keypoints, changed };
}
