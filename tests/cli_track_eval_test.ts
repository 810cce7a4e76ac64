/**
 * `track-eval` as a user runs it: a hand-written video ground truth (one person over 6
 * frames, a crowd region) and results in which the person's id changes once, as JSONL and
 * as a COCO results array; the numbers are those of tests/track_metrics_test.ts.
 */

import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";
import { describeRun, runDeno, withTempDir } from "./support/cli.ts";

const TRACK_EVAL = join(import.meta.dirname!, "..", "cli", "track_eval.ts");
const run = (args: string[]) => runDeno(["--allow-read", TRACK_EVAL, ...args]);

const GT = {
  images: Array.from({ length: 6 }, (_, t) => ({ id: t, file_name: `frame${t}.jpg` })),
  annotations: [
    ...Array.from({ length: 6 }, (_, t) => ({
      id: t + 1,
      image_id: t,
      track_id: 5,
      bbox: [10, 10, 100, 200],
      category_id: 1,
    })),
    // A crowd in the corner of frame 0: a person found there is not counted.
    { id: 99, image_id: 0, bbox: [400, 0, 200, 200], iscrowd: 1, category_id: 1 },
  ],
};

function person(trackId: number, bbox: number[]) {
  return { track_id: trackId, bbox, score: 0.9, keypoints: [] as number[] };
}

const RECORDS = Array.from({ length: 6 }, (_, t) => ({
  file: "clip.mp4",
  image_id: t,
  frame: t,
  time: t / 25,
  people: [
    person(t < 4 ? 1 : 2, [10, 10, 100, 200]),
    ...(t === 0 ? [person(3, [450, 20, 50, 100])] : []),
  ],
}));

Deno.test("track-eval: JSONL and COCO results, table and --json", async () => {
  await withTempDir(async (dir) => {
    const gt = join(dir, "gt.json"), jsonl = join(dir, "run.jsonl"), json = join(dir, "run.json");
    await Deno.writeTextFile(gt, JSON.stringify(GT));
    await Deno.writeTextFile(jsonl, RECORDS.map((r) => JSON.stringify(r) + "\n").join(""));
    await Deno.writeTextFile(
      json,
      JSON.stringify(RECORDS.flatMap((r) => r.people.map((p) => ({ image_id: r.frame, ...p })))),
    );
    const table = await run(["--gt", gt, "--results", jsonl]);
    assertEquals(table.code, 0, describeRun(table));
    assert(/IDF1/.test(table.stdout) && /66\.7/.test(table.stdout), describeRun(table));
    // The person's row: track 1, 6 frames, 4 under it, 2 under another id, none unmatched.
    assert(/^\s+5\s+1\s+6\s+4\s+2\s+0\s+-$/m.test(table.stdout), describeRun(table));
    for (const results of [jsonl, json]) {
      const out = await run(["--gt", gt, "--results", results, "--json"]);
      assertEquals(out.code, 0, describeRun(out));
      const m = JSON.parse(out.stdout);
      assertEquals([m.frames, m.people, m.trackIds, m.idsw, m.fp], [6, 1, 2, 1, 0]);
      assertEquals(m.idswByPerson, { 5: 1 });
      assertEquals(m.byPerson, [{
        id: 5,
        frames: 6,
        trackId: 1,
        idtp: 4,
        otherId: 2,
        notFound: 0,
        trackIds: [1, 2],
        nearestUnmatched: null,
      }]);
      assertAlmostEquals(m.idf1, 2 / 3, 1e-12);
      assertAlmostEquals(m.mota, 5 / 6, 1e-12);
      assertAlmostEquals(m.hota, Math.sqrt(5 / 9), 1e-12);
    }
  });
});

Deno.test("track-eval: mistakes are one line and exit 1 or 2", async () => {
  await withTempDir(async (dir) => {
    const gt = join(dir, "gt.json"), jsonl = join(dir, "run.jsonl");
    await Deno.writeTextFile(gt, JSON.stringify(GT));
    const untracked = RECORDS.map((r) => ({
      ...r,
      people: [{ ...r.people[0], track_id: undefined }],
    }));
    await Deno.writeTextFile(jsonl, untracked.map((r) => JSON.stringify(r) + "\n").join(""));
    const noResults = await run(["--gt", gt]);
    assertEquals(noResults.code, 2, describeRun(noResults));
    const noTrack = await run(["--gt", gt, "--results", jsonl]);
    assertEquals(noTrack.code, 1, describeRun(noTrack));
    assert(/no track_id/.test(noTrack.stderr), describeRun(noTrack));
    const two = RECORDS.flatMap((r) => [r, { ...r, file: "other.mp4" }]);
    await Deno.writeTextFile(jsonl, two.map((r) => JSON.stringify(r) + "\n").join(""));
    const ambiguous = await run(["--gt", gt, "--results", jsonl]);
    assertEquals(ambiguous.code, 2, describeRun(ambiguous));
    const chosen = await run(["--gt", gt, "--results", jsonl, "--video", "clip.mp4", "--json"]);
    assertEquals(chosen.code, 0, describeRun(chosen));
    assertEquals(JSON.parse(chosen.stdout).idsw, 1);
  });
});

Deno.test("track-eval: a bad entry is named by file, frame and entry, in a short line", async () => {
  await withTempDir(async (dir) => {
    const gt = join(dir, "gt.json"), json = join(dir, "run.json"), jsonl = join(dir, "run.jsonl");
    await Deno.writeTextFile(gt, JSON.stringify(GT));
    const failure = async (results: string, expected: RegExp, gtPath = gt) => {
      const out = await run(["--gt", gtPath, "--results", results]);
      assertEquals(out.code, 1, describeRun(out));
      assert(expected.test(out.stderr), describeRun(out));
      assert(out.stderr.length < 400, describeRun(out));
    };
    // An id twice in frame 5 (entries 6 and 7): the file and the frame, not a position.
    const entries = RECORDS.flatMap((r) => r.people.map((p) => ({ image_id: r.frame, ...p })));
    entries.splice(7, 0, { ...entries[6] });
    await Deno.writeTextFile(json, JSON.stringify(entries));
    await failure(json, /run\.json: \[7\]: track_id 2 appears twice in frame 5/);
    // JSONL with frame 4 written twice.
    const twice = [...RECORDS, RECORDS[4]];
    await Deno.writeTextFile(jsonl, twice.map((r) => JSON.stringify(r) + "\n").join(""));
    await failure(jsonl, /run\.jsonl: frame 4 people\[0\]: track_id 2 appears twice in frame 4/);
    // A box of negative width in the ground truth; a bbox of 100 000 numbers, shown cut short.
    const negative = structuredClone(GT);
    negative.annotations[2].bbox = [10, 10, -100, 200];
    const bad = join(dir, "bad_gt.json");
    await Deno.writeTextFile(bad, JSON.stringify(negative));
    await failure(jsonl, /bad_gt\.json: annotations\[2\]\.bbox must have a finite width/, bad);
    negative.annotations[2].bbox = Array.from({ length: 100_000 }, () => 1);
    await Deno.writeTextFile(bad, JSON.stringify(negative));
    await failure(jsonl, /bad_gt\.json: annotations\[2\]\.bbox must be \[x, y, width/, bad);
  });
});
