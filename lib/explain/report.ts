/**
 * Explanations as data: an explained image (`PosePipeline.explain`) as the record of
 * `DIR/<image stem>.explain.json`, and PRTR's query × keypoint-class table over a run
 * (`DIR/queries.json`, the paper's Fig. 7). Positions and areas are in image pixels.
 *
 * `<stem>.explain.json`:
 * ```
 * {"image": path, "people": [{"bbox": [x, y, w, h], "score": s, "keypoints": [
 *   {"name", "x", "y", "score", "dependency": {"peak": [x, y], "area_px": n} | null,
 *    "query": q | null}, …]}, …]}
 * ```
 * `dependency`: for models with self-attention, the peak of the keypoint token's attention
 * row (a token centre) and the area of the tokens whose attention is at least δ × that peak
 * (tokens × stride² crop pixels, times the crop → image area scale), rounded to whole pixels.
 * `query`: for PRTR models, the 0-based query the Hungarian readout gave the keypoint.
 *
 * `queries.json`: `{"queries": Q, "classes": [names…, "background"], "counts": [[…] × Q]}`;
 * `counts[q][c]` = how many keypoints of class c the readout took from query q over the run,
 * the background column counting the times query q was left unassigned.
 */

import { type Affine, applyAffine } from "../geometry/affine.ts";
import type { ExplainedImage, ExplainedPerson } from "../pipeline.ts";
import { dependencyOf } from "./attention.ts";
import type { QueryReadout } from "./types.ts";

/** δ of the dependency areas by default: half the row's maximum. */
export const DEFAULT_DEPENDENCY_DELTA = 0.5;

/** A keypoint's dependency area in image pixels. */
export interface DependencyRecord {
  /** Centre of the token with the most attention, image pixels. */
  peak: [number, number];
  /** Area of the tokens with at least δ × the peak's attention, in image pixels. */
  area_px: number;
}

/** One keypoint of an explanation record. */
export interface ExplainKeypointRecord {
  /** The keypoint's name (the model's keypoint order). */
  name: string;
  /** Position x, image pixels. */
  x: number;
  /** Position y, image pixels. */
  y: number;
  /** The keypoint's score. */
  score: number;
  /** Its dependency area (models with self-attention), else null. */
  dependency: DependencyRecord | null;
  /** The 0-based query the Hungarian readout gave it (PRTR), else null. */
  query: number | null;
}

/** One person of an explanation record. */
export interface ExplainPersonRecord {
  /** [x, y, width, height], image pixels. */
  bbox: [number, number, number, number];
  /** The person's score, as in the results. */
  score: number;
  /** One per keypoint, in the model's order. */
  keypoints: ExplainKeypointRecord[];
}

/** The record of `<stem>.explain.json`. */
export interface ExplainRecord {
  /** The image's path as the inputs named it. */
  image: string;
  /** The people of the results, in the same order. */
  people: ExplainPersonRecord[];
}

/** Coordinates keep 3 decimals and scores 6, as COCO results do. */
const round = (value: number, decimals: number) => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

/** The area scale of an affine map: |det| of its linear part. */
export function areaScale(m: Affine): number {
  return Math.abs(m[0] * m[4] - m[1] * m[3]);
}

/**
 * Keypoint `j`'s dependency in image pixels, or null without attention.
 *
 * @example A keypoint's dependency area, from crop tokens to image pixels
 * ```ts
 * import assert from "node:assert/strict";
 * import { dependencyInImage, type ExplainedPerson } from "@posekit/posekit";
 *
 * // An 8 × 8 crop shown at twice its size in the image, from (10, 20).
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20); // crop (x, y) → (2x + 10, 2y + 20)
 * const person: ExplainedPerson = {
 *   pose: { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }, // one keypoint
 *   geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *   cropSize: { width: 8, height: 8 },
 *   crop: {
 *     // 2 × 2 tokens of 4 × 4 crop pixels; the keypoint, crop (5.5, 5.5), is in token 3.
 *     attention: {
 *       gridWidth: 2, gridHeight: 2, stride: 4, heads: 1, tokens: Int32Array.of(3),
 *       rows: Float32Array.of(0.125, 0.5, 0.25, 0.125), // token 3's row over tokens 0 to 3
 *     },
 *   },
 * };
 * // δ = 0.5: tokens 1 and 2 reach half the peak (token 1, centred at crop (5.5, 1.5)), so
 * // the area is 2 tokens × 16 crop px × 4 (the crop is scaled by 2 each way).
 * assert.deepEqual(dependencyInImage(person, 0, 0.5), { peak: [21, 23], area_px: 128 });
 * assert.equal(dependencyInImage({ ...person, crop: {} }, 0, 0.5), null); // no attention
 * ```
 */
export function dependencyInImage(
  person: ExplainedPerson,
  j: number,
  delta: number,
): DependencyRecord | null {
  const attention = person.crop.attention;
  if (!attention || j >= attention.tokens.length) return null;
  const dependency = dependencyOf(attention, j, delta);
  const cropToImage = person.geometry.cropToImage;
  const [x, y] = applyAffine(cropToImage, dependency.peak[0], dependency.peak[1]);
  return {
    peak: [round(x, 3), round(y, 3)],
    area_px: Math.round(dependency.areaCropPx * areaScale(cropToImage)),
  };
}

/**
 * The explanation record of one image (`keypointNames` in the model's keypoint order).
 *
 * @example The record of one person found by a PRTR model
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExplainedImage, explainRecord } from "@posekit/posekit";
 *
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const pose = { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }; // one keypoint
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20);
 * // PRTR's readout: query 1 of 2 gave the keypoint. No attention, so no dependency area.
 * const queryOfKeypoint = Int32Array.of(1);
 * const queries = { numQueries: 2, queryOfKeypoint, classProbabilities: new Float32Array(4) };
 * const explained: ExplainedImage = {
 *   poses: [pose],
 *   people: [{
 *     pose,
 *     geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *     cropSize: { width: 8, height: 8 },
 *     crop: { queries },
 *   }],
 *   notes: [],
 * };
 * const record = explainRecord("person.jpg", explained, ["nose"]); // JSON.stringify to write it
 * assert.equal(record.image, "person.jpg");
 * assert.deepEqual(record.people[0], {
 *   bbox: [10, 20, 16, 16], // x, y, width, height
 *   score: 0.9,
 *   // The float32 score 0.800000011920929 is rounded to 6 decimals.
 *   keypoints: [{ name: "nose", x: 21, y: 31, score: 0.8, dependency: null, query: 1 }],
 * });
 * ```
 */
export function explainRecord(
  image: string,
  explained: ExplainedImage,
  keypointNames: readonly string[],
  delta = DEFAULT_DEPENDENCY_DELTA,
): ExplainRecord {
  return {
    image,
    people: explained.people.map((person) => {
      const { box, keypoints, score } = person.pose;
      const queries = person.crop.queries?.queryOfKeypoint;
      const count = Math.floor(keypoints.length / 3);
      return {
        bbox: [
          round(box.x1, 3),
          round(box.y1, 3),
          round(box.x2 - box.x1, 3),
          round(box.y2 - box.y1, 3),
        ],
        score: round(score, 6),
        keypoints: Array.from({ length: count }, (_, j) => ({
          name: keypointNames[j] ?? `keypoint_${j}`,
          x: round(keypoints[3 * j], 3),
          y: round(keypoints[3 * j + 1], 3),
          score: round(keypoints[3 * j + 2], 6),
          dependency: dependencyInImage(person, j, delta),
          query: queries && j < queries.length ? queries[j] : null,
        })),
      };
    }),
  };
}

/** The record of `queries.json`. */
export interface QueryTableRecord {
  /** Q. */
  queries: number;
  /** The keypoint names, then "background". */
  classes: string[];
  /** Q rows of J + 1 counts. */
  counts: number[][];
}

/**
 * PRTR's query × keypoint-class table over a run (the paper's Fig. 7): how many keypoints of
 * each class the Hungarian readout took from each query, and how often each query was left
 * unassigned (the background column). Add each person's readout with `add`.
 *
 * @example Two people, three queries, two keypoint types
 * ```ts
 * import assert from "node:assert/strict";
 * import { type QueryReadout, QueryTable } from "@posekit/posekit";
 *
 * // The query of each keypoint type; the class probabilities do not enter the table.
 * const readout = (...queryOfKeypoint: number[]): QueryReadout => ({
 *   numQueries: 3,
 *   queryOfKeypoint: Int32Array.from(queryOfKeypoint),
 *   classProbabilities: new Float32Array(3 * 3),
 * });
 * const table = new QueryTable(3, ["nose", "left_eye"]);
 * table.add(readout(2, 0)); // the nose from query 2, the left eye from query 0; 1 unassigned
 * table.add(readout(2, 1)); // query 0 unassigned
 * assert.equal(table.people, 2);
 * assert.deepEqual(table.toRecord(), {
 *   queries: 3,
 *   classes: ["nose", "left_eye", "background"],
 *   counts: [[0, 1, 1], [0, 1, 1], [2, 0, 0]], // a row per query
 * });
 * assert.throws(() => table.add(readout(2))); // one keypoint type, not two
 * ```
 */
export class QueryTable {
  /** Q × (J + 1) counts, query-major. */
  readonly counts: Float64Array;
  /** People added. */
  people = 0;

  /** An empty table for `numQueries` queries and these keypoint names. */
  constructor(readonly numQueries: number, readonly keypointNames: readonly string[]) {
    this.counts = new Float64Array(numQueries * (keypointNames.length + 1));
  }

  /** Counts one person's readout. @throws Error when its query count or classes differ */
  add(readout: QueryReadout): void {
    const width = this.keypointNames.length + 1;
    if (
      readout.numQueries !== this.numQueries ||
      readout.queryOfKeypoint.length !== this.keypointNames.length
    ) {
      throw new Error(
        `query table: a readout of ${readout.numQueries} queries and ` +
          `${readout.queryOfKeypoint.length} keypoints does not fit a table of ` +
          `${this.numQueries} × ${this.keypointNames.length}`,
      );
    }
    const assigned = new Uint8Array(this.numQueries);
    readout.queryOfKeypoint.forEach((q, c) => {
      this.counts[q * width + c]++;
      assigned[q] = 1;
    });
    for (let q = 0; q < this.numQueries; q++) {
      if (!assigned[q]) this.counts[q * width + width - 1]++;
    }
    this.people++;
  }

  /** The `queries.json` record. */
  toRecord(): QueryTableRecord {
    const width = this.keypointNames.length + 1;
    return {
      queries: this.numQueries,
      classes: [...this.keypointNames, "background"],
      counts: Array.from(
        { length: this.numQueries },
        (_, q) => Array.from(this.counts.subarray(q * width, (q + 1) * width)),
      ),
    };
  }
}
