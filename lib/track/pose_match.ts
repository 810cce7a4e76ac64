/**
 * How alike a track's predicted pose and a detection are: box overlap and keypoint
 * similarity (COCO's OKS per keypoint), and whether one detection is a part of another
 * person's (a head-only box inside the same person's body box). Pure functions on packed
 * boxes (x1, y1, x2, y2) and keypoints (x, y, score triples).
 */

/** IoU of two boxes given as x1, y1, x2, y2 at offsets `i` of `a` and `j` of `b` (× 4). */
export function iouAt(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const iw = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const ih = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = (a[4 * i + 2] - a[4 * i]) * (a[4 * i + 3] - a[4 * i + 1]) +
    (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Share of the smaller of two boxes that lies inside the larger one. */
export function nestedShare(
  a: ArrayLike<number>,
  i: number,
  b: ArrayLike<number>,
  j: number,
): number {
  const iw = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const ih = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const areaA = (a[4 * i + 2] - a[4 * i]) * (a[4 * i + 3] - a[4 * i + 1]);
  const areaB = (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]);
  const smaller = Math.min(areaA, areaB);
  return smaller > 0 ? iw * ih / smaller : 0;
}

/** Keypoint similarity of two poses: see `keypointSimilarity`. */
export interface KeypointSimilarity {
  /** Mean OKS over the keypoints confident in both (0 when there are none). */
  oks: number;
  /** Share of those keypoints whose own OKS is at least 0.5. */
  agreeing: number;
  /** How many keypoints are confident in both. */
  common: number;
}

/**
 * Per-keypoint OKS (COCO's exp(−d² / (2 · area · (2σ)²))) of the keypoints confident in both
 * poses, with `area` the person's scale. With `align`, `b` is first shifted so that the two
 * poses' common keypoints share a centroid: the similarity of the poses' shapes whatever
 * their positions (for someone seen again after a while, whose position is only roughly
 * predicted).
 */
export function keypointSimilarity(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  area: number,
  sigmas: ArrayLike<number>,
  threshold: number,
  align = false,
): KeypointSimilarity {
  const k = Math.min(a.length, b.length) / 3;
  let dx = 0, dy = 0, common = 0;
  for (let j = 0; j < k; j++) {
    if (!(a[3 * j + 2] > threshold && b[3 * j + 2] > threshold)) continue;
    dx += a[3 * j] - b[3 * j];
    dy += a[3 * j + 1] - b[3 * j + 1];
    common++;
  }
  if (common === 0) return { oks: 0, agreeing: 0, common: 0 };
  if (align) {
    dx /= common;
    dy /= common;
  } else dx = dy = 0;
  let sum = 0, agreeing = 0;
  const scale = 2 * Math.max(area, 1);
  for (let j = 0; j < k; j++) {
    if (!(a[3 * j + 2] > threshold && b[3 * j + 2] > threshold)) continue;
    const ex = a[3 * j] - b[3 * j] - dx, ey = a[3 * j + 1] - b[3 * j + 1] - dy;
    const s = Math.exp(-(ex * ex + ey * ey) / (scale * (2 * sigmas[j]) ** 2));
    sum += s;
    if (s >= 0.5) agreeing++;
  }
  return { oks: sum / common, agreeing: agreeing / common, common };
}

/** How many keypoints (x, y, score triples) score above `threshold`. */
export function confidentKeypointCount(keypoints: ArrayLike<number>, threshold: number): number {
  let count = 0;
  for (let k = 2; k < keypoints.length; k += 3) if (keypoints[k] > threshold) count++;
  return count;
}

/**
 * The box around the keypoints scoring above `threshold` (x1, y1, x2, y2), when it has an
 * area (two such keypoints at least, not in a line).
 */
export function confidentKeypointBox(
  keypoints: ArrayLike<number>,
  threshold: number,
): [number, number, number, number] | undefined {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (let k = 0; k < keypoints.length; k += 3) {
    if (!(keypoints[k + 2] > threshold)) continue;
    x1 = Math.min(x1, keypoints[k]);
    y1 = Math.min(y1, keypoints[k + 1]);
    x2 = Math.max(x2, keypoints[k]);
    y2 = Math.max(y2, keypoints[k + 1]);
  }
  return x2 > x1 && y2 > y1 ? [x1, y1, x2, y2] : undefined;
}

/**
 * Share of box `i` of `boxes` that the box around the confident keypoints covers: near 1 for
 * a box around one person, small for a box holding several people of whom the pose found one
 * (as DETR-style detectors give in crowds), 0 without such a box.
 */
export function keypointCover(
  keypoints: ArrayLike<number>,
  threshold: number,
  boxes: ArrayLike<number>,
  i: number,
): number {
  const around = confidentKeypointBox(keypoints, threshold);
  const area = (boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]);
  if (!around || !(area > 0)) return 0;
  return Math.min(1, (around[2] - around[0]) * (around[3] - around[1]) / area);
}
