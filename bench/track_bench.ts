/**
 * `deno run -A bench/track_bench.ts [--backend native|wasm] [--threads N] [--cache DIR]
 * [--clips a,b] [--pairs det+pose,…] [--det-thr X] [--weak X] [--rounds 20] [--json]`:
 * the tracker on the ground-truth clips of tests/support/track_clips.ts (camera zoom and pan
 * over annotated COCO photos, people leaving and coming back, a covered person) with real
 * models: per clip and model pair, the people, the track ids used, IDF1, HOTA, MOTA, ID
 * switches (all and the most of one person), and what tracking costs per frame next to the
 * pipeline's own time per frame.
 *
 * The pipeline runs once per clip and model pair (untracked: the poses of the confident
 * boxes, and of every weak box from `--weak` up to the detector's threshold); the tracker
 * then runs `rounds` times over them as `framePoses` does (the weak poses near a tracked
 * person join the confident ones), for a steady time. "weak" is the number of weak boxes a
 * frame that got a keypoint run; "ideal" is IDF1 with every detection given its person's id
 * (`idealTracks`: the most any tracker could get from these detections). With `--cache DIR`
 * the clips and the pipeline's poses are kept there and reused, so that tuning the tracker
 * takes seconds.
 *
 * `--jitter PX` also tracks each clip `--seeds` times (default 20) with every coordinate of the
 * detections moved by up to ±PX and every score by up to ±`--score-jitter` (default 0.003),
 * and reports IDF1's least, median and most and the most switches of one person: how far a
 * result rests on the detections' last decimals (which differ between machines and backends).
 *
 * `--held-out` runs `HELD_OUT_CLIPS` instead: clips the tracker was not tuned on.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { seededRandom } from "../lib/math/random.ts";
import type { Pose } from "../lib/types.ts";
import { DEFAULT_HIGH_SCORE, PoseTracker } from "../lib/track/tracker.ts";
import {
  type ClipPoses,
  clipPoses,
  CLIPS,
  HELD_OUT_CLIPS,
  idealTracks,
  makeClip,
  posesFromJson,
  posesToJson,
  scoreTracks,
  summarize,
  type TrackingSummary,
  trackPoses,
  type VideoGroundTruth,
} from "../tests/support/track_clips.ts";

const MODELS = new URL("../../shared/models", import.meta.url).pathname;
const DEFAULT_PAIRS = [
  "rtmdet_nano_person+simplepose_nano_256x192",
  "deimv2_femto_coco+pp_tinypose_256x192",
];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "native" },
    threads: { type: "string" },
    cache: { type: "string" },
    clips: { type: "string" },
    pairs: { type: "string" },
    rounds: { type: "string", default: "20" },
    "det-thr": { type: "string" },
    weak: { type: "string", default: "0.2" },
    jitter: { type: "string", default: "0" },
    seeds: { type: "string", default: "20" },
    "score-jitter": { type: "string", default: "0.003" },
    "held-out": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno run -A bench/track_bench.ts [--backend native|wasm] [--threads N] " +
      "[--cache DIR] [--clips a,b] [--pairs det+pose,…] [--det-thr X] [--weak X] [--rounds 20] " +
      "[--jitter PX] [--seeds 20] [--score-jitter 0.003] [--held-out] [--json]",
  );
  Deno.exit(0);
}
const rounds = Number(values.rounds);
const weakBoxScore = Number(values.weak);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("track_bench: --rounds must be a whole number ≥ 1");
  Deno.exit(2);
}
if (!(weakBoxScore >= 0 && weakBoxScore <= 1)) {
  console.error("track_bench: --weak must be a score in [0, 1]");
  Deno.exit(2);
}
const jitter = Number(values.jitter), scoreJitter = Number(values["score-jitter"]);
const seeds = Number(values.seeds);
if (!(jitter >= 0) || !(scoreJitter >= 0) || !Number.isInteger(seeds) || seeds < 1) {
  console.error("track_bench: --jitter and --score-jitter must be ≥ 0, --seeds a whole number ≥ 1");
  Deno.exit(2);
}

/** `frames` with coordinates moved by up to ±`px` and scores by up to ±`score`. */
function jittered(frames: Pose[][], random: () => number, px: number, score: number): Pose[][] {
  const noise = (size: number) => size * (2 * random() - 1);
  return frames.map((poses) =>
    poses.map((p) => ({
      box: {
        x1: p.box.x1 + noise(px),
        y1: p.box.y1 + noise(px),
        x2: p.box.x2 + noise(px),
        y2: p.box.y2 + noise(px),
        score: p.box.score + noise(score),
      },
      score: p.score + noise(score),
      keypoints: p.keypoints.map((v, k) => v + noise(k % 3 === 2 ? score : px)),
    }))
  );
}
const wanted = values.clips?.split(",");
const clips = (values["held-out"] ? HELD_OUT_CLIPS : CLIPS).filter((c) =>
  !wanted || wanted.includes(c.name)
);
const pairs = values.pairs?.split(",") ?? DEFAULT_PAIRS;
const cache = values.cache ?? await Deno.makeTempDir({ prefix: "posekit_track_bench_" });
await Deno.mkdir(cache, { recursive: true });

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

interface Row extends TrackingSummary {
  clip: string;
  models: string;
  frames: number;
  /** Weak boxes near tracks that got a keypoint run, per frame. */
  weakPerFrame: number;
  /** IDF1 with every detection given its person's id (`idealTracks`). */
  idealIdf1: number;
  /** With `--jitter`: IDF1's least, median and most over the seeds, and the most switches. */
  jittered?: { idf1: [number, number, number]; maxIdswPerPerson: number };
  pipelineMsPerFrame: number;
  trackMsPerFrame: number;
  trackShare: number;
}

const rows: Row[] = [];
for (const pair of pairs) {
  const [detector, pose] = pair.split("+");
  let pipeline: PosePipeline | undefined;
  try {
    for (const spec of clips) {
      const video = join(cache, `${spec.name}.mp4`), gtPath = join(cache, `${spec.name}.gt.json`);
      if (!(await exists(video)) || !(await exists(gtPath))) await makeClip(spec, cache);
      const gt = JSON.parse(await Deno.readTextFile(gtPath)) as VideoGroundTruth;
      const thr = values["det-thr"] ? `.thr${values["det-thr"]}` : "";
      const posesPath = join(
        cache,
        `${spec.name}.${pair}.${values.backend}${thr}.weak${weakBoxScore}.poses.json`,
      );
      let clip: ClipPoses;
      if (await exists(posesPath)) {
        const saved = JSON.parse(await Deno.readTextFile(posesPath));
        clip = {
          poses: posesFromJson(saved.poses),
          weak: posesFromJson(saved.weak),
          pipelineMs: saved.pipelineMs,
        };
      } else {
        pipeline ??= await PosePipeline.create({
          modelDirs: [MODELS],
          detector,
          pose,
          backend: values.backend as "native" | "wasm",
          threads: values.threads ? Number(values.threads) : undefined,
          scoreThreshold: values["det-thr"] ? Number(values["det-thr"]) : undefined,
        });
        await clipPoses(pipeline, video, weakBoxScore); // warm-up: first runs compile kernels
        clip = await clipPoses(pipeline, video, weakBoxScore);
        await Deno.writeTextFile(
          posesPath,
          JSON.stringify({
            poses: posesToJson(clip.poses),
            weak: posesToJson(clip.weak),
            pipelineMs: clip.pipelineMs,
          }),
        );
      }
      const frames = clip.poses.length;
      let tracked, weakUsed: number[] = [], perFrame = Infinity;
      for (let r = 0; r < rounds; r++) {
        // As framePoses makes it: the detector's threshold, where higher, is the tracker's.
        const highScore = Math.max(DEFAULT_HIGH_SCORE, Number(values["det-thr"] ?? 0.3));
        const run = trackPoses(clip, new PoseTracker({ highScore }), spec.fps, spec);
        ({ tracked, weakUsed } = run);
        perFrame = Math.min(perFrame, run.trackMs.reduce((a, b) => a + b, 0) / frames);
      }
      const summary = summarize(scoreTracks(gt, tracked!));
      // The best a tracker could do with these detections, weak ones included.
      const ideal = scoreTracks(
        gt,
        idealTracks(gt, clip.poses.map((p, t) => p.concat(clip.weak[t]))),
      );
      let jitteredRow: Row["jittered"];
      if (jitter > 0) {
        const idf1s: number[] = [];
        let switches = 0;
        const highScore = Math.max(DEFAULT_HIGH_SCORE, Number(values["det-thr"] ?? 0.3));
        for (let seed = 1; seed <= seeds; seed++) {
          const random = seededRandom(seed);
          const moved = {
            poses: jittered(clip.poses, random, jitter, scoreJitter),
            weak: jittered(clip.weak, random, jitter, scoreJitter),
          };
          const run = trackPoses(moved, new PoseTracker({ highScore }), spec.fps, spec);
          const got = summarize(scoreTracks(gt, run.tracked));
          idf1s.push(got.idf1);
          switches = Math.max(switches, got.maxIdswPerPerson);
        }
        idf1s.sort((a, b) => a - b);
        jitteredRow = {
          idf1: [idf1s[0], median(idf1s), idf1s[idf1s.length - 1]],
          maxIdswPerPerson: switches,
        };
      }
      const pipelinePerFrame = median(clip.pipelineMs);
      rows.push({
        clip: spec.name,
        models: pair,
        frames,
        weakPerFrame: weakUsed.reduce((a, b) => a + b, 0) / frames,
        idealIdf1: ideal.identity.idf1,
        jittered: jitteredRow,
        ...summary,
        pipelineMsPerFrame: pipelinePerFrame,
        trackMsPerFrame: perFrame,
        trackShare: perFrame / pipelinePerFrame,
      });
    }
  } finally {
    await pipeline?.close();
  }
}

if (values.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(
    "clip               models                                       people ids  IDF1  ideal   HOTA   MOTA   IDSW max  weak  track ms  pipeline ms  share" +
      (jitter > 0 ? `  IDF1 jittered ±${jitter} px: least median most, max switches` : ""),
  );
  for (const r of rows) {
    console.log(
      `${r.clip.padEnd(18)} ${r.models.padEnd(44)} ${String(r.people).padStart(6)} ` +
        `${String(r.ids).padStart(3)}  ${r.idf1.toFixed(3)}  ${r.idealIdf1.toFixed(3)}  ` +
        `${r.hota.toFixed(3)}  ` +
        `${r.mota.toFixed(3).padStart(5)}  ${String(r.idsw).padStart(4)} ${
          String(r.maxIdswPerPerson).padStart(3)
        }  ${r.weakPerFrame.toFixed(1).padStart(4)}  ${r.trackMsPerFrame.toFixed(3).padStart(8)}  ${
          r.pipelineMsPerFrame.toFixed(1).padStart(11)
        }  ${(100 * r.trackShare).toFixed(2).padStart(4)}%` +
        (r.jittered
          ? `  ${
            r.jittered.idf1.map((v) => v.toFixed(3)).join(" ")
          }  ${r.jittered.maxIdswPerPerson}`
          : ""),
    );
  }
  if (!values.cache) console.log(`(clips and poses in ${cache})`);
}
