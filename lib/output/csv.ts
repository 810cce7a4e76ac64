/**
 * Results as CSV, one row per person, keypoints as columns: what spreadsheets, pandas and R
 * read without any JSON handling. Numbers are written as in the JSON results (already
 * rounded); a field with a comma, quote or line break is quoted (RFC 4180).
 */

import { COCO_KEYPOINT_NAMES } from "../coco/keypoints.ts";
import type { MergedResult } from "./merge.ts";

/** One CSV field, quoted when RFC 4180 asks for it. */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The CSV text (header, then a row per person, each line ending in "\n"). Columns:
 * `image_id, file_name, frame, track_id, score, bbox_x, bbox_y, bbox_w, bbox_h`, then
 * `<name>_x, <name>_y, <name>_score` for each keypoint (COCO's names for 17 keypoints, else
 * `kp<i>`). `frame` and `track_id` are empty for still images.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatResultsCsv } from "./csv.ts";
 *
 * const csv = formatResultsCsv([{
 *   image_id: 1, category_id: 1, file_name: "a,b.jpg", score: 0.9, bbox: [1, 2, 3, 4],
 *   keypoints: [10, 20, 0.5],
 * }]);
 * assert.equal(csv.split("\n")[1], '1,"a,b.jpg",,,0.9,1,2,3,4,10,20,0.5');
 * ```
 */
export function formatResultsCsv(results: readonly MergedResult[]): string {
  // A loop, not Math.max(...spread): a long video's results overflow the call stack.
  const count = results.reduce((most, r) => Math.max(most, r.keypoints.length / 3), 0);
  const names = count === COCO_KEYPOINT_NAMES.length
    ? COCO_KEYPOINT_NAMES
    : Array.from({ length: count }, (_, i) => `kp${i}`);
  const header = [
    "image_id",
    "file_name",
    "frame",
    "track_id",
    "score",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    ...names.flatMap((name) => [`${name}_x`, `${name}_y`, `${name}_score`]),
  ];
  const rows = results.map((r) =>
    [r.image_id, r.file_name, r.frame, r.track_id, r.score, ...r.bbox, ...r.keypoints]
      .map(csvField).join(",")
  );
  return [header.join(","), ...rows].map((line) => line + "\n").join("");
}
