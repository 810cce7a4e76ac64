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
 */
export function formatSummary(stats: KeypointStats, maxDets = 20): string {
  const values = statsToArray(stats);
  return SUMMARY_LINES.map(([title, type, iou, area], i) =>
    ` ${title.padEnd(18)} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | ` +
    `maxDets=${String(maxDets).padStart(3)} ] = ${formatFixed3(values[i])}`
  ).join("\n");
}

/** The ten stats as a two-line table (names over values, 3 decimals, "-" where undefined). */
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
