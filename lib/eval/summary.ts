/** Text forms of keypoint evaluation results: pycocotools' summary, a compact table. */

import {
  type KeypointBreakdown,
  type KeypointStats,
  STAT_NAMES,
  statsToArray,
} from "./cocoeval.ts";

/**
 * Python's `'{:.3f}'.format(x)`: correctly rounded, exact ties (x = odd/16, e.g. 0.0625) to
 * even. JavaScript's toFixed rounds those ties up, so they are handled here.
 */
export function formatFixed3(x: number): string {
  const sixteenths = x * 16; // exact for doubles
  if (Number.isInteger(sixteenths) && sixteenths % 2 !== 0) {
    const thousandths = Math.abs(x) * 1000; // n + 0.5, exact
    let n = Math.floor(thousandths);
    if (n % 2 === 1) n++;
    const sign = x < 0 && n !== 0 ? "-" : "";
    const digits = String(n).padStart(4, "0");
    return `${sign}${digits.slice(0, -3)}.${digits.slice(-3)}`;
  }
  return x.toFixed(3);
}

/** One line per stat: [title, type, IoU, area, maxDets], as pycocotools' _summarizeKps. */
const SUMMARY_LINES: readonly [string, string, string, string][] = [
  ["Average Precision", "(AP)", "0.50:0.95", "all"],
  ["Average Precision", "(AP)", "0.50", "all"],
  ["Average Precision", "(AP)", "0.75", "all"],
  ["Average Precision", "(AP)", "0.50:0.95", "medium"],
  ["Average Precision", "(AP)", "0.50:0.95", "large"],
  ["Average Recall", "(AR)", "0.50:0.95", "all"],
  ["Average Recall", "(AR)", "0.50", "all"],
  ["Average Recall", "(AR)", "0.75", "all"],
  ["Average Recall", "(AR)", "0.50:0.95", "medium"],
  ["Average Recall", "(AR)", "0.50:0.95", "large"],
];

/**
 * pycocotools' ten summary lines for keypoints, character for character (its format string
 * `' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'`), joined by newlines,
 * without a trailing newline.
 *
 * @example pycocotools' lines, ties rounded to even
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSummary, type KeypointStats } from "@posekit/posekit";
 *
 * const stats: KeypointStats = {
 *   AP: 0.0625, AP50: 1, AP75: 0.5, APm: 0.25, APl: -1, // -1: undefined (no large people)
 *   AR: 0.1, AR50: 1, AR75: 0.5, ARm: 0.25, ARl: -1,
 * };
 * const lines = formatSummary(stats).split("\n");
 * assert.equal(lines.length, 10);
 * // 0.0625 is a tie: Python's format rounds it to even (0.062), where toFixed(3) gives 0.063.
 * assert.equal(
 *   lines[0],
 *   " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.062",
 * );
 * assert.ok(lines[4].endsWith("| area= large | maxDets= 20 ] = -1.000"));
 * ```
 */
export function formatSummary(stats: KeypointStats, maxDets = 20): string {
  const values = statsToArray(stats);
  return SUMMARY_LINES.map(([title, type, iou, area], i) =>
    ` ${title.padEnd(18)} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | ` +
    `maxDets=${String(maxDets).padStart(3)} ] = ${formatFixed3(values[i])}`
  ).join("\n");
}

/**
 * The ten stats as a two-line table (names over values, 3 decimals, "-" where undefined).
 *
 * @example Ten stats in two lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTable, type KeypointStats } from "@posekit/posekit";
 *
 * const stats: KeypointStats = {
 *   AP: 0.0625, AP50: 1, AP75: 0.5, APm: 0.25, APl: -1, // -1: undefined (no large people)
 *   AR: 0.1, AR50: 1, AR75: 0.5, ARm: 0.25, ARl: -1,
 * };
 * // Each column is 5 characters wide (the widest value), columns two spaces apart.
 * const [names, values] = formatTable(stats).split("\n");
 * assert.equal(names, "   AP   AP50   AP75    APm    APl     AR   AR50   AR75    ARm    ARl");
 * assert.equal(values, "0.062  1.000  0.500  0.250      -  0.100  1.000  0.500  0.250      -");
 * ```
 */
export function formatTable(stats: KeypointStats): string {
  const cells = statsToArray(stats).map((v) => (v === -1 ? "-" : formatFixed3(v)));
  const widths = cells.map((cell, i) => Math.max(5, cell.length, STAT_NAMES[i].length));
  return [
    STAT_NAMES.map((name, i) => name.padStart(widths[i])).join("  "),
    cells.map((cell, i) => cell.padStart(widths[i])).join("  "),
  ].join("\n");
}

/**
 * The per-keypoint breakdown as a table, worst keypoint (lowest mean OKS term) first; keypoints
 * never matched come last.
 *
 * @example Worst keypoint first
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatKeypointTable, type KeypointBreakdown } from "@posekit/posekit";
 *
 * const breakdown: KeypointBreakdown[] = [
 *   { index: 0, name: "nose", count: 3, meanSimilarity: 0.9, meanNormalizedError: 0.02 },
 *   { index: 1, name: "left_eye", count: 2, meanSimilarity: 0.6, meanNormalizedError: 0.15 },
 *   { index: 2, name: "right_eye", count: 0, meanSimilarity: -1, meanNormalizedError: -1 },
 * ];
 * const rows = formatKeypointTable(breakdown).split("\n").map((line) => line.split(/ +/));
 * assert.deepEqual(rows.slice(0, 4), [
 *   ["keypoint", "count", "similarity", "error/scale"],
 *   ["left_eye", "2", "0.600", "0.150"], // the lowest similarity first
 *   ["nose", "3", "0.900", "0.020"],
 *   ["right_eye", "0", "-", "-"], // never matched: last
 * ]);
 * assert.equal(rows.length, 5); // then a legend
 * ```
 */
export function formatKeypointTable(breakdown: readonly KeypointBreakdown[]): string {
  const rows = [...breakdown].sort((a, b) =>
    (a.count === 0 ? 2 : a.meanSimilarity) - (b.count === 0 ? 2 : b.meanSimilarity) ||
    a.index - b.index
  );
  const nameWidth = Math.max(8, ...rows.map((r) => r.name.length));
  const header = `${"keypoint".padEnd(nameWidth)}  ${"count".padStart(6)}  ` +
    `${"similarity".padStart(10)}  ${"error/scale".padStart(11)}`;
  const lines = rows.map((r) =>
    `${r.name.padEnd(nameWidth)}  ${String(r.count).padStart(6)}  ` +
    `${(r.count ? formatFixed3(r.meanSimilarity) : "-").padStart(10)}  ` +
    `${(r.count ? formatFixed3(r.meanNormalizedError) : "-").padStart(11)}`
  );
  const legend = "count: labelled keypoints of matched people; similarity: the mean OKS term " +
    "exp(-d²/2s²κ²), 1 on the label and 0.5 at d = 1.18 κs (s = √area, κ the keypoint's COCO " +
    "constant); error/scale: the mean distance d/s. Worst keypoints first.";
  return [header, ...lines, legend].join("\n");
}
