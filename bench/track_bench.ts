/**
 * `deno run -A bench/track_bench.ts [--backend native|wasm] [--threads N] [--cache DIR]
 * [--clips a,b] [--pairs det+pose,…] [--det-thr X] [--rounds 20] [--json]`: the tracker on the ground-truth
 * clips of tests/support/track_clips.ts (camera zoom and pan over annotated COCO photos,
 * people leaving and coming back, a covered person) with real models: per clip and model
 * pair, the people, the track ids used, IDF1, HOTA, MOTA, ID switches (all and the most of
 * one person), and what tracking costs per frame next to the pipeline's own time per frame.
 *
 * The pipeline runs once per clip and model pair (untracked); the tracker then runs `rounds`
 * times over those poses for a steady time. With `--cache DIR` the clips and the pipeline's
 * poses are kept there and reused, so that tuning the tracker takes seconds.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { PoseTracker } from "../lib/track/tracker.ts";
import {
  clipPoses,
  CLIPS,
  makeClip,
  posesFromJson,
  posesToJson,
  scoreTracks,
  summarize,
  trackPoses,
  type VideoGroundTruth,
} from "../tests/support/track_clips.ts";
import type { Pose } from "../lib/types.ts";

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
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno run -A bench/track_bench.ts [--backend native|wasm] [--threads N] " +
      "[--cache DIR] [--clips a,b] [--pairs det+pose,…] [--det-thr X] [--rounds 20] [--json]",
  );
  Deno.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error("track_bench: --rounds must be a whole number ≥ 1");
  Deno.exit(2);
}
const wanted = values.clips?.split(",");
const clips = CLIPS.filter((c) => !wanted || wanted.includes(c.name));
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

interface Row {
  clip: string;
  models: string;
  frames: number;
  people: number;
  ids: number;
  idf1: number;
  hota: number;
  mota: number;
  idsw: number;
  maxIdswPerPerson: number;
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
      const posesPath = join(cache, `${spec.name}.${pair}.${values.backend}${thr}.poses.json`);
      let poses: Pose[][], pipelineMs: number[];
      if (await exists(posesPath)) {
        const saved = JSON.parse(await Deno.readTextFile(posesPath));
        poses = posesFromJson(saved.poses);
        pipelineMs = saved.pipelineMs;
      } else {
        pipeline ??= await PosePipeline.create({
          modelDirs: [MODELS],
          detector,
          pose,
          backend: values.backend as "native" | "wasm",
          threads: values.threads ? Number(values.threads) : undefined,
          scoreThreshold: values["det-thr"] ? Number(values["det-thr"]) : undefined,
        });
        await clipPoses(pipeline, video); // warm-up: first runs compile kernels
        ({ poses, pipelineMs } = await clipPoses(pipeline, video));
        await Deno.writeTextFile(
          posesPath,
          JSON.stringify({ poses: posesToJson(poses), pipelineMs }),
        );
      }
      let tracked, perFrame = Infinity;
      for (let r = 0; r < rounds; r++) {
        const run = trackPoses(poses, new PoseTracker(), spec.fps, spec);
        tracked = run.tracked;
        perFrame = Math.min(perFrame, run.trackMs.reduce((a, b) => a + b, 0) / poses.length);
      }
      const summary = summarize(scoreTracks(gt, tracked!));
      const pipelinePerFrame = median(pipelineMs);
      rows.push({
        clip: spec.name,
        models: pair,
        frames: poses.length,
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
    "clip               models                                       people ids  IDF1   HOTA   MOTA   IDSW max  track ms  pipeline ms  share",
  );
  for (const r of rows) {
    console.log(
      `${r.clip.padEnd(18)} ${r.models.padEnd(44)} ${String(r.people).padStart(6)} ` +
        `${String(r.ids).padStart(3)}  ${r.idf1.toFixed(3)}  ${r.hota.toFixed(3)}  ` +
        `${r.mota.toFixed(3).padStart(5)}  ${String(r.idsw).padStart(4)} ${
          String(r.maxIdswPerPerson).padStart(3)
        }  ${r.trackMsPerFrame.toFixed(3).padStart(8)}  ${
          r.pipelineMsPerFrame.toFixed(1).padStart(11)
        }  ${(100 * r.trackShare).toFixed(2).padStart(4)}%`,
    );
  }
  if (!values.cache) console.log(`(clips and poses in ${cache})`);
}
