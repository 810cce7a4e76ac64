import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import { boxIou, classwiseNms, nms, oksIou, oksNms, type OksNmsPose } from "../lib/geometry/nms.ts";
import { COCO_KEYPOINT_SIGMAS } from "../lib/coco/keypoints.ts";
import { seededRandom } from "../lib/math/random.ts";

const boxes = (...rows: number[][]) => Float32Array.from(rows.flat());
const scores = (...values: number[]) => Float32Array.from(values);

/** IoU written independently of lib/nms.ts: overlap lengths per axis. */
function referenceIou(a: number[], b: number[]): number {
  const overlap = (lo1: number, hi1: number, lo2: number, hi2: number) =>
    Math.max(0, Math.min(hi1, hi2) - Math.max(lo1, lo2));
  const inter = overlap(a[0], a[2], b[0], b[2]) * overlap(a[1], a[3], b[1], b[3]);
  const area = (r: number[]) => (r[2] - r[0]) * (r[3] - r[1]);
  return inter === 0 ? 0 : inter / (area(a) + area(b) - inter);
}

/**
 * Brute-force greedy NMS: repeatedly take the best remaining box (lowest index on ties) and
 * remove the remaining boxes that overlap it by more than the threshold.
 */
function referenceNms(rows: number[][], s: number[], threshold: number): number[] {
  let remaining = rows.map((_, i) => i);
  const kept: number[] = [];
  while (remaining.length > 0) {
    let best = remaining[0];
    for (const i of remaining) if (s[i] > s[best] || (s[i] === s[best] && i < best)) best = i;
    kept.push(best);
    remaining = remaining.filter((i) =>
      i !== best && referenceIou(rows[best], rows[i]) <= threshold
    );
  }
  return kept;
}

function randomBoxes(rand: () => number, n: number): number[][] {
  return Array.from({ length: n }, () => {
    // Integer coordinates so that float32 storage is exact and IoUs match the reference.
    const x = Math.floor(rand() * 40), y = Math.floor(rand() * 40);
    return [x, y, x + 1 + Math.floor(rand() * 20), y + 1 + Math.floor(rand() * 20)];
  });
}

Deno.test("boxIou: hand-computed overlaps", () => {
  const b = boxes([0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]);
  assertEquals(boxIou(b, 0, 1), 50 / 150); // half overlap: 50 / (100 + 100 − 50)
  assertEquals(boxIou(b, 0, 2), 0);
  assertEquals(boxIou(b, 0, 3), 1);
});

Deno.test("nms: drops a box that overlaps a better one by more than the threshold", () => {
  // IoU(A, B) = 90 / 110 ≈ 0.82; C is far away.
  const b = boxes([0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]);
  assertEquals([...nms(b, scores(0.9, 0.8, 0.7), 0.5)], [0, 2]);
  assertEquals([...nms(b, scores(0.9, 0.8, 0.7), 0.85)], [0, 1, 2]);
  // The better box wins whatever its position in the input.
  assertEquals([...nms(b, scores(0.6, 0.8, 0.7), 0.5)], [1, 2]);
});

Deno.test("nms: IoU exactly at the threshold is kept (only IoU > threshold suppresses)", () => {
  const b = boxes([0, 0, 10, 10], [5, 0, 15, 10]); // IoU = 1/3
  assertEquals([...nms(b, scores(0.9, 0.8), 1 / 3)], [0, 1]);
  assertEquals([...nms(b, scores(0.9, 0.8), 0.33)], [0]);
});

Deno.test("nms: a suppressed box suppresses nothing", () => {
  // IoU(A,B) = IoU(B,C) = 60/140 ≈ 0.43, IoU(A,C) = 20/180 ≈ 0.11.
  const b = boxes([0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]);
  assertEquals([...nms(b, scores(0.9, 0.8, 0.7), 0.4)], [0, 2]);
});

Deno.test("nms: equal scores keep index order", () => {
  const b = boxes([20, 20, 30, 30], [0, 0, 10, 10], [0, 0, 10, 10], [40, 40, 50, 50]);
  assertEquals([...nms(b, scores(0.5, 0.5, 0.5, 0.5), 0.5)], [0, 1, 3]);
});

Deno.test("nms: empty input and mismatched lengths", () => {
  assertEquals([...nms(new Float32Array(0), new Float32Array(0), 0.5)], []);
  assertThrows(() => nms(new Float32Array(4), new Float32Array(2), 0.5), Error, "box values");
});

Deno.test("nms: matches brute-force greedy NMS on random boxes, and its guarantees hold", () => {
  const rand = seededRandom(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 30);
    const rows = randomBoxes(rand, n);
    // Scores on a coarse grid so that ties happen.
    const s = rows.map(() => Math.floor(rand() * 8) / 8);
    const threshold = [0.1, 0.3, 0.5, 0.7][trial % 4];
    const kept = [...nms(boxes(...rows), scores(...s), threshold)];
    assertEquals(kept, referenceNms(rows, s, threshold));
    // Kept boxes do not overlap each other by more than the threshold...
    for (const i of kept) {
      for (const j of kept) if (i !== j) assert(referenceIou(rows[i], rows[j]) <= threshold);
    }
    // ...and every dropped box overlaps a kept box that ranks before it.
    const rank = (i: number) => kept.indexOf(i);
    for (let i = 0; i < n; i++) {
      if (rank(i) >= 0) continue;
      assert(
        kept.some((j) =>
          (s[j] > s[i] || (s[j] === s[i] && j < i)) && referenceIou(rows[i], rows[j]) > threshold
        ),
      );
    }
    // Best first.
    for (let a = 1; a < kept.length; a++) assert(s[kept[a - 1]] >= s[kept[a]]);
  }
});

Deno.test("classwiseNms: overlapping boxes of different classes both survive", () => {
  const b = boxes([0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]);
  // Boxes 0 and 2 are the same class and identical: 2 goes; box 1 is another class: it stays.
  assertEquals([...classwiseNms(b, scores(0.9, 0.8, 0.7), [0, 1, 0], 0.5)], [0, 1]);
  // The same boxes in one class: only the best survives.
  assertEquals([...classwiseNms(b, scores(0.9, 0.8, 0.7), [3, 3, 3], 0.5)], [0]);
});

Deno.test("classwiseNms: equals per-class brute-force NMS merged best first", () => {
  const rand = seededRandom(11);
  for (let trial = 0; trial < 100; trial++) {
    const n = 1 + Math.floor(rand() * 40);
    const rows = randomBoxes(rand, n);
    const s = rows.map(() => Math.floor(rand() * 8) / 8);
    const cls = rows.map(() => Math.floor(rand() * 3));
    const expected: number[] = [];
    for (const c of [0, 1, 2]) {
      const members = cls.flatMap((k, i) => (k === c ? [i] : []));
      const keptLocal = referenceNms(members.map((i) => rows[i]), members.map((i) => s[i]), 0.5);
      expected.push(...keptLocal.map((local) => members[local]));
    }
    expected.sort((a, b) => s[b] - s[a] || a - b);
    assertEquals([...classwiseNms(boxes(...rows), scores(...s), cls, 0.5)], expected);
  }
});

/** A one-keypoint pose (x, y, score). */
const onePoint = (x: number, y: number, score: number, area: number, v = 1): OksNmsPose => ({
  keypoints: Float32Array.of(x, y, v),
  score,
  area,
});

Deno.test("oksIou: hand-computed for one keypoint", () => {
  const sigma = [0.1]; // vars = (2σ)² = 0.04
  const a = Float32Array.of(0, 0, 1), b = Float32Array.of(3, 4, 1); // d² = 25
  // e = 25 / 0.04 / ((100 + 100) / 2) / 2 = 3.125
  assertAlmostEquals(oksIou(a, b, 100, 100, sigma), Math.exp(-3.125), 1e-12);
  // The mean of both areas counts: (100 + 300) / 2 = 200 → e = 1.5625.
  assertAlmostEquals(oksIou(a, b, 100, 300, sigma), Math.exp(-1.5625), 1e-12);
  assertEquals(oksIou(a, a, 100, 100, sigma), 1);
});

Deno.test("oksIou: the mean over keypoints with COCO sigmas", () => {
  // Every keypoint shifted by (1, 2); area 1000.
  const a = new Float32Array(17 * 3), b = new Float32Array(17 * 3);
  for (let j = 0; j < 17; j++) {
    a.set([10 * j, 5, 1], 3 * j);
    b.set([10 * j + 1, 7, 1], 3 * j);
  }
  const sigmas = [
    .26,
    .25,
    .25,
    .35,
    .35,
    .79,
    .79,
    .72,
    .72,
    .62,
    .62,
    1.07,
    1.07,
    .87,
    .87,
    .89,
    .89,
  ]
    .map((s) => s / 10);
  const expected = sigmas.reduce((sum, s) => sum + Math.exp(-5 / (2 * s) ** 2 / 1000 / 2), 0) / 17;
  assertAlmostEquals(oksIou(a, b, 1000, 1000), expected, 1e-9);
  assertAlmostEquals(oksIou(a, b, 1000, 1000, COCO_KEYPOINT_SIGMAS), expected, 1e-9);
});

Deno.test("oksIou: with a visibility threshold only the other pose's scores count (HRNet)", () => {
  const sigma = [0.1, 0.1];
  // Keypoint 0 coincides; keypoint 1 is off by 3,4 (e = 3.125 with area 100).
  const a = Float32Array.of(0, 0, 0.9, 0, 0, 0.0);
  const b = Float32Array.of(0, 0, 0.9, 3, 4, 0.9);
  assertAlmostEquals(oksIou(a, b, 100, 100, sigma), (1 + Math.exp(-3.125)) / 2, 1e-12);
  // `a`'s low score on keypoint 1 does not matter: both keypoints count.
  assertAlmostEquals(oksIou(a, b, 100, 100, sigma, 0.5), (1 + Math.exp(-3.125)) / 2, 1e-12);
  // `b`'s low score on keypoint 1 removes it.
  const bLow = Float32Array.of(0, 0, 0.9, 3, 4, 0.1);
  assertEquals(oksIou(a, bLow, 100, 100, sigma, 0.5), 1);
  // Nothing left: 0.
  assertEquals(oksIou(a, Float32Array.of(0, 0, 0.1, 3, 4, 0.1), 100, 100, sigma, 0.5), 0);
});

Deno.test("oksNms: drops near-duplicates of a better pose, keeps distinct ones", () => {
  const sigma = [0.1];
  // OKS(0,1) = exp(−0.01/0.04/100/2) ≈ 0.9988; pose 2 is far away.
  const poses = [onePoint(0, 0, 0.9, 100), onePoint(0.1, 0, 0.8, 100), onePoint(50, 50, 0.7, 100)];
  assertEquals(oksNms(poses, 0.9, sigma), [0, 2]);
  // The better pose is kept whichever comes first.
  poses[1].score = 0.95;
  assertEquals(oksNms(poses, 0.9, sigma), [1, 2]);
  assertEquals(oksNms([], 0.9, sigma), []);
});

Deno.test("oksNms: OKS equal to the threshold is kept; a suppressed pose suppresses nothing", () => {
  const sigma = [0.1];
  const a = onePoint(0, 0, 0.9, 100), b = onePoint(3, 4, 0.8, 100);
  const oks = Math.exp(-3.125);
  assertEquals(oksNms([a, b], oksIou(a.keypoints, b.keypoints, 100, 100, sigma), sigma), [
    0,
    1,
  ]);
  assertEquals(oksNms([a, b], oks - 1e-6, sigma), [0]);
  // A→B and B→C are close (d = 5 → e = 3.125, OKS 0.044), A→C is far (d = 10 → OKS ≈ 4e-6).
  const c = onePoint(6, 8, 0.7, 100);
  assertEquals(oksNms([a, b, c], 0.01, sigma), [0, 2]);
});

Deno.test("oksNms: equal scores put the later pose first, like numpy's argsort()[::-1]", () => {
  const sigma = [0.1];
  const poses = [onePoint(0, 0, 0.5, 100), onePoint(0, 0, 0.5, 100), onePoint(90, 90, 0.5, 100)];
  assertEquals(oksNms(poses, 0.9, sigma), [2, 1]);
});
