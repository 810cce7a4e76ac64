/**
 * Drawing poses: limbs and keypoints land where the coordinates say, in the side colours,
 * thresholds hide low-score keypoints, and nothing breaks outside the image.
 */

import {
  BOX_COLOR,
  drawLabel,
  drawLine,
  drawPoses,
  fillCircle,
  keypointSide,
  labelSize,
  placeLabels,
  SIDE_COLORS,
} from "../lib/image/draw.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { encodeJpeg } from "../lib/image/encode.ts";
import type { Pose, RgbImage } from "../lib/types.ts";
import { assert, assertEquals } from "./support/assert.ts";

// COCO keypoint indices used below.
const LEFT_SHOULDER = 5, RIGHT_SHOULDER = 6, LEFT_ELBOW = 7, RIGHT_ELBOW = 8;

function black(width = 100, height = 100): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const p = (y * image.width + x) * 3;
  return [...image.data.subarray(p, p + 3)];
}

function isBlack(image: RgbImage, x: number, y: number): boolean {
  return pixel(image, x, y).every((v) => v === 0);
}

/** A COCO pose with every keypoint at score 0 except the given ones. */
function cocoPose(
  points: Record<number, [number, number, number]>,
  box = { x1: 0, y1: 0, x2: 0, y2: 0 },
): Pose {
  const keypoints = new Float32Array(17 * 3);
  for (const [index, [x, y, score]] of Object.entries(points)) {
    keypoints.set([x, y, score], Number(index) * 3);
  }
  return { box: { ...box, score: 1 }, keypoints, score: 1 };
}

function countNonBlack(image: RgbImage): number {
  let count = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    if (image.data[i] || image.data[i + 1] || image.data[i + 2]) count++;
  }
  return count;
}

Deno.test("keypointSide reads left/right from the keypoint name", () => {
  assertEquals(keypointSide("left_elbow"), "left");
  assertEquals(keypointSide("right_ankle"), "right");
  assertEquals(keypointSide("nose"), "center");
  assertEquals(keypointSide("leftover"), "center");
  assertEquals(keypointSide(undefined), "center");
});

Deno.test("a left limb colours the pixels along its line green and leaves far pixels black", () => {
  const image = black();
  const pose = cocoPose({ [LEFT_SHOULDER]: [20, 50, 0.9], [LEFT_ELBOW]: [80, 50, 0.9] });
  const drawn = drawPoses(image, [pose], { boxColor: null, lineWidth: 3, keypointRadius: 4 });
  for (const x of [30, 40, 50, 60, 70]) {
    assertEquals(pixel(drawn, x, 50), [...SIDE_COLORS.left], `on the line at x=${x}`);
  }
  // Width 3 → half-width 1.5; coverage is 1.5 + 0.5 − distance: full on rows 49–51, none
  // from distance 2 on.
  assertEquals(pixel(drawn, 50, 49), [...SIDE_COLORS.left]);
  assert(isBlack(drawn, 50, 53), "beyond the line's edge");
  for (const [x, y] of [[50, 10], [5, 5], [95, 95], [50, 90], [10, 50], [90, 50]]) {
    assert(isBlack(drawn, x, y), `far pixel ${x},${y} stays black`);
  }
  // Keypoints are discs of radius 4 at their coordinates.
  assertEquals(pixel(drawn, 20, 47), [...SIDE_COLORS.left], "inside the shoulder's disc");
  assert(isBlack(drawn, 20, 44), "outside the shoulder's disc (distance 6)");
  assertEquals(countNonBlack(image), 0, "the input image is not modified");
});

Deno.test("right limbs are orange, limbs joining both sides are blue", () => {
  const pose = cocoPose({
    [LEFT_SHOULDER]: [70, 20, 0.9],
    [RIGHT_SHOULDER]: [30, 20, 0.9],
    [RIGHT_ELBOW]: [30, 80, 0.9],
  });
  const drawn = drawPoses(black(), [pose], { boxColor: null, lineWidth: 2, keypointRadius: 2 });
  assertEquals(pixel(drawn, 30, 50), [...SIDE_COLORS.right], "right shoulder–right elbow");
  assertEquals(pixel(drawn, 50, 20), [...SIDE_COLORS.center], "left shoulder–right shoulder");
});

Deno.test("keypoints below the threshold, and limbs touching them, are not drawn", () => {
  const pose = cocoPose({
    [LEFT_SHOULDER]: [20, 50, 0.9],
    [LEFT_ELBOW]: [80, 50, 0.2], // below the default 0.3
    [RIGHT_SHOULDER]: [50, 80, 0.1],
  });
  const drawn = drawPoses(black(), [pose], { boxColor: null, lineWidth: 3, keypointRadius: 4 });
  assert(isBlack(drawn, 50, 50), "no limb to a low-score elbow");
  assert(isBlack(drawn, 80, 50), "no low-score elbow");
  assert(isBlack(drawn, 50, 80), "no low-score right shoulder");
  assert(!isBlack(drawn, 20, 50), "the confident shoulder is drawn");

  const lenient = drawPoses(black(), [pose], { boxColor: null, keypointThreshold: 0.05 });
  assert(!isBlack(lenient, 50, 50) && !isBlack(lenient, 50, 80), "drawn with threshold 0.05");
});

Deno.test("the person box is a thin rectangle: edges coloured, inside black", () => {
  const pose = cocoPose({}, { x1: 20, y1: 30, x2: 70, y2: 80 });
  const drawn = drawPoses(black(), [pose], { lineWidth: 2 });
  for (const [x, y] of [[20, 55], [70, 55], [45, 30], [45, 80], [20, 30]]) {
    assertEquals(pixel(drawn, x, y), [...BOX_COLOR], `edge pixel ${x},${y}`);
  }
  for (const [x, y] of [[45, 55], [25, 35], [65, 75], [10, 10]]) {
    assert(isBlack(drawn, x, y), `pixel ${x},${y} off the box`);
  }
  const noBox = drawPoses(black(), [pose], { boxColor: null });
  assertEquals(countNonBlack(noBox), 0);
});

Deno.test("coordinates outside the image or not finite do not crash; visible parts are drawn", () => {
  const pose = cocoPose(
    {
      [LEFT_SHOULDER]: [-1000, 50, 0.9],
      [LEFT_ELBOW]: [1000, 50, 0.9], // the limb crosses the whole image
      [RIGHT_SHOULDER]: [NaN, 10, 0.9],
      [RIGHT_ELBOW]: [Infinity, -Infinity, 0.9],
      0: [1e12, -1e12, 0.9],
    },
    { x1: -50, y1: -50, x2: 1e9, y2: NaN },
  );
  const drawn = drawPoses(black(), [pose], { lineWidth: 3 });
  assertEquals([drawn.width, drawn.height, drawn.data.length], [100, 100, 30000]);
  for (const x of [0, 50, 99]) assertEquals(pixel(drawn, x, 50), [...SIDE_COLORS.left]);
  assert(isBlack(drawn, 50, 80), "nothing drawn from the non-finite points");
});

Deno.test("drawLine and fillCircle clip at the image border", () => {
  const image = black(10, 10);
  drawLine(image, -5, -5, 20, 20, 2, [255, 255, 255]);
  assertEquals(pixel(image, 0, 0), [255, 255, 255]);
  assertEquals(pixel(image, 9, 9), [255, 255, 255]);
  assert(isBlack(image, 9, 0));
  fillCircle(image, 12, 5, 4, [255, 0, 0]); // centre outside; fully covers x = 9 (distance 3)
  assertEquals(pixel(image, 9, 5), [255, 0, 0]);
});

Deno.test("anti-aliased edges blend with the background", () => {
  const image = black(20, 20);
  // Half-width 1 → coverage 1 + 0.5 − distance: 1 on the line, 0.5 one row off, 0 two off.
  drawLine(image, 0, 10, 19, 10, 2, [200, 100, 0]);
  assertEquals(pixel(image, 10, 10), [200, 100, 0]);
  assertEquals(pixel(image, 10, 11), [100, 50, 0]);
  assert(isBlack(image, 10, 12));
});

Deno.test("a drawn image survives JPEG encoding with its colours", async () => {
  const pose = cocoPose({ [LEFT_SHOULDER]: [16, 32, 0.9], [LEFT_ELBOW]: [112, 32, 0.9] });
  const drawn = drawPoses(black(128, 64), [pose], { boxColor: null, lineWidth: 8 });
  const decoded = await decodeImage(encodeJpeg(drawn, 90), "drawn.jpg");
  const [r, g, b] = pixel(decoded, 64, 32);
  assert(r < 40 && g > 215 && b < 40, `green survives: ${r},${g},${b}`);
  assert(pixel(decoded, 64, 4).every((v) => v < 20), "black stays black");
});

Deno.test("drawPoses: the default box colour is none of the limb or keypoint colours", () => {
  for (const side of Object.values(SIDE_COLORS)) {
    assert(side.some((v, i) => v !== BOX_COLOR[i]), `box colour equals ${side}`);
  }
  const pose = {
    box: { x1: 10, y1: 10, x2: 60, y2: 60, score: 1 },
    keypoints: new Float32Array(51),
    score: 1,
  };
  const drawn = drawPoses(black(), [pose], { lineWidth: 2 });
  assertEquals(pixel(drawn, 30, 10), [...BOX_COLOR], "on the top edge");
});

Deno.test("drawLabel: glyphs as scale × scale dots on a strip of the background colour", () => {
  const image = black();
  // "1" at scale 2 from (20, 30): strip from (20, 30) to (20 + 6·2 + 2, 30 + 9·2); the
  // glyph's top row (00100) has its dot at column 2, i.e. x = 20 + 2 + 2·2 = 26, y = 32.
  drawLabel(image, "1", 20, 30, 2, BOX_COLOR);
  assertEquals(pixel(image, 26, 32), [255, 255, 255], "the dot of the top row");
  assertEquals(pixel(image, 27, 33), [255, 255, 255], "the same dot, 2 px wide");
  assertEquals(pixel(image, 22, 32), [...BOX_COLOR], "background left of the dot");
  assertEquals(pixel(image, 34, 48), [0, 0, 0], "outside the strip");
});

Deno.test("drawPoses: a label is drawn above the box", () => {
  const pose = {
    box: { x1: 10, y1: 50, x2: 60, y2: 90, score: 1 },
    keypoints: new Float32Array(51),
    score: 1,
  };
  const plain = drawPoses(black(), [pose], {});
  const labelled = drawPoses(black(), [pose], { label: () => "#7" });
  // Scale 2 for a 100-px image: the strip spans y 32..50 above the box.
  assertEquals(pixel(plain, 12, 40), [0, 0, 0]);
  assertEquals(pixel(labelled, 12, 40), [...BOX_COLOR]);
});

Deno.test("placeLabels: labels never overprint each other; the best score is placed first and drawn last", () => {
  // Three people whose boxes start at the same corner (a person behind another): their
  // labels would all land on the same spot.
  const box = { x1: 20, y1: 100, x2: 120, y2: 300, score: 1 };
  const labels = [
    { text: "#3 0.41", box, score: 0.41 },
    { text: "#1 0.93", box: { ...box, x2: 200 }, score: 0.93 },
    { text: "#2 0.60", box: { ...box, y1: 104 }, score: 0.6 },
  ];
  const placed = placeLabels(labels, 2, 640, 480);
  const [w, h] = labelSize(7, 2);
  // The best gets the usual spot, above its box.
  assertEquals([placed.x[1], placed.y[1]], [20, 100 - h]);
  for (let a = 0; a < 3; a++) {
    for (let b = a + 1; b < 3; b++) {
      const apart = Math.abs(placed.x[a] - placed.x[b]) >= w ||
        Math.abs(placed.y[a] - placed.y[b]) >= h;
      assert(apart, `labels ${a} and ${b} overlap`);
    }
  }
  assertEquals(placed.order, [0, 2, 1], "lowest score drawn first, best last");
  // drawPoses draws them all: each label's text colour shows at its own place.
  const image = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3) };
  const poses = labels.map((l) => ({
    box: l.box,
    keypoints: new Float32Array(51),
    score: l.score,
  }));
  const drawn = drawPoses(image, poses, { label: (_, i) => labels[i].text });
  for (let k = 0; k < 3; k++) {
    assertEquals(pixel(drawn, placed.x[k] + 1, placed.y[k] + 1), [...BOX_COLOR], `label ${k}`);
  }
});
