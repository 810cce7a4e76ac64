/**
 * PoseTracker on hand-made scenes: people given as a fixed 17-keypoint stick figure placed at
 * known positions, so which person is which is known in every frame. Checks: two people
 * crossing keep their ids, a missed detection is bridged for up to `maxMissed` frames, new
 * people wait `minHits` frames for an id (none for a flicker), a camera pan or zoom faster
 * than the people's own size keeps everyone's id, someone who leaves the frame and comes
 * back gets their id back, a head-only box never takes the person's id nor one of its own,
 * a weak detection continues a track but starts none, and smoothing is the One-Euro filter
 * per track. Poses the tracker sets aside: a detection without a pose (a car), a second
 * detection of one person (a half box next to the whole), a box holding several people (its
 * pose covers a small part of it), and a new person too small for a pose away from the
 * frame's edges. A person cut by the frame's edge as the camera pans away (box and keypoints
 * cut as a detector gives them) is found again on the way back, also when the pan turns back
 * while only one other person is in view; the sliver left in view of someone walking out,
 * with too few keypoints for a pose, is still theirs.
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

/**
 * The figure centred at (cx, cy) scaled by `scale` (box 100 × 220 at scale 1), every keypoint
 * scoring `score`, the box scoring `boxScore`.
 */
function person(cx: number, cy: number, score = 0.9, scale = 1, boxScore = 0.95): Pose {
  const keypoints = new Float32Array(17 * 3);
  FIGURE.forEach(([dx, dy], j) => keypoints.set([cx + scale * dx, cy + scale * dy, score], 3 * j));
  return {
    box: {
      x1: cx - 50 * scale,
      y1: cy - 110 * scale,
      x2: cx + 50 * scale,
      y2: cy + 110 * scale,
      score: boxScore,
    },
    keypoints,
    score: 0.9,
  };
}

/** Only the head of the figure at (cx, cy): a box around the face, body keypoints unsure. */
function head(cx: number, cy: number): Pose {
  const full = person(cx, cy);
  const keypoints = full.keypoints.slice();
  for (let j = 5; j < 17; j++) keypoints[3 * j + 2] = 0.05;
  return {
    box: { x1: cx - 20, y1: cy - 110, x2: cx + 20, y2: cy - 70, score: 0.8 },
    keypoints,
    score: 0.5,
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

Deno.test("two people crossing keep their ids, whatever the input order", () => {
  const tracker = new PoseTracker();
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
  // "far" is new again: an id once seen 3 frames in a row.
  assertEquals(ids(tracker.update([near(12), far(12)])), [1]);
  assertEquals(ids(tracker.update([near(13), far(13)])), [1]);
  assertEquals(ids(tracker.update([near(14), far(14)])), [1, 3]);
});

Deno.test("new people wait minHits frames for an id; a flicker uses none; far poses steal none", () => {
  const tracker = new PoseTracker({ minHits: 3 });
  // The first frame's people get ids at once.
  assertEquals(ids(tracker.update([person(100, 300)])), [1]);
  // Someone appears 400 px away: no id until seen 3 frames in a row.
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300)])), [1]);
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300)])), [1]);
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300)])), [1, 2]);
  // A detection seen for 2 frames only (a flicker) never gets an id.
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300), person(900, 300)])), [1, 2]);
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300), person(900, 300)])), [1, 2]);
  assertEquals(ids(tracker.update([person(100, 300), person(500, 300)])), [1, 2]);
  assertEquals(ids(tracker.update([])), []);
  for (let f = 0; f < 2; f++) assertEquals(ids(tracker.update([person(1300, 300)])), []);
  assertEquals(ids(tracker.update([person(1300, 300)])), [3], "the next id, none skipped");
  assertEquals(ids(new PoseTracker().update([person(0, 0)])), [1], "ids are per tracker");
});

Deno.test("a camera pan and zoom faster than OKS allows: everyone keeps their id", () => {
  // Six people in a row; the camera pans 60 px a frame (more than half a person's width)
  // and zooms in 4% a frame about the frame's centre (640, 360).
  const spots = [200, 380, 560, 740, 920, 1100];
  for (const cameraMotion of [true, false]) {
    const tracker = new PoseTracker({ cameraMotion });
    let switched = 0;
    for (let f = 0; f < 12; f++) {
      const zoom = 1.04 ** f;
      const poses = spots.map((x) => person(640 + (x - 640 - 60 * f) * zoom, 360, 0.9, zoom));
      // Listed in a different order each frame.
      const order = poses.map((_, i) => (i * (f + 1)) % 7 % poses.length);
      const shuffled = [...new Set(order)].concat(poses.map((_, i) => i)).filter((v, i, a) =>
        a.indexOf(v) === i
      );
      const out = tracker.update(shuffled.map((i) => poses[i]));
      out.forEach((p, k) => {
        if (p.trackId !== shuffled[k] + 1) switched++;
      });
    }
    if (cameraMotion) assertEquals(switched, 0, "with camera motion");
    else assert(switched > 0, "the pan defeats the tracker without camera motion");
  }
});

Deno.test("someone who leaves the frame while the camera pans gets their id back", () => {
  // Frame 640 × 480. Three people stand still in the scene; the camera pans right 30 px a
  // frame for 10 frames, then back. The one on the left leaves the frame and comes back.
  const frame = { width: 640, height: 480 };
  const scene = [80, 320, 560];
  const tracker = new PoseTracker();
  let x = 0;
  const seen: number[][] = [];
  for (let f = 0; f < 20; f++) {
    x += f < 10 ? 30 : -30;
    const poses = scene.map((s) => person(s - x, 240)).filter((p) => p.box.x2 > 20);
    seen.push(ids(tracker.update(poses, undefined, frame)));
  }
  assertEquals(seen[0], [1, 2, 3]);
  assert(seen[6].length === 2, "the left one is out of the frame");
  assertEquals(seen[19], [1, 2, 3], "and back with its id");
});

Deno.test("a head-only box never takes the person's id nor starts a track of its own", () => {
  const tracker = new PoseTracker();
  for (let f = 0; f < 12; f++) {
    const body = person(300 + 3 * f, 300), face = head(300 + 3 * f, 300);
    const unsureBody = person(300 + 3 * f, 300, 0.9, 1, 0.25);
    // The head box comes first (the detector lists it first) every other frame. On frames 4
    // and 5 the body is not found confidently: on 4 it is found weakly, on 5 not at all.
    let poses = f % 2 ? [face, body] : [body, face];
    if (f === 4) poses = [face, unsureBody];
    if (f === 5) poses = [face];
    const out = tracker.update(poses);
    assertEquals(ids(out), [1], `frame ${f}`);
    if (f !== 4 && f !== 5) assert(out[0].box === body.box, `frame ${f}: the body is person 1`);
    else {
      assert(out[0].keypoints === face.keypoints, `frame ${f}: the head's keypoints`);
      // With the rest of the person in view (the unsure body around the head): the person's
      // box where the track predicts them (walking 3 px a frame), not the head's. The head
      // alone may be all that is in view (the rest covered): its own box.
      const expected = f === 4 ? body.box : face.box;
      for (const side of ["x1", "y1", "x2", "y2"] as const) {
        assertAlmostEquals(out[0].box[side], expected[side], 3, `frame ${f}: ${side}`);
      }
    }
  }
  assertEquals(tracker.liveTrackCount, 1);
});

Deno.test("a weak detection continues a track but starts none", () => {
  const tracker = new PoseTracker({ highScore: 0.5, minHits: 1 });
  assertEquals(ids(tracker.update([person(100, 300)])), [1]);
  // Person 1 found with a low score, its box 10 px too wide on the left: still person 1,
  // reported with the track's box (standing still), not the unsure one.
  const unsure = person(104, 300, 0.9, 1, 0.35);
  unsure.box = { ...person(100, 300).box, x1: 40, score: 0.35 };
  const out = tracker.update([unsure]);
  assertEquals(ids(out), [1]);
  assertEquals([out[0].box.x1, out[0].box.x2, out[0].box.score], [50, 150, 0.35]);
  assert(out[0].keypoints === unsure.keypoints, "the weak detection's keypoints");
  // Someone new found only weakly: no track, whatever the frames.
  for (let f = 0; f < 4; f++) {
    assertEquals(ids(tracker.update([person(108, 300), person(600, 300, 0.9, 1, 0.35)])), [1]);
  }
});

Deno.test("someone whose box score hovers around highScore gets an id after minHits confident frames", () => {
  const tracker = new PoseTracker({ minHits: 3 });
  assertEquals(ids(tracker.update([person(100, 300)])), [1]);
  // Someone new whose box scores 0.4 and 0.3 by turns (highScore 0.35): the weak frames keep
  // their tentative track without counting, so the id comes with the third confident frame.
  const hovering = (f: number) => person(500 + 2 * f, 300, 0.9, 1, f % 2 ? 0.4 : 0.3);
  for (let f = 1; f < 5; f++) {
    assertEquals(ids(tracker.update([person(100, 300), hovering(f)])), [1], `frame ${f}`);
  }
  assertEquals(ids(tracker.update([person(100, 300), hovering(5)])), [1, 2], "frame 5");
  assertEquals(ids(tracker.update([person(100, 300), hovering(6)])), [1, 2], "weak, tracked");
  // Found confidently once, then only weakly: never an id.
  tracker.update([person(100, 300), hovering(7), person(900, 300, 0.9, 1, 0.4)]);
  for (let f = 8; f < 16; f++) {
    const out = tracker.update([person(100, 300), hovering(f), person(900, 300, 0.9, 1, 0.3)]);
    assertEquals(ids(out), [1, 2], `frame ${f}`);
  }
});

Deno.test("a box reported from the track's prediction is cut to the frame", () => {
  // Walks down 10 px a frame towards the bottom of a 640 × 480 frame; the detector cuts the
  // box at the edge (and the keypoints beyond it go unsure). Found weakly at the edge, the
  // person is reported with the predicted box, which runs past the edge: cut to it.
  const frame = { width: 640, height: 480 };
  const tracker = new PoseTracker();
  const seen = (cy: number, boxScore = 0.95) => {
    const pose = person(300, cy, 0.9, 1, boxScore);
    for (let j = 0; j < 17; j++) {
      if (pose.keypoints[3 * j + 1] >= 480) pose.keypoints[3 * j + 2] = 0.05;
    }
    pose.box = { ...pose.box, y2: Math.min(pose.box.y2, 480) };
    return pose;
  };
  let cy = 200;
  for (let f = 0; f < 20; f++, cy += 10) {
    assertEquals(ids(tracker.update([seen(cy)], f / 30, frame)), [1], `frame ${f}`);
  }
  // The weak box is 20 px too high (IoU 0.86 with the person's box in the frame).
  const weak = seen(cy, 0.25);
  weak.box = { ...weak.box, y1: weak.box.y1 - 20, y2: weak.box.y2 - 20 };
  const out = tracker.update([weak], 20 / 30, frame);
  assertEquals(ids(out), [1]);
  assertEquals(out[0].box.y2, 480, "cut to the frame");
  assertAlmostEquals(out[0].box.y1, cy - 110, 3, "where the person is");
});

Deno.test("a person found as a part after a missed frame is reported with the part's box", () => {
  // The prediction of a track not seen on the last frame is a guess: a head box that finds the
  // person again is reported as found.
  const tracker = new PoseTracker();
  let cx = 100;
  for (let f = 0; f < 10; f++, cx += 3) assertEquals(ids(tracker.update([person(cx, 300)])), [1]);
  assertEquals(ids(tracker.update([])), []);
  cx += 3;
  const face = head(cx, 300);
  const out = tracker.update([face]);
  assertEquals(ids(out), [1]);
  assert(out[0].box === face.box, "the head's own box");
});

Deno.test("smooth: keypoints are each track's own One-Euro filter; its state dies with the track", () => {
  const tracker = new PoseTracker({ smooth: { beta: 0 }, maxMissed: 0, minHits: 1 });
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
  // minKeypoints 0: the last frame's pose, with no confident keypoint, still continues track 1.
  const tracker = new PoseTracker({ minKeypoints: 0 });
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

/** The figure seen by a detector in a `frame` wide view: box and keypoints cut at the edges. */
function cut(pose: Pose, width: number): Pose | undefined {
  const box = { ...pose.box, x1: Math.max(0, pose.box.x1), x2: Math.min(width, pose.box.x2) };
  if (box.x2 - box.x1 < 20) return undefined;
  const keypoints = pose.keypoints.slice();
  for (let j = 0; j < 17; j++) {
    if (keypoints[3 * j] < 0 || keypoints[3 * j] >= width) keypoints[3 * j + 2] = 0.01;
  }
  return { ...pose, box, keypoints };
}

/**
 * People standing at `scene` (x, on a 640 × 480 frame) as the camera pans right 20 px a frame
 * for 14 frames, then at once back for 14, seen as a detector sees them (`cut` by the frame's
 * edges): the track ids of each frame.
 */
function panAwayAndBack(scene: number[]): number[][] {
  const frame = { width: 640, height: 480 };
  const tracker = new PoseTracker();
  let x = 0;
  const seen: number[][] = [];
  for (let f = 0; f < 28; f++) {
    x += f < 14 ? 20 : -20;
    const poses = scene.map((s) => cut(person(s - x, 240), frame.width))
      .filter((p): p is Pose => p !== undefined);
    seen.push(ids(tracker.update(poses, undefined, frame)));
  }
  return seen;
}

Deno.test("someone cut by the frame's edge as the camera pans away is found again on the way back", () => {
  // As the test above, but the detector sees what a real one does: the box of the person
  // leaving ends at the frame's edge, narrowing frame by frame, and the keypoints beyond it
  // are unsure; the person coming back is cut the same way.
  const seen = panAwayAndBack([90, 320, 560]);
  assertEquals(seen[0], [1, 2, 3]);
  assert(seen[12].length === 2, "the left one is out of the frame");
  assertEquals(seen[27], [1, 2, 3], "and back with its id");
});

Deno.test("a pan that turns back while one person is in view still brings back the one who left", () => {
  // Two people; the camera pans right 20 px a frame until the left one has left the view,
  // then at once back. While it turns, the person on the right is the only one in view, and
  // their motion jumps by twice the pan's speed (40 px, about a fifth of their height): that
  // is the camera's, or the one who left is looked for where the camera no longer points.
  const seen = panAwayAndBack([90, 400]);
  assertEquals(seen[0], [1, 2]);
  assertEquals(seen[14], [2], "the left one is out of the frame as the pan turns");
  assertEquals(seen[27], [1, 2], "and back with its id");
});

Deno.test("someone who stops at the frame's edge, then walks back in, keeps their id", () => {
  // Walks right 5 px a frame until cut by the right edge, stands there (cut) for 40 frames,
  // then walks back. A cut side carried out as predicted must stop at the person's own
  // width, or the remembered box keeps growing beyond the edge and no longer fits them.
  const frame = { width: 640, height: 480 };
  const tracker = new PoseTracker();
  const out: number[][] = [];
  let cx = 520;
  for (let f = 0; f < 100; f++) {
    if (f < 20) cx += 5;
    else if (f >= 60) cx -= 5;
    const pose = cut(person(cx, 240), frame.width)!;
    out.push(ids(tracker.update([pose], undefined, frame)));
  }
  out.forEach((got, f) => assertEquals(got, [1], `frame ${f}`));
});

Deno.test("the sliver left in view of someone walking out keeps their id, and starts no track", () => {
  // Person 1 walks out of a still 640 × 480 frame by its left edge, 10 px a frame; person 2
  // stands. On their last frame in view the detector's box is 25 px wide and holds 3
  // confident keypoints, under `minKeypoints`: still them, reported with their track's box
  // cut to the frame. Set aside, that frame would lose them, and a neighbour's box over
  // their annotation would count as a switch of theirs.
  const frame = { width: 640, height: 480 };
  const tracker = new PoseTracker();
  let sliver: Pose | undefined, out: TrackedPose[] = [];
  for (let cx = 105; cx >= -25; cx -= 10) {
    sliver = cut(person(cx, 240), frame.width)!;
    out = tracker.update([sliver, person(400, 240)], undefined, frame);
    assertEquals(ids(out), [1, 2], `at x ${cx}`);
  }
  assertEquals(sliver!.keypoints.filter((v, k) => k % 3 === 2 && v > 0.3).length, 3);
  assertEquals(out[0].box.x1, 0);
  assertAlmostEquals(out[0].box.x2, 25, 3);
  // A sliver alone starts no track; as few keypoints away from the edge are still no pose.
  const fresh = new PoseTracker();
  for (let f = 0; f < 5; f++) assertEquals(ids(fresh.update([sliver!], undefined, frame)), []);
  const inside = { ...sliver!, box: { ...sliver!.box, x1: 300, x2: 325 } };
  const away = new PoseTracker();
  for (let f = 0; f < 5; f++) assertEquals(ids(away.update([inside], undefined, frame)), []);
  // Nor does a sliver displace a person as their duplicate (its few keypoints agree with
  // theirs), whatever its pose score.
  const standing = cut(person(20, 240), frame.width)!;
  const keep = [6, 8, 10]; // the right shoulder, elbow and wrist
  const shard: Pose = {
    box: { ...standing.box, x2: 65 },
    keypoints: standing.keypoints.map((v, k) =>
      k % 3 !== 2 || keep.includes((k - 2) / 3) ? v : 0.01
    ),
    score: 0.99,
  };
  assertEquals(ids(new PoseTracker().update([shard, standing], undefined, frame)), [1]);
});

/** Person 1 walking right 6 px a frame from x = 100 for 12 frames, found confidently. */
function walkRight(tracker: PoseTracker): number {
  let cx = 100;
  for (let f = 0; f < 12; f++) {
    cx += 6;
    assertEquals(ids(tracker.update([person(cx, 300)])), [1], `frame ${f}`);
  }
  return cx;
}

Deno.test("someone who stops while found only weakly stays tracked", () => {
  // Walks right 6 px a frame, found confidently; then stands still for 30 frames found only
  // weakly (box score 0.25). A weak match keeps the id but does not move the filter: the
  // filter must then coast to a stop as for a missed frame, not run off at walking speed.
  const tracker = new PoseTracker();
  const cx = walkRight(tracker);
  for (let f = 0; f < 30; f++) {
    assertEquals(ids(tracker.update([person(cx, 300, 0.9, 1, 0.25)])), [1], `still, frame ${f}`);
  }
});

Deno.test("someone who stops while only their head is found keeps their id", () => {
  // Walks right 6 px a frame, found whole; then stands still for 30 frames found only as a
  // head box (a part: it does not move the filter); then whole again. Frames of a part count
  // as unseen for the filter, which so coasts to a stop, and the person is still there.
  const tracker = new PoseTracker();
  const cx = walkRight(tracker);
  for (let f = 0; f < 30; f++) tracker.update([head(cx, 300)]);
  for (let f = 0; f < 5; f++) {
    assertEquals(ids(tracker.update([person(cx, 300)])), [1], `whole again, frame ${f}`);
  }
});

Deno.test("weak detections drifting off a person do not carry the track away from them", () => {
  // A person stands still, found confidently; then for 8 frames only a weak box is found,
  // sliding 8 px a frame off them (a neighbour's box, or a misplaced one); then the person is
  // found confidently again where they stood. Had the weak boxes moved the filter, the
  // prediction would have followed them away and the person would be someone new.
  const tracker = new PoseTracker();
  for (let f = 0; f < 10; f++) assertEquals(ids(tracker.update([person(300, 300)])), [1]);
  for (let k = 1; k <= 8; k++) tracker.update([person(300 + 8 * k, 300, 0.9, 1, 0.25)]);
  for (let f = 0; f < 8; f++) {
    assertEquals(ids(tracker.update([person(300, 300)])), [1], `frame ${f} after`);
  }
});

Deno.test("a detection without a pose to track (a car taken for a person) gets no id", () => {
  // A confident box whose keypoints are unsure but for three strays (nose, a wrist, an
  // ankle, spanning half the box): the detector's mistake, not a person.
  const car = (f: number): Pose => {
    const pose = person(500 + f, 300);
    for (let j = 0; j < 17; j++) pose.keypoints[3 * j + 2] = [0, 9, 16].includes(j) ? 0.5 : 0.1;
    return { ...pose, score: 0.2 };
  };
  const tracker = new PoseTracker();
  for (let f = 0; f < 6; f++) {
    assertEquals(ids(tracker.update([person(100 + f, 300), car(f)])), [1], `frame ${f}`);
  }
  // With the gate off it is tracked like anyone (the check above is the gate's doing).
  const open = new PoseTracker({ minKeypoints: 0 });
  assertEquals(ids(open.update([person(100, 300), car(0)])), [1, 2]);
});

Deno.test("a half box found beside the whole person gives way to it; the id stays", () => {
  // DETR-style detectors find a person as a whole box and as a half box at once. Here only
  // the upper half is found at first (the track starts on it), then both: the whole box,
  // whose pose is the better one, must continue the track, not be dropped as a part of it.
  const upper = (cx: number): Pose => {
    const pose = person(cx, 300);
    for (let j = 11; j < 17; j++) pose.keypoints[3 * j + 2] = 0.1;
    return { ...pose, box: { ...pose.box, y2: 300 + 20, score: 0.9 }, score: 0.6 };
  };
  const run = (tracker: PoseTracker) => {
    const out: TrackedPose[][] = [];
    for (let f = 0; f < 10; f++) {
      const cx = 200 + 2 * f;
      out.push(tracker.update(f < 3 ? [upper(cx)] : [upper(cx), person(cx, 300)]));
    }
    return out;
  };
  const out = run(new PoseTracker());
  for (let f = 3; f < 10; f++) {
    assertEquals(ids(out[f]), [1], `frame ${f}`);
    assertEquals(out[f][0].box.y2, 410, `frame ${f}: the whole box`);
  }
  // Without the duplicate rule, the track stays on the half box (the check above is its doing).
  const half = run(new PoseTracker({ duplicateOks: 1 }));
  assertEquals(half[9].map((p) => p.box.y2), [320]);
});

Deno.test("a weak duplicate of a confident detection never displaces it, whatever its pose score", () => {
  // ByteTrack's low-score box of the same person, with a pose scoring higher than the
  // confident one's: kept instead, it could not start the person's track.
  const weakTwin = (cx: number): Pose => ({ ...person(cx + 2, 300, 0.9, 1, 0.25), score: 0.95 });
  const tracker = new PoseTracker();
  for (let f = 0; f < 4; f++) {
    const confident = person(200 + f, 300);
    const out = tracker.update([weakTwin(200 + f), confident]);
    assertEquals(ids(out), [1], `frame ${f}`);
    assert(out[0].box === confident.box, `frame ${f}: the confident box`);
  }
});

Deno.test("a box around several people, its pose one of theirs, starts no track", () => {
  // A box 4 people wide around two people found on their own too; its pose is the first
  // one's (its keypoints span 80 × 195 px of 400 × 220: 18% of it). The two get ids, the
  // wide box none.
  const wide = (f: number): Pose => {
    const pose = person(700 + f, 300);
    for (let j = 0; j < 17; j++) pose.keypoints[3 * j + 1] += 1; // not quite the person's
    return { ...pose, box: { ...pose.box, x1: pose.box.x1 - 150, x2: pose.box.x2 + 150 } };
  };
  const tracker = new PoseTracker({ duplicateOks: 1 });
  for (let f = 0; f < 6; f++) {
    const out = tracker.update([person(700 + f, 300), person(840 + f, 300), wide(f)]);
    assertEquals(ids(out), [1, 2], `frame ${f}`);
    assertEquals(out.map((p) => p.box.x2 - p.box.x1), [100, 100], `frame ${f}: not the wide box`);
  }
});

Deno.test("a whole-body box whose pose found the head and shoulders only is still a person", () => {
  // Legs and arms unsure (a long coat, a dark room): 7 confident keypoints spanning 8% of
  // the box, and no other detection in it. Only a box holding others is refused.
  const upperOnly = (cx: number): Pose => {
    const pose = person(cx, 300);
    for (let j = 7; j < 17; j++) pose.keypoints[3 * j + 2] = 0.1;
    return pose;
  };
  const tracker = new PoseTracker();
  for (let f = 0; f < 6; f++) assertEquals(ids(tracker.update([upperOnly(300 + f)])), [1]);
});

Deno.test("a person too small for a pose starts no track, unless at the frame's edge", () => {
  // At scale 0.12 the figure's box is 12 × 26.4 px: 317 px², under 32² = 1024.
  const small = (cx: number, cy: number) => person(cx, cy, 0.9, 0.12);
  const frame = { width: 640, height: 480 };
  const inside = new PoseTracker();
  for (let f = 0; f < 5; f++) assertEquals(ids(inside.update([small(300, 200)], f, frame)), []);
  // The same box on any edge of the frame (or partly beyond it): someone coming into view,
  // tracked at once. 2 px inside the frame is inside.
  for (const [cx, cy] of [[6, 200], [-2, 200], [634, 200], [300, 13], [300, 467]]) {
    assertEquals(ids(new PoseTracker().update([small(cx, cy)], 0, frame)), [1], `at ${cx}, ${cy}`);
  }
  assertEquals(ids(new PoseTracker().update([small(8, 200)], 0, frame)), []);
  // Without the frame's size no edge is known: the size alone decides.
  assertEquals(ids(new PoseTracker().update([small(6, 200)])), []);
  // minBoxArea 0: any size.
  assertEquals(ids(new PoseTracker({ minBoxArea: 0 }).update([small(300, 200)], 0, frame)), [1]);
  // The bound is for new people only: someone walking away keeps their id down to any size.
  const away = new PoseTracker();
  for (let f = 0; f <= 22; f++) {
    const scale = 1 - 0.04 * f; // 1 → 0.12
    assertEquals(ids(away.update([person(300, 200, 0.9, scale)], f / 30, frame)), [1]);
  }
});

Deno.test("a pose with a NaN, infinite or empty box gets no id and moves no one else's", () => {
  // Three people while the camera pans 60 px a frame; from frame 2 on, one malformed pose a
  // frame besides them (which, taken into the camera's motion, had cost them their ids).
  const broken = (f: number): Pose => {
    const pose = person(900, 360);
    const boxes = [
      { x1: NaN, y1: NaN, x2: NaN, y2: NaN },
      { x1: 0, y1: 0, x2: Infinity, y2: 300 },
      { x1: 800, y1: 300, x2: 800, y2: 500 },
    ];
    if (f % 4 === 3) pose.keypoints[0] = NaN; // a confident nose at NaN, a fine box
    else pose.box = { ...boxes[f % 4 === 0 ? 0 : f % 4 - 1], score: 0.95 };
    return pose;
  };
  const tracker = new PoseTracker();
  for (let f = 0; f < 12; f++) {
    const people = [200, 380, 560].map((x) => person(x - 60 * f, 360));
    const out = tracker.update(f >= 2 ? [...people, broken(f)] : people);
    assertEquals(ids(out), [1, 2, 3], `frame ${f}`);
  }
});

Deno.test("the tracker keeps no reference to its input: a reused keypoint buffer is safe", () => {
  // A caller that writes each frame's keypoints into one buffer, as a pool would, and then
  // reuses it. Next, only the person's head is found: a part continues a track only where its
  // keypoints agree with the track's, which must be the person's, not the buffer's new ones.
  const tracker = new PoseTracker({ minHits: 1 });
  const buffer = new Float32Array(17 * 3);
  for (let f = 0; f < 3; f++) {
    const pose = person(300 + 5 * f, 360);
    buffer.set(pose.keypoints);
    const out = tracker.update([{ ...pose, keypoints: buffer }]);
    assertEquals(ids(out), [1], `frame ${f}`);
    buffer.fill(0); // the caller reuses the buffer
  }
  assertEquals(ids(tracker.update([head(315, 360)])), [1], "the head continues the track");
});

Deno.test("bad tracker options are refused", () => {
  assertThrows(() => new PoseTracker({ minSimilarity: 0 }), RangeError);
  assertThrows(() => new PoseTracker({ maxMissed: -1 }), RangeError);
  assertThrows(() => new PoseTracker({ fps: 0 }), RangeError);
  assertThrows(() => new PoseTracker({ minHits: 0 }), RangeError);
  assertThrows(() => new PoseTracker({ minKeypoints: -1 }), RangeError);
  assertThrows(() => new PoseTracker({ duplicateOks: 0 }), RangeError);
  assertThrows(() => new PoseTracker({ minBoxArea: -1 }), RangeError);
  assertThrows(() => new PoseTracker({ minBoxArea: NaN }), RangeError);
});
