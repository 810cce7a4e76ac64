/**
 * PoseTracker on hand-made scenes: people given as a fixed 17-keypoint stick figure placed at
 * known positions, so which person is which is known in every frame. Checks: two people
 * crossing keep their ids (OKS and IoU), a missed detection is bridged for up to `maxMissed`
 * frames, new people get new increasing ids, and smoothing is the One-Euro filter per track.
 */

import { KeypointOneEuroFilter } from "../lib/track/one_euro.ts";
import { poseOks, PoseTracker, type TrackedPose } from "../lib/track/tracker.ts";
import type { Pose } from "../lib/types.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";

/** A standing figure 200 px tall around (0, 0): COCO keypoint order, offsets in px. */
const FIGURE: readonly (readonly [number, number])[] = [
  [0, -90], // nose
  [-5, -95],
  [5, -95], // eyes
  [-10, -92],
  [10, -92], // ears
  [-25, -60],
  [25, -60], // shoulders
  [-35, -20],
  [35, -20], // elbows
  [-40, 15],
  [40, 15], // wrists
  [-15, 10],
  [15, 10], // hips
  [-17, 55],
  [17, 55], // knees
  [-18, 100],
  [18, 100], // ankles
];

/** The figure centred at (cx, cy), its box 100 × 220, every keypoint scoring `score`. */
function person(cx: number, cy: number, score = 0.9): Pose {
  const keypoints = new Float32Array(17 * 3);
  FIGURE.forEach(([dx, dy], j) => keypoints.set([cx + dx, cy + dy, score], 3 * j));
  return {
    box: { x1: cx - 50, y1: cy - 110, x2: cx + 50, y2: cy + 110, score: 0.95 },
    keypoints,
    score: 0.9,
  };
}

const ids = (tracked: readonly TrackedPose[]) => tracked.map((p) => p.trackId);

Deno.test("poseOks is COCO's OKS: identical poses give 1; one nose 10 px off gives a hand value", () => {
  const a = person(300, 300);
  assertAlmostEquals(poseOks(a, person(300, 300)), 1, 1e-12);
  const b = person(300, 300);
  b.keypoints[0] += 10; // nose, σ = 0.026; area 100 × 220 for both
  // e = d² / ((2σ)² · area · 2) = 100 / (0.052² · 22000 · 2) = 0.840506…; exp(−e) = 0.431492…
  const nose = Math.exp(-100 / (0.052 ** 2 * 22000 * 2));
  assertAlmostEquals(nose, 0.431492, 1e-6);
  assertAlmostEquals(poseOks(a, b), (16 + nose) / 17, 1e-9);
  // Keypoints below the threshold in either pose do not count.
  b.keypoints[2] = 0.1;
  assertAlmostEquals(poseOks(a, b), 1, 1e-9);
});

for (const similarity of ["oks", "iou"] as const) {
  Deno.test(`two people crossing keep their ids (${similarity}), whatever the input order`, () => {
    const tracker = new PoseTracker({ similarity });
    // A walks right, B walks left, 10 px a frame, B 60 px lower: their boxes overlap most at
    // frame 20, where they pass each other.
    for (let f = 0; f <= 40; f++) {
      const a = person(100 + 10 * f, 300);
      const b = person(500 - 10 * f, 360);
      const swapped = f % 2 === 1;
      const out = tracker.update(swapped ? [b, a] : [a, b]);
      assertEquals(ids(out), swapped ? [2, 1] : [1, 2], `frame ${f}`);
      assert(out[0].keypoints === (swapped ? b : a).keypoints, "unsmoothed keypoints pass as is");
    }
    assertEquals(tracker.liveTrackCount, 2);
  });
}

Deno.test("a missed detection is bridged for maxMissed frames; after that the person is new", () => {
  const tracker = new PoseTracker({ maxMissed: 5 });
  const far = (f: number) => person(900, 300 + 2 * f);
  const near = (f: number) => person(200 + 5 * f, 300);
  assertEquals(ids(tracker.update([near(0), far(0)])), [1, 2]);
  assertEquals(ids(tracker.update([near(1), far(1)])), [1, 2]);
  // "near" is missed for 3 frames (occluded), then seen again 4 frames (20 px) on.
  for (let f = 2; f <= 4; f++) assertEquals(ids(tracker.update([far(f)])), [2]);
  assertEquals(tracker.liveTrackCount, 2);
  assertEquals(ids(tracker.update([far(5), near(5)])), [2, 1]);
  // Now "far" is missed for 6 frames: more than maxMissed, so its track ends.
  for (let f = 6; f <= 11; f++) assertEquals(ids(tracker.update([near(f)])), [1]);
  assertEquals(tracker.liveTrackCount, 1);
  assertEquals(ids(tracker.update([near(12), far(12)])), [1, 3]);
});

Deno.test("new people get new increasing ids; a pose far from every track never steals one", () => {
  const tracker = new PoseTracker();
  assertEquals(ids(tracker.update([person(100, 300)])), [1]);
  // Someone appears 400 px away: OKS with track 1 is ~0, below the gate.
  assertEquals(ids(tracker.update([person(500, 300)])), [2]);
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300), person(900, 300)])), [
    1,
    2,
    3,
  ]);
  assertEquals(ids(tracker.update([])), []);
  assertEquals(ids(tracker.update([person(1300, 300)])), [4]);
  assertEquals(ids(new PoseTracker().update([person(0, 0)])), [1], "ids are per tracker");
});

Deno.test("smooth: keypoints are each track's own One-Euro filter; its state dies with the track", () => {
  const tracker = new PoseTracker({ smooth: { beta: 0 }, maxMissed: 0 });
  const reference = new KeypointOneEuroFilter({ beta: 0 });
  for (let f = 0; f < 10; f++) {
    const pose = person(200 + 4 * f, 300);
    const [out] = tracker.update([pose], f / 25);
    const expected = reference.filter(pose.keypoints, f / 25);
    assertEquals(out.trackId, 1);
    assertEquals(Array.from(out.keypoints), Array.from(expected));
    assertEquals(out.box, pose.box);
    if (f > 0) assert(out.keypoints[0] < pose.keypoints[0], "smoothed lags behind the motion");
  }
  tracker.update([]); // track 1 ends (maxMissed 0)
  const again = person(236, 300);
  const [out] = tracker.update([again], 0.5);
  assertEquals(out.trackId, 2);
  assertEquals(Array.from(out.keypoints), Array.from(again.keypoints), "a fresh filter");
});

Deno.test("update without a time uses frame number / fps", () => {
  const byTime = new PoseTracker({ smooth: true });
  const byFrame = new PoseTracker({ smooth: true, fps: 10 });
  for (let f = 0; f < 5; f++) {
    const pose = person(100 + 20 * f, 300);
    assertEquals(
      Array.from(byFrame.update([pose])[0].keypoints),
      Array.from(byTime.update([pose], f / 10)[0].keypoints),
    );
  }
});

Deno.test("boxesFromTracks: the last boxes of the tracks seen last frame, or keypoint boxes", () => {
  const tracker = new PoseTracker();
  tracker.update([person(100, 300), person(600, 300)]);
  tracker.update([person(104, 300)]); // track 2 missed this frame
  assertEquals(tracker.boxesFromTracks(), [
    { trackId: 1, box: { x1: 54, y1: 190, x2: 154, y2: 410, score: 0.95 } },
  ]);
  // Keypoints span x −40…40 and y −95…100 around (104, 300); × 1.25 about their centre
  // (104, 302.5): half sizes 50 and 121.875.
  assertEquals(tracker.boxesFromTracks({ keypointBoxScale: 1.25 }), [
    { trackId: 1, box: { x1: 54, y1: 180.625, x2: 154, y2: 424.375, score: 0.95 } },
  ]);
  // With no confident keypoints the last box is kept.
  tracker.update([person(104, 300, 0.1)]);
  assertEquals(tracker.boxesFromTracks({ keypointBoxScale: 1.25 })[0].box.x1, 54);
});

Deno.test("bad tracker options are refused", () => {
  assertThrows(() => new PoseTracker({ minSimilarity: 0 }), RangeError);
  assertThrows(() => new PoseTracker({ maxMissed: -1 }), RangeError);
  assertThrows(() => new PoseTracker({ fps: 0 }), RangeError);
});
