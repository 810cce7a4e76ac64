/**
 * YOLO-pose codec (Ultralytics export `output0`) and Ultralytics' centred letterbox, against
 * values worked out by hand from Ultralytics' definitions (LetterBox, scale_boxes, NMS).
 */

import { centredLetterbox, pythonRound } from "../lib/geometry/frame.ts";
import { decodeYoloPose, unletterbox, unletterboxPerson } from "../lib/codecs/yolo_pose.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";

/**
 * Four anchors of a K = 1 export (channels cx, cy, w, h, score, x, y, visibility):
 * 0: box [40, 30, 60, 70], score 0.9, keypoint (45, 40) visibility 0.75
 * 1: box [42, 30, 62, 70], score 0.8: IoU with 0 = 18·40 / (800 + 800 − 720) = 0.818
 * 2: box [135, 85, 165, 115], score 0.875, keypoint (150, 95) visibility 0.25
 * 3: score exactly 0.25: not above a 0.25 threshold
 */
const ANCHORS = [
  [50, 50, 20, 40, 0.9, 45, 40, 0.75],
  [52, 50, 20, 40, 0.8, 47, 40, 0.5],
  [150, 100, 30, 30, 0.875, 150, 95, 0.25],
  [300, 300, 10, 10, 0.25, 300, 300, 1],
];

/** The anchors laid out channel-major ([1, 8, N], as exported) or anchor-major. */
function layout(channelMajor: boolean): Float32Array {
  const n = ANCHORS.length, c = 8;
  const data = new Float32Array(n * c);
  ANCHORS.forEach((row, a) =>
    row.forEach((v, ch) => (data[channelMajor ? ch * n + a : a * c + ch] = v))
  );
  return data;
}

const OPTIONS = { scoreThreshold: 0.25, iouThreshold: 0.65, maxDetections: 20, numKeypoints: 1 };

Deno.test("YOLO-pose decode: threshold, class-agnostic NMS, best first, in input pixels", () => {
  for (const channelMajor of [true, false]) {
    const dims = channelMajor ? [1, 8, 4] : [1, 4, 8];
    const people = decodeYoloPose(layout(channelMajor), dims, OPTIONS);
    // Anchor 1 is suppressed by anchor 0 (IoU 0.818 > 0.65); anchor 3 is not above 0.25.
    assertEquals(people.length, 2, `layout ${dims}`);
    const [first, second] = people;
    assertAlmostEquals(first.score, 0.9, 1e-6);
    assertEquals([first.box.x1, first.box.y1, first.box.x2, first.box.y2], [40, 30, 60, 70]);
    assertEquals([...first.keypoints], [45, 40, 0.75]);
    assertEquals(second.score, 0.875);
    assertEquals([second.box.x1, second.box.y1, second.box.x2, second.box.y2], [
      135,
      85,
      165,
      115,
    ]);
    assertEquals([...second.keypoints], [150, 95, 0.25]);
  }
  const one = decodeYoloPose(layout(true), [1, 8, 4], { ...OPTIONS, maxDetections: 1 });
  assertEquals(one.map((p) => p.box.x1), [40]);
  // A looser NMS (IoU 0.9) keeps anchor 1 too, last by score (0.8 < 0.875).
  const loose = decodeYoloPose(layout(true), [1, 8, 4], { ...OPTIONS, iouThreshold: 0.9 });
  assertEquals(loose.map((p) => p.box.x1), [40, 135, 42]);
});

Deno.test("YOLO-pose decode: the 17-keypoint export shape [1, 56, 8400] is accepted", () => {
  const people = decodeYoloPose(new Float32Array(56 * 8400), [1, 56, 8400], {
    ...OPTIONS,
    numKeypoints: 17,
  });
  assertEquals(people, []);
});

Deno.test("YOLO-pose decode: wrong shapes name the output and the expected shape", () => {
  const data = layout(true);
  assertThrows(
    () => decodeYoloPose(data, [1, 9, 4], OPTIONS),
    Error,
    'output "output0" must be [1, 8, N] (or [1, N, 8]) for 1 keypoints, got [1, 9, 4]',
  );
  assertThrows(() => decodeYoloPose(data, [8, 4], OPTIONS), Error, "got [8, 4]");
  assertThrows(() => decodeYoloPose(data, [2, 8, 2], OPTIONS), Error, "got [2, 8, 2]");
  assertThrows(
    () => decodeYoloPose(data, [1, 8, 5], { ...OPTIONS, outputName: "pose" }),
    Error,
    'output "pose" [1, 8, 5] has only 32 values',
  );
  assertThrows(() => decodeYoloPose(data, [1, 8, 4], { ...OPTIONS, numKeypoints: 0 }), Error);
});

Deno.test("Python rounding: ties go to the even integer", () => {
  assertEquals([0.5, 1.5, 2.5, -0.1, 107.4, 107.6, -1.5].map(pythonRound), [
    0,
    2,
    2,
    0,
    107,
    108,
    -2,
  ]);
});

Deno.test("Centred letterbox: pads split as round(d − 0.1), round(d + 0.1), worked by hand", () => {
  // COCO image 785 is 640×425: r = min(640/640, 640/425) = 1, content 640×425,
  // dh = (640 − 425)/2 = 107.5: top round(107.4) = 107, bottom round(107.6) = 108.
  assertEquals(centredLetterbox(640, 425, 640, 640), {
    imageWidth: 640,
    imageHeight: 425,
    inputWidth: 640,
    inputHeight: 640,
    scale: 1,
    contentWidth: 640,
    contentHeight: 425,
    padX: 0,
    padY: 107,
    padRight: 0,
    padBottom: 108,
  });
  // 329×500: r = min(640/329, 640/500) = 1.28; width round(421.12) = 421,
  // dw = (640 − 421)/2 = 109.5: left 109, right 110 (109 + 421 + 110 = 640).
  const tall = centredLetterbox(329, 500, 640, 640);
  assertEquals(
    [tall.scale, tall.contentWidth, tall.contentHeight, tall.padX, tall.padRight, tall.padY],
    [1.28, 421, 640, 109, 110, 0],
  );
  // 1280×5: r = 0.5, height round(2.5) = 2 in Python (JavaScript's Math.round says 3),
  // dh = (640 − 2)/2 = 319: top and bottom 319.
  const thin = centredLetterbox(1280, 5, 640, 640);
  assertEquals([thin.contentWidth, thin.contentHeight, thin.padY, thin.padBottom], [
    640,
    2,
    319,
    319,
  ]);
  assertThrows(() => centredLetterbox(0, 5, 640, 640), Error, "image 0×5");
});

Deno.test("Unletterbox: input pixels back to image pixels, people clipped to the image", () => {
  const lb = centredLetterbox(640, 425, 640, 640); // scale 1, padY 107
  assertEquals(unletterbox(lb, 100, 107), [100, 0]);
  assertEquals(unletterbox(lb, 320, 320), [320, 213]);
  const thin = centredLetterbox(1280, 5, 640, 640); // scale 0.5, padY 319
  assertEquals(unletterbox(thin, 10, 320), [20, 2]);

  const person = {
    box: { x1: 40, y1: 100, x2: 60, y2: 120, score: 0.5 },
    score: 0.5,
    keypoints: Float32Array.of(45, 640, 0.75, -3, 200, 0.25),
  };
  const back = unletterboxPerson(lb, person);
  // y1: 100 − 107 = −7 → clipped to 0; y2: 120 − 107 = 13.
  assertEquals([back.box.x1, back.box.y1, back.box.x2, back.box.y2], [40, 0, 60, 13]);
  // (45, 640 − 107 = 533 → 425) and (−3 → 0, 200 − 107 = 93); visibilities kept.
  assertEquals([...back.keypoints], [45, 425, 0.75, 0, 93, 0.25]);
  assertEquals(back.score, 0.5);
});
