/**
 * Explanations as pictures, one per person and kind, plus PRTR's query table:
 *
 * - confidence maps (heatmaps, SimCC outer products): a tile per keypoint showing the person's
 *   crop region of the image with that keypoint's map warped back onto it, then a combined
 *   tile (each pixel's largest map, the skeleton drawn);
 * - attention (TransPose dependency areas): the same tiles with each keypoint's attention row
 *   over the token grid, the dependency area (attention ≥ δ × the row's maximum) outlined and
 *   its peak crossed;
 * - PRTR queries: the crop region with each keypoint labelled by the query that produced it
 *   (and that query's path through the decoder layers when the export returns them), beside a
 *   bar chart per keypoint of that query's class distribution;
 * - the query × keypoint-class table of a whole run (the paper's Fig. 7): per query, the share
 *   of its selections given to each class.
 *
 * A tile is a view of the crop region in the image: tile pixel → crop pixel (a uniform scale)
 * → image pixel (the crop's inverse transform); the image is shown dimmed and grey so that the
 * colour is the model's. Maps are sampled bilinearly where each tile pixel falls, which is the
 * map warped into the image. Each map is shown relative to its own maximum.
 */

import { COCO_SKELETON } from "../coco/keypoints.ts";
import { type Affine, applyAffine, composeAffine, invertAffine } from "../geometry/affine.ts";
import {
  drawLabel,
  drawLine,
  fillCircle,
  keypointSide,
  type Rgb,
  SIDE_COLORS,
} from "../image/draw.ts";
import type { ExplainedPerson } from "../pipeline.ts";
import type { RgbImage } from "../types.ts";
import { dependencyOf } from "./attention.ts";
import type { QueryTableRecord } from "./report.ts";
import type { ConfidenceMaps, KeypointAttention } from "./types.ts";

/** How the pictures are drawn. */
export interface PictureOptions {
  /** Keypoint names in model order (tile titles, body sides). */
  keypointNames: readonly string[];
  /** Limbs of the combined tile; default COCO's for 17 keypoints. */
  skeleton?: readonly (readonly [number, number])[];
  /** δ of the dependency areas (default 0.5). */
  delta?: number;
  /** Tile width in pixels (default 208; the height follows the crop's aspect ratio). */
  tileWidth?: number;
  /** Tiles per row (default 6). */
  columns?: number;
}

/** Picture background and text strip colours. */
const BACKGROUND: Rgb = [24, 24, 28];
const STRIP: Rgb = [0, 0, 0];
const GAP = 4;
const TEXT_SCALE = 2;
/** Height of a line of text at `TEXT_SCALE` (7 dots, a dot of margin above and below). */
const LINE = 9 * TEXT_SCALE;

/** Google's Turbo colour map (polynomial fit), t in [0, 1]. */
export function turbo(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t));
  const channel = (c: readonly number[]) =>
    Math.round(
      255 *
        Math.min(
          1,
          Math.max(0, c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))))),
        ),
    );
  return [
    channel([0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943]),
    channel([0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604]),
    channel([0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]),
  ];
}

/** A tile's view of a person's crop region. */
export interface TileView {
  width: number;
  height: number;
  /** Tile pixel → crop pixel. */
  tileToCrop: Affine;
  /** Tile pixel → image pixel. */
  tileToImage: Affine;
  /** Image pixel → tile pixel. */
  imageToTile: Affine;
}

/** The view of `person`'s crop region in a tile `tileWidth` pixels wide. */
export function tileView(person: ExplainedPerson, tileWidth = 208): TileView {
  const { width, height } = person.cropSize;
  const scale = width / tileWidth;
  const tileToCrop = Float64Array.of(scale, 0, 0, 0, scale, 0);
  const tileToImage = composeAffine(person.geometry.cropToImage, tileToCrop);
  return {
    width: tileWidth,
    height: Math.max(1, Math.round(height / scale)),
    tileToCrop,
    tileToImage,
    imageToTile: invertAffine(tileToImage),
  };
}

/** Bilinear sample of map `j` at map coordinates (x, y); 0 outside the map. */
export function sampleMap(maps: ConfidenceMaps, j: number, x: number, y: number): number {
  const { width: w, height: h } = maps;
  if (!(x > -1 && y > -1 && x < w && y < h)) return 0;
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const plane = maps.data.subarray(j * w * h, (j + 1) * w * h);
  const at = (u: number, v: number) => (u >= 0 && v >= 0 && u < w && v < h ? plane[v * w + u] : 0);
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
    (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/**
 * Map `j` warped into the image over the pixels [x0, x0 + width) × [y0, y0 + height) (pixel p
 * at coordinate p), row-major: what the confidence-map picture overlays, at image resolution.
 *
 * @example A 2 × 2 heatmap warped into the image
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExplainedPerson, mapInImage } from "@posekit/posekit";
 *
 * // An 8 × 8 crop shown at twice its size in the image, from (10, 20).
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20); // crop (x, y) → (2x + 10, 2y + 20)
 * // A heatmap of stride 4: map pixel (u, v) is crop (4u + 1.5, 4v + 1.5), so image
 * // (8u + 13, 8v + 23).
 * const mapToCrop = Float64Array.of(4, 0, 1.5, 0, 4, 1.5);
 * const data = Float32Array.of(0, 0, 0, 1); // hottest at map pixel (1, 1)
 * const person: ExplainedPerson = {
 *   pose: { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }, // one keypoint
 *   geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *   cropSize: { width: 8, height: 8 },
 *   crop: { maps: { numKeypoints: 1, width: 2, height: 2, data, mapToCrop } },
 * };
 * // Image pixels (13, 23) to (21, 31), the centres of map pixels (0, 0) to (1, 1).
 * const values = mapInImage(person, 0, 13, 23, 9, 9);
 * assert.equal(values[0], 0); // map pixel (0, 0)
 * assert.equal(values[8 * 9 + 8], 1); // map pixel (1, 1)
 * assert.equal(values[4 * 9 + 4], 0.25); // image (17, 27), halfway: the mean of the four
 * ```
 */
export function mapInImage(
  person: ExplainedPerson,
  j: number,
  x0: number,
  y0: number,
  width: number,
  height: number,
): Float32Array {
  const maps = person.crop.maps;
  const out = new Float32Array(width * height);
  if (!maps) return out;
  const imageToMap = invertAffine(composeAffine(person.geometry.cropToImage, maps.mapToCrop));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [u, v] = applyAffine(imageToMap, x0 + x, y0 + y);
      out[y * width + x] = sampleMap(maps, j, u, v);
    }
  }
  return out;
}

/** Bilinear sample of the image at (x, y) as one grey level; black outside. */
function greyAt(image: RgbImage, x: number, y: number): number {
  const { width: w, height: h, data } = image;
  if (!(x > -1 && y > -1 && x < w && y < h)) return 0;
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const at = (u: number, v: number) => {
    if (u < 0 || v < 0 || u >= w || v >= h) return 0;
    const p = (v * w + u) * 3;
    return 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
  };
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
    (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** The crop region of the image as a dimmed grey tile. */
function baseTile(image: RgbImage, view: TileView): RgbImage {
  const data = new Uint8Array(view.width * view.height * 3);
  for (let v = 0; v < view.height; v++) {
    for (let u = 0; u < view.width; u++) {
      const [x, y] = applyAffine(view.tileToImage, u, v);
      const grey = Math.round(0.55 * greyAt(image, x, y));
      data.fill(grey, (v * view.width + u) * 3, (v * view.width + u) * 3 + 3);
    }
  }
  return { width: view.width, height: view.height, data };
}

/**
 * A copy of `base` with `values` (one per tile pixel, 0–1) blended in with the Turbo colours,
 * more opaque where larger, so that the image shows through where the model did not look.
 */
function overlay(base: RgbImage, values: Float32Array): RgbImage {
  const data = base.data.slice();
  for (let i = 0; i < values.length; i++) {
    const t = values[i];
    if (!(t > 0.02)) continue;
    const alpha = Math.min(0.85, 0.25 + 0.75 * t);
    const color = turbo(t);
    for (let c = 0; c < 3; c++) {
      data[i * 3 + c] = Math.round(data[i * 3 + c] * (1 - alpha) + color[c] * alpha);
    }
  }
  return { width: base.width, height: base.height, data };
}

/** Divides `values` by their maximum (all 0 when it is not positive). */
function normalized(values: Float32Array): Float32Array {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (max > 0) { for (let i = 0; i < values.length; i++) values[i] = Math.max(0, values[i] / max); }
  else values.fill(0);
  return values;
}

/** Map `j` over the tile's pixels, relative to its maximum. */
function mapOnTile(maps: ConfidenceMaps, j: number, view: TileView): Float32Array {
  const tileToMap = composeAffine(invertAffine(maps.mapToCrop), view.tileToCrop);
  const out = new Float32Array(view.width * view.height);
  for (let v = 0; v < view.height; v++) {
    for (let u = 0; u < view.width; u++) {
      const [x, y] = applyAffine(tileToMap, u, v);
      out[v * view.width + u] = sampleMap(maps, j, x, y);
    }
  }
  return normalized(out);
}

/**
 * Keypoint `j`'s attention row over the tile, relative to the row's maximum: bilinear between
 * token centres, held at the outermost ones.
 */
function attentionOnTile(attention: KeypointAttention, j: number, view: TileView): Float32Array {
  const { gridWidth: gw, gridHeight: gh, stride } = attention;
  const n = gw * gh;
  const maps: ConfidenceMaps = {
    numKeypoints: 1,
    width: gw,
    height: gh,
    data: attention.rows.subarray(j * n, (j + 1) * n),
    mapToCrop: Float64Array.of(1, 0, 0, 0, 1, 0),
  };
  let max = 0;
  for (const v of maps.data) if (v > max) max = v;
  const out = new Float32Array(view.width * view.height);
  if (!(max > 0)) return out;
  const centre = (stride - 1) / 2;
  for (let v = 0; v < view.height; v++) {
    for (let u = 0; u < view.width; u++) {
      const [x, y] = applyAffine(view.tileToCrop, u, v);
      const gx = Math.min(gw - 1, Math.max(0, (x - centre) / stride));
      const gy = Math.min(gh - 1, Math.max(0, (y - centre) / stride));
      out[v * view.width + u] = sampleMap(maps, 0, gx, gy) / max;
    }
  }
  return out;
}

/** The keypoint positions of a person in tile pixels. */
function keypointsOnTile(person: ExplainedPerson, view: TileView): [number, number, number][] {
  const kp = person.pose.keypoints;
  return Array.from({ length: Math.floor(kp.length / 3) }, (_, j) => {
    const [u, v] = applyAffine(view.imageToTile, kp[3 * j], kp[3 * j + 1]);
    return [u, v, kp[3 * j + 2]];
  });
}

/** A keypoint mark: a white dot ringed in black, readable on any colour. */
function markKeypoint(tile: RgbImage, x: number, y: number, color: Rgb = [255, 255, 255]): void {
  fillCircle(tile, x, y, 4.5, [0, 0, 0]);
  fillCircle(tile, x, y, 3, color);
}

/** A cross (the dependency peak), black-edged. */
function markCross(tile: RgbImage, x: number, y: number, color: Rgb): void {
  drawLine(tile, x - 7, y, x + 7, y, 4, [0, 0, 0]);
  drawLine(tile, x, y - 7, x, y + 7, 4, [0, 0, 0]);
  drawLine(tile, x - 6, y, x + 6, y, 2, color);
  drawLine(tile, x, y - 6, x, y + 6, 2, color);
}

/** Writes a title strip on a tile: `text` on black, clipped to the tile. */
function title(tile: RgbImage, text: string, y = 0): void {
  const fits = Math.floor((tile.width - TEXT_SCALE) / (6 * TEXT_SCALE));
  drawLabel(tile, text.slice(0, fits), 0, y, TEXT_SCALE, STRIP);
}

/** The skeleton and keypoints of a person on a tile, coloured by body side. */
function drawSkeleton(
  tile: RgbImage,
  points: [number, number, number][],
  names: readonly string[],
  skeleton: readonly (readonly [number, number])[],
): void {
  for (const [a, b] of skeleton) {
    if (!points[a] || !points[b]) continue;
    const side = keypointSide(names[a]) === keypointSide(names[b])
      ? keypointSide(names[a])
      : "center";
    drawLine(tile, points[a][0], points[a][1], points[b][0], points[b][1], 2, SIDE_COLORS[side]);
  }
  points.forEach(([x, y], j) => markKeypoint(tile, x, y, SIDE_COLORS[keypointSide(names[j])]));
}

/** A tile with its caption (above it, never over the picture) and a note at its right. */
interface CaptionedTile {
  tile: RgbImage;
  caption: string;
  /** Small text at the caption's right end (a score). */
  note?: string;
}

/** Tiles in a grid under a header line, each under its caption; the picture. */
function grid(tiles: CaptionedTile[], columns: number, header: string): RgbImage {
  const tw = tiles[0].tile.width, th = tiles[0].tile.height;
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const cell = LINE + th + GAP;
  const width = cols * tw + (cols + 1) * GAP;
  const height = LINE + 2 * GAP + rows * cell;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(BACKGROUND, i);
  const picture = { width, height, data };
  tiles.forEach(({ tile, caption, note }, i) => {
    const x0 = GAP + (i % cols) * (tw + GAP), y0 = LINE + 2 * GAP + Math.floor(i / cols) * cell;
    const noteWidth = note ? note.length * 6 * TEXT_SCALE + TEXT_SCALE : 0;
    const fits = Math.floor((tw - noteWidth - 2 * TEXT_SCALE) / (6 * TEXT_SCALE));
    // "RIGHT_SHOULDER" becomes "R_SHOULDER" where the whole name and the note do not fit.
    const text = caption.length > fits
      ? caption.replace(/^(LEFT|RIGHT)_/, (m) => `${m[0]}_`)
      : caption;
    drawLabel(picture, text.slice(0, fits), x0, y0, TEXT_SCALE, BACKGROUND);
    if (note) drawLabel(picture, note, x0 + tw - noteWidth, y0, TEXT_SCALE, BACKGROUND);
    for (let v = 0; v < tile.height; v++) {
      data.set(
        tile.data.subarray(v * tile.width * 3, (v + 1) * tile.width * 3),
        ((y0 + LINE + v) * width + x0) * 3,
      );
    }
  });
  const fits = Math.floor((width - 2 * GAP) / (6 * TEXT_SCALE));
  drawLabel(picture, header.slice(0, fits), GAP, GAP, TEXT_SCALE, BACKGROUND);
  return picture;
}

/** Short display name of a keypoint: "LEFT_SHOULDER" for "left_shoulder". */
function displayName(names: readonly string[], j: number): string {
  return (names[j] ?? `KEYPOINT ${j}`).toUpperCase();
}

/** The person's header: index, score and what the picture shows. */
function personHeader(index: number, person: ExplainedPerson, what: string): string {
  return `PERSON ${index}  SCORE ${person.pose.score.toFixed(2)}  ${what}`;
}

/**
 * The confidence-map picture of a person: a tile per keypoint (its map over the crop region,
 * the decoded keypoint marked, name and score on top) and a combined tile (each pixel's
 * largest map, the skeleton). Undefined when the crop has no maps.
 *
 * @example The picture of a person with one keypoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { confidenceMapPicture, encodePng, type ExplainedPerson } from "@posekit/posekit";
 * import type { RgbImage } from "@posekit/posekit";
 *
 * // An 8 × 8 crop shown at twice its size in the image, from (10, 20).
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20); // crop (x, y) → (2x + 10, 2y + 20)
 * // A 2 × 2 heatmap of stride 4, hottest at map pixel (1, 1): crop (5.5, 5.5), the keypoint.
 * const mapToCrop = Float64Array.of(4, 0, 1.5, 0, 4, 1.5);
 * const data = Float32Array.of(0, 0, 0, 1);
 * const person: ExplainedPerson = {
 *   pose: { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }, // one keypoint
 *   geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *   cropSize: { width: 8, height: 8 },
 *   crop: { maps: { numKeypoints: 1, width: 2, height: 2, data, mapToCrop } },
 * };
 * const image: RgbImage = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3).fill(128) };
 * const options = { keypointNames: ["nose"], tileWidth: 16 };
 *
 * const picture = confidenceMapPicture(image, person, 0, options);
 * // Two 16 px tiles in a row (the nose, then all keypoints), 4 px apart and from the edges.
 * assert.equal(picture?.width, 2 * 16 + 3 * 4);
 * assert.ok(encodePng(picture!).length > 0); // ready for Deno.writeFile
 * assert.equal(confidenceMapPicture(image, { ...person, crop: {} }, 0, options), undefined);
 * ```
 */
export function confidenceMapPicture(
  image: RgbImage,
  person: ExplainedPerson,
  index: number,
  options: PictureOptions,
): RgbImage | undefined {
  const maps = person.crop.maps;
  if (!maps) return undefined;
  const view = tileView(person, options.tileWidth);
  const base = baseTile(image, view);
  const points = keypointsOnTile(person, view);
  const combined = new Float32Array(view.width * view.height);
  const tiles: CaptionedTile[] = [];
  for (let j = 0; j < maps.numKeypoints; j++) {
    const values = mapOnTile(maps, j, view);
    for (let i = 0; i < values.length; i++) combined[i] = Math.max(combined[i], values[i]);
    const tile = overlay(base, values);
    if (points[j]) markKeypoint(tile, points[j][0], points[j][1]);
    const caption = displayName(options.keypointNames, j);
    tiles.push({ tile, caption, note: points[j]?.[2].toFixed(2) });
  }
  const all = overlay(base, combined);
  drawSkeleton(all, points, options.keypointNames, skeletonOf(options, points.length));
  tiles.push({ tile: all, caption: "ALL KEYPOINTS" });
  return grid(tiles, options.columns ?? 6, personHeader(index, person, "CONFIDENCE MAPS"));
}

/**
 * The attention picture of a person (TransPose dependency areas): a tile per keypoint with
 * the attention row of its token over the crop region, the dependency area (attention ≥ δ ×
 * the row's maximum) outlined in white, its peak crossed in cyan and the keypoint marked; then
 * a combined tile (each pixel's largest row). Undefined without attention.
 *
 * @example The dependency area of a person's one keypoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionPicture, type ExplainedPerson, type RgbImage } from "@posekit/posekit";
 *
 * // An 8 × 8 crop shown at twice its size in the image, from (10, 20).
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20); // crop (x, y) → (2x + 10, 2y + 20)
 * // 2 × 2 tokens of 4 × 4 crop pixels; the keypoint, crop (5.5, 5.5), is in token 3, and
 * // its row's area (≥ δ = 0.5 × the peak) is tokens 1 and 2.
 * const attention = {
 *   gridWidth: 2, gridHeight: 2, stride: 4, heads: 1, tokens: Int32Array.of(3),
 *   rows: Float32Array.of(0.125, 0.5, 0.25, 0.125),
 * };
 * const person: ExplainedPerson = {
 *   pose: { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }, // one keypoint
 *   geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *   cropSize: { width: 8, height: 8 },
 *   crop: { attention },
 * };
 * const image: RgbImage = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3).fill(128) };
 * const options = { keypointNames: ["nose"], tileWidth: 16 };
 *
 * const picture = attentionPicture(image, person, 0, { ...options, delta: 0.5 });
 * // Two 16 px tiles in a row (the nose, then all keypoints), 4 px apart and from the edges.
 * assert.equal(picture?.width, 2 * 16 + 3 * 4);
 * assert.equal(attentionPicture(image, { ...person, crop: {} }, 0, options), undefined);
 * ```
 */
export function attentionPicture(
  image: RgbImage,
  person: ExplainedPerson,
  index: number,
  options: PictureOptions,
): RgbImage | undefined {
  const attention = person.crop.attention;
  if (!attention) return undefined;
  const delta = options.delta ?? 0.5;
  const view = tileView(person, options.tileWidth);
  const base = baseTile(image, view);
  const points = keypointsOnTile(person, view);
  const combined = new Float32Array(view.width * view.height);
  const tiles: CaptionedTile[] = [];
  const { gridWidth: gw, gridHeight: gh, stride } = attention;
  // The token of each tile pixel (−1 outside the grid), for the area outlines.
  const tokenAt = new Int32Array(view.width * view.height);
  for (let v = 0; v < view.height; v++) {
    for (let u = 0; u < view.width; u++) {
      const [x, y] = applyAffine(view.tileToCrop, u, v);
      const tx = Math.floor((x + 0.5) / stride), ty = Math.floor((y + 0.5) / stride);
      tokenAt[v * view.width + u] = tx >= 0 && ty >= 0 && tx < gw && ty < gh ? ty * gw + tx : -1;
    }
  }
  for (let j = 0; j < attention.tokens.length; j++) {
    const values = attentionOnTile(attention, j, view);
    for (let i = 0; i < values.length; i++) combined[i] = Math.max(combined[i], values[i]);
    const tile = overlay(base, values);
    const dependency = dependencyOf(attention, j, delta);
    outlineArea(tile, tokenAt, dependency.mask);
    const [px, py] = applyAffine(
      composeAffine(view.imageToTile, person.geometry.cropToImage),
      dependency.peak[0],
      dependency.peak[1],
    );
    markCross(tile, px, py, [0, 255, 255]);
    if (points[j]) markKeypoint(tile, points[j][0], points[j][1]);
    tiles.push({ tile, caption: displayName(options.keypointNames, j) });
  }
  const all = overlay(base, normalized(combined));
  drawSkeleton(all, points, options.keypointNames, skeletonOf(options, points.length));
  tiles.push({ tile: all, caption: "ALL KEYPOINTS" });
  const header = personHeader(
    index,
    person,
    `ATTENTION (${attention.heads} HEAD${attention.heads > 1 ? "S" : ""}, STRIDE ${stride}), ` +
      `AREA >= ${delta} X MAX`,
  );
  return grid(tiles, options.columns ?? 6, header);
}

/** Whites the tile pixels on the edge of the marked tokens' area. */
function outlineArea(tile: RgbImage, tokenAt: Int32Array, mask: Uint8Array): void {
  const { width, height, data } = tile;
  const inside = (u: number, v: number) => {
    if (u < 0 || v < 0 || u >= width || v >= height) return false;
    const t = tokenAt[v * width + u];
    return t >= 0 && mask[t] === 1;
  };
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      if (!inside(u, v)) continue;
      if (inside(u - 1, v) && inside(u + 1, v) && inside(u, v - 1) && inside(u, v + 1)) continue;
      data.fill(255, (v * width + u) * 3, (v * width + u) * 3 + 3);
    }
  }
}

function skeletonOf(options: PictureOptions, count: number) {
  return options.skeleton ?? (count === 17 ? COCO_SKELETON : []);
}

/** Colours of the decoder-layer paths, from the first layer (dark) to the last (bright). */
const PATH_COLOR: Rgb = [255, 255, 0];

/**
 * The PRTR picture of a person: the crop region with each keypoint labelled by the query the
 * Hungarian readout gave it (and, with auxiliary outputs, that query's path through the
 * decoder layers, a dot per layer), beside one row per keypoint: its name, its query and a bar
 * chart of that query's class distribution (the J keypoint types, then background; the
 * keypoint's own class in white). Undefined without a query readout.
 *
 * @example The query of a person's one keypoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ExplainedPerson, queryPicture, type RgbImage } from "@posekit/posekit";
 *
 * // An 8 × 8 crop shown at twice its size in the image, from (10, 20).
 * const box = { x1: 10, y1: 20, x2: 26, y2: 36, score: 0.9 };
 * const cropToImage = Float64Array.of(2, 0, 10, 0, 2, 20); // crop (x, y) → (2x + 10, 2y + 20)
 * // Two queries over one keypoint type and background: query 1 (nose 0.8) gave the nose.
 * const queryOfKeypoint = Int32Array.of(1);
 * const classProbabilities = Float32Array.of(0.1, 0.9, 0.8, 0.2); // query after query
 * const queries = { numQueries: 2, queryOfKeypoint, classProbabilities };
 * const person: ExplainedPerson = {
 *   pose: { box, keypoints: Float32Array.of(21, 31, 0.8), score: 0.9 }, // one keypoint
 *   geometry: { box, region: { cx: 18, cy: 28, width: 16, height: 16 }, cropToImage },
 *   cropSize: { width: 8, height: 8 },
 *   crop: { queries },
 * };
 * const image: RgbImage = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3).fill(128) };
 * const options = { keypointNames: ["nose"], tileWidth: 16 };
 *
 * const picture = queryPicture(image, person, 0, options);
 * assert.ok(picture!.width > 2 * 16); // the crop region at twice tileWidth, the table beside it
 * assert.equal(picture!.data.length, picture!.width * picture!.height * 3);
 * assert.equal(queryPicture(image, { ...person, crop: {} }, 0, options), undefined);
 * ```
 */
export function queryPicture(
  image: RgbImage,
  person: ExplainedPerson,
  index: number,
  options: PictureOptions,
): RgbImage | undefined {
  const queries = person.crop.queries;
  if (!queries) return undefined;
  const names = options.keypointNames;
  const J = queries.queryOfKeypoint.length, classes = J + 1;
  const view = tileView(person, (options.tileWidth ?? 192) * 2);
  const tile = baseTile(image, view);
  const points = keypointsOnTile(person, view);
  const cropToTile = invertAffine(view.tileToCrop);
  if (queries.paths) {
    const { points: count, data } = queries.paths;
    for (let j = 0; j < J; j++) {
      const at = (l: number) =>
        applyAffine(cropToTile, data[(j * count + l) * 2], data[(j * count + l) * 2 + 1]);
      for (let l = 0; l < count; l++) {
        const [x, y] = at(l);
        if (l > 0) {
          const [x0, y0] = at(l - 1);
          drawLine(tile, x0, y0, x, y, 1.5, PATH_COLOR);
        }
        const shade = 0.35 + 0.65 * (l / Math.max(1, count - 1));
        fillCircle(tile, x, y, 2.5, [
          Math.round(PATH_COLOR[0] * shade),
          Math.round(PATH_COLOR[1] * shade),
          0,
        ]);
      }
    }
  }
  drawSkeleton(tile, points, names, skeletonOf(options, points.length));
  points.forEach(([x, y], j) => {
    drawLabel(tile, `Q${queries.queryOfKeypoint[j]}`, x + 6, y - 4, 1, STRIP);
  });
  title(tile, queries.paths ? `QUERIES, ${queries.paths.points - 1} LAYER PATHS` : "QUERIES");

  // The table: name, query, bars.
  const bar = 8, rowHeight = Math.max(LINE + 6, Math.floor((view.height - LINE) / J));
  const nameWidth = 15 * 6 * TEXT_SCALE, queryWidth = 6 * 6 * TEXT_SCALE;
  const tableWidth = nameWidth + queryWidth + classes * (bar + 2) + GAP;
  const width = view.width + tableWidth + 3 * GAP;
  const height = Math.max(view.height, LINE + J * rowHeight + GAP) + LINE + 3 * GAP;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(BACKGROUND, i);
  const picture = { width, height, data };
  const top = LINE + 2 * GAP;
  for (let v = 0; v < tile.height; v++) {
    data.set(
      tile.data.subarray(v * tile.width * 3, (v + 1) * tile.width * 3),
      ((top + v) * width + GAP) * 3,
    );
  }
  const x0 = view.width + 2 * GAP;
  drawLabel(picture, "KEYPOINT", x0, top, TEXT_SCALE, BACKGROUND);
  drawLabel(picture, "QUERY", x0 + nameWidth, top, TEXT_SCALE, BACKGROUND);
  drawLabel(picture, "ITS CLASSES", x0 + nameWidth + queryWidth, top, 1, BACKGROUND);
  drawLabel(picture, "(BG LAST)", x0 + nameWidth + queryWidth, top + 9, 1, BACKGROUND);
  for (let j = 0; j < J; j++) {
    const y = top + LINE + j * rowHeight;
    const side = SIDE_COLORS[keypointSide(names[j])];
    drawLabel(picture, displayName(names, j).slice(0, 14), x0, y, TEXT_SCALE, BACKGROUND);
    fillRectangle(picture, x0 - GAP + 1, y, x0 - 1, y + LINE, side);
    drawLabel(
      picture,
      String(queries.queryOfKeypoint[j]),
      x0 + nameWidth,
      y,
      TEXT_SCALE,
      BACKGROUND,
    );
    const q = queries.queryOfKeypoint[j];
    const barsAt = x0 + nameWidth + queryWidth;
    const base = y + rowHeight - 4;
    const full = rowHeight - 6;
    fillRectangle(picture, barsAt, base, barsAt + classes * (bar + 2), base + 1, [90, 90, 90]);
    for (let c = 0; c < classes; c++) {
      const p = queries.classProbabilities[q * classes + c];
      const h = Math.max(p > 0.005 ? 1 : 0, Math.round(p * full));
      const color: Rgb = c === j ? [255, 255, 255] : c === J ? [200, 60, 60] : [110, 150, 210];
      fillRectangle(
        picture,
        barsAt + c * (bar + 2),
        base - h,
        barsAt + c * (bar + 2) + bar,
        base,
        color,
      );
    }
  }
  const header = personHeader(index, person, `PRTR: THE QUERY OF EACH KEYPOINT`);
  const fits = Math.floor((width - 2 * GAP) / (6 * TEXT_SCALE));
  drawLabel(picture, header.slice(0, fits), GAP, GAP, TEXT_SCALE, BACKGROUND);
  const legend =
    "BARS: CLASS DISTRIBUTION OF THE QUERY (SOFTMAX), WHITE = THE KEYPOINT TYPE, RED = BACKGROUND";
  drawLabel(
    picture,
    legend.slice(0, Math.floor((width - 2 * GAP) / 6)),
    GAP,
    height - 9 - GAP,
    1,
    BACKGROUND,
  );
  return picture;
}

/** Fills [x0, x1) × [y0, y1), clipped. */
function fillRectangle(
  image: RgbImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
) {
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(image.height, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(image.width, Math.round(x1)); x++) {
      image.data.set(color, (y * image.width + x) * 3);
    }
  }
}

/** Short column label of a class: "L_SHO" for "left_shoulder", "BG" for background. */
export function shortClassName(name: string): string {
  if (name === "background") return "BG";
  const side = /^left_/i.test(name) ? "L" : /^right_/i.test(name) ? "R" : "";
  const rest = name.replace(/^(left|right)_/i, "").toUpperCase();
  return side ? `${side}${rest.slice(0, 3)}` : rest.slice(0, 4);
}

/** Black → red → yellow → white, t in [0, 1]: brighter is more, on a dark picture. */
export function hot(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t));
  const ramp = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
  return [ramp(3 * x), ramp(3 * x - 1), ramp(3 * x - 2)];
}

/**
 * The query × keypoint-class table of a run (the paper's Fig. 7): a row per query, a column
 * per keypoint type, each cell the share of that query's selections (the keypoints the
 * readout took from it) given to the type; then a background column, the share of the people
 * for which the query was left unassigned (`people` of them), and the query's count of
 * selections. Colours from black (0) through red and yellow to white (1).
 *
 * @example A row per query, a column per keypoint type
 * ```ts
 * import assert from "node:assert/strict";
 * import { queryTablePicture, type QueryTableRecord } from "@posekit/posekit";
 *
 * // Two people: query 1 gave both noses, query 0 was left unassigned twice.
 * const table: QueryTableRecord = {
 *   queries: 2,
 *   classes: ["nose", "background"],
 *   counts: [[0, 2], [2, 0]],
 * };
 * const picture = queryTablePicture(table, 2);
 * assert.equal(picture.data.length, picture.width * picture.height * 3);
 * // Two more queries add two rows: taller, as wide.
 * const counts = [...table.counts, [0, 2], [0, 2]];
 * const taller = queryTablePicture({ ...table, queries: 4, counts }, 2);
 * assert.equal(taller.width, picture.width);
 * assert.ok(taller.height > picture.height);
 * ```
 */
export function queryTablePicture(table: QueryTableRecord, people: number): RgbImage {
  const classes = table.classes.length;
  const cellWidth = 30, cellHeight = 10;
  const labelWidth = 4 * 6 + GAP;
  const headerHeight = LINE + 2 * GAP + 9 + GAP;
  const width = labelWidth + classes * cellWidth + GAP + 5 * 6 + 2 * GAP;
  const height = headerHeight + table.queries * cellHeight + 3 * 9 + 4 * GAP;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(BACKGROUND, i);
  const picture = { width, height, data };
  drawLabel(picture, `QUERY X KEYPOINT TYPE, ${people} PEOPLE`, GAP, GAP, TEXT_SCALE, BACKGROUND);
  const top = headerHeight, left = labelWidth;
  const bg = classes - 1;
  const columnX = (c: number) => left + c * cellWidth + (c === bg ? GAP : 0);
  table.classes.forEach((name, c) => {
    drawLabel(picture, shortClassName(name), columnX(c) + 1, LINE + 2 * GAP, 1, BACKGROUND);
  });
  drawLabel(picture, "SEL", columnX(bg) + cellWidth + GAP, LINE + 2 * GAP, 1, BACKGROUND);
  table.counts.forEach((row, q) => {
    const y = top + q * cellHeight;
    const selections = row.reduce((a, b) => a + b, 0) - row[bg];
    drawLabel(picture, String(q), 0, y, 1, BACKGROUND);
    row.forEach((count, c) => {
      const share = c === bg
        ? (people > 0 ? count / people : 0)
        : selections > 0
        ? count / selections
        : 0;
      const x = columnX(c);
      fillRectangle(picture, x, y, x + cellWidth - 1, y + cellHeight - 1, hot(share));
    });
    drawLabel(picture, String(selections), columnX(bg) + cellWidth + GAP, y, 1, BACKGROUND);
  });
  // Colour scale, share 0 → 1, and what the columns mean.
  const scaleTop = top + table.queries * cellHeight + GAP;
  const scaleWidth = Math.min(classes * cellWidth, 200);
  for (let x = 0; x < scaleWidth; x++) {
    const color = hot(x / (scaleWidth - 1));
    fillRectangle(picture, left + x, scaleTop, left + x + 1, scaleTop + 9, color);
  }
  drawLabel(picture, "0", left - 8, scaleTop, 1, BACKGROUND);
  drawLabel(picture, "1", left + scaleWidth + 2, scaleTop, 1, BACKGROUND);
  const notes = [
    "TYPE COLUMNS: SHARE OF THE SELECTIONS (SEL) OF THE QUERY GIVEN TO EACH TYPE",
    "BG: SHARE OF THE PEOPLE FOR WHICH THE QUERY WAS LEFT UNASSIGNED",
  ];
  notes.forEach((text, i) => {
    drawLabel(picture, text, GAP, scaleTop + (i + 1) * 9 + GAP, 1, BACKGROUND);
  });
  return picture;
}
