/**
 * Multi-object tracking metrics from per-frame ground truth and tracker results: CLEAR MOT
 * (MOTA, MOTP, ID switches; Bernardin & Stiefelhagen 2008), the identity metrics (IDF1, IDP,
 * IDR; Ristani et al. 2016) and HOTA (Luiten et al., IJCV 2021), computed as the reference
 * implementation (TrackEval) computes them, so numbers compare with published ones.
 *
 * Similarity is box IoU, the MOT benchmarks' choice: it needs only boxes, which every tracker
 * and every annotation has, and a person's box is what an id is attached to. Any other
 * similarity in [0, 1] (OKS, say) can be fed through `SimilarityFrame` directly.
 *
 * Ids are any integers; each frame lists each id at most once. Pure functions on typed
 * arrays; nothing here knows about video files or models.
 */

import { hungarian } from "../math/hungarian.ts";
import { iouAt } from "./pose_match.ts";

/** Objects of one frame: an id each and a box each (x1, y1, x2, y2, 4 values per object). */
export interface IdBoxes {
  /** Track (or ground-truth person) id per object. */
  ids: ArrayLike<number>;
  /** x1, y1, x2, y2 per object, in pixels. */
  boxes: ArrayLike<number>;
}

/** One frame to evaluate: ground truth, tracker results and regions that do not count. */
export interface EvalFrame {
  /** The annotated people. */
  gt: IdBoxes;
  /** The tracker's people. */
  results: IdBoxes;
  /**
   * Boxes (x1, y1, x2, y2 each) of people that are there but not annotated (crowds, tiny or
   * cut-off people). A result that matches no ground truth and lies mostly inside one of
   * these is dropped before scoring, as the MOT benchmarks drop results on distractors: a
   * tracker is not punished for finding someone real that nobody annotated.
   */
  ignore?: ArrayLike<number>;
}

/** A frame reduced to what the metrics need: ids and their pairwise similarity. */
export interface SimilarityFrame {
  /** Ground-truth ids, one per row of `similarity` (a Float64Array for ids beyond 32 bits). */
  gtIds: Int32Array | Float64Array;
  /** Tracker ids, one per column of `similarity` (likewise). */
  trackerIds: Int32Array | Float64Array;
  /** `gtIds.length × trackerIds.length` similarities in [0, 1], row-major. */
  similarity: Float64Array;
}

/** CLEAR MOT counts and scores. */
export interface ClearMetrics {
  /** 1 − (FN + FP + IDSW) / ground-truth detections; can be negative. */
  mota: number;
  /** Mean similarity of the matched pairs. */
  motp: number;
  /** Matched pairs over all frames (similarity ≥ the threshold). */
  tp: number;
  /** Ground-truth detections left unmatched. */
  fn: number;
  /** Tracker detections left unmatched. */
  fp: number;
  /** Times a ground-truth person is matched to another tracker id than at its last match. */
  idsw: number;
  /** Times a ground-truth person's tracking starts again after a frame without a match. */
  frag: number;
  /** People tracked in more than 80% of their frames. */
  mostlyTracked: number;
  /** People tracked in less than 20% of their frames. */
  mostlyLost: number;
  /** ID switches per ground-truth id. */
  idswByGt: Map<number, number>;
}

/** The identity metrics: one global, one-to-one matching of ground-truth and tracker ids. */
export interface IdentityMetrics {
  /** F1 of identity-true-positive detections: 2·IDTP / (GT detections + tracker detections). */
  idf1: number;
  /** IDTP / tracker detections. */
  idp: number;
  /** IDTP / ground-truth detections. */
  idr: number;
  /** Detections matched with the ground-truth id's one tracker id. */
  idtp: number;
  /** Ground-truth detections not covered by their id's tracker id. */
  idfn: number;
  /** Tracker detections not on their id's ground-truth id. */
  idfp: number;
  /**
   * Where each annotated person's frames went, worst first (most frames not under their
   * tracker id): it tells a box the detector missed or misplaced from an id the tracker lost.
   */
  byPerson: PersonIdentity[];
}

/**
 * One annotated person's frames, split three ways (`idtp + otherId + notFound = frames`):
 * under the tracker id the identity matching gave them, matched only by another id's box, or
 * matched by no box at all (IoU under the threshold with every result: found nowhere, or a
 * box too far off; no tracker can fix those).
 */
export interface PersonIdentity {
  /** The ground-truth id. */
  id: number;
  /** Frames the person is annotated on. */
  frames: number;
  /** The tracker id the identity matching gave them; undefined when none. */
  trackId?: number;
  /** Frames where their tracker id's box matches theirs: their identity true positives. */
  idtp: number;
  /** Frames where a box of another tracker id matches theirs and their own id's does not. */
  otherId: number;
  /** Frames where no result matches theirs (similarity under the threshold with all). */
  notFound: number;
  /** Tracker ids whose box matched theirs on some frame. */
  trackIds: number[];
  /**
   * On the frames no result matched, the median of the closest result's similarity: 0 when
   * nothing was near them (a missed person), 0.3–0.5 when a box of them was there but off;
   * undefined when every frame was matched.
   */
  nearestUnmatched?: number;
}

/** HOTA and its parts, each the mean over the localisation thresholds α = 0.05, 0.10, …, 0.95. */
export interface HotaMetrics {
  /** √(DetA · AssA), averaged over α. */
  hota: number;
  /** Detection accuracy: TP / (TP + FN + FP). */
  detA: number;
  /** Association accuracy: mean over TP of TPA / (TPA + FNA + FPA). */
  assA: number;
  /** Detection recall TP / (TP + FN). */
  detRe: number;
  /** Detection precision TP / (TP + FP). */
  detPr: number;
  /** Association recall. */
  assRe: number;
  /** Association precision. */
  assPr: number;
  /** Mean similarity of the matched pairs. */
  locA: number;
  /** The thresholds α. */
  alphas: Float64Array;
  /** HOTA at each α. */
  hotaByAlpha: Float64Array;
}

/** Everything at once, plus counts of ids. */
export interface TrackingMetrics {
  /** CLEAR MOT: MOTA, MOTP, ID switches. */
  clear: ClearMetrics;
  /** IDF1, IDP, IDR. */
  identity: IdentityMetrics;
  /** HOTA and its parts. */
  hota: HotaMetrics;
  /** Distinct ground-truth ids. */
  gtIds: number;
  /** Distinct tracker ids (after dropping results on ignore regions). */
  trackerIds: number;
  /** Ground-truth detections. */
  gtDetections: number;
  /** Tracker detections. */
  trackerDetections: number;
}

/** TrackEval's tolerance on threshold comparisons. */
const EPS = 2.220446049250313e-16;

/**
 * The 19 HOTA localisation thresholds 0.05 … 0.95 as TrackEval makes them, last bits included
 * (`np.arange(0.05, 0.99, 0.05)` is 0.05 + i·0.05: 0.15000000000000002, …, 0.9500000000000001), so
 * that a similarity a few ulps under a twentieth passes or fails α as it does there.
 */
export const HOTA_ALPHAS: Float64Array = Float64Array.from(
  { length: 19 },
  (_, i) => 0.05 + i * 0.05,
);

/** Share of box i of `a` inside box j of `b` (intersection over a's own area). */
function insideShare(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const iw = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const ih = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const area = (a[4 * i + 2] - a[4 * i]) * (a[4 * i + 3] - a[4 * i + 1]);
  return area > 0 ? iw * ih / area : 0;
}

/**
 * The row ↔ column pairs of the assignment that maximises the summed `score` (rows × cols,
 * row-major), any shape; pairs of score ≤ `minScore` are left out.
 */
export function maximumAssignment(
  score: Float64Array,
  rows: number,
  cols: number,
  minScore = -Infinity,
): { rows: Int32Array; cols: Int32Array } {
  if (rows === 0 || cols === 0) return { rows: new Int32Array(0), cols: new Int32Array(0) };
  const transpose = rows > cols;
  const r = transpose ? cols : rows, c = transpose ? rows : cols;
  const cost = new Float64Array(r * c);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      cost[transpose ? j * c + i : i * c + j] = -score[i * cols + j];
    }
  }
  const assignment = hungarian(cost, r, c);
  const outRows: number[] = [], outCols: number[] = [];
  for (let k = 0; k < r; k++) {
    const i = transpose ? assignment[k] : k, j = transpose ? k : assignment[k];
    if (score[i * cols + j] > minScore) {
      outRows.push(i);
      outCols.push(j);
    }
  }
  return { rows: Int32Array.from(outRows), cols: Int32Array.from(outCols) };
}

/** Checks that a frame's ids are integers and that each appears once. */
function checkIds(ids: ArrayLike<number>, boxes: ArrayLike<number>, what: string): void {
  if (boxes.length !== 4 * ids.length) {
    throw new RangeError(`${what}: ${ids.length} ids but ${boxes.length / 4} boxes`);
  }
  const seen = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isSafeInteger(ids[i])) {
      throw new RangeError(`${what}: id ${ids[i]} is not an integer`);
    }
    if (seen.has(ids[i])) throw new RangeError(`${what}: id ${ids[i]} appears twice`);
    seen.add(ids[i]);
  }
}

/**
 * Box-IoU similarity frames, with results on ignore regions dropped: a result is dropped when
 * the IoU ≥ 0.5 matching (Hungarian, as TrackEval's preprocessing) leaves it unmatched and at
 * least `ignoreOverlap` of its area lies inside one ignore box.
 */
export function boxSimilarityFrames(
  frames: readonly EvalFrame[],
  ignoreOverlap = 0.5,
): SimilarityFrame[] {
  return frames.map((frame, t) => {
    const { gt, results } = frame;
    checkIds(gt.ids, gt.boxes, `frame ${t} ground truth`);
    checkIds(results.ids, results.boxes, `frame ${t} results`);
    const g = gt.ids.length, n = results.ids.length;
    const full = new Float64Array(g * n);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) full[i * n + j] = iouAt(gt.boxes, i, results.boxes, j);
    }
    let keep = Array.from({ length: n }, (_, j) => j);
    const ignore = frame.ignore ?? [];
    if (ignore.length % 4 !== 0) throw new RangeError(`frame ${t}: ignore boxes need 4 values`);
    if (ignore.length > 0 && n > 0) {
      const matched = new Uint8Array(n);
      const score = full.map((s) => s >= 0.5 - EPS ? s : 0);
      const pairs = maximumAssignment(score, g, n, 0);
      for (const j of pairs.cols) matched[j] = 1;
      keep = keep.filter((j) => {
        if (matched[j]) return true;
        for (let k = 0; k < ignore.length / 4; k++) {
          if (insideShare(results.boxes, j, ignore, k) >= ignoreOverlap) return false;
        }
        return true;
      });
    }
    const similarity = new Float64Array(g * keep.length);
    for (let i = 0; i < g; i++) {
      for (let k = 0; k < keep.length; k++) similarity[i * keep.length + k] = full[i * n + keep[k]];
    }
    // Float64Array: ids are any safe integers, beyond 32 bits too.
    return {
      gtIds: Float64Array.from(gt.ids),
      trackerIds: Float64Array.from(keep, (j) => results.ids[j]),
      similarity,
    };
  });
}

/** Ids renumbered 0…n−1 in order of first appearance. */
function denseIds(frames: readonly SimilarityFrame[], key: "gtIds" | "trackerIds") {
  const index = new Map<number, number>();
  const dense = frames.map((frame) =>
    Int32Array.from(frame[key], (id) => {
      let k = index.get(id);
      if (k === undefined) index.set(id, k = index.size);
      return k;
    })
  );
  return { dense, original: [...index.keys()] };
}

/**
 * CLEAR MOT at a similarity threshold (default 0.5). Each frame, pairs that continue the
 * previous frame's matches win (a bonus of 1000), then the most similar; a ground-truth
 * person matched to another tracker id than at its last match is an ID switch.
 *
 * @example One person whose tracker id changes once
 * ```ts
 * import assert from "node:assert/strict";
 * import { clearMetrics, type SimilarityFrame } from "@posekit/posekit";
 *
 * // Person 7 on 3 frames, always found (similarity 1), as tracker id 1, 1, then 2.
 * const frame = (track: number): SimilarityFrame => ({
 *   gtIds: Int32Array.of(7),
 *   trackerIds: Int32Array.of(track),
 *   similarity: Float64Array.of(1),
 * });
 * const m = clearMetrics([frame(1), frame(1), frame(2)]);
 * assert.deepEqual([m.tp, m.fn, m.fp, m.idsw], [3, 0, 0, 1]);
 * assert.equal(m.idswByGt.get(7), 1);
 * assert.equal(m.mota, 2 / 3); // 1 − (FN + FP + IDSW) / GT = 1 − 1/3
 * assert.equal(m.frag, 0); // matched on every frame: tracking never restarts
 * ```
 */
export function clearMetrics(frames: readonly SimilarityFrame[], threshold = 0.5): ClearMetrics {
  const gt = denseIds(frames, "gtIds"), tr = denseIds(frames, "trackerIds");
  const numGt = gt.original.length;
  const prevTracker = new Float64Array(numGt).fill(NaN);
  const prevStepTracker = new Float64Array(numGt).fill(NaN);
  // The people prevStepTracker holds a match of: reset by frame, not scanned whole (a long
  // video of many people would otherwise cost people × frames).
  let lastMatched: number[] = [];
  const gtCount = new Float64Array(numGt), matchedCount = new Float64Array(numGt);
  const idswByGt = new Map<number, number>();
  let tp = 0, fn = 0, fp = 0, idsw = 0, frag = 0, motpSum = 0;
  frames.forEach((frame, t) => {
    const gIds = gt.dense[t], tIds = tr.dense[t];
    const g = gIds.length, n = tIds.length;
    // TrackEval skips frames without ground truth or results entirely (the previous-step
    // matches survive them); kept so that the counts agree with its numbers.
    if (g === 0) {
      fp += n;
      return;
    }
    if (n === 0) {
      fn += g;
      for (const id of gIds) gtCount[id]++;
      return;
    }
    const score = new Float64Array(g * n);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) {
        const s = frame.similarity[i * n + j];
        score[i * n + j] = s < threshold - EPS
          ? 0
          : (prevStepTracker[gIds[i]] === tIds[j] ? 1000 : 0) + s;
      }
    }
    const pairs = maximumAssignment(score, g, n, EPS);
    const previouslyTracked = Array.from(
      pairs.rows,
      (row) => !Number.isNaN(prevStepTracker[gIds[row]]),
    );
    for (const gi of lastMatched) prevStepTracker[gi] = NaN;
    lastMatched = [];
    for (let k = 0; k < pairs.rows.length; k++) {
      const gi = gIds[pairs.rows[k]], tj = tIds[pairs.cols[k]];
      if (!Number.isNaN(prevTracker[gi]) && prevTracker[gi] !== tj) {
        idsw++;
        const id = gt.original[gi];
        idswByGt.set(id, (idswByGt.get(id) ?? 0) + 1);
      }
      prevTracker[gi] = tj;
      prevStepTracker[gi] = tj;
      lastMatched.push(gi);
      matchedCount[gi]++;
      if (!previouslyTracked[k]) frag++;
      motpSum += frame.similarity[pairs.rows[k] * n + pairs.cols[k]];
    }
    for (const id of gIds) gtCount[id]++;
    tp += pairs.rows.length;
    fn += g - pairs.rows.length;
    fp += n - pairs.rows.length;
  });
  let mostlyTracked = 0, mostlyLost = 0, tracked = 0;
  for (let i = 0; i < numGt; i++) {
    if (gtCount[i] === 0) continue;
    const ratio = matchedCount[i] / gtCount[i];
    if (ratio > 0.8) mostlyTracked++;
    else if (ratio < 0.2) mostlyLost++;
    if (matchedCount[i] > 0) tracked++;
  }
  return {
    // Without ground truth MOTA has no denominator; TrackEval reports 0, not −FP.
    mota: tp + fn === 0 ? 0 : (tp - fp - idsw) / (tp + fn),
    motp: motpSum / Math.max(1, tp),
    tp,
    fn,
    fp,
    idsw,
    // TrackEval counts every start of tracking; a fragmentation is each start but the first.
    frag: frag - tracked,
    mostlyTracked,
    mostlyLost,
    idswByGt,
  };
}

/**
 * IDF1, IDP, IDR at a similarity threshold (default 0.5): each ground-truth id gets at most
 * one tracker id (and each tracker id one ground-truth id), chosen to maximise the frames
 * where the two match; those frames are the identity true positives.
 *
 * @example Where one person's frames went
 * ```ts
 * import assert from "node:assert/strict";
 * import { identityMetrics, type SimilarityFrame } from "@posekit/posekit";
 *
 * const frame = (track: number, similarity: number): SimilarityFrame => ({
 *   gtIds: Int32Array.of(7),
 *   trackerIds: Int32Array.of(track),
 *   similarity: Float64Array.of(similarity),
 * });
 * // Person 7 as tracker id 1, 1, then 2, then a box of id 2 too far off (IoU 0.2 < 0.5).
 * const m = identityMetrics([frame(1, 1), frame(1, 1), frame(2, 1), frame(2, 0.2)]);
 * // Id 1 covers 2 of the 4 frames: IDTP 2, IDF1 = 2·2 / (4 GT + 4 tracker detections).
 * assert.deepEqual([m.idtp, m.idfn, m.idfp], [2, 2, 2]);
 * assert.equal(m.idf1, 1 / 2);
 * // Their 4 frames: 2 under their own id (1), 1 under another (2), 1 matched by no box.
 * const [person] = m.byPerson;
 * assert.equal(person.trackId, 1);
 * assert.deepEqual([person.idtp, person.otherId, person.notFound], [2, 1, 1]);
 * assert.equal(person.nearestUnmatched, 0.2); // a box was there, but off
 * ```
 */
export function identityMetrics(
  frames: readonly SimilarityFrame[],
  threshold = 0.5,
): IdentityMetrics {
  const gt = denseIds(frames, "gtIds"), tr = denseIds(frames, "trackerIds");
  const numGt = gt.original.length, numTr = tr.original.length;
  // Frames each (ground-truth, tracker) pair of ids matches on, for the pairs that ever do.
  const together = new Map<number, number>();
  let gtDetections = 0, trackerDetections = 0;
  frames.forEach((frame, t) => {
    const gIds = gt.dense[t], tIds = tr.dense[t], n = tIds.length;
    gtDetections += gIds.length;
    trackerDetections += n;
    for (let i = 0; i < gIds.length; i++) {
      for (let j = 0; j < n; j++) {
        // No tolerance here, unlike CLEAR's and HOTA's comparisons: TrackEval's Identity has none.
        if (frame.similarity[i * n + j] >= threshold) {
          const key = gIds[i] * numTr + tIds[j];
          together.set(key, (together.get(key) ?? 0) + 1);
        }
      }
    }
  });
  const trackOf = sparseMaximumAssignment(together, numGt, numTr);
  let idtp = 0;
  trackOf.forEach((j, i) => {
    if (j >= 0) idtp += together.get(i * numTr + j)!;
  });
  const idfn = gtDetections - idtp, idfp = trackerDetections - idtp;
  return {
    idf1: idtp / Math.max(1, idtp + 0.5 * idfp + 0.5 * idfn),
    idp: idtp / Math.max(1, idtp + idfp),
    idr: idtp / Math.max(1, idtp + idfn),
    idtp,
    idfn,
    idfp,
    byPerson: personIdentities(frames, gt, tr, trackOf, threshold),
  };
}

/**
 * The assignment of rows to columns maximising the summed score, of a `rows × cols` score
 * matrix given by its positive entries (`score`, keyed row · cols + col): the column of each
 * row, −1 for none. Rows and columns that share no positive entry, directly or through others,
 * never compete, so each connected group is solved alone: the dense matrix TrackEval builds
 * (every id against every id) would grow with the square of a long video's ids.
 */
function sparseMaximumAssignment(
  score: ReadonlyMap<number, number>,
  rows: number,
  cols: number,
): Int32Array {
  // Union-find over rows (0 … rows − 1) and columns (rows … rows + cols − 1).
  const parent = Int32Array.from({ length: rows + cols }, (_, k) => k);
  const root = (k: number): number => {
    while (parent[k] !== k) k = parent[k] = parent[parent[k]];
    return k;
  };
  for (const key of score.keys()) {
    const a = root(Math.floor(key / cols)), b = root(rows + key % cols);
    if (a !== b) parent[a] = b;
  }
  const groups = new Map<number, { rows: Set<number>; cols: Set<number> }>();
  for (const key of score.keys()) {
    const i = Math.floor(key / cols), r = root(i);
    let group = groups.get(r);
    if (!group) groups.set(r, group = { rows: new Set(), cols: new Set() });
    group.rows.add(i);
    group.cols.add(key % cols);
  }
  const columnOf = new Int32Array(rows).fill(-1);
  for (const group of groups.values()) {
    // In index order: the result must not depend on the order the pairs were first seen.
    const groupRows = [...group.rows].sort((a, b) => a - b);
    const groupCols = [...group.cols].sort((a, b) => a - b);
    const r = groupRows.length, c = groupCols.length;
    const dense = new Float64Array(r * c);
    groupRows.forEach((i, a) =>
      groupCols.forEach((j, b) => dense[a * c + b] = score.get(i * cols + j) ?? 0)
    );
    const pairs = maximumAssignment(dense, r, c, 0);
    for (let k = 0; k < pairs.rows.length; k++) {
      columnOf[groupRows[pairs.rows[k]]] = groupCols[pairs.cols[k]];
    }
  }
  return columnOf;
}

/** Each person's frames split by who matched them (see `PersonIdentity`), worst first. */
function personIdentities(
  frames: readonly SimilarityFrame[],
  gt: ReturnType<typeof denseIds>,
  tr: ReturnType<typeof denseIds>,
  trackOf: Int32Array,
  threshold: number,
): PersonIdentity[] {
  const people = gt.original.map((id, i): PersonIdentity & { nearest: number[] } => ({
    id,
    frames: 0,
    trackId: trackOf[i] >= 0 ? tr.original[trackOf[i]] : undefined,
    idtp: 0,
    otherId: 0,
    notFound: 0,
    trackIds: [],
    nearest: [],
  }));
  frames.forEach((frame, t) => {
    const gIds = gt.dense[t], tIds = tr.dense[t], n = tIds.length;
    for (let i = 0; i < gIds.length; i++) {
      const person = people[gIds[i]];
      let best = 0, own = false, other = false;
      for (let j = 0; j < n; j++) {
        const s = frame.similarity[i * n + j];
        best = Math.max(best, s);
        if (!(s >= threshold)) continue; // as `identityMetrics` counts a match
        if (tIds[j] === trackOf[gIds[i]]) own = true;
        else other = true;
        const id = tr.original[tIds[j]];
        if (!person.trackIds.includes(id)) person.trackIds.push(id);
      }
      person.frames++;
      if (own) person.idtp++;
      else if (other) person.otherId++;
      else {
        person.notFound++;
        person.nearest.push(best);
      }
    }
  });
  return people
    .map(({ nearest, ...person }) => {
      if (nearest.length === 0) return person;
      nearest.sort((a, b) => a - b);
      const h = nearest.length >> 1;
      return {
        ...person,
        nearestUnmatched: nearest.length % 2 ? nearest[h] : (nearest[h - 1] + nearest[h]) / 2,
      };
    })
    .sort((a, b) => b.frames - b.idtp - (a.frames - a.idtp) || a.id - b.id);
}

/**
 * HOTA: per frame, ground truth and results are matched to maximise similarity weighted by
 * how well the two ids align over the whole video; for each α the pairs with similarity ≥ α
 * are true positives, and each one's association score is TPA / (TPA + FNA + FPA) over the
 * whole video for its pair of ids. HOTA_α = √(DetA_α · AssA_α); the result averages over α.
 *
 * @example One person whose tracker id changes once
 * ```ts
 * import assert from "node:assert/strict";
 * import { hotaMetrics, type SimilarityFrame } from "@posekit/posekit";
 *
 * // Person 7 on 3 frames, always found (similarity 1), as tracker id 1, 1, then 2.
 * const frame = (track: number): SimilarityFrame => ({
 *   gtIds: Int32Array.of(7),
 *   trackerIds: Int32Array.of(track),
 *   similarity: Float64Array.of(1),
 * });
 * const m = hotaMetrics([frame(1), frame(1), frame(2)]);
 * assert.equal(m.detA, 1); // every frame is a true positive, at every α
 * // The 2 TPs on id 1: TPA 2, FNA 1 → 2/3; the TP on id 2: TPA 1, FNA 2 → 1/3.
 * // AssA = (2 · 2/3 + 1/3) / 3 = 5/9; HOTA = √(DetA · AssA) = √(5/9).
 * assert.ok(Math.abs(m.assA - 5 / 9) < 1e-12);
 * assert.ok(Math.abs(m.hota - Math.sqrt(5 / 9)) < 1e-12);
 * assert.equal(m.assPr, 1); // each tracker id stays on one person
 * ```
 */
export function hotaMetrics(frames: readonly SimilarityFrame[]): HotaMetrics {
  const gt = denseIds(frames, "gtIds"), tr = denseIds(frames, "trackerIds");
  const numGt = gt.original.length, numTr = tr.original.length;
  // Per pair of ids (keyed gt · numTr + tracker), only for pairs that ever overlap: a dense
  // matrix would grow with the square of a long video's ids.
  const potential = new Map<number, number>();
  const gtCount = new Float64Array(numGt), trCount = new Float64Array(numTr);
  frames.forEach((frame, t) => {
    const gIds = gt.dense[t], tIds = tr.dense[t], g = gIds.length, n = tIds.length;
    const rowSum = new Float64Array(g), colSum = new Float64Array(n);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) {
        rowSum[i] += frame.similarity[i * n + j];
        colSum[j] += frame.similarity[i * n + j];
      }
    }
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) {
        const s = frame.similarity[i * n + j];
        const denominator = rowSum[i] + colSum[j] - s;
        if (s > 0 && denominator > EPS) {
          const key = gIds[i] * numTr + tIds[j];
          potential.set(key, (potential.get(key) ?? 0) + s / denominator);
        }
      }
    }
    for (const id of gIds) gtCount[id]++;
    for (const id of tIds) trCount[id]++;
  });
  const alignment = new Map<number, number>();
  for (const [key, p] of potential) {
    const i = Math.floor(key / numTr), j = key % numTr;
    alignment.set(key, p / (gtCount[i] + trCount[j] - p));
  }
  const A = HOTA_ALPHAS.length;
  const tp = new Float64Array(A), fn = new Float64Array(A), fp = new Float64Array(A);
  const loc = new Float64Array(A);
  // Matches of each pair of ids at each α, for the pairs ever matched.
  const matches = new Map<number, Float64Array>();
  frames.forEach((frame, t) => {
    const gIds = gt.dense[t], tIds = tr.dense[t], g = gIds.length, n = tIds.length;
    if (g === 0 || n === 0) {
      for (let a = 0; a < A; a++) {
        fn[a] += g;
        fp[a] += n;
      }
      return;
    }
    const score = new Float64Array(g * n);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < n; j++) {
        score[i * n + j] = (alignment.get(gIds[i] * numTr + tIds[j]) ?? 0) *
          frame.similarity[i * n + j];
      }
    }
    const pairs = maximumAssignment(score, g, n);
    for (let a = 0; a < A; a++) {
      let count = 0;
      for (let k = 0; k < pairs.rows.length; k++) {
        const s = frame.similarity[pairs.rows[k] * n + pairs.cols[k]];
        if (!(s >= HOTA_ALPHAS[a] - EPS)) continue;
        count++;
        loc[a] += s;
        const key = gIds[pairs.rows[k]] * numTr + tIds[pairs.cols[k]];
        let counts = matches.get(key);
        if (!counts) matches.set(key, counts = new Float64Array(A));
        counts[a]++;
      }
      tp[a] += count;
      fn[a] += g - count;
      fp[a] += n - count;
    }
  });
  // In index order, as the sums run over a dense matrix.
  const matched = [...matches.keys()].sort((a, b) => a - b);
  const hotaByAlpha = new Float64Array(A);
  const sums = { detA: 0, assA: 0, detRe: 0, detPr: 0, assRe: 0, assPr: 0, locA: 0 };
  for (let a = 0; a < A; a++) {
    let assA = 0, assRe = 0, assPr = 0;
    for (const key of matched) {
      const m = matches.get(key)![a];
      if (m === 0) continue;
      const i = Math.floor(key / numTr), j = key % numTr;
      assA += m * m / Math.max(1, gtCount[i] + trCount[j] - m);
      assRe += m * m / Math.max(1, gtCount[i]);
      assPr += m * m / Math.max(1, trCount[j]);
    }
    const detA = tp[a] / Math.max(1, tp[a] + fn[a] + fp[a]);
    assA /= Math.max(1, tp[a]);
    hotaByAlpha[a] = Math.sqrt(detA * assA);
    sums.detA += detA;
    sums.assA += assA;
    sums.detRe += tp[a] / Math.max(1, tp[a] + fn[a]);
    sums.detPr += tp[a] / Math.max(1, tp[a] + fp[a]);
    sums.assRe += assRe / Math.max(1, tp[a]);
    sums.assPr += assPr / Math.max(1, tp[a]);
    sums.locA += Math.max(1e-10, loc[a]) / Math.max(1e-10, tp[a]);
  }
  return {
    hota: hotaByAlpha.reduce((s, v) => s + v, 0) / A,
    detA: sums.detA / A,
    assA: sums.assA / A,
    detRe: sums.detRe / A,
    detPr: sums.detPr / A,
    assRe: sums.assRe / A,
    assPr: sums.assPr / A,
    locA: sums.locA / A,
    alphas: HOTA_ALPHAS.slice(),
    hotaByAlpha,
  };
}

/**
 * CLEAR, identity and HOTA metrics of box-IoU frames (see `boxSimilarityFrames`).
 *
 * @example One person whose tracker id changes once
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EvalFrame, trackingMetrics } from "@posekit/posekit";
 *
 * // Person 7 on 3 frames; the tracker's box is theirs (IoU 1), as id 1, 1, then 2.
 * const box = [0, 0, 100, 200]; // x1, y1, x2, y2
 * const frames: EvalFrame[] = [1, 1, 2].map((track) => ({
 *   gt: { ids: [7], boxes: box },
 *   results: { ids: [track], boxes: box },
 * }));
 * const m = trackingMetrics(frames);
 * assert.deepEqual([m.gtIds, m.trackerIds, m.gtDetections, m.trackerDetections], [1, 2, 3, 3]);
 * assert.equal(m.clear.idsw, 1);
 * assert.equal(m.clear.mota, 2 / 3); // 1 − 1 switch / 3 GT detections
 * assert.equal(m.identity.idf1, 2 / 3); // id 1 on 2 frames: 2·2 / (3 + 3)
 * assert.ok(Math.abs(m.hota.hota - Math.sqrt(5 / 9)) < 1e-12); // DetA 1, AssA 5/9
 * ```
 */
export function trackingMetrics(frames: readonly EvalFrame[]): TrackingMetrics {
  const similarity = boxSimilarityFrames(frames);
  const gtIds = new Set<number>(), trackerIds = new Set<number>();
  let gtDetections = 0, trackerDetections = 0;
  for (const frame of similarity) {
    for (const id of frame.gtIds) gtIds.add(id);
    for (const id of frame.trackerIds) trackerIds.add(id);
    gtDetections += frame.gtIds.length;
    trackerDetections += frame.trackerIds.length;
  }
  return {
    clear: clearMetrics(similarity),
    identity: identityMetrics(similarity),
    hota: hotaMetrics(similarity),
    gtIds: gtIds.size,
    trackerIds: trackerIds.size,
    gtDetections,
    trackerDetections,
  };
}
