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

/** Keypoint `j`'s dependency in image pixels, or null without attention. */
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

/** The explanation record of one image (`keypointNames` in the model's keypoint order). */
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
