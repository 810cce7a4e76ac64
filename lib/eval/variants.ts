/**
 * COCOeval AP of many variants of one evaluation — keypoints moved, results removed, scores
 * replaced, ground truth ignored or removed — computing only what a variant changes.
 *
 * `evaluateKeypoints` evaluates one result set from scratch; the report needs about twenty
 * variants of the same one. Here the ground truth is grouped once into pycocotools' cells
 * (category, image); OKS is kept per (result, annotation of its cell) and recomputed only for
 * results whose keypoints moved; the score order is kept while scores do not change. Matching
 * and accumulation are pycocotools' (the same greedy loop, `precisionRecall` shared with
 * `evaluateKeypoints`), so each variant's AP is what COCOeval gives for that variant's files.
 *
 * Preconditions: results are known-category results on known images, at most maxDets (20) per
 * cell (`selectResults` makes such a set), in file order: their index breaks score ties as the
 * position in the results file does for pycocotools.
 */

import {
  DEFAULT_MAX_DETS,
  type GroundTruthAnnotation,
  type GroundTruthSet,
  IOU_THRESHOLDS,
  keypointExtentArea,
  type KeypointResult,
  meanOfDefined,
  oksVariances,
  oksWithVariances,
  precisionRecall,
  RECALL_THRESHOLDS,
} from "./cocoeval.ts";

/** pycocotools' area range "all", which also decides ignoring in every AP here. */
const ALL_AREAS = { min: 0, max: 1e10 };

/** Ground truth grouped into pycocotools' cells: cell = category index × images + image index. */
export interface EvalCells {
  /** Sorted unique image ids. */
  imageIds: number[];
  /** Sorted unique category ids. */
  categoryIds: number[];
  /** The annotations (indices below refer to this array). */
  annotations: readonly GroundTruthAnnotation[];
  /** Annotations of cell c, in file order: `gtMembers[gtStart[c] .. gtStart[c + 1])`. */
  gtStart: Int32Array;
  /** See `gtStart`. */
  gtMembers: Int32Array;
  /** Per annotation: its cell, -1 when its image or category is not evaluated. */
  gtCell: Int32Array;
  /** Per annotation: its position within its cell's `gtMembers` run. */
  gtSlot: Int32Array;
  /** Per annotation: pycocotools' ignore flag with area range "all" (crowd, no keypoints). */
  ignored: Uint8Array;
  /** Per annotation: crowd (may be matched many times). */
  crowd: Uint8Array;
  /** Per annotation: a non-zero id (pycocotools counts a match by the id's truth). */
  truthyId: Uint8Array;
  /** `(2σ)²` per keypoint. */
  variances: Float64Array;
}

/** Groups `gt` into cells, with OKS sigmas `sigmas` (their count is K). */
export function groupCells(gt: GroundTruthSet, sigmas: ArrayLike<number>): EvalCells {
  const imageIds = [...new Set(gt.imageIds)].sort((a, b) => a - b);
  const categoryIds = [...new Set(gt.categoryIds)].sort((a, b) => a - b);
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, i) => [id, i]));
  const anns = gt.annotations;
  const numCells = imageIds.length * categoryIds.length;
  const gtCell = Int32Array.from(anns, (a) => {
    const c = categoryIndex.get(a.categoryId), m = imageIndex.get(a.imageId);
    return c === undefined || m === undefined ? -1 : c * imageIds.length + m;
  });
  const gtStart = new Int32Array(numCells + 1);
  for (const cell of gtCell) if (cell >= 0) gtStart[cell + 1]++;
  for (let c = 0; c < numCells; c++) gtStart[c + 1] += gtStart[c];
  const fill = gtStart.slice(0, numCells);
  const gtMembers = new Int32Array(gtStart[numCells]);
  const gtSlot = new Int32Array(anns.length).fill(-1);
  for (let i = 0; i < anns.length; i++) {
    const cell = gtCell[i];
    if (cell < 0) continue;
    gtSlot[i] = fill[cell] - gtStart[cell];
    gtMembers[fill[cell]++] = i;
  }
  return {
    imageIds,
    categoryIds,
    annotations: anns,
    gtStart,
    gtMembers,
    gtCell,
    gtSlot,
    ignored: Uint8Array.from(
      anns,
      (a) =>
        a.iscrowd || a.numKeypoints === 0 || a.area < ALL_AREAS.min || a.area > ALL_AREAS.max
          ? 1
          : 0,
    ),
    crowd: Uint8Array.from(anns, (a) => (a.iscrowd ? 1 : 0)),
    truthyId: Uint8Array.from(anns, (a) => (a.id !== 0 ? 1 : 0)),
    variances: oksVariances(sigmas),
  };
}

/** A set of results in flat arrays (index = position in the results file, after selection). */
export interface ResultSet {
  /** N × 3K values: x, y, score per keypoint. */
  keypoints: Float64Array;
  /** Person scores. */
  scores: Float64Array;
  /** Cell of each result. */
  cell: Int32Array;
  /** Area of each result (pycocotools' loadRes area), for the medium and large ranges. */
  area: Float64Array;
  /** 1 when the result takes part; variants that remove results clear it. */
  present: Uint8Array;
}

/** A selection of results: the set, and where each came from in the input. */
export interface Selection {
  /** The selected results, in input order. */
  set: ResultSet;
  /** Per selected result: its index in the input array. */
  source: Int32Array;
  /** Results of categories that are not evaluated (left out, as pycocotools does). */
  unknownCategory: number;
  /** Results beyond the maxDets best of their cell (left out). */
  beyondMaxDets: number;
}

/**
 * Each cell's `maxDets` highest-scored results (stable: ties keep file order, as pycocotools'
 * mergesort), kept in input order. Throws on results on images that are not evaluated (as
 * `evaluateKeypoints`) or with a keypoint count other than the sigmas'.
 */
export function selectResults(
  cells: EvalCells,
  results: readonly KeypointResult[],
  maxDets = DEFAULT_MAX_DETS,
): Selection {
  const numKpts = cells.variances.length;
  const numImages = cells.imageIds.length;
  const imageIndex = new Map(cells.imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(cells.categoryIds.map((id, i) => [id, i]));
  const cellOf = new Int32Array(results.length);
  let unknownCategory = 0;
  results.forEach((r, i) => {
    const m = imageIndex.get(r.imageId);
    if (m === undefined) throw new Error(`a result is on image ${r.imageId}, not evaluated`);
    if (r.keypoints.length !== 3 * numKpts) {
      throw new Error(
        `a result on image ${r.imageId} has ${r.keypoints.length} keypoint values; ` +
          `expected ${3 * numKpts}`,
      );
    }
    const c = categoryIndex.get(r.categoryId);
    if (c === undefined) unknownCategory++;
    cellOf[i] = c === undefined ? -1 : c * numImages + m;
  });
  const byCell = new Map<number, number[]>();
  cellOf.forEach((cell, i) => {
    if (cell < 0) return;
    const list = byCell.get(cell);
    if (list) list.push(i);
    else byCell.set(cell, [i]);
  });
  const keep = new Uint8Array(results.length);
  let beyondMaxDets = 0;
  for (const list of byCell.values()) {
    if (list.length > maxDets) {
      list.sort((a, b) => results[b].score - results[a].score || a - b);
      beyondMaxDets += list.length - maxDets;
    }
    for (let i = 0; i < Math.min(maxDets, list.length); i++) keep[list[i]] = 1;
  }
  const source: number[] = [];
  keep.forEach((k, i) => k && source.push(i));
  const n = source.length;
  const keypoints = new Float64Array(n * 3 * numKpts);
  const set: ResultSet = {
    keypoints,
    scores: new Float64Array(n),
    cell: new Int32Array(n),
    area: new Float64Array(n),
    present: new Uint8Array(n).fill(1),
  };
  source.forEach((i, s) => {
    const r = results[i];
    keypoints.set(r.keypoints, s * 3 * numKpts);
    set.scores[s] = r.score;
    set.cell[s] = cellOf[i];
    set.area[s] = r.area ?? keypointExtentArea(r.keypoints);
  });
  return { set, source: Int32Array.from(source), unknownCategory, beyondMaxDets };
}

/** The order pycocotools evaluates present results in. */
export interface ResultOrder {
  /** Present results of cell c, best first: `byCell[cellStart[c] .. cellStart[c + 1])`. */
  cellStart: Int32Array;
  /** See `cellStart`. */
  byCell: Int32Array;
  /** Category k's present results in accumulate order: `global[globalStart[k] .. [k + 1])`. */
  globalStart: Int32Array;
  /** See `globalStart`. */
  global: Int32Array;
}

/**
 * pycocotools' two sorts: within a cell by score (ties: file order), then each category's
 * cells concatenated in image order and sorted again by score (ties: that concatenation's
 * order). Both stable, as its mergesort.
 */
export function orderResults(cells: EvalCells, set: ResultSet): ResultOrder {
  const numCells = cells.gtStart.length - 1;
  const numImages = cells.imageIds.length;
  const { scores, cell, present } = set;
  const cellStart = new Int32Array(numCells + 1);
  for (let r = 0; r < cell.length; r++) if (present[r]) cellStart[cell[r] + 1]++;
  for (let c = 0; c < numCells; c++) cellStart[c + 1] += cellStart[c];
  const fill = cellStart.slice(0, numCells);
  const byCell = new Int32Array(cellStart[numCells]);
  for (let r = 0; r < cell.length; r++) if (present[r]) byCell[fill[cell[r]]++] = r;
  for (let c = 0; c < numCells; c++) {
    const run = byCell.subarray(cellStart[c], cellStart[c + 1]);
    if (run.length > 1) run.sort((a, b) => scores[b] - scores[a] || a - b);
  }
  // byCell is already the concatenation in (category, image) order; its position breaks ties.
  const position = new Int32Array(cell.length);
  byCell.forEach((r, p) => (position[r] = p));
  const numCats = cells.categoryIds.length;
  const globalStart = Int32Array.from({ length: numCats + 1 }, (_, k) => cellStart[k * numImages]);
  const global = byCell.slice();
  for (let k = 0; k < numCats; k++) {
    global.subarray(globalStart[k], globalStart[k + 1])
      .sort((a, b) => scores[b] - scores[a] || position[a] - position[b]);
  }
  return { cellStart, byCell, globalStart, global };
}

/** The order of `order` restricted to results still present (removal keeps every tie order). */
export function keepPresent(order: ResultOrder, set: ResultSet): ResultOrder {
  const numCells = order.cellStart.length - 1;
  const cellStart = new Int32Array(numCells + 1);
  const byCell: number[] = [];
  for (let c = 0; c < numCells; c++) {
    for (let p = order.cellStart[c]; p < order.cellStart[c + 1]; p++) {
      if (set.present[order.byCell[p]]) byCell.push(order.byCell[p]);
    }
    cellStart[c + 1] = byCell.length;
  }
  const numCats = order.globalStart.length - 1;
  const globalStart = new Int32Array(numCats + 1);
  const global: number[] = [];
  for (let k = 0; k < numCats; k++) {
    for (let p = order.globalStart[k]; p < order.globalStart[k + 1]; p++) {
      if (set.present[order.global[p]]) global.push(order.global[p]);
    }
    globalStart[k + 1] = global.length;
  }
  return {
    cellStart,
    byCell: Int32Array.from(byCell),
    globalStart,
    global: Int32Array.from(global),
  };
}

/** OKS of each result with each annotation of its cell (file order): one row per result. */
export interface OksRows {
  /** Row r is `values[offset[r] .. offset[r + 1])`. */
  offset: Int32Array;
  /** See `offset`. */
  values: Float64Array;
}

/**
 * OKS rows of `set` (pycocotools' computeOks for every pair). With `base` and `changed`, only
 * the rows of changed results are computed; the others are copied from `base`.
 */
export function oksRows(
  cells: EvalCells,
  set: ResultSet,
  base?: OksRows,
  changed?: Uint8Array,
): OksRows {
  const n = set.cell.length;
  const stride = 3 * cells.variances.length;
  let offset: Int32Array;
  let values: Float64Array;
  if (base) {
    offset = base.offset;
    values = base.values.slice();
  } else {
    offset = new Int32Array(n + 1);
    for (let r = 0; r < n; r++) {
      const c = set.cell[r];
      offset[r + 1] = offset[r] + cells.gtStart[c + 1] - cells.gtStart[c];
    }
    values = new Float64Array(offset[n]);
  }
  const terms = new Float64Array(cells.variances.length);
  for (let r = 0; r < n; r++) {
    if (base && !changed?.[r]) continue;
    const c = set.cell[r];
    const g0 = cells.gtStart[c];
    for (let j = 0; j < cells.gtStart[c + 1] - g0; j++) {
      values[offset[r] + j] = oksWithVariances(
        set.keypoints,
        r * stride,
        cells.annotations[cells.gtMembers[g0 + j]],
        cells.variances,
        terms,
      );
    }
  }
  return { offset, values };
}

/** What a matching treats differently from plain COCOeval with area range "all". */
export interface MatchSettings {
  /** OKS thresholds; default pycocotools' ten. */
  thresholds?: ArrayLike<number>;
  /** Per annotation: ignored (pycocotools' `_ignore`); default `cells.ignored`. */
  gtIgnore?: Uint8Array;
  /** Per annotation: left out of the ground truth altogether. */
  removed?: Uint8Array;
  /** Per result: when unmatched, ignored (pycocotools' rule for results outside an area range). */
  resultOutside?: Uint8Array;
  /** Keep which annotation each result matched (`Matching.match`). */
  keepMatches?: boolean;
}

/** pycocotools' evaluateImg over all cells, flattened: [threshold][result] flags. */
export interface Matching {
  /** Number of thresholds T. */
  numThresholds: number;
  /** Matched to an annotation with a non-zero id (pycocotools' `dtMatches` truth). */
  matched: Uint8Array;
  /** Ignored (`dtIgnore`). */
  ignored: Uint8Array;
  /** The matched annotation, -1 when none (with `keepMatches`). */
  match?: Int32Array;
  /** Per cell: countable (not ignored, not removed) annotations. */
  countable: Int32Array;
}

/**
 * pycocotools' greedy matching, cell by cell: results best first, each taking the
 * unmatched annotation (crowd ones stay available) with the highest OKS at or above the
 * threshold; countable annotations are tried first and a match to one is never traded for an
 * ignored one.
 */
export function matchResults(
  cells: EvalCells,
  set: ResultSet,
  order: ResultOrder,
  oks: OksRows,
  settings: MatchSettings = {},
): Matching {
  const thresholds = settings.thresholds ?? IOU_THRESHOLDS;
  const gtIgnore = settings.gtIgnore ?? cells.ignored;
  const { removed, resultOutside } = settings;
  const numThr = thresholds.length;
  const n = set.cell.length;
  const numCells = cells.gtStart.length - 1;
  const matched = new Uint8Array(numThr * n);
  const ignored = new Uint8Array(numThr * n);
  const match = settings.keepMatches ? new Int32Array(numThr * n).fill(-1) : undefined;
  const countable = new Int32Array(numCells);
  let maxGt = 0, maxDt = 0;
  for (let c = 0; c < numCells; c++) {
    maxGt = Math.max(maxGt, cells.gtStart[c + 1] - cells.gtStart[c]);
    maxDt = Math.max(maxDt, order.cellStart[c + 1] - order.cellStart[c]);
  }
  // Per cell, in pycocotools' annotation order (countable first): annotation and crowd flag,
  // and the cell's OKS in that order, a row per result (best first) with the row's maximum.
  const slotAnn = new Int32Array(maxGt);
  const slotCrowd = new Uint8Array(maxGt);
  const taken = new Uint8Array(maxGt);
  const cellOks = new Float64Array(maxGt * maxDt);
  const rowMax = new Float64Array(maxDt);
  const thr = Float64Array.from(thresholds, (t) => Math.min(t, 1 - 1e-10));
  const { gtStart, gtMembers, crowd, truthyId } = cells;
  const { offset, values } = oks;
  const gone = removed ?? new Uint8Array(cells.annotations.length);
  for (let c = 0; c < numCells; c++) {
    const g0 = gtStart[c], size = gtStart[c + 1] - g0;
    const d0 = order.cellStart[c], numDt = order.cellStart[c + 1] - d0;
    let numGt = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < size; j++) {
        const a = gtMembers[g0 + j];
        if (gone[a] || (gtIgnore[a] ? 1 : 0) !== pass) continue;
        for (let d = 0; d < numDt; d++) {
          cellOks[d * maxGt + numGt] = values[offset[order.byCell[d0 + d]] + j];
        }
        slotAnn[numGt] = a;
        slotCrowd[numGt++] = crowd[a];
      }
      if (pass === 0) countable[c] = numGt;
    }
    const numCountable = countable[c];
    for (let d = 0; d < numDt; d++) {
      let best = -Infinity;
      for (let s = 0; s < numGt; s++) best = Math.max(best, cellOks[d * maxGt + s]);
      rowMax[d] = best;
    }
    for (let t = 0; t < numThr; t++) {
      const row = t * n;
      taken.fill(0, 0, numGt);
      for (let d = 0; d < numDt; d++) {
        const r = order.byCell[d0 + d];
        let m = -1;
        let best = thr[t];
        // Skipped only when nothing reaches the threshold: a NaN OKS (0/0 for an annotation of
        // area −ε) makes the row's maximum NaN, and pycocotools' comparisons take NaN cells.
        if (!(rowMax[d] < best)) {
          const base = d * maxGt;
          for (let s = 0; s < numGt; s++) {
            if (taken[s] && !slotCrowd[s]) continue;
            // Matched to a countable annotation: ignored ones (all after it) cannot replace it.
            if (m > -1 && m < numCountable && s >= numCountable) break;
            const value = cellOks[base + s];
            if (value < best) continue;
            best = value;
            m = s;
          }
        }
        let truthy = 0;
        if (m > -1) {
          const a = slotAnn[m];
          taken[m] = 1;
          truthy = truthyId[a];
          matched[row + r] = truthy;
          ignored[row + r] = m < numCountable ? 0 : 1;
          if (match) match[row + r] = a;
        }
        if (!truthy && resultOutside !== undefined && resultOutside[r]) ignored[row + r] = 1;
      }
    }
  }
  return { numThresholds: numThr, matched, ignored, match, countable };
}

/** pycocotools' accumulate: precision [T][R][K] and recall [T][K], -1 where undefined. */
export interface PrecisionRecall {
  /** [T][R][K] flattened. */
  precision: Float64Array;
  /** [T][K] flattened. */
  recall: Float64Array;
}

/** Accumulates a ten-threshold matching into precision and recall (area range as matched). */
export function accumulateMatching(
  cells: EvalCells,
  order: ResultOrder,
  matching: Matching,
): PrecisionRecall {
  const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
  if (matching.numThresholds !== numThr) {
    throw new Error(`accumulate needs the ${numThr} COCO thresholds`);
  }
  const numCats = cells.categoryIds.length, numImages = cells.imageIds.length;
  const n = matching.matched.length / numThr;
  const precision = new Float64Array(numThr * numRec * numCats).fill(-1);
  const recall = new Float64Array(numThr * numCats).fill(-1);
  const pr = new Float64Array(n), rc = new Float64Array(n);
  const q = new Float64Array(numThr * numRec), rec = new Float64Array(numThr);
  for (let k = 0; k < numCats; k++) {
    let npig = 0;
    for (let m = 0; m < numImages; m++) npig += matching.countable[k * numImages + m];
    if (npig === 0) continue;
    const sequence = order.global.subarray(order.globalStart[k], order.globalStart[k + 1]);
    precisionRecall(sequence, matching.matched, matching.ignored, n, npig, q, rec, pr, rc);
    for (let t = 0; t < numThr; t++) {
      recall[t * numCats + k] = rec[t];
      for (let r = 0; r < numRec; r++) {
        precision[(t * numRec + r) * numCats + k] = q[t * numRec + r];
      }
    }
  }
  return { precision, recall };
}

/** AP (.50:.95) from a [T][R][K] precision array: the mean of its defined values, or -1. */
export function averagePrecision(precision: Float64Array): number {
  return meanOfDefined(precision);
}

/** Everything one AP evaluation of a variant needs. */
export interface Variant {
  /** The results (keypoints, scores, presence). */
  set: ResultSet;
  /** Their order (`orderResults`, or the base order when scores and presence did not change). */
  order: ResultOrder;
  /** Their OKS rows. */
  oks: OksRows;
  /** Per annotation: removed from the ground truth. */
  removed?: Uint8Array;
}

/** COCOeval's AP (.50:.95, area "all") and precision of one variant. */
export function evaluateVariant(
  cells: EvalCells,
  variant: Variant,
  settings: MatchSettings = {},
): PrecisionRecall & { ap: number; matching: Matching } {
  const matching = matchResults(cells, variant.set, variant.order, variant.oks, {
    removed: variant.removed,
    ...settings,
  });
  const accumulated = accumulateMatching(cells, variant.order, matching);
  return { ...accumulated, ap: averagePrecision(accumulated.precision), matching };
}
