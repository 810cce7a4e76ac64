/**
 * Tracking with real models on the ground-truth clips of tests/support/track_clips.ts (a
 * camera zooming and panning over annotated COCO photos, people leaving and coming back, a
 * person covered for 16 frames), through `videoPoses` as `predict` runs it. The targets of
 * issue 18: IDF1 ≥ 0.9, at most one ID switch per person, at most 1.2 track ids per person.
 *
 * The clips are decoded exactly (`EXACT_SWS_FLAGS`), so every machine tracks the same pixels.
 * All but one clip meet all three targets. The RTMDet wedding pan clears 0.9 by less than a
 * ±0.5 px jitter of the detections moves it, and is held at a floor under the jittered least.
 * The one whose IDF1 misses the target is the detections' doing, and the test holds the
 * measured IDF1 instead (see `EXPECTED`; its ids and switches meet the targets): the groom of
 * image 350679, mostly hidden behind the bride and annotated from his head down to his hand on
 * the knife, his arm across her, whose DEIMv2 box overlaps the annotation by IoU 0.4–0.56, so
 * that the metric's match (IoU ≥ 0.5) comes and goes.
 *
 * The held-out clips (`HELD_OUT_CLIPS`: the other photos with two people, measured once the
 * tracker was settled) first showed two faults the tuned clips had not: a pan turning back
 * while one person was in view lost the camera's motion (RTMDet 0.744, DEIMv2 0.723: a new
 * id for the rider who came back), and a person's visible half under a cover was
 * reported with the track's whole box (0.767 and 0.733). Both are mended in the tracker
 * (changing no id, switch or IDF1 on the clips above), and the test now holds them too.
 * A third came later: DEIMv2 takes a rock, 34 × 16 px, for a person on 7 frames of the
 * riders' pan (3 ids for 2 people); new tracks now need a box of 32² px away from the
 * frame's edges (`minBoxArea`), which changed nothing else here.
 *
 * The DEIMv2 wedding pan, a tuned clip, showed one more once frames were decoded exactly: a
 * guest walking out by the left edge was set aside on his last frame in view (a sliver, 1–2
 * confident keypoints), and the metric matched his annotation to an unannotated neighbour's
 * track there, then back to his own as he came back (two switches of his). A sliver on the
 * frame's edge now continues its person's track.
 *
 * Before this tracker (OKS with the last pose only), the same clips gave 20 ids for 7 people
 * and 22 switches (zoom_in_350679, RTMDet), 93 ids and 66 switches (pan_350679, DEIMv2).
 * Runs on native onnxruntime (4–5 minutes; the WASM backend would take several times that).
 */

import { join } from "node:path";
import { formatPeople } from "../cli/track_eval.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { videoPoses } from "../lib/deno/video/poses.ts";
import type { TrackedPose } from "../lib/track/tracker.ts";
import { assert } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  CLIPS,
  HELD_OUT_CLIPS,
  makeClip,
  scoreTracks,
  summarize,
  type TrackingSummary,
  type VideoGroundTruth,
} from "./support/track_clips.ts";
import { ignoreWithoutFfmpeg } from "./support/video.ts";

interface Expected {
  /** Least IDF1. */
  idf1: number;
  /** Most ID switches of one person. */
  switches: number;
  /** Most track ids per person. */
  idsPerPerson: number;
}

const TARGET: Expected = { idf1: 0.9, switches: 1, idsPerPerson: 1.2 };

/**
 * Per model pair and clip: the targets, or a floor under the IDF1 measured where the
 * detections keep a clip from them or where a ±0.5 px jitter of the detections
 * (`bench/track_bench.ts --jitter 0.5`, standing in for other machines' floats) takes it under
 * 0.9 (docs/tracking.md).
 */
const EXPECTED: Record<string, Record<string, Expected>> = {
  "rtmdet_nano_person+simplepose_nano_256x192": {
    zoom_in_350679: TARGET, // 7 ids / 7 people, IDF1 0.934, 1 switch
    // 6 / 6, 0.927, 0. Held at 0.88: with the detections jittered by ±0.5 px, IDF1 is
    // 0.895–0.934 (docs/tracking.md). (On frames decoded by ffmpeg's default, CPU-dependent
    // conversion: 0.908 on one machine, 0.905 on another; without the track's box reported for
    // weak and partial matches: 0.896; without weak detections keeping tentative tracks: 0.903;
    // without either: 0.891.)
    // (The tracker before those two, without boxes cut by the frame's edge carried on as
    // predicted: 7 / 6, 0.868, 1.)
    pan_350679: { ...TARGET, idf1: 0.88 },
    pan_196141: TARGET, // 4 / 4, 0.977, 0
    occluded_196141: TARGET, // 4 / 4, 0.988, 0
    // The small person at the back is found at box scores 0.30–0.33 only: 2 / 2, 0.944, 0.
    // (Without the weak boxes near tracks of `framePoses`, on one machine's default decoding:
    // 0.855 against 0.905.)
    zoom_out_151938: TARGET,
    pan_434204: TARGET, // 2 / 2, 1.000, 0
    zoom_in_214753: TARGET, // 2 / 2, 1.000, 0
    pan_214753: TARGET, // 2 / 2, 0.988, 0
    occluded_192699: TARGET, // 2 / 2, 1.000, 0
  },
  "deimv2_femto_coco+pp_tinypose_256x192": {
    // 7 / 7, 0.911, 0; jittered by ±0.5 px, 0.910–0.939 (0.815 before the camera motion's
    // inliers were counted by their IoU: a row of heads taken shifted by one).
    zoom_in_350679: TARGET,
    // The groom (his box): 6 / 6, 0.779, 0; jittered, 0.664–0.792, at most 7 ids and one
    // switch of one person. (Before slivers at the frame's edge continued their person's
    // track: 7 / 6, 0.774, 2 switches of a guest walking out; jittered, 0.659–0.788.)
    pan_350679: { ...TARGET, idf1: 0.65 },
    pan_196141: TARGET, // 4 / 4, 0.994, 0 (the car DEIMv2 takes for a person: no pose, no id)
    occluded_196141: TARGET, // 4 / 4, 0.992, 0
    zoom_out_151938: TARGET, // 2 / 2, 0.966, 0
    pan_434204: TARGET, // 2 / 2, 1.000, 0
    zoom_in_214753: TARGET, // 2 / 2, 1.000, 0
    // 2 / 2, 0.988, 0. A rock on the beach, 34 × 16 px, taken for a person on frames 39–45
    // (box scores up to 0.49; RTMDet does not find it) is too small to start a track; with
    // `minBoxArea: 0` it gets an id: 3 / 2, 0.970.
    pan_214753: TARGET,
    occluded_192699: TARGET, // 2 / 2, 1.000, 0
  },
};

function check(name: string, got: TrackingSummary, expected: Expected): string[] {
  const problems: string[] = [];
  if (got.idf1 < expected.idf1) {
    problems.push(`${name}: IDF1 ${got.idf1.toFixed(3)} < ${expected.idf1}`);
  }
  if (got.maxIdswPerPerson > expected.switches) {
    problems.push(`${name}: ${got.maxIdswPerPerson} switches of one person > ${expected.switches}`);
  }
  if (got.ids > expected.idsPerPerson * got.people) {
    problems.push(`${name}: ${got.ids} ids for ${got.people} people`);
  }
  return problems;
}

for (const [pair, expected] of Object.entries(EXPECTED)) {
  const [detector, pose] = pair.split("+");
  Deno.test({
    name: `tracking clips with ground truth: ${detector} + ${pose}`,
    ignore: ignoreWithoutShared("models") || ignoreWithoutShared("coco") || ignoreWithoutFfmpeg(),
    sanitizeResources: false,
    async fn() {
      await withTempDir(async (dir) => {
        const pipeline = await PosePipeline.create({
          modelDirs: [requireShared("models")],
          backend: "native",
          detector,
          pose,
        });
        const problems: string[] = [];
        try {
          for (const spec of [...CLIPS, ...HELD_OUT_CLIPS]) {
            const { video, gt } = await makeClip(spec, dir);
            const tracked: TrackedPose[][] = [];
            for await (const { poses } of videoPoses(pipeline, video)) {
              tracked.push(poses as TrackedPose[]);
            }
            const truth = JSON.parse(await Deno.readTextFile(gt)) as VideoGroundTruth;
            const metrics = scoreTracks(truth, tracked);
            const got = summarize(metrics);
            console.log(
              `${spec.name}: ${got.ids} ids for ${got.people} people, IDF1 ${
                got.idf1.toFixed(3)
              }, ` +
                `HOTA ${got.hota.toFixed(3)}, MOTA ${got.mota.toFixed(3)}, ${got.idsw} switches ` +
                `(at most ${got.maxIdswPerPerson} of one person)`,
            );
            // Under the target: whose frames IDF1 missed, and whether a box matched them.
            if (got.idf1 < TARGET.idf1) console.log(formatPeople(metrics, 3));
            problems.push(...check(spec.name, got, expected[spec.name]));
            await Deno.remove(join(dir, `${spec.name}.mp4`));
          }
        } finally {
          await pipeline.close();
        }
        assert(problems.length === 0, problems.join("; "));
      });
    },
  });
}
