/**
 * Poses on a video made by the test: a known pan over COCO image 785 (the skier). The main
 * person keeps one track id, and after the known camera motion is removed the keypoints stay
 * where the still-image pipeline puts them on the same frames' exact pixels. And, on a
 * stand-in pipeline, ByteTrack's low-score stage of `framePoses`: weak boxes get the keypoint
 * stage alone and only near a tracked person, keep that person's id, never reach the
 * pipeline's own run, and never include boxes the tracker would take as confident; and
 * `detectEvery`, the detector on every k-th frame and the tracks' boxes between.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { crop, ignoreWithoutFfmpeg, makePanVideo, type Pan } from "./support/video.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import type { Box, Pose } from "../lib/types.ts";
import { framePoses, weakBoxesNear } from "../lib/video_poses.ts";
import { videoPoses } from "../lib/deno/video/poses.ts";

const IMAGE = ["coco", "val2017", "000000000785.jpg"];
// 400 × 360 windows of the 640 × 425 image, moving 6 px right and 1 px down a frame.
const PAN: Pan = {
  width: 400,
  height: 360,
  x0: 40,
  y0: 10,
  dx: 6,
  dy: 1,
  frames: 16,
  fps: 25,
};

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The biggest pose (by box area): the skier. */
function mainPerson<P extends Pose>(poses: readonly P[]): P | undefined {
  const area = (p: Pose) => (p.box.x2 - p.box.x1) * (p.box.y2 - p.box.y1);
  return [...poses].sort((a, b) => area(b) - area(a))[0];
}

/** Pixel distances between two poses' keypoints that both score above 0.3. */
function deviations(a: Pose, b: Pose, shiftX = 0, shiftY = 0): number[] {
  const out: number[] = [];
  for (let j = 0; j < a.keypoints.length / 3; j++) {
    if (a.keypoints[3 * j + 2] <= 0.3 || b.keypoints[3 * j + 2] <= 0.3) continue;
    out.push(Math.hypot(
      a.keypoints[3 * j] + shiftX - b.keypoints[3 * j],
      a.keypoints[3 * j + 1] + shiftY - b.keypoints[3 * j + 1],
    ));
  }
  return out;
}

Deno.test({
  name: "video: one track id for the skier; keypoints follow the pan as on still frames",
  ignore: ignoreWithoutShared(...IMAGE) || ignoreWithoutShared("models") || ignoreWithoutFfmpeg(),
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const video = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), video, PAN);
      const still = await readImageFile(requireShared(...IMAGE));
      const pipeline = await PosePipeline.create({
        modelDirs: [requireShared("models")],
        backend: "wasm",
        detector: "deimv2_femto_coco",
        pose: "pp_tinypose_256x192",
        // Sub-pixel peaks: with the quarter-pixel offset a keypoint jumps by a whole heatmap
        // cell (4 px) when compression noise tips its argmax, on video and stills alike.
        dark: true,
      });
      try {
        const ids: number[] = [];
        const videoDeviation: number[] = [];
        const stillDeviation: number[] = [];
        let frames = 0;
        let reference: Pose | undefined;
        for await (const { frame, poses } of videoPoses(pipeline, video)) {
          assertEquals(frame.index, frames++);
          const x = PAN.x0 + PAN.dx * frame.index, y = PAN.y0 + PAN.dy * frame.index;
          // The still-image pipeline on the same window of the original pixels.
          const exact = mainPerson(await pipeline.run(crop(still, x, y, PAN.width, PAN.height)));
          const person = mainPerson(poses);
          if (!person || !exact) continue;
          ids.push(person.trackId!);
          // In image coordinates: frame keypoint + window offset.
          reference ??= {
            ...exact,
            keypoints: exact.keypoints.map((v, i) => i % 3 === 2 ? v : v + (i % 3 === 0 ? x : y)),
          };
          videoDeviation.push(...deviations(person, exact));
          stillDeviation.push(...deviations(exact, reference, x, y));
        }
        assertEquals(frames, PAN.frames, "one result per frame");
        const mainId = quantile(ids, 0.5);
        const sameId = ids.filter((id) => id === mainId).length;
        assert(sameId >= 0.9 * PAN.frames, `main person kept id ${mainId} in ${sameId} frames`);
        const median = quantile(videoDeviation, 0.5), p90 = quantile(videoDeviation, 0.9);
        console.log(
          `video vs still frames: median ${median.toFixed(2)} px, p90 ${p90.toFixed(2)} px; ` +
            `still frames vs the first after removing the pan: median ` +
            `${quantile(stillDeviation, 0.5).toFixed(2)} px, p90 ${
              quantile(stillDeviation, 0.9).toFixed(2)
            } px`,
        );
        const jumps = videoDeviation.filter((d) => d > 2).length / videoDeviation.length;
        console.log(`share of keypoints more than 2 px off: ${(100 * jumps).toFixed(1)}%`);
        assert(median <= 1.5, `median deviation ${median.toFixed(2)} px`);
        assert(p90 <= 3, `90th percentile ${p90.toFixed(2)} px`);
      } finally {
        await pipeline.close();
      }
    });
  },
});

/** A figure of 17 keypoints filling `box` (confident), as a keypoint model would give. */
function figureIn(box: Box): Pose {
  const keypoints = new Float32Array(17 * 3);
  const w = box.x2 - box.x1, h = box.y2 - box.y1;
  for (let k = 0; k < 17; k++) {
    keypoints.set([
      box.x1 + w * (0.2 + 0.6 * ((k * 7) % 17) / 16),
      box.y1 + h * (0.05 + 0.9 * k / 16),
      0.9,
    ], 3 * k);
  }
  return { box, keypoints, score: box.score };
}

Deno.test("weakBoxesNear: the weak boxes that overlap a tracked person", () => {
  const box = (x: number, score: number): Box => ({ x1: x, y1: 0, x2: x + 50, y2: 100, score });
  const tracked = [box(0, 1)];
  const got = weakBoxesNear(
    [box(300, 0.8), box(5, 0.25), box(200, 0.25), box(40, 0.25)],
    0.3,
    tracked,
  );
  // IoU of x 5…55 with 0…50: 45 / 55 = 0.82 (kept); x 40…90: 10 / 90 (not); x 200: none.
  assertEquals(got.map((b) => b.x1), [5]);
});

/**
 * A stand-in pipeline for `framePoses`: its detector finds one person walking right (box
 * score `walkerScore(t)` on detector call t) and a box far from anyone (score `farScore`);
 * its keypoint model puts a figure in each box. What `run` and `keypointsFor` are given is
 * recorded.
 */
function walkingPipeline(
  scoreThreshold: number,
  walkerScore: (t: number) => number,
  farScore = 0.25,
) {
  const calls = { detect: [] as number[], run: [] as number[][], keypointsFor: [] as number[][] };
  let t = -1;
  const detect = (threshold: number): Promise<Box[]> => {
    t++;
    calls.detect.push(threshold);
    const boxes = [
      { x1: 100 + 4 * t, y1: 50, x2: 160 + 4 * t, y2: 250, score: walkerScore(t) },
      { x1: 400, y1: 50, x2: 460, y2: 250, score: farScore },
    ];
    return Promise.resolve(boxes.filter((b) => b.score >= threshold));
  };
  const pipeline = {
    needsBoxes: true,
    scoreThreshold,
    detect: (_image: unknown, threshold: number) => detect(threshold),
    async run(_image: unknown, given: Box[] | "detector") {
      const boxes = given === "detector" ? await detect(scoreThreshold) : given;
      calls.run.push(boxes.map((b) => b.x1));
      return boxes.map(figureIn);
    },
    keypointsFor(_image: unknown, boxes: Box[]) {
      calls.keypointsFor.push(boxes.map((b) => b.x1));
      return Promise.resolve(boxes.map(figureIn));
    },
  } as unknown as PosePipeline;
  return { pipeline, calls };
}

async function* blankFrames(count: number) {
  for (let i = 0; i < count; i++) {
    yield {
      index: i,
      time: i / 25,
      image: { width: 640, height: 360, data: new Uint8Array(640 * 360 * 3) },
    };
  }
}

Deno.test("framePoses: weak detector boxes get a pose only near a tracked person, and keep their id", async () => {
  // The walker is found confidently on the first 4 frames, weakly (0.25) afterwards.
  const { pipeline, calls } = walkingPipeline(0.3, (t) => t < 4 ? 0.8 : 0.25);
  const ids: (number | undefined)[][] = [];
  for await (const { poses } of framePoses(pipeline, blankFrames(8), "walk")) {
    ids.push(poses.map((p) => p.trackId));
  }
  // No track before the first frame: the detector's own threshold; weak boxes asked for after.
  assertEquals(calls.detect, [0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]);
  // The pipeline runs on the confident boxes only, as without tracking (its own OKS-NMS
  // never sees a weak pose); the walker's weak boxes get the keypoint stage alone; the far
  // weak box never gets a keypoint run.
  assertEquals(calls.run, [[100], [104], [108], [112], [], [], [], []]);
  assertEquals(calls.keypointsFor, [[116], [120], [124], [128]]);
  assertEquals(ids, [[1], [1], [1], [1], [1], [1], [1], [1]]);
  // Off: the weak walker is not tracked from frame 4 on.
  const off: number[] = [];
  const again = walkingPipeline(0.3, (t) => t < 4 ? 0.8 : 0.25);
  for await (
    const { poses } of framePoses(again.pipeline, blankFrames(8), "walk", { weakBoxScore: 0.3 })
  ) {
    off.push(poses.length);
  }
  assertEquals(off, [1, 1, 1, 1, 0, 0, 0, 0]);
  // A score out of [0, 1] is refused, not taken as "off".
  let refused = "";
  try {
    await framePoses(pipeline, blankFrames(1), "walk", { weakBoxScore: 2 }).next();
  } catch (error) {
    refused = (error as Error).message;
  }
  assertEquals(refused, "weakBoxScore must be a score in [0, 1], got 2");
});

Deno.test("framePoses: with a detector threshold above the tracker's, boxes under it only continue tracks", async () => {
  // Threshold 0.5, above the tracker's own 0.35: the walker at 0.4 from frame 4 on is below
  // what the user asked for, so it may continue the walker's track (a keypoint run, id 1) but
  // a person found only at 0.4 (the far box) never gets a pose nor an id.
  const { pipeline, calls } = walkingPipeline(0.5, (t) => t < 4 ? 0.8 : 0.4, 0.4);
  const ids: (number | undefined)[][] = [];
  for await (const { poses } of framePoses(pipeline, blankFrames(8), "walk")) {
    ids.push(poses.map((p) => p.trackId));
  }
  assertEquals(calls.run, [[100], [104], [108], [112], [], [], [], []]);
  assertEquals(calls.keypointsFor, [[116], [120], [124], [128]]);
  assertEquals(ids, [[1], [1], [1], [1], [1], [1], [1], [1]]);
});

Deno.test("framePoses: detectEvery runs the detector on every k-th frame and crops tracks between", async () => {
  const { pipeline, calls } = walkingPipeline(0.3, () => 0.8);
  const detected: boolean[] = [], ids: (number | undefined)[][] = [];
  for await (const out of framePoses(pipeline, blankFrames(8), "walk", { detectEvery: 3 })) {
    detected.push(out.detected);
    ids.push(out.poses.map((p) => p.trackId));
  }
  assertEquals(detected, [true, false, false, true, false, false, true, false]);
  assertEquals(calls.detect.length, 3, "the detector runs on frames 0, 3 and 6 only");
  assertEquals(ids, [[1], [1], [1], [1], [1], [1], [1], [1]]);
  // Between detector frames the keypoint stage is given the track's box (its keypoints' box,
  // 1.25 times as large), not the detector's.
  assertEquals(calls.run.length, 8);
  assert(calls.run[1].length === 1 && calls.run[1][0] !== 104, `frame 1 ran on ${calls.run[1]}`);
  // Anything but a whole number ≥ 1 is refused, not rounded into one.
  for (const detectEvery of [0, -5, 1.5, NaN]) {
    let refused = "";
    try {
      await framePoses(pipeline, blankFrames(1), "walk", { detectEvery }).next();
    } catch (error) {
      refused = (error as Error).message;
    }
    assertEquals(refused, `detectEvery must be a whole number ≥ 1, got ${detectEvery}`);
  }
});
