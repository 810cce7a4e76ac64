/**
 * `deno task track-eval --gt GT.json --results RUN.jsonl`: tracking metrics (MOTA, IDF1, ID
 * switches, HOTA) of a tracked video's results against COCO-style video ground truth.
 * Exit codes: 0 scored, 1 failed (unreadable or invalid input), 2 usage error.
 */

import { scanJsonl } from "../lib/deno/jsonl_file.ts";
import type { JsonlRecord } from "../lib/output/jsonl.ts";
import { type TrackingMetrics, trackingMetrics } from "../lib/track/metrics.ts";
import {
  pairFrames,
  parseTrackGroundTruth,
  trackResultsFromCoco,
  trackResultsFromRecords,
} from "../lib/track/mot_json.ts";
import { parseCommandLine, UsageError } from "./args.ts";
import { readJsonFile } from "./common.ts";
import { printErr } from "./progress.ts";
import { runCommand } from "./run_command.ts";

/** Help text of the track-eval command. */
export const TRACK_EVAL_HELP =
  `Usage: deno task track-eval --gt GT.json --results RUN.jsonl [options]

Scores the track ids of one video's results: CLEAR MOT (MOTA, MOTP, ID switches), the
identity metrics (IDF1, IDP, IDR) and HOTA (mean over IoU thresholds 0.05…0.95), with box
IoU as the similarity (a match needs IoU ≥ 0.5 for MOTA and IDF1). Then, per person,
worst first, where the frames IDF1 missed went: matched only by another track id's box,
or by no box (with how near the closest box came: a detector's miss or an off box).

  --gt FILE        COCO-style video ground truth: "images" (id = frame index; frames
                   nobody is in count too) and "annotations" with image_id (the frame),
                   track_id and bbox [x, y, w, h]; iscrowd or ignore marks a region where
                   found people do not count
  --results FILE   .jsonl: predict's records (frame, people with track_id);
                   .json: COCO results with frame (or image_id) and track_id
  --video NAME     with a .jsonl holding several videos: the one whose "file" is NAME
  --json           print one JSON object instead of the table
  -h, --help       this help

Exit codes: 0 scored; 1 failed (an unreadable or invalid input); 2 usage error.`;

/** Runs track-eval on its arguments; returns the exit code. */
export function trackEval(args: string[]): Promise<number> {
  return runCommand("track-eval", () => runTrackEval(args));
}

async function readRecords(path: string, video: string | undefined): Promise<JsonlRecord[]> {
  const records: JsonlRecord[] = [];
  const files = new Set<string>();
  await scanJsonl(path, (record) => {
    files.add(record.file);
    if (video === undefined || record.file === video) records.push(record);
  });
  if (video !== undefined && !files.has(video)) {
    throw new Error(`${path}: no records of --video ${video} (it holds ${[...files].join(", ")})`);
  }
  if (video === undefined && files.size > 1) {
    throw new UsageError(
      `${path} holds ${files.size} videos (${[...files].slice(0, 3).join(", ")}…); ` +
        `choose one with --video NAME`,
    );
  }
  return records;
}

/** The metrics as an aligned two-line table plus a line of counts. */
export function formatTrackingMetrics(m: TrackingMetrics): string {
  const pct = (v: number) => (100 * v).toFixed(1);
  const columns: [string, string][] = [
    ["HOTA", pct(m.hota.hota)],
    ["DetA", pct(m.hota.detA)],
    ["AssA", pct(m.hota.assA)],
    ["LocA", pct(m.hota.locA)],
    ["MOTA", pct(m.clear.mota)],
    ["MOTP", pct(m.clear.motp)],
    ["IDF1", pct(m.identity.idf1)],
    ["IDP", pct(m.identity.idp)],
    ["IDR", pct(m.identity.idr)],
    ["IDSW", String(m.clear.idsw)],
    ["Frag", String(m.clear.frag)],
    ["FP", String(m.clear.fp)],
    ["FN", String(m.clear.fn)],
  ];
  const widths = columns.map(([a, b]) => Math.max(a.length, b.length));
  const row = (k: 0 | 1) => columns.map((c, i) => c[k].padStart(widths[i])).join("  ");
  return `${row(0)}\n${row(1)}\n` +
    `people ${m.gtIds} (${m.gtDetections} boxes), track ids ${m.trackerIds} ` +
    `(${m.trackerDetections} boxes), mostly tracked ${m.clear.mostlyTracked}, ` +
    `mostly lost ${m.clear.mostlyLost}`;
}

/**
 * Where IDF1's missed frames went, per person, worst first (at most `limit` rows): under the
 * person's own track id, under another id only, or matched by no box — a detector's miss or a
 * box too far off, which no tracking can mend.
 */
export function formatPeople(m: TrackingMetrics, limit = 10): string {
  const people = m.identity.byPerson;
  const missed = people.filter((p) => p.idtp < p.frames);
  if (missed.length === 0) return "every person's frames are under their one track id";
  const notFound = people.reduce((n, p) => n + p.notFound, 0);
  const otherId = people.reduce((n, p) => n + p.otherId, 0);
  const header = ["person", "track", "frames", "own id", "other id", "no box", "nearest"];
  const rows = missed.slice(0, limit).map((p) => [
    String(p.id),
    p.trackId === undefined ? "-" : String(p.trackId),
    String(p.frames),
    String(p.idtp),
    String(p.otherId),
    String(p.notFound),
    p.nearestUnmatched === undefined ? "-" : p.nearestUnmatched.toFixed(2),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => "  " + cells.map((v, c) => v.padStart(widths[c])).join("  ");
  const rest = people.length - rows.length;
  return `frames not under the person's track id: ${notFound} matched by no box (IoU < 0.5 ` +
    `with every result), ${otherId} under another id\n` +
    [header, ...rows].map(line).join("\n") +
    (rest > 0
      ? `\n  … ${rest} more ${rest === 1 ? "person" : "people"}, ` +
        `${missed.length - rows.length} of them missing frames`
      : "") +
    "\n  (nearest: on the no-box frames, the median IoU of the closest box; 0: none near, " +
    "0.3–0.5: a box of them, off)";
}

async function runTrackEval(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    gt: { type: "string" },
    results: { type: "string" },
    video: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(TRACK_EVAL_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const gtPath = values.gt as string | undefined;
  const resultsPath = values.results as string | undefined;
  if (!gtPath) throw new UsageError("--gt GT.json is required");
  if (!resultsPath) throw new UsageError("--results RUN.jsonl is required");
  const video = values.video as string | undefined;
  const gt = parseTrackGroundTruth(await readJsonFile(gtPath), gtPath);
  let results;
  if (/\.jsonl$/i.test(resultsPath)) {
    results = trackResultsFromRecords(await readRecords(resultsPath, video), resultsPath);
  } else {
    if (video !== undefined) throw new UsageError("--video goes with a .jsonl --results");
    results = trackResultsFromCoco(await readJsonFile(resultsPath), resultsPath);
  }
  const { frames, extraFrames } = pairFrames(gt, results);
  if (extraFrames.length > 0) {
    printErr(
      `posekit: warning: ${extraFrames.length} result frame(s) are not in ${gtPath} and are ` +
        `not scored (${extraFrames.slice(0, 5).join(", ")}${
          extraFrames.length > 5 ? ", …" : ""
        })\n`,
    );
  }
  const metrics = trackingMetrics(frames);
  if (values.json === true) {
    const { idswByGt, ...clear } = metrics.clear;
    const { alphas: _alphas, hotaByAlpha: _byAlpha, ...hota } = metrics.hota;
    console.log(JSON.stringify({
      frames: frames.length,
      people: metrics.gtIds,
      trackIds: metrics.trackerIds,
      gtDetections: metrics.gtDetections,
      trackerDetections: metrics.trackerDetections,
      ...hota,
      ...clear,
      idswByPerson: Object.fromEntries(idswByGt),
      ...metrics.identity,
      byPerson: metrics.identity.byPerson.map((p) => ({
        ...p,
        trackId: p.trackId ?? null,
        nearestUnmatched: p.nearestUnmatched ?? null,
      })),
    }));
  } else {
    console.log(
      `${frames.length} frames\n${formatTrackingMetrics(metrics)}\n${formatPeople(metrics)}`,
    );
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await trackEval(Deno.args));
}
