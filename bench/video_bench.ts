/**
 * `deno run -A bench/video_bench.ts [--rounds 2] [--frames 54] [--backend wasm] [--threads N]
 * [--json]`: what `--det-every 3` saves on video against `--det-every 1`.
 *
 * Makes a camera pan over COCO image 785 with ffmpeg (as the video tests do: frame i is the
 * 400 × 360 window at (40 + 3i, 10 + i)), then runs `videoPoses` over it with detectEvery 1
 * and 3, alternating (1, 3, 1, 3, …) on one warmed-up pipeline so both see the same load.
 * Reports frames/s (ffmpeg decoding included, as `predict` runs), the frames on which the
 * detector ran, the keypoint deviation between the two runs (median and 90th percentile px,
 * keypoints scoring ≥ 0.3 in both, people paired by box IoU), and each run's deviation from
 * the known motion: the still image's keypoints shifted by the pan.
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { videoPoses } from "../lib/deno/video/poses.ts";
import type { Box, Pose } from "../lib/types.ts";
import { makePanVideo, type Pan } from "../tests/support/video.ts";

const IMAGE = new URL("../../shared/coco/val2017/000000000785.jpg", import.meta.url).pathname;
const MODELS = new URL("../../shared/models", import.meta.url).pathname;
const SCORE = 0.3;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "2" },
    frames: { type: "string", default: "54" },
    backend: { type: "string", default: "wasm" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno run -A bench/video_bench.ts [--rounds 2] [--frames 54] " +
      "[--backend wasm|native] [--threads N] [--json]",
  );
  Deno.exit(0);
}
const rounds = Number(values.rounds), frames = Number(values.frames);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(frames) || frames < 2) {
  console.error("video_bench: --rounds must be ≥ 1 and --frames ≥ 2, whole numbers");
  Deno.exit(2);
}
if (frames > 55) {
  console.error("video_bench: --frames is at most 55 (the pan must stay inside the image)");
  Deno.exit(2);
}
const PAN: Pan = { width: 400, height: 360, x0: 40, y0: 10, dx: 3, dy: 1, frames, fps: 30 };

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** The pose in `poses` whose box overlaps `box` most (IoU ≥ 0.3), if any. */
function paired(box: Box, poses: Pose[]): Pose | undefined {
  let best: Pose | undefined, bestIou = 0.3;
  for (const p of poses) {
    const o = iou(box, p.box);
    if (o >= bestIou) [best, bestIou] = [p, o];
  }
  return best;
}

/** Distances between confident keypoints of two poses; `shift` is added to `b`'s. */
function distances(a: Pose, b: Pose, shift = [0, 0]): number[] {
  const out: number[] = [];
  for (let k = 0; k < a.keypoints.length / 3; k++) {
    if (a.keypoints[3 * k + 2] < SCORE || b.keypoints[3 * k + 2] < SCORE) continue;
    out.push(Math.hypot(
      a.keypoints[3 * k] - (b.keypoints[3 * k] + shift[0]),
      a.keypoints[3 * k + 1] - (b.keypoints[3 * k + 1] + shift[1]),
    ));
  }
  return out;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
}

/** One pass over the video. */
interface VideoRun {
  detectEvery: number;
  framesPerSecond: number;
  frames: number;
  detectedFrames: number;
  /** Per frame, its poses (keypoints copied). */
  poses: Pose[][];
}

async function runVideo(
  pipeline: PosePipeline,
  video: string,
  detectEvery: number,
): Promise<VideoRun> {
  const poses: Pose[][] = [];
  let detectedFrames = 0;
  const start = performance.now();
  for await (const frame of videoPoses(pipeline, video, { detectEvery })) {
    if (frame.detected) detectedFrames++;
    poses.push(frame.poses.map((p) => ({ ...p, keypoints: p.keypoints.slice() })));
  }
  const wallMs = performance.now() - start;
  return {
    detectEvery,
    framesPerSecond: poses.length / (wallMs / 1000),
    frames: poses.length,
    detectedFrames,
    poses,
  };
}

/** Each frame's main person against the still image's, shifted by the pan (px). */
function motionDeviation(run: VideoRun, still: Pose): number[] {
  const out: number[] = [];
  run.poses.forEach((framePoses, i) => {
    const ox = PAN.x0 + PAN.dx * i, oy = PAN.y0 + PAN.dy * i;
    const expected: Box = {
      x1: still.box.x1 - ox,
      y1: still.box.y1 - oy,
      x2: still.box.x2 - ox,
      y2: still.box.y2 - oy,
      score: 1,
    };
    const found = paired(expected, framePoses);
    if (found) out.push(...distances(still, found, [ox, oy]));
  });
  return out;
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

const dir = await Deno.makeTempDir({ prefix: "posekit_video_bench_" });
try {
  const video = join(dir, "pan.mp4");
  await makePanVideo(IMAGE, video, PAN);
  const pipeline = await PosePipeline.create({
    backend: values.backend as "wasm" | "native",
    threads: values.threads === undefined ? undefined : Number(values.threads),
    modelDirs: [MODELS],
  });
  try {
    // The still image's main person: the reference for the known motion.
    const still = (await pipeline.run(await readImageFile(IMAGE)))[0];
    // Warm-up: a few frames of each setting, untimed.
    for (const detectEvery of [1, 3]) {
      let n = 0;
      for await (const _ of videoPoses(pipeline, video, { detectEvery })) if (++n === 4) break;
    }
    const runs: Record<1 | 3, VideoRun[]> = { 1: [], 3: [] };
    for (let round = 0; round < rounds; round++) {
      for (const detectEvery of [1, 3] as const) {
        const run = await runVideo(pipeline, video, detectEvery);
        runs[detectEvery].push(run);
        if (!values.json) {
          console.error(
            `round ${round + 1}: --det-every ${detectEvery}: ${
              run.framesPerSecond.toFixed(2)
            } frames/s (${run.detectedFrames}/${run.frames} frames detected)`,
          );
        }
      }
    }
    const between: number[] = [];
    const [a, b] = [runs[1][0], runs[3][0]];
    a.poses.forEach((framePoses, i) => {
      for (const p of framePoses) {
        const q = paired(p.box, b.poses[i] ?? []);
        if (q) between.push(...distances(p, q));
      }
    });
    const summary = (k: 1 | 3) => {
      const motion = motionDeviation(runs[k][0], still);
      const fps = runs[k].map((r) => r.framesPerSecond);
      return {
        framesPerSecond: median(fps),
        perRound: fps,
        frames: runs[k][0].frames,
        detectedFrames: runs[k][0].detectedFrames,
        motionDeviationPx: { median: median(motion), p90: quantile(motion, 0.9), n: motion.length },
      };
    };
    const report = {
      video: { ...PAN, image: "coco/val2017/000000000785.jpg" },
      backend: pipeline.runtimeInfo.backend,
      threads: pipeline.runtimeInfo.threads,
      rounds,
      detEvery1: summary(1),
      detEvery3: summary(3),
      speedUp: median(runs[3].map((r) => r.framesPerSecond)) /
        median(runs[1].map((r) => r.framesPerSecond)),
      speedUpPerRound: runs[3].map((r, i) => r.framesPerSecond / runs[1][i].framesPerSecond),
      deviationBetweenPx: {
        median: median(between),
        p90: quantile(between, 0.9),
        max: between.length ? Math.max(...between) : NaN,
        n: between.length,
      },
    };
    if (values.json) {
      console.log(JSON.stringify(report));
    } else {
      const f = (x: number, d = 2) => x.toFixed(d);
      console.log(
        `pan over COCO 785, ${PAN.width}×${PAN.height}, ${frames} frames; ${report.backend}, ` +
          `${report.threads} thread(s), flip test on; medians of ${rounds} round(s)`,
      );
      console.log("");
      console.log(
        "setting        frames/s  per round      detector ran  vs known motion: median px  p90 px",
      );
      for (
        const [label, s] of [["--det-every 1", report.detEvery1], [
          "--det-every 3",
          report.detEvery3,
        ]] as const
      ) {
        console.log(
          `${label.padEnd(14)} ${f(s.framesPerSecond).padStart(8)}  ${
            s.perRound.map((x) => f(x)).join(" ").padEnd(13)
          } ${`${s.detectedFrames}/${s.frames}`.padStart(12)}  ${
            f(s.motionDeviationPx.median).padStart(26)
          } ${f(s.motionDeviationPx.p90).padStart(7)}`,
        );
      }
      console.log("");
      console.log(
        `speed-up --det-every 3 / 1: ${f(report.speedUp)} (per round ${
          report.speedUpPerRound.map((x) => f(x)).join(", ")
        })`,
      );
      const d = report.deviationBetweenPx;
      console.log(
        `keypoints, --det-every 3 against 1: median ${f(d.median)} px, p90 ${f(d.p90)} px, ` +
          `max ${f(d.max)} px (${d.n} keypoints scoring ≥ ${SCORE} in both)`,
      );
    }
  } finally {
    await pipeline.close();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
