/**
 * The tracking clips' camera and ground truth (tests/support/track_clips.ts): frames are the
 * photo's pixels under the camera transform, and the COCO annotations go through the same
 * transform; people who leave the frame or are covered stop counting and count again.
 */

import {
  cameraAt,
  clipGroundTruth,
  CLIPS,
  type ClipSpec,
  cocoAnnotations,
  renderFrame,
  toFrame,
} from "./support/track_clips.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared } from "./support/shared.ts";
import { assert, assertAlmostEquals, assertEquals } from "./support/assert.ts";

const clip = (name: string) => CLIPS.find((c) => c.name === name)!;

Deno.test("camera: keyframes are hit exactly and interpolated linearly", () => {
  const spec = clip("pan_196141");
  assertEquals(cameraAt(spec, 0), { cx: 200, cy: 200, scale: 1.08 });
  assertEquals(cameraAt(spec, 23), { cx: 440, cy: 200, scale: 1.08 });
  assertEquals(cameraAt(spec, 47), { cx: 200, cy: 200, scale: 1.08 });
  assertAlmostEquals(cameraAt(spec, 35).cx, 440 - 240 * 12 / 24, 1e-9);
  // The window's centre lands on the frame's centre.
  assertEquals(toFrame(spec, 0, 200, 200), [216, 144]);
});

Deno.test("renderFrame: at scale 1 and whole-pixel offsets, frames are the photo's pixels", () => {
  const image = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3) };
  for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 37) % 251;
  const spec: ClipSpec = {
    name: "tiny",
    imageId: 0,
    width: 4,
    height: 2,
    frames: 2,
    fps: 1,
    camera: [{ frame: 0, cx: 3, cy: 2, width: 4 }, { frame: 1, cx: 5, cy: 3, width: 4 }],
    occluders: [{ from: 1, to: 1, box: [3, 2, 4, 3] }],
  };
  for (const t of [0, 1]) {
    const frame = renderFrame(spec, image, t);
    const x0 = t === 0 ? 1 : 3, y0 = t === 0 ? 1 : 2;
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 4; x++) {
        const covered = t === 1 && x === 0 && y === 0; // photo pixel (3, 2)
        const expected = covered ? [96, 96, 104] : Array.from(
          image.data.subarray(((y0 + y) * 8 + x0 + x) * 3, ((y0 + y) * 8 + x0 + x) * 3 + 3),
        );
        assertEquals(
          Array.from(frame.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)),
          expected,
        );
      }
    }
  }
});

Deno.test({
  name:
    "ground truth: the umpire leaves the pan and comes back; the batter's box shrinks when covered",
  ignore: ignoreWithoutShared(...DEV_ANNOTATIONS),
  async fn() {
    const pan = await clipGroundTruth(clip("pan_196141"));
    const umpire = (t: number) =>
      pan.annotations.find((a) => a.image_id === t && a.track_id === 1724673);
    // COCO box ≈ [36, 68, 30, 96] at scale 1.08 with the window centred on (200, 200).
    const [x, y, w, h] = (await cocoAnnotations(196141)).find((a) => a.id === 1724673)!.bbox;
    const first = umpire(0)!;
    const expected = [(x - 200) * 1.08 + 216, (y - 200) * 1.08 + 144, w * 1.08, h * 1.08];
    first.bbox.forEach((v, i) => assertAlmostEquals(v, expected[i], 1e-9));
    assert(umpire(20) === undefined, "out of the frame in the middle of the pan");
    assert(umpire(47) !== undefined, "back at the end");
    assertEquals(pan.images.length, 48);

    const occluded = await clipGroundTruth(clip("occluded_196141"));
    const batter = (t: number) =>
      occluded.annotations.find((a) => a.image_id === t && a.track_id === 460541)!;
    const spec = clip("occluded_196141");
    // Before the cover: the whole COCO box ≈ [248, 74, 170, 301]; under it: down to y = 235.
    const [, by, , bh] = (await cocoAnnotations(196141)).find((a) => a.id === 460541)!.bbox;
    const [, top] = toFrame(spec, 11, 0, by), [, bottom] = toFrame(spec, 11, 0, by + bh);
    assertAlmostEquals(batter(11).bbox[3], bottom - top, 1e-9);
    const [, coverTop] = toFrame(spec, 12, 0, 235), [, top12] = toFrame(spec, 12, 0, by);
    assertAlmostEquals(batter(12).bbox[3], coverTop - top12, 1e-9);
    // People with fewer than 5 visible joints are ignore regions, never ground truth.
    const zoom = await clipGroundTruth(clip("zoom_in_350679"));
    assert(zoom.annotations.some((a) => a.ignore === 1));
    assert(!zoom.annotations.some((a) => a.track_id === 1270323 || a.track_id === 2020789));
  },
});
