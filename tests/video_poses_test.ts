/**
 * Poses on a video made by the test: a known pan over COCO image 785 (the skier). The main
 * person keeps one track id, and after the known camera motion is removed the keypoints stay
 * where the still-image pipeline puts them on the same frames' exact pixels.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { crop, ignoreWithoutFfmpeg, makePanVideo, type Pan } from "./support/video.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import type { Pose } from "../lib/types.ts";
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
