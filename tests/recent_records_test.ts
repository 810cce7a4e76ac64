/** A stream's records stay within their budget of people, the newest kept whole. */

import { assertEquals, assertThrows } from "./support/assert.ts";
import type { JsonlPerson, JsonlRecord } from "../lib/output/jsonl.ts";
import { RecentRecords } from "../lib/output/recent_records.ts";

const person: JsonlPerson = { bbox: [0, 0, 1, 1], score: 1, keypoints: [] };
const frame = (index: number, people: number): JsonlRecord => ({
  file: "camera",
  image_id: index,
  frame: index,
  time: index / 30,
  people: Array.from({ length: people }, () => person),
});

Deno.test("the oldest frames go once the people held pass the budget", () => {
  const recent = new RecentRecords(5);
  const held = recent.records;
  // People per frame: 2, 0 (counts as 1), 2 → 5, within the budget.
  [2, 0, 2].forEach((people, i) => recent.push(frame(i, people)));
  assertEquals([recent.records.map((r) => r.frame), recent.dropped], [[0, 1, 2], 0]);
  // 3 more: 8 held, the first two frames (3) go.
  recent.push(frame(3, 3));
  assertEquals([recent.records.map((r) => r.frame), recent.dropped], [[2, 3], 2]);
  // The same array throughout: a page's window.posekit.jsonl keeps pointing at it.
  assertEquals(recent.records === held, true);
});

Deno.test("a frame larger than the whole budget is still held, alone", () => {
  const recent = new RecentRecords(2);
  recent.push(frame(0, 1));
  recent.push(frame(1, 7));
  assertEquals([recent.records.map((r) => r.frame), recent.dropped], [[1], 1]);
  recent.push(frame(2, 1));
  assertEquals([recent.records.map((r) => r.frame), recent.dropped], [[2], 2]);
});

Deno.test("a long stream keeps exactly the newest frames that fit", () => {
  const recent = new RecentRecords(1000);
  for (let i = 0; i < 100_000; i++) recent.push(frame(i, i % 4));
  // Frames of 0, 1, 2, 3 people count 1, 1, 2, 3: 7 per four frames. Back from the last
  // frame (3 people): 142 fours are 568 frames and 994 people, the next three (3, 2, 1 people)
  // make 1000 in 571 frames, and the one before (0 people, counting 1) would make 1001.
  assertEquals(recent.records.length, 571);
  assertEquals(recent.records[0].frame, 100_000 - 571);
  assertEquals(recent.dropped, 100_000 - 571);
});

Deno.test("a budget that is no whole number ≥ 1 is refused", () => {
  for (const bad of [0, -1, 1.5, NaN]) assertThrows(() => new RecentRecords(bad), RangeError);
});
