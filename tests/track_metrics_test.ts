/**
 * Tracking metrics on small hand-made sequences whose values are worked out by hand from the
 * definitions (comments show the arithmetic): perfect tracking, an id change of one person
 * (1 switch, IDF1 = 2/3), two people swapping ids, a half-missed person, a false track, a
 * localisation error that only some HOTA thresholds accept, ignore regions, and where each
 * person's frames went (their id, another id, no box). IDF1 is also checked against its
 * definition on random sequences, every mapping of ids tried. Ids beyond 32 bits stay
 * distinct, and 70 000 ids fit (no id × id matrix).
 */

import {
  type EvalFrame,
  HOTA_ALPHAS,
  maximumAssignment,
  type SimilarityFrame,
  trackingMetrics,
} from "../lib/track/metrics.ts";
import { clearMetrics, hotaMetrics, identityMetrics } from "../lib/track/metrics.ts";
import { seededRandom } from "../lib/math/random.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";

/** A 100 × 200 box with its left edge at x. */
const box = (x: number): number[] => [x, 0, x + 100, 200];

/** A frame from [id, x] pairs of ground truth and of results. */
function frame(gt: [number, number][], results: [number, number][], ignore?: number[]): EvalFrame {
  return {
    gt: { ids: gt.map(([id]) => id), boxes: gt.flatMap(([, x]) => box(x)) },
    results: { ids: results.map(([id]) => id), boxes: results.flatMap(([, x]) => box(x)) },
    ignore,
  };
}

const close = (actual: number, expected: number, what: string) =>
  assertAlmostEquals(actual, expected, 1e-12, what);

Deno.test("perfect tracking: MOTA, IDF1, HOTA all 1, no switch", () => {
  const frames = Array.from(
    { length: 5 },
    (_, t) => frame([[7, 10 * t], [9, 300]], [[1, 10 * t], [2, 300]]),
  );
  const m = trackingMetrics(frames);
  close(m.clear.mota, 1, "MOTA");
  close(m.clear.motp, 1, "MOTP");
  assertEquals([m.clear.tp, m.clear.fn, m.clear.fp, m.clear.idsw, m.clear.frag], [10, 0, 0, 0, 0]);
  close(m.identity.idf1, 1, "IDF1");
  close(m.hota.hota, 1, "HOTA");
  close(m.hota.detA, 1, "DetA");
  close(m.hota.assA, 1, "AssA");
  assertEquals([m.gtIds, m.trackerIds, m.clear.mostlyTracked, m.clear.mostlyLost], [2, 2, 2, 0]);
});

Deno.test("one person's id changes once: 1 switch, IDF1 = 2/3, MOTA = 5/6, HOTA = √(5/9)", () => {
  // 6 frames; tracker id 1 on frames 0–3, id 2 on frames 4–5.
  const frames = Array.from({ length: 6 }, (_, t) => frame([[1, 0]], [[t < 4 ? 1 : 2, 0]]));
  const m = trackingMetrics(frames);
  assertEquals(m.clear.idsw, 1);
  assertEquals(m.clear.idswByGt.get(1), 1);
  // MOTA = 1 − (FN + FP + IDSW) / GT = 1 − 1/6.
  close(m.clear.mota, 5 / 6, "MOTA");
  // The ground truth keeps tracker id 1 (4 frames): IDTP 4, IDFN 2, IDFP 2 → 8 / 12.
  assertEquals([m.identity.idtp, m.identity.idfn, m.identity.idfp], [4, 2, 2]);
  close(m.identity.idf1, 2 / 3, "IDF1");
  close(m.identity.idp, 2 / 3, "IDP");
  close(m.identity.idr, 2 / 3, "IDR");
  // Every frame is a TP (DetA 1). The 4 TPs on id 1 have TPA 4, FNA 2, FPA 0 → 4/6; the two
  // on id 2 have TPA 2, FNA 4 → 2/6. AssA = (4 · 4/6 + 2 · 2/6) / 6 = 5/9; HOTA = √(5/9).
  close(m.hota.detA, 1, "DetA");
  close(m.hota.assA, 5 / 9, "AssA");
  close(m.hota.hota, Math.sqrt(5 / 9), "HOTA");
  // Association precision is 1 (each tracker id stays on one person); recall is the 5/9 above
  // with FNA only: (4 · 4/6 + 2 · 2/6) / 6.
  close(m.hota.assPr, 1, "AssPr");
  close(m.hota.assRe, 5 / 9, "AssRe");
});

Deno.test("two people swap ids halfway: 2 switches, IDF1 = 1/2, HOTA = √(1/3)", () => {
  // A at x = 0, B at x = 300, 6 frames; tracker ids swap from frame 3.
  const frames = Array.from(
    { length: 6 },
    (_, t) => frame([[1, 0], [2, 300]], t < 3 ? [[1, 0], [2, 300]] : [[2, 0], [1, 300]]),
  );
  const m = trackingMetrics(frames);
  assertEquals(m.clear.idsw, 2);
  assertEquals([...m.clear.idswByGt.entries()], [[1, 1], [2, 1]]);
  close(m.clear.mota, 1 - 2 / 12, "MOTA");
  // Each person shares 3 frames with each tracker id: IDTP 6 of 12.
  close(m.identity.idf1, 1 / 2, "IDF1");
  // Each TP: TPA 3, FNA 3, FPA 3 → 1/3. HOTA = √(1 · 1/3).
  close(m.hota.assA, 1 / 3, "AssA");
  close(m.hota.hota, Math.sqrt(1 / 3), "HOTA");
});

Deno.test("a person found in half the frames: DetA 1/2, AssA 1/2, HOTA 1/2, IDF1 = 2/3", () => {
  // HOTA paper, §5: finding half of a trajectory's detections with one id scores 0.5 for
  // detection and association alike.
  const frames = Array.from({ length: 10 }, (_, t) => frame([[1, 0]], t < 5 ? [[4, 0]] : []));
  const m = trackingMetrics(frames);
  close(m.hota.detA, 0.5, "DetA");
  close(m.hota.assA, 0.5, "AssA");
  close(m.hota.hota, 0.5, "HOTA");
  close(m.clear.mota, 0.5, "MOTA");
  // IDTP 5 of 10 GT and 5 tracker detections: 2 · 5 / 15.
  close(m.identity.idf1, 2 / 3, "IDF1");
  assertEquals([m.clear.idsw, m.clear.mostlyTracked, m.clear.mostlyLost], [0, 0, 0]);
});

Deno.test("a false track: MOTA 0, IDF1 2/3, HOTA √(1/2)", () => {
  const frames = Array.from({ length: 4 }, () => frame([[1, 0]], [[1, 0], [2, 500]]));
  const m = trackingMetrics(frames);
  assertEquals([m.clear.tp, m.clear.fp], [4, 4]);
  close(m.clear.mota, 0, "MOTA");
  close(m.identity.idf1, 2 / 3, "IDF1");
  // DetA = 4 / (4 + 4); AssA 1.
  close(m.hota.hota, Math.sqrt(0.5), "HOTA");
});

Deno.test("localisation: IoU 0.62 counts for α ≤ 0.60 only, HOTA = 12/19; MOTA still 1", () => {
  const frames: EvalFrame[] = Array.from({ length: 4 }, () => ({
    gt: { ids: [1], boxes: [0, 0, 100, 100] },
    results: { ids: [1], boxes: [0, 0, 100, 62] },
  }));
  const m = trackingMetrics(frames);
  close(m.clear.mota, 1, "MOTA");
  close(m.clear.motp, 0.62, "MOTP");
  close(m.identity.idf1, 1, "IDF1");
  assertEquals(HOTA_ALPHAS.length, 19);
  assertEquals(Array.from(m.hota.hotaByAlpha), Array.from(HOTA_ALPHAS, (a) => a <= 0.62 ? 1 : 0));
  close(m.hota.hota, 12 / 19, "HOTA");
  // LocA: 0.62 where matched; TrackEval counts 1 at thresholds with no match at all.
  close(m.hota.locA, (12 * 0.62 + 7) / 19, "LocA");
});

Deno.test("per person: frames under their id, under another id, matched by no box", () => {
  // Person 1 at x 0: tracker id 1 on frames 0–3, id 2 on frames 4–5. Person 2 at x 500:
  // id 3 there on frames 0–2, then 60 px off on frames 3–4 (IoU 40·200 / (2·20000 − 8000) =
  // 1/4), nothing on frame 5. Person 3 on frame 5 only, found by no one.
  const frames = Array.from({ length: 6 }, (_, t) =>
    frame(
      [[1, 0], [2, 500], ...(t === 5 ? [[3, 1000] as [number, number]] : [])],
      [[t < 4 ? 1 : 2, 0], ...(t < 5 ? [[3, t < 3 ? 500 : 560] as [number, number]] : [])],
    ));
  const m = trackingMetrics(frames);
  assertEquals(m.identity.byPerson, [
    // Worst first: 3 frames lost (a box 1/4 off twice, none once: median of 0, ¼, ¼).
    {
      id: 2,
      frames: 6,
      trackId: 3,
      idtp: 3,
      otherId: 0,
      notFound: 3,
      trackIds: [3],
      nearestUnmatched: 0.25,
    },
    { id: 1, frames: 6, trackId: 1, idtp: 4, otherId: 2, notFound: 0, trackIds: [1, 2] },
    {
      id: 3,
      frames: 1,
      trackId: undefined,
      idtp: 0,
      otherId: 0,
      notFound: 1,
      trackIds: [],
      nearestUnmatched: 0,
    },
  ]);
  // The three ways add up to IDF1's misses: IDFN = 3 + 2 + 1.
  assertEquals([m.identity.idtp, m.identity.idfn], [7, 6]);
});

Deno.test("CLEAR keeps a continuing match over a better new one: no switch", () => {
  // Frame 1: tracker 2 overlaps the person better (IoU 1) than tracker 1 (IoU 0.6), but 1
  // was matched last frame and still passes the 0.5 threshold, so it keeps the person.
  const s = (values: number[][]): SimilarityFrame => ({
    gtIds: Int32Array.of(1),
    trackerIds: Int32Array.of(1, 2),
    similarity: Float64Array.from(values.flat()),
  });
  const frames = [s([[1, 0]]), s([[0.6, 1]]), s([[0.4, 1]])];
  const clear = clearMetrics(frames);
  // Frame 2: tracker 1 falls below 0.5, so the person goes to tracker 2: one switch.
  assertEquals([clear.tp, clear.fp, clear.idsw], [3, 3, 1]);
  close(clear.motp, (1 + 0.6 + 1) / 3, "MOTP");
  assertEquals(identityMetrics(frames).idtp, 2);
  close(hotaMetrics([]).hota, 0, "no frames");
});

Deno.test("ignore regions drop unmatched results inside them, never matched ones", () => {
  // A result inside the ignore box is dropped; one on the annotated person is kept even
  // though it lies in the ignore box too.
  const ignore = [400, 0, 700, 300];
  const frames = Array.from({ length: 3 }, () => frame([[1, 450]], [[1, 450], [2, 560]], ignore));
  const m = trackingMetrics(frames);
  assertEquals([m.trackerIds, m.clear.fp], [1, 0]);
  close(m.identity.idf1, 1, "IDF1");
  // Without the region the second result is a false positive.
  assertEquals(trackingMetrics(frames.map((f) => ({ ...f, ignore: undefined }))).clear.fp, 3);
});

Deno.test("bad frames are refused; maximumAssignment handles any shape", () => {
  assertThrows(() => trackingMetrics([frame([[1, 0], [1, 50]], [])]), RangeError);
  assertThrows(
    () => trackingMetrics([{ gt: { ids: [1], boxes: [0, 0] }, results: { ids: [], boxes: [] } }]),
    RangeError,
  );
  const tall = maximumAssignment(Float64Array.of(1, 5, 3), 3, 1);
  assertEquals([Array.from(tall.rows), Array.from(tall.cols)], [[1], [0]]);
});

Deno.test("ids beyond 32 bits stay distinct people and tracks", () => {
  // Person 1 on frames 0–1 and person 2³² + 1 on frames 2–3, each tracked perfectly; as
  // 32-bit integers both would be id 1 and the tracker's change of id a switch.
  const big = 2 ** 32 + 1;
  const m = trackingMetrics([
    frame([[1, 0]], [[7, 0]]),
    frame([[1, 0]], [[7, 0]]),
    frame([[big, 0]], [[big + 6, 0]]),
    frame([[big, 0]], [[big + 6, 0]]),
  ]);
  assertEquals([m.gtIds, m.trackerIds, m.clear.idsw], [2, 2, 0]);
  close(m.identity.idf1, 1, "IDF1");
  close(m.hota.hota, 1, "HOTA");
  close(m.clear.mota, 1, "MOTA");
  assertEquals(m.identity.byPerson.map((p) => [p.id, p.trackId]), [[1, 7], [big, big + 6]]);
});

Deno.test("a long video of many people: memory grows with the people, not their square", () => {
  // 70 000 people, ten a frame, each on one frame only and found there: a dense id × id
  // matrix (the identity matching's, HOTA's) would take 39 GB, more than a machine here has.
  const perFrame = 10, people = 70_000;
  const frames = Array.from({ length: people / perFrame }, (_, t): EvalFrame => {
    const ids = Array.from({ length: perFrame }, (_, k) => t * perFrame + k);
    const boxes = ids.flatMap((_, k) => box(200 * k));
    return { gt: { ids, boxes }, results: { ids: ids.map((id) => id + 1), boxes } };
  });
  const m = trackingMetrics(frames);
  assertEquals([m.gtIds, m.trackerIds, m.clear.tp, m.clear.idsw], [people, people, people, 0]);
  close(m.identity.idf1, 1, "IDF1");
  close(m.hota.hota, 1, "HOTA");
});

/**
 * IDF1 from its definition (Ristani et al. 2016), by trying every one-to-one mapping of
 * ground-truth ids to tracker ids (ids left unmapped allowed): IDTP is the most frames where
 * a person and the tracker id mapped to them coincide (similarity ≥ 0.5).
 */
function bruteForceIdtp(frames: readonly SimilarityFrame[]): number {
  const gtIds = [...new Set(frames.flatMap((f) => [...f.gtIds]))];
  const trackerIds = [...new Set(frames.flatMap((f) => [...f.trackerIds]))];
  const together = (g: number, r: number) =>
    frames.reduce((sum, f) => {
      const i = f.gtIds.indexOf(g), j = f.trackerIds.indexOf(r);
      return sum + (i >= 0 && j >= 0 && f.similarity[i * f.trackerIds.length + j] >= 0.5 ? 1 : 0);
    }, 0);
  const best = (k: number, used: Set<number>): number => {
    if (k === gtIds.length) return 0;
    let most = best(k + 1, used); // gtIds[k] mapped to no tracker id
    for (const r of trackerIds) {
      if (used.has(r)) continue;
      used.add(r);
      most = Math.max(most, together(gtIds[k], r) + best(k + 1, used));
      used.delete(r);
    }
    return most;
  };
  return best(0, new Set());
}

Deno.test("IDF1 equals its definition, every id mapping tried, on 300 random sequences", () => {
  const random = seededRandom(18);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
  for (let c = 0; c < 300; c++) {
    // Up to 4 people and 5 tracker ids over 2–7 frames, each present or not on each frame,
    // similarities on both sides of the 0.5 threshold.
    const people = [1, 2, 3, 4].slice(0, 1 + Math.floor(random() * 4));
    const tracks = [11, 12, 13, 14, 15].slice(0, 1 + Math.floor(random() * 5));
    const frames: SimilarityFrame[] = Array.from({ length: 2 + Math.floor(random() * 6) }, () => {
      const gtIds = Int32Array.from(people.filter(() => random() < 0.75));
      const trackerIds = Int32Array.from(tracks.filter(() => random() < 0.6));
      const similarity = Float64Array.from(
        { length: gtIds.length * trackerIds.length },
        () => pick([0, 0, 0.2, 0.49, 0.5, 0.7, 1]),
      );
      return { gtIds, trackerIds, similarity };
    });
    const got = identityMetrics(frames);
    const idtp = bruteForceIdtp(frames);
    const gtCount = frames.reduce((n, f) => n + f.gtIds.length, 0);
    const trackerCount = frames.reduce((n, f) => n + f.trackerIds.length, 0);
    assertEquals(got.idtp, idtp, `case ${c}`);
    // Each person's frames split three ways; their own-id frames add up to IDTP.
    assertEquals(got.byPerson.reduce((n, p) => n + p.idtp, 0), idtp, `case ${c} by person`);
    for (const p of got.byPerson) {
      assertEquals(p.idtp + p.otherId + p.notFound, p.frames, `case ${c} person ${p.id}`);
    }
    assertEquals([got.idfn, got.idfp], [gtCount - idtp, trackerCount - idtp], `case ${c}`);
    if (gtCount + trackerCount > 0) {
      close(got.idf1, (2 * idtp) / (gtCount + trackerCount), `case ${c} IDF1`);
    }
  }
});
