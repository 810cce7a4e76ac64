/**
 * Codec of DETR-family exports with the post-processor in the graph (RT-DETR / D-FINE /
 * DEIM / DEIMv2: labels, boxes in original pixels, scores), with hand values.
 */

import { decodePostprocessedDetr } from "../lib/codecs/detr_postprocessed.ts";
import { assertEquals, assertThrows } from "./support/assert.ts";

/** One image (640×425), five queries. */
function outputs() {
  return {
    // Query 0 person 0.5; 1 a dog (label 16) 0.9; 2 person 0.75 reaching outside the image;
    // 3 person 0.25 (below 0.3); 4 person 0.5, entirely left of the image.
    labels: { data: Float32Array.of(0, 16, 0, 0, 0), dims: [1, 5] },
    boxes: {
      data: Float32Array.of(
        ...[10, 20, 110, 220],
        ...[0, 0, 50, 50],
        ...[-12, 300, 700, 500],
        ...[5, 5, 15, 15],
        ...[-40, 10, -5, 60],
      ),
      dims: [1, 5, 4],
    },
    scores: { data: Float32Array.of(0.5, 0.9, 0.75, 0.25, 0.5), dims: [1, 5] },
  };
}

const OPTIONS = { personLabel: 0, scoreThreshold: 0.3, imageWidth: 640, imageHeight: 425 };

Deno.test("Post-processed DETR: person boxes above the threshold, clipped, best first", () => {
  const { labels, boxes, scores } = outputs();
  const people = decodePostprocessedDetr(labels, boxes, scores, OPTIONS);
  assertEquals(people, [
    // Query 2, clipped: x1 −12 → 0, x2 700 → 640, y2 500 → 425.
    { x1: 0, y1: 300, x2: 640, y2: 425, score: 0.75 },
    { x1: 10, y1: 20, x2: 110, y2: 220, score: 0.5 },
    // The dog (0.9) is not a person, query 3 scores 0.25 < 0.3, query 4 clips to nothing.
  ]);
  // Another person label picks the dog.
  const dogs = decodePostprocessedDetr(labels, boxes, scores, { ...OPTIONS, personLabel: 16 });
  assertEquals(dogs, [{ x1: 0, y1: 0, x2: 50, y2: 50, score: Math.fround(0.9) }]);
  // The threshold is inclusive: at 0.25 query 3 is kept, last.
  const low = decodePostprocessedDetr(labels, boxes, scores, { ...OPTIONS, scoreThreshold: 0.25 });
  assertEquals(low.map((b) => b.score), [0.75, 0.5, 0.25]);
});

Deno.test("Post-processed DETR: batch item 1 of two images", () => {
  const labels = { data: Float32Array.of(0, 0, 0, 0), dims: [2, 2] };
  const boxes = {
    data: Float32Array.of(0, 0, 1, 1, 0, 0, 2, 2, 0, 0, 3, 3, 0, 0, 4, 4),
    dims: [2, 2, 4],
  };
  const scores = { data: Float32Array.of(0.5, 0.5, 0.5, 0.75), dims: [2, 2] };
  const people = decodePostprocessedDetr(labels, boxes, scores, { ...OPTIONS, batchIndex: 1 });
  assertEquals(people.map((b) => b.x2), [4, 3]);
  assertThrows(
    () => decodePostprocessedDetr(labels, boxes, scores, { ...OPTIONS, batchIndex: 2 }),
    Error,
    "batch item 2",
  );
});

Deno.test("Post-processed DETR: wrong dims are errors naming the output", () => {
  const { labels, boxes, scores } = outputs();
  assertThrows(
    () => decodePostprocessedDetr(labels, { ...boxes, dims: [1, 5, 5] }, scores, OPTIONS),
    Error,
    'DETR output "boxes" must be [1, 5, 4] (as "scores" [1, 5]), got [1, 5, 5]',
  );
  assertThrows(
    () => decodePostprocessedDetr({ ...labels, dims: [1, 4] }, boxes, scores, OPTIONS),
    Error,
    'output "labels" must be [1, 5]',
  );
  assertThrows(
    () => decodePostprocessedDetr(labels, boxes, { ...scores, dims: [5] }, OPTIONS),
    Error,
    'output "scores" must be [N, Q], got [5]',
  );
  assertThrows(
    () =>
      decodePostprocessedDetr(labels, { data: new Float32Array(8), dims: [1, 5, 4] }, scores, {
        ...OPTIONS,
        names: { boxes: "dets" },
      }),
    Error,
    'output "dets" [1, 5, 4] has only 8 values',
  );
  assertThrows(
    () => decodePostprocessedDetr(labels, boxes, scores, { ...OPTIONS, imageWidth: 0 }),
    Error,
    "no pixels",
  );
});
