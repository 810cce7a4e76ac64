/**
 * Drawing poses on an image: person boxes, skeleton limbs and keypoints, coloured by body
 * side with mmpose's COCO palette (left green, right orange, centre blue).
 *
 * Plain pixel math on the RGB buffer: shapes are rendered from their distance to each pixel
 * centre (pixel p is at coordinate p, as everywhere in posekit), with one pixel of
 * anti-aliasing at the edges. Encoding the result is `encodeJpeg`/`encodePng` (re-exported).
 */

import { COCO_KEYPOINT_NAMES, COCO_SKELETON } from "../coco/keypoints.ts";
import type { Box, Pose, RgbImage } from "../types.ts";

export { encodeJpeg, encodePng } from "./encode.ts";

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/**
 * Person boxes: magenta, a colour no limb or keypoint uses, so a box edge is never mistaken
 * for a limb.
 */
export const BOX_COLOR: Rgb = [255, 0, 255];

/** Colours of left-side, right-side and centre keypoints and limbs (mmpose's COCO palette). */
export const SIDE_COLORS: Readonly<Record<BodySide, Rgb>> = {
  left: [0, 255, 0],
  right: [255, 128, 0],
  center: [51, 153, 255],
};

/** Which side of the body a keypoint is on. */
export type BodySide = "left" | "right" | "center";

/** How `drawPoses` draws. Sizes default to values that scale with the image. */
export interface DrawOptions {
  /** Limbs as keypoint index pairs; default COCO's skeleton for 17 keypoints, else none. */
  skeleton?: readonly (readonly [number, number])[];
  /** Keypoint names, used to colour by side; default COCO's names for 17 keypoints. */
  keypointNames?: readonly string[];
  /** Keypoints scoring below this are not drawn, nor limbs touching them (default 0.3). */
  keypointThreshold?: number;
  /** Limb width in pixels; default max(2, longer image side / 320). */
  lineWidth?: number;
  /** Keypoint radius in pixels; default 1.5 × the line width. */
  keypointRadius?: number;
  /** Person box colour, or null for no boxes (default `BOX_COLOR`). */
  boxColor?: Rgb | null;
  /**
   * A label per pose (e.g. its track id and score), written above its box's top-left
   * corner in a built-in bitmap font (digits, capitals, `#.:-%_(),/=+<>`); undefined for none.
   */
  label?: (pose: Pose, index: number) => string | undefined;
}

/** The body side of a keypoint from its name ("left_…", "right_…", else centre). */
export function keypointSide(name: string | undefined): BodySide {
  if (name === undefined) return "center";
  if (/^left(_|$)/i.test(name)) return "left";
  if (/^right(_|$)/i.test(name)) return "right";
  return "center";
}

/**
 * A copy of `image` with each pose drawn: its box as a thin rectangle, then the limbs whose
 * two keypoints both reach the threshold (a limb is left or right when both ends are, else
 * centre), then those keypoints as filled circles. Coordinates outside the image (or not
 * finite) are fine: only the visible part is drawn.
 *
 * @example Draw a person box
 * ```ts
 * import assert from "node:assert/strict";
 * import { BOX_COLOR, drawPoses, encodePng, type RgbImage } from "@posekit/posekit";
 *
 * const image: RgbImage = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3) };
 * const pose = {
 *   box: { x1: 5, y1: 5, x2: 35, y2: 35, score: 0.9 },
 *   keypoints: new Float32Array(17 * 3), // no keypoint above the threshold: only the box shows
 *   score: 0.9,
 * };
 * const drawn = drawPoses(image, [pose]);
 * const pixel = (x: number, y: number) => [...drawn.data.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3)];
 * assert.deepEqual(pixel(5, 20), [...BOX_COLOR]); // on the box's left edge
 * assert.deepEqual(pixel(20, 20), [0, 0, 0]); // inside the box
 * assert.ok(image.data.every((v) => v === 0)); // the input is left as it was
 * const png: Uint8Array = encodePng(drawn); // ready for Deno.writeFile
 * assert.ok(png.length > 0);
 * ```
 */
export function drawPoses(
  image: RgbImage,
  poses: readonly Pose[],
  options: DrawOptions = {},
): RgbImage {
  const canvas: RgbImage = { width: image.width, height: image.height, data: image.data.slice() };
  const threshold = options.keypointThreshold ?? 0.3;
  const lineWidth = options.lineWidth ?? Math.max(2, Math.max(image.width, image.height) / 320);
  const radius = options.keypointRadius ?? lineWidth * 1.5;
  const boxColor = options.boxColor === undefined ? BOX_COLOR : options.boxColor;
  for (const pose of poses) {
    const count = Math.floor(pose.keypoints.length / 3);
    const names = options.keypointNames ?? (count === 17 ? COCO_KEYPOINT_NAMES : []);
    const skeleton = options.skeleton ?? (count === 17 ? COCO_SKELETON : []);
    const kp = pose.keypoints;
    const visible = (i: number) => i >= 0 && i < count && kp[i * 3 + 2] >= threshold;

    if (boxColor) {
      const { x1, y1, x2, y2 } = pose.box;
      const width = Math.max(1, lineWidth / 2);
      drawLine(canvas, x1, y1, x2, y1, width, boxColor);
      drawLine(canvas, x2, y1, x2, y2, width, boxColor);
      drawLine(canvas, x2, y2, x1, y2, width, boxColor);
      drawLine(canvas, x1, y2, x1, y1, width, boxColor);
    }
    for (const [a, b] of skeleton) {
      if (!visible(a) || !visible(b)) continue;
      const sideA = keypointSide(names[a]);
      const side = sideA === keypointSide(names[b]) ? sideA : "center";
      drawLine(
        canvas,
        kp[a * 3],
        kp[a * 3 + 1],
        kp[b * 3],
        kp[b * 3 + 1],
        lineWidth,
        SIDE_COLORS[side],
      );
    }
    for (let i = 0; i < count; i++) {
      if (!visible(i)) continue;
      fillCircle(canvas, kp[i * 3], kp[i * 3 + 1], radius, SIDE_COLORS[keypointSide(names[i])]);
    }
  }
  // Labels last, over every skeleton, placed so that none covers another's text.
  const labels: LabelRequest[] = [];
  for (const [index, pose] of poses.entries()) {
    const text = options.label?.(pose, index);
    if (text) labels.push({ text, box: pose.box, score: pose.score });
  }
  if (labels.length > 0) {
    // Glyphs 7 px tall at scale 1; about 1/60 of the longer side, at least 2 px a dot.
    const scale = Math.max(2, Math.round(Math.max(image.width, image.height) / 400));
    const placed = placeLabels(labels, scale, image.width, image.height);
    // Best score last: where labels must overlap, the most confident person's is on top.
    for (const k of placed.order) {
      drawLabel(canvas, labels[k].text, placed.x[k], placed.y[k], scale, boxColor ?? BOX_COLOR);
    }
  }
  return canvas;
}

/** A label to place: its text, the box it belongs to, and the person's score. */
export interface LabelRequest {
  text: string;
  box: Box;
  score: number;
}

/** Where `placeLabels` puts each label (top-left corners), and the order to draw them in. */
export interface LabelPlacement {
  x: Float64Array;
  y: Float64Array;
  /** Label indices, lowest score first: drawn in this order, the best ends on top. */
  order: number[];
}

/** Width and height in pixels of a `drawLabel` strip of `length` characters. */
export function labelSize(length: number, scale: number): [number, number] {
  return [length * 6 * scale + scale, 9 * scale];
}

/**
 * Positions for labels so that none overprints another: the most confident person's label
 * is placed first, above its box's top-left corner (inside the box when there is no room
 * above); each next one takes the first free spot among above, inside the top, and below
 * its box, then further down its box's left edge, then further right — and, should none be
 * free, its preferred spot (it is then drawn under the better ones). Pure; `drawPoses` uses it.
 */
export function placeLabels(
  labels: readonly LabelRequest[],
  scale: number,
  width: number,
  height: number,
): LabelPlacement {
  const n = labels.length;
  const x = new Float64Array(n), y = new Float64Array(n);
  const best = labels.map((_, i) => i).sort((a, b) => labels[b].score - labels[a].score);
  const taken: [number, number, number, number][] = [];
  const free = (x0: number, y0: number, w: number, h: number) =>
    taken.every(([a, b, c, d]) => x0 >= c || x0 + w <= a || y0 >= d || y0 + h <= b);
  for (const i of best) {
    const { box, text } = labels[i];
    const [w, h] = labelSize(text.length, scale);
    const left = Math.max(0, Math.min(width - w, box.x1));
    const candidates: [number, number][] = [
      [left, box.y1 - h >= 0 ? box.y1 - h : box.y1],
      [left, box.y1],
      [left, box.y2],
    ];
    for (let step = 1; step <= 8; step++) candidates.push([left, box.y1 + step * h]);
    for (let step = 1; step <= 4; step++) {
      candidates.push([left + step * w, box.y1 - h >= 0 ? box.y1 - h : box.y1]);
    }
    const inside = ([cx, cy]: [number, number]) => cy >= 0 && cy + h <= height && cx + w <= width;
    const spot = candidates.find((c) => inside(c) && free(c[0], c[1], w, h)) ?? candidates[0];
    [x[i], y[i]] = spot;
    taken.push([spot[0], spot[1], spot[0] + w, spot[1] + h]);
  }
  return { x, y, order: best.slice().reverse() };
}

/** 5 × 7 bitmap glyphs, one row a number, the leftmost column in bit 4. */
const GLYPHS: Readonly<Record<string, readonly number[]>> = {
  "0": [14, 17, 19, 21, 25, 17, 14],
  "1": [4, 12, 4, 4, 4, 4, 14],
  "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2],
  "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14],
  "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12],
  "#": [10, 10, 31, 10, 31, 10, 10],
  ".": [0, 0, 0, 0, 0, 12, 12],
  ":": [0, 12, 12, 0, 12, 12, 0],
  "-": [0, 0, 0, 31, 0, 0, 0],
  "%": [24, 25, 2, 4, 8, 19, 3],
  "i": [4, 0, 12, 4, 4, 4, 14],
  "d": [1, 1, 13, 19, 17, 17, 15],
  " ": [0, 0, 0, 0, 0, 0, 0],
  // Capitals (lower-case text is drawn in them), for keypoint names and titles.
  "A": [14, 17, 17, 31, 17, 17, 17],
  "B": [30, 17, 17, 30, 17, 17, 30],
  "C": [14, 17, 16, 16, 16, 17, 14],
  "D": [28, 18, 17, 17, 17, 18, 28],
  "E": [31, 16, 16, 30, 16, 16, 31],
  "F": [31, 16, 16, 30, 16, 16, 16],
  "G": [14, 17, 16, 23, 17, 17, 15],
  "H": [17, 17, 17, 31, 17, 17, 17],
  "I": [14, 4, 4, 4, 4, 4, 14],
  "J": [7, 2, 2, 2, 2, 18, 12],
  "K": [17, 18, 20, 24, 20, 18, 17],
  "L": [16, 16, 16, 16, 16, 16, 31],
  "M": [17, 27, 21, 21, 17, 17, 17],
  "N": [17, 17, 25, 21, 19, 17, 17],
  "O": [14, 17, 17, 17, 17, 17, 14],
  "P": [30, 17, 17, 30, 16, 16, 16],
  "Q": [14, 17, 17, 17, 21, 18, 13],
  "R": [30, 17, 17, 30, 20, 18, 17],
  "S": [15, 16, 16, 14, 1, 1, 30],
  "T": [31, 4, 4, 4, 4, 4, 4],
  "U": [17, 17, 17, 17, 17, 17, 14],
  "V": [17, 17, 17, 17, 17, 10, 4],
  "W": [17, 17, 17, 21, 21, 21, 10],
  "X": [17, 17, 10, 4, 10, 17, 17],
  "Y": [17, 17, 17, 10, 4, 4, 4],
  "Z": [31, 1, 2, 4, 8, 16, 31],
  "_": [0, 0, 0, 0, 0, 0, 31],
  "(": [2, 4, 8, 8, 8, 4, 2],
  ")": [8, 4, 2, 2, 2, 4, 8],
  ",": [0, 0, 0, 0, 12, 4, 8],
  "/": [0, 1, 2, 4, 8, 16, 0],
  "=": [0, 0, 31, 0, 31, 0, 0],
  "+": [0, 4, 4, 31, 4, 4, 0],
  "<": [2, 4, 8, 16, 8, 4, 2],
  ">": [8, 4, 2, 1, 2, 4, 8],
};

/**
 * Writes `text` in place with its top-left corner at (x, y): white glyphs of 5 × 7 dots,
 * each dot `scale` pixels, on a solid `background` strip so that it reads on any image.
 * Characters without a glyph are drawn as spaces.
 */
export function drawLabel(
  image: RgbImage,
  text: string,
  x: number,
  y: number,
  scale: number,
  background: Rgb,
): void {
  if (![x, y, scale].every(Number.isFinite) || scale <= 0) return;
  const left = Math.round(x), top = Math.round(y);
  const advance = 6 * scale;
  fillRect(image, left, top, left + text.length * advance + scale, top + 9 * scale, background);
  for (const [i, char] of [...text].entries()) {
    const rows = GLYPHS[char] ?? GLYPHS[char.toLowerCase()] ?? GLYPHS[char.toUpperCase()] ??
      GLYPHS[" "];
    for (let row = 0; row < 7; row++) {
      for (let col = 0; col < 5; col++) {
        if (!(rows[row] & (16 >> col))) continue;
        const px = left + scale + i * advance + col * scale;
        const py = top + scale + row * scale;
        fillRect(image, px, py, px + scale, py + scale, [255, 255, 255]);
      }
    }
  }
}

/** Fills the integer rectangle [x0, x1) × [y0, y1), clipped to the image. */
function fillRect(image: RgbImage, x0: number, y0: number, x1: number, y1: number, color: Rgb) {
  const xs = Math.max(0, x0), xe = Math.min(image.width, x1);
  const ys = Math.max(0, y0), ye = Math.min(image.height, y1);
  for (let y = ys; y < ye; y++) {
    for (let x = xs; x < xe; x++) {
      const p = (y * image.width + x) * 3;
      image.data[p] = color[0];
      image.data[p + 1] = color[1];
      image.data[p + 2] = color[2];
    }
  }
}

/**
 * Draws, in place, a line from (x0, y0) to (x1, y1) of the given width with round ends,
 * anti-aliased over one pixel. Parts outside the image are clipped; non-finite input draws
 * nothing.
 */
export function drawLine(
  image: RgbImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  width: number,
  color: Rgb,
): void {
  const half = width / 2;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const lengthSquared = dx * dx + dy * dy;
  paintShape(
    image,
    Math.min(x0, x1) - half,
    Math.min(y0, y1) - half,
    Math.max(x0, x1) + half,
    Math.max(y0, y1) + half,
    color,
    (x, y) => {
      // Distance from the pixel centre to the closest point of the segment.
      const t = lengthSquared > 0
        ? Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / lengthSquared))
        : 0;
      return half + 0.5 - Math.hypot(x - (x0 + t * dx), y - (y0 + t * dy));
    },
  );
}

/** Fills, in place, an anti-aliased disc of `radius` pixels around (cx, cy). */
export function fillCircle(
  image: RgbImage,
  cx: number,
  cy: number,
  radius: number,
  color: Rgb,
): void {
  paintShape(
    image,
    cx - radius,
    cy - radius,
    cx + radius,
    cy + radius,
    color,
    (x, y) => radius + 0.5 - Math.hypot(x - cx, y - cy),
  );
}

/**
 * Draws, in place, an anti-aliased circle outline of `radius` pixels around (cx, cy), the
 * stroke `width` pixels wide (centred on the circle), blended at `opacity` (0–1) so that many
 * rings can overlap without hiding the picture.
 */
export function strokeCircle(
  image: RgbImage,
  cx: number,
  cy: number,
  radius: number,
  width: number,
  color: Rgb,
  opacity = 1,
): void {
  const outer = radius + width / 2;
  paintShape(
    image,
    cx - outer,
    cy - outer,
    cx + outer,
    cy + outer,
    color,
    (x, y) =>
      Math.min(1, width / 2 + 0.5 - Math.abs(Math.hypot(x - cx, y - cy) - radius)) * opacity,
  );
}

/**
 * Blends `color` into the pixels of the (clipped) box [left, right] × [top, bottom], each with
 * coverage `coverage(x, y)` clamped to [0, 1].
 */
function paintShape(
  image: RgbImage,
  left: number,
  top: number,
  right: number,
  bottom: number,
  color: Rgb,
  coverage: (x: number, y: number) => number,
): void {
  if (![left, top, right, bottom].every(Number.isFinite)) return;
  const xStart = Math.max(0, Math.floor(left - 1));
  const yStart = Math.max(0, Math.floor(top - 1));
  const xEnd = Math.min(image.width - 1, Math.ceil(right + 1));
  const yEnd = Math.min(image.height - 1, Math.ceil(bottom + 1));
  const data = image.data;
  for (let y = yStart; y <= yEnd; y++) {
    for (let x = xStart; x <= xEnd; x++) {
      const alpha = Math.min(1, coverage(x, y));
      if (alpha <= 0) continue;
      const p = (y * image.width + x) * 3;
      data[p] = Math.round(data[p] + (color[0] - data[p]) * alpha);
      data[p + 1] = Math.round(data[p + 1] + (color[1] - data[p + 1]) * alpha);
      data[p + 2] = Math.round(data[p + 2] + (color[2] - data[p + 2]) * alpha);
    }
  }
}
