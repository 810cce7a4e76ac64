/**
 * Camera motion between two frames from the people in them, so that a pan or a zoom does
 * not look like everyone moving at once: the tracker moves its predictions with the camera
 * before matching (BoT-SORT's camera-motion compensation, estimated here from the poses
 * instead of the pixels, so it costs microseconds and needs no image).
 *
 * The motion is a similarity without rotation: p ↦ scale · p + (tx, ty) (pan and zoom; a
 * hand-held camera's roll over one frame is negligible). Hypotheses come from pairing each
 * previous box with the nearby current boxes of a similar shape; each is scored by the
 * previous boxes it brings onto a current one (IoU ≥ 0.5, each counted by its IoU), the best
 * is refined by least squares on those inliers' box corners and confident keypoints. With
 * fewer than two
 * inliers nothing is moved: one person's motion cannot tell the camera from the person.
 */

/** A camera motion between frames: p ↦ scale · p + (tx, ty). */
export interface CameraMotion {
  scale: number;
  tx: number;
  ty: number;
}

/** The result of `estimateCameraMotion`. */
export interface CameraMotionEstimate extends CameraMotion {
  /** Previous boxes brought onto a current box (IoU ≥ 0.5) by the motion. */
  inliers: number;
  /** For each previous box, the current box it was paired with, or −1. */
  pairs: Int32Array;
}

/** Options of `estimateCameraMotion`. */
export interface CameraMotionOptions {
  /** Largest zoom step per frame (and 1 / it the smallest); default 1.25. */
  maxScaleStep?: number;
  /** Current boxes tried per previous box, the nearest first; default 4. */
  candidates?: number;
  /** Keypoints scoring at most this are left out of the refinement; default 0.3. */
  keypointThreshold?: number;
  /** Fewest inliers to report a motion; default 2. */
  minInliers?: number;
  /**
   * The frame's size: box corners on its edges are left out of the refinement (a box cut by
   * the frame does not move or scale with the camera).
   */
  frame?: { width: number; height: number };
  /**
   * The scale expected from the last frames, and how much to trust it against this frame's
   * own estimate (1: as much): a zoom changes smoothly, one frame's estimate is noisy.
   */
  scalePrior?: { scale: number; weight: number };
  /** The motion expected (the last frame's): among equally good motions, the nearest wins. */
  previous?: CameraMotion;
}

/** The identity motion. */
export const NO_MOTION: Readonly<CameraMotion> = Object.freeze({ scale: 1, tx: 0, ty: 0 });

function iouMoved(
  a: ArrayLike<number>,
  i: number,
  m: CameraMotion,
  b: ArrayLike<number>,
  j: number,
): number {
  const ax1 = m.scale * a[4 * i] + m.tx, ay1 = m.scale * a[4 * i + 1] + m.ty;
  const ax2 = m.scale * a[4 * i + 2] + m.tx, ay2 = m.scale * a[4 * i + 3] + m.ty;
  const iw = Math.min(ax2, b[4 * j + 2]) - Math.max(ax1, b[4 * j]);
  const ih = Math.min(ay2, b[4 * j + 3]) - Math.max(ay1, b[4 * j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) +
    (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy one-to-one pairs with IoU ≥ 0.5 under `m`; returns their count and IoU sum. */
function inliersOf(
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  m: CameraMotion,
  pairs: Int32Array,
): { count: number; sum: number } {
  const n = from.length / 4, k = to.length / 4;
  const candidates: [number, number, number][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const o = iouMoved(from, i, m, to, j);
      if (o >= 0.5) candidates.push([o, i, j]);
    }
  }
  candidates.sort((a, b) => b[0] - a[0]);
  pairs.fill(-1);
  const used = new Uint8Array(k);
  let count = 0, sum = 0;
  for (const [o, i, j] of candidates) {
    if (pairs[i] !== -1 || used[j]) continue;
    pairs[i] = j;
    used[j] = 1;
    count++;
    sum += o;
  }
  return { count, sum };
}

/**
 * Least-squares scale and shift taking the inliers' box edges and shared confident keypoints
 * from the previous frame onto the current one. x and y are separate observations, so that
 * a box cut by the frame still gives its other edges: an edge on the frame's border does not
 * move with the camera and is left out. The fit is done twice, the second time without the
 * observations far off the first (a waving arm, a box that grew), and its scale is pulled
 * toward `prior` (a camera's zoom changes smoothly; one frame's scale is noisy).
 */
function refine(
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  pairs: Int32Array,
  fromKeypoints: readonly (ArrayLike<number> | undefined)[] | undefined,
  toKeypoints: readonly (ArrayLike<number> | undefined)[] | undefined,
  threshold: number,
  frame: { width: number; height: number } | undefined,
  prior: { scale: number; weight: number } | undefined,
): CameraMotion {
  // Detectors put a cut-off person's box edge a pixel or two inside the frame.
  const margin = frame ? Math.max(3, 0.01 * Math.max(frame.width, frame.height)) : -Infinity;
  const inside = (v: number, size: number | undefined) =>
    size === undefined || (v > margin && v < size - margin);
  // Observations s·p + t = q, t being tx (axis 0) or ty (axis 1).
  const p: number[] = [], q: number[] = [], axis: number[] = [];
  const add = (a: number, from: number, to: number) => {
    p.push(from);
    q.push(to);
    axis.push(a);
  };
  for (let i = 0; i < pairs.length; i++) {
    const j = pairs[i];
    if (j < 0) continue;
    for (const c of [0, 2]) {
      const fx = from[4 * i + c], tx = to[4 * j + c];
      if (inside(fx, frame?.width) && inside(tx, frame?.width)) add(0, fx, tx);
      const fy = from[4 * i + c + 1], ty = to[4 * j + c + 1];
      if (inside(fy, frame?.height) && inside(ty, frame?.height)) add(1, fy, ty);
    }
    const a = fromKeypoints?.[i], b = toKeypoints?.[j];
    if (!a || !b || a.length !== b.length) continue;
    for (let k = 0; k < a.length / 3; k++) {
      if (!(a[3 * k + 2] > threshold && b[3 * k + 2] > threshold)) continue;
      add(0, a[3 * k], b[3 * k]);
      add(1, a[3 * k + 1], b[3 * k + 1]);
    }
  }
  const use = new Uint8Array(p.length).fill(1);
  const fit = (): CameraMotion => {
    const n = [0, 0], sp = [0, 0], sq = [0, 0];
    let spp = 0, spq = 0;
    for (let k = 0; k < p.length; k++) {
      if (!use[k]) continue;
      n[axis[k]]++;
      sp[axis[k]] += p[k];
      sq[axis[k]] += q[k];
      spp += p[k] * p[k];
      spq += p[k] * q[k];
    }
    if (n[0] === 0 || n[1] === 0) return { scale: 1, tx: NaN, ty: NaN };
    // Eliminate tx = (Σq − s·Σp) / n per axis, then solve for s.
    const num = spq - sp[0] * sq[0] / n[0] - sp[1] * sq[1] / n[1];
    const den = spp - sp[0] * sp[0] / n[0] - sp[1] * sp[1] / n[1];
    let scale = den > 1e-9 ? num / den : 1;
    if (prior) scale = (scale + prior.weight * prior.scale) / (1 + prior.weight);
    return { scale, tx: (sq[0] - scale * sp[0]) / n[0], ty: (sq[1] - scale * sp[1]) / n[1] };
  };
  const first = fit();
  if (!Number.isFinite(first.tx)) return first;
  const residual = p.map((v, k) =>
    Math.abs(first.scale * v + (axis[k] ? first.ty : first.tx) - q[k])
  );
  const sorted = [...residual].sort((a, b) => a - b);
  const limit = Math.max(2, 2.5 * sorted[sorted.length >> 1]);
  residual.forEach((r, k) => use[k] = r <= limit ? 1 : 0);
  return fit();
}

/**
 * The camera motion that best brings `from` (the tracks' boxes predicted for this frame,
 * x1, y1, x2, y2 each) onto `to` (this frame's detections). Keypoints, when given per box
 * (x, y, score triples), sharpen the estimate. Returns `NO_MOTION` with 0 inliers when too
 * few people agree on a motion.
 */
export function estimateCameraMotion(
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  options: CameraMotionOptions = {},
  fromKeypoints?: readonly (ArrayLike<number> | undefined)[],
  toKeypoints?: readonly (ArrayLike<number> | undefined)[],
): CameraMotionEstimate {
  const maxStep = options.maxScaleStep ?? 1.25;
  const candidates = options.candidates ?? 4;
  const threshold = options.keypointThreshold ?? 0.3;
  const minInliers = options.minInliers ?? 2;
  const n = from.length / 4, k = to.length / 4;
  const pairs = new Int32Array(n).fill(-1);
  const none = { ...NO_MOTION, inliers: 0, pairs };
  if (n < minInliers || k < minInliers) return none;

  // Hypotheses are ranked by their inliers, each counted by its IoU (MSAC's scoring, Torr and
  // Zisserman 2000, rather than RANSAC's count: in a row of alike heads a zoom out by 12% and
  // a shift by one head brought six people within IoU 0.65 where the camera's motion brought
  // five within 0.88), then by how far they are from the expected motion (the
  // mean distance between where each and the expected motion put the people, in median box
  // heights; half an inlier per height, at most one): a row of alike people admits a motion
  // per spacing, the camera's keeps on from last frame. Measured at each person, not at
  // their centroid only: there a zoom and a shift can cancel while every person is moved far.
  const expected = options.previous ?? NO_MOTION;
  const heights: number[] = [];
  const centres = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    heights.push(from[4 * i + 3] - from[4 * i + 1]);
    centres[2 * i] = (from[4 * i] + from[4 * i + 2]) / 2;
    centres[2 * i + 1] = (from[4 * i + 1] + from[4 * i + 3]) / 2;
  }
  heights.sort((a, b) => a - b);
  const unit = Math.max(1, heights[n >> 1]);
  const value = (m: CameraMotion, score: { count: number; sum: number }) => {
    const ds = m.scale - expected.scale, dx = m.tx - expected.tx, dy = m.ty - expected.ty;
    let distance = 0;
    for (let i = 0; i < n; i++) {
      distance += Math.hypot(ds * centres[2 * i] + dx, ds * centres[2 * i + 1] + dy);
    }
    const deviation = distance / n / unit;
    return score.sum - 0.5 * Math.min(2, deviation);
  };
  let best: CameraMotion = NO_MOTION;
  let bestScore = inliersOf(from, to, NO_MOTION, pairs);
  let bestValue = value(NO_MOTION, bestScore);
  const consider = (m: CameraMotion) => {
    const score = inliersOf(from, to, m, pairs);
    const v = value(m, score);
    if (v > bestValue + 1e-9) [best, bestScore, bestValue] = [m, score, v];
  };
  if (options.previous) consider(options.previous);
  const order = new Int32Array(k);
  const distance = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const w = from[4 * i + 2] - from[4 * i], h = from[4 * i + 3] - from[4 * i + 1];
    if (!(w > 0 && h > 0)) continue;
    const cx = (from[4 * i] + from[4 * i + 2]) / 2, cy = (from[4 * i + 1] + from[4 * i + 3]) / 2;
    for (let j = 0; j < k; j++) {
      order[j] = j;
      const dx = (to[4 * j] + to[4 * j + 2]) / 2 - cx,
        dy = (to[4 * j + 1] + to[4 * j + 3]) / 2 - cy;
      distance[j] = dx * dx + dy * dy;
    }
    order.sort((a, b) => distance[a] - distance[b]);
    for (let c = 0; c < Math.min(candidates, k); c++) {
      const j = order[c];
      const w2 = to[4 * j + 2] - to[4 * j], h2 = to[4 * j + 3] - to[4 * j + 1];
      if (!(w2 > 0 && h2 > 0)) continue;
      const scale = Math.sqrt((w2 * h2) / (w * h));
      // A zoom scales width and height alike: a pair whose shapes differ is not one person.
      if (scale > maxStep || scale < 1 / maxStep || Math.abs(Math.log((h2 / w2) / (h / w))) > 0.4) {
        continue;
      }
      consider({
        scale,
        tx: (to[4 * j] + to[4 * j + 2]) / 2 - scale * cx,
        ty: (to[4 * j + 1] + to[4 * j + 3]) / 2 - scale * cy,
      });
    }
  }
  inliersOf(from, to, best, pairs);
  if (bestScore.count < minInliers) return none;
  let refined = refine(
    from,
    to,
    pairs,
    fromKeypoints,
    toKeypoints,
    threshold,
    options.frame,
    options.scalePrior,
  );
  const valid = (m: CameraMotion) =>
    m.scale > 1 / maxStep && m.scale < maxStep && Number.isFinite(m.tx) && Number.isFinite(m.ty);
  if (!valid(refined)) refined = best;
  // Refit once on the inliers of the refined motion (it may bring in more people).
  const again = new Int32Array(n);
  const refit = inliersOf(from, to, refined, again);
  if (refit.count >= bestScore.count) {
    const second = refine(
      from,
      to,
      again,
      fromKeypoints,
      toKeypoints,
      threshold,
      options.frame,
      options.scalePrior,
    );
    if (valid(second)) {
      return { ...second, inliers: refit.count, pairs: again };
    }
    return { ...refined, inliers: refit.count, pairs: again };
  }
  return { ...refined, inliers: bestScore.count, pairs };
}
