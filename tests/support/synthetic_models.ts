/**
 * Synthetic ONNX models whose outputs are known functions of their input, built in memory
 * with `onnx_builder.ts` and run through the real onnxruntime-web. They stand in for trained
 * weights, which cannot be downloaded here.
 *
 * All models read synthetic pictures drawn with the colour protocol below:
 *
 * - Background: any colour with R = 0 and G = 0 (black by default).
 * - Person i (detectors): a solid rectangle with R = 0, G = 0, B = `PERSON_BLUE_LEVELS[i]`
 *   (255, 170, 85). People must not touch each other.
 * - Keypoint marker of type j (0-based) out of J types: a solid block a few pixels wide with
 *   R = 255 and G = `markerGreen(j, J)`, leaving B as it was (so a marker drawn on a person
 *   keeps the person's blue, and the detector does not see it). Markers must be at least
 *   3 pixels apart from each other and at least 3 pixels inside their person's rectangle.
 *
 * A marker's location is the weighted centroid of the pixels whose green/red ratio matches its
 * code, each weighted by max(R − 64, 0): exactly the block's centre on a drawn picture, and
 * within a small fraction of a pixel on a bilinear resize or affine crop of it (the blurred
 * edges only mix the marker with R = G = 0 pixels, which keeps the ratio). Locations are in
 * "pixel p at coordinate p" units of the model input.
 *
 * Keypoint models see left/right the way a trained network does: for each flip pair (a, b),
 * "a" (the left keypoint, first of the pair) is reported at whichever of the two markers lies
 * further right in the crop (a person facing the camera) and "b" at the other. Pictures drawn
 * with each left marker right of its right partner read as drawn; their mirror images read
 * with the pair swapped, as a real mirrored person would.
 *
 * Factories: `buildDetrPersonModel`, `buildSimccModel`, `buildPrtrKeypointModel`,
 * `buildPrtrSequentialModel`. Each returns the model bytes and a suggested manifest.
 *
 * Threads: with 2 onnxruntime-web WASM threads on a busy 2-core machine, runs of the SimCC
 * and sequential PRTR graphs on inputs of ~100k+ pixels sometimes never return (the process
 * spins; one thread never hangs). Tests that run them load their sessions with
 * `ModelSession.load(bytes, label, { backend: "wasm", threads: 1 })` (onnxruntime-web fixes
 * its WASM thread count at the first session of a process); the CLI runs use `--threads 1`.
 */

import { COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES } from "../../lib/coco/keypoints.ts";
import type { ModelManifest } from "../../lib/models/manifest.ts";
import type { Normalization, RgbImage } from "../../lib/types.ts";
import { OnnxGraph } from "./onnx_builder.ts";

// ---------------------------------------------------------------------------------------------
// Colour protocol and drawing.

/** Blue levels of the people a detector model finds, person i at `PERSON_BLUE_LEVELS[i]`. */
export const PERSON_BLUE_LEVELS: readonly number[] = [255, 170, 85];

/** A person pixel matches level b when |B − b| < this. */
export const PERSON_BLUE_TOLERANCE = 20;

/** Red of every marker pixel. */
export const MARKER_RED = 255;

/** Pixels with R at or below this carry no marker weight (weight = max(R − 64, 0)). */
export const MARKER_RED_FLOOR = 64;

/** Green code of keypoint type `type` out of `numTypes`: evenly spaced in (0, 255). */
export function markerGreen(type: number, numTypes: number): number {
  if (!(type >= 0 && type < numTypes)) throw new Error(`marker type ${type} out of ${numTypes}`);
  return Math.round((255 * (type + 1)) / (numTypes + 1));
}

/** Half width of the accepted band around a green code, in 0–255 ratio units. */
function markerTolerance(numTypes: number): number {
  return 0.45 * (255 / (numTypes + 1));
}

/** DETR's normalization: RGB, ImageNet mean/std in 0–255 units. */
export const DETR_NORMALIZATION: Normalization = {
  colorOrder: "rgb",
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
};

/** A new image filled with one colour (black by default). */
export function createImage(
  width: number,
  height: number,
  rgb: readonly [number, number, number] = [0, 0, 0],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
  }
  return { width, height, data };
}

/**
 * Sets channels of the pixels [x0, x0+width) × [y0, y0+height) (clipped to the image);
 * `null` leaves a channel unchanged.
 */
export function fillRect(
  image: RgbImage,
  x0: number,
  y0: number,
  width: number,
  height: number,
  rgb: readonly [number | null, number | null, number | null],
): void {
  const xa = Math.max(0, x0), xb = Math.min(image.width, x0 + width);
  const ya = Math.max(0, y0), yb = Math.min(image.height, y0 + height);
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const p = (y * image.width + x) * 3;
      for (let c = 0; c < 3; c++) if (rgb[c] !== null) image.data[p + c] = rgb[c]!;
    }
  }
}

/** Draws person `personIndex`'s body: R = G = 0, B = its blue level. */
export function drawPersonBody(
  image: RgbImage,
  personIndex: number,
  x0: number,
  y0: number,
  width: number,
  height: number,
): void {
  const blue = PERSON_BLUE_LEVELS[personIndex];
  if (blue === undefined) throw new Error(`person index ${personIndex} has no blue level`);
  fillRect(image, x0, y0, width, height, [0, 0, blue]);
}

/**
 * Draws a marker of keypoint type `type` (out of `numTypes`) as a `size`×`size` block centred
 * on the integer pixel (x, y); `size` must be odd so that the centre is exactly (x, y).
 */
export function drawMarker(
  image: RgbImage,
  type: number,
  numTypes: number,
  x: number,
  y: number,
  size = 5,
): void {
  if (!Number.isInteger(x) || !Number.isInteger(y) || size % 2 !== 1) {
    throw new Error(`drawMarker needs integer centres and an odd size, got (${x}, ${y}) ${size}`);
  }
  const half = (size - 1) / 2;
  fillRect(image, x - half, y - half, size, size, [MARKER_RED, markerGreen(type, numTypes), null]);
}

/** A synthetic person: body rectangle and one marker per keypoint type. */
export interface SyntheticPerson {
  /** Body rectangle in pixels: [x0, y0, width, height]. */
  body: readonly [number, number, number, number];
  /** Integer marker centres per keypoint type; `null` leaves a type out. */
  keypoints: readonly (readonly [number, number] | null)[];
  /** Index into `PERSON_BLUE_LEVELS`; default 0. */
  personIndex?: number;
  /** Marker size (odd), default 5. */
  markerSize?: number;
}

/** Draws a person's body, then its markers (types = `person.keypoints.length`). */
export function drawSyntheticPerson(image: RgbImage, person: SyntheticPerson): void {
  drawPersonBody(image, person.personIndex ?? 0, ...person.body);
  const numTypes = person.keypoints.length;
  person.keypoints.forEach((point, type) => {
    if (point) drawMarker(image, type, numTypes, point[0], point[1], person.markerSize ?? 5);
  });
}

/** The image mirrored left to right (pixel x goes to width − 1 − x). */
export function mirrorImage(image: RgbImage): RgbImage {
  const out = new Uint8Array(image.data.length);
  const w = image.width;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * 3, dst = (y * w + (w - 1 - x)) * 3;
      out[dst] = image.data[src];
      out[dst + 1] = image.data[src + 1];
      out[dst + 2] = image.data[src + 2];
    }
  }
  return { width: w, height: image.height, data: out };
}

/** The image as a normalized NCHW float tensor of batch 1, without any resizing. */
export function imageToInput(
  image: RgbImage,
  norm: Normalization,
): { data: Float32Array; dims: [number, number, number, number] } {
  const plane = image.width * image.height;
  const data = new Float32Array(3 * plane);
  const source = norm.colorOrder === "rgb" ? [0, 1, 2] : [2, 1, 0];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      data[c * plane + i] = (image.data[i * 3 + source[c]] - norm.mean[c]) / norm.std[c];
    }
  }
  return { data, dims: [1, 3, image.height, image.width] };
}

// ---------------------------------------------------------------------------------------------
// Shared subgraphs.

/** A model and the manifest that describes it (file name `${manifest.name}.onnx`). */
export interface SyntheticModel {
  bytes: Uint8Array;
  manifest: ModelManifest;
}

/** R, G, B planes [B,1,H,W] in 0–255 units, undoing the input normalization. */
function pixelPlanes(
  g: OnnxGraph,
  input: string,
  norm: Normalization,
): { r: string; g: string; b: string } {
  const pixels = g.add(
    g.mul(input, g.constant(norm.std, [1, 3, 1, 1])),
    g.constant(norm.mean, [1, 3, 1, 1]),
  );
  const plane = (c: number) => g.slice(pixels, [c], [c + 1], [1]);
  const rgb = norm.colorOrder === "rgb";
  return { r: plane(rgb ? 0 : 2), g: plane(1), b: plane(rgb ? 2 : 0) };
}

/** Column and row indices as [1,1,1,W] and [1,1,H,1] float tensors (dynamic sizes). */
function pixelGrid(g: OnnxGraph, input: string): { xs: string; ys: string } {
  return {
    xs: g.reshape(g.rangeOfDim(input, 3), [1, 1, 1, -1]),
    ys: g.reshape(g.rangeOfDim(input, 2), [1, 1, -1, 1]),
  };
}

/** 1.0 where |value − centre| < tolerance, else 0.0 (centres broadcast along axis 1). */
function bandMask(g: OnnxGraph, value: string, centres: string, tolerance: number): string {
  return g.cast(g.less(g.abs(g.sub(value, centres)), g.scalar(tolerance)), "float");
}

/**
 * Marker centroids per group and keypoint type: [B,G,J,1] x, y (input pixels) and presence
 * (1.0 / 0.0). `groups.masks` [B,G,H,W] (disjoint 0/1 masks) assigns marker pixels to groups
 * (people); without it there is one group covering the whole input.
 */
function markerCentroids(
  g: OnnxGraph,
  input: string,
  planes: { r: string; g: string },
  numTypes: number,
  groups?: { masks: string; count: number },
): { x: string; y: string; present: string } {
  const { xs, ys } = pixelGrid(g, input);
  const weight = g.relu(g.sub(planes.r, g.scalar(MARKER_RED_FLOOR)));
  // The green/red ratio survives blending with R = G = 0 pixels; it identifies the type:
  // code j sits at (j + 1) on the scale ratio · (J + 1) / 255.
  const ratio = g.div(g.mul(planes.g, g.scalar(255)), g.max(planes.r, g.scalar(1)));
  const scaled = g.mul(ratio, g.scalar((numTypes + 1) / 255));
  const nearest = g.op("Round", [scaled]);
  const tolerance = markerTolerance(numTypes) * (numTypes + 1) / 255;
  const valid = g.and(
    g.and(
      g.less(g.abs(g.sub(scaled, nearest)), g.scalar(tolerance)),
      g.greater(weight, g.scalar(0)),
    ),
    g.and(g.greater(nearest, g.scalar(0.5)), g.less(nearest, g.scalar(numTypes + 0.5))),
  );
  // Bin per pixel: group · J + type, or the spare bin G · J for pixels that are no marker
  // (or in no group), as [B,1,N] int64.
  const count = groups?.count ?? 1;
  let bin = g.sub(nearest, g.scalar(1));
  let binValid = valid;
  if (groups) {
    const indices = g.constant(Array.from({ length: count }, (_, i) => i), [1, count, 1, 1]);
    const group = g.reduceSum(g.mul(groups.masks, indices), [1]); // [B,1,H,W]
    bin = g.add(bin, g.mul(group, g.scalar(numTypes)));
    binValid = g.and(valid, g.greater(g.reduceSum(groups.masks, [1]), g.scalar(0.5)));
  }
  const bins = count * numTypes;
  const binFlat = g.reshape(g.cast(g.where(binValid, bin, g.scalar(bins)), "int64"), [0, 1, -1]);
  // Weighted sums per bin with a scatter-add: memory stays O(pixels), where a
  // [bins × pixels] mask would not.
  const moments = [weight, g.mul(weight, xs), g.mul(weight, ys)].map((feature) => {
    const row = g.reshape(feature, [0, 1, -1]); // [B,1,N]
    const zeros = g.mul(g.slice(row, [0], [bins + 1], [2]), g.scalar(0)); // [B,1,bins+1]
    return g.op("ScatterElements", [zeros, binFlat, row], { axis: 2, reduction: "add" });
  });
  const sums = g.slice(g.concat(moments, 1), [0], [bins], [2]); // [B,3,G·J]
  const perGroup = g.transpose(g.reshape(sums, [0, 3, count, numTypes]), [0, 2, 3, 1]); // [B,G,J,3]
  const part = (k: number) => g.slice(perGroup, [k], [k + 1], [3]);
  const mass = part(0);
  const safeMass = g.max(mass, g.scalar(1e-6));
  return {
    x: g.div(part(1), safeMass),
    y: g.div(part(2), safeMass),
    // Half a fully red pixel's weight: anything less is blur from elsewhere.
    present: g.cast(g.greater(mass, g.scalar(0.5 * (MARKER_RED - MARKER_RED_FLOOR))), "float"),
  };
}

/** Partner of each type under the flip pairs (itself when unpaired), and the side sign. */
function flipTables(numTypes: number, flipPairs: readonly (readonly [number, number])[]) {
  const partner = Array.from({ length: numTypes }, (_, j) => j);
  const side = new Array<number>(numTypes).fill(0);
  for (const [left, right] of flipPairs) {
    if (left >= numTypes || right >= numTypes) continue;
    partner[left] = right;
    partner[right] = left;
    side[left] = 1; // left keypoints of a person facing the camera lie further right
    side[right] = -1;
  }
  return { partner, side };
}

/**
 * Reads each flip pair by position instead of colour (see the module comment): where both
 * markers are present and the left type lies left of its partner, the two swap.
 * Inputs and outputs are [B,1,J,1] tensors.
 */
function resolveSides(
  g: OnnxGraph,
  located: { x: string; y: string; present: string },
  numTypes: number,
  flipPairs: readonly (readonly [number, number])[],
): { x: string; y: string; present: string } {
  const { partner, side } = flipTables(numTypes, flipPairs);
  const other = (t: string) => g.gather(t, partner, 2);
  const px = other(located.x), py = other(located.y), pPresent = other(located.present);
  const signed = g.mul(g.sub(located.x, px), g.constant(side, [1, 1, numTypes, 1]));
  const both = g.greater(g.mul(located.present, pPresent), g.scalar(0.5));
  const swap = g.and(g.less(signed, g.scalar(0)), both);
  return {
    x: g.where(swap, px, located.x),
    y: g.where(swap, py, located.y),
    present: g.where(swap, pPresent, located.present),
  };
}

/** Pads axis 1 of a [B,P,...] tensor by one zero row, then gathers rows `rows` ([B,Q,...]). */
function scatterRows(g: OnnxGraph, perPerson: string, rank: number, rows: readonly number[]) {
  const pads = new Array<number>(2 * rank).fill(0);
  pads[rank + 1] = 1;
  return g.gather(g.pad(perPerson, pads), rows, 1);
}

/** Person boxes from blue levels; see `buildDetrPersonModel`. [B,P,4] boxes, [B,P,1] presence. */
function personBoxes(
  g: OnnxGraph,
  input: string,
  blue: string,
  levels: readonly number[],
): { boxes: string; present: string } {
  const count = levels.length;
  const { xs, ys } = pixelGrid(g, input);
  const one = g.scalar(1);
  const mask = bandMask(g, blue, g.constant(levels, [1, count, 1, 1]), PERSON_BLUE_TOLERANCE);
  // Erode by one pixel: the thin rings where a brighter person's edge blurs through this level
  // vanish; the bounds then grow back by that pixel.
  const eroded = g.sub(one, g.maxPool(g.sub(one, mask), [3, 3], { pads: [1, 1, 1, 1] }));
  const cols = g.reduceMax(eroded, [2]); // [B,P,1,W]
  const rows = g.reduceMax(eroded, [3]); // [B,P,H,1]
  const far = g.scalar(1e9);
  const lowest = (any: string, coord: string, axis: number) =>
    g.reduceMin(g.add(g.mul(any, coord), g.mul(g.sub(one, any), far)), [axis]);
  const highest = (any: string, coord: string, axis: number) =>
    g.reduceMax(g.mul(any, coord), [axis]);
  const width = g.dimAsFloat(input, 3), height = g.dimAsFloat(input, 2);
  const clampUnit = (v: string) => g.min(g.max(v, g.scalar(0)), one);
  const x1 = clampUnit(g.div(g.sub(lowest(cols, xs, 3), one), width));
  const x2 = clampUnit(g.div(g.add(highest(cols, xs, 3), g.scalar(2)), width));
  const y1 = clampUnit(g.div(g.sub(lowest(rows, ys, 2), one), height));
  const y2 = clampUnit(g.div(g.add(highest(rows, ys, 2), g.scalar(2)), height));
  const half = g.scalar(0.5);
  const box = g.concat(
    [g.mul(g.add(x1, x2), half), g.mul(g.add(y1, y2), half), g.sub(x2, x1), g.sub(y2, y1)],
    3,
  ); // [B,P,1,4]
  const present = g.reshape(g.reduceMax(cols, [3]), [0, 0, 1]); // [B,P,1]
  const zeros = g.constant([0, 0, 0, 0], [1, 1, 4]);
  const boxes = g.where(g.greater(present, g.scalar(0.5)), g.reshape(box, [0, 0, 4]), zeros);
  return { boxes, present };
}

/** Detection-head logits [B,Q,C+1] from per-query presence [B,Q,1]. */
function detectionLogits(
  g: OnnxGraph,
  presence: string,
  numQueries: number,
  numClasses: number,
  personClass: number,
  personLogitOfQuery: readonly (number | undefined)[],
): string {
  const width = numClasses + 1;
  const present = new Float32Array(numQueries * width);
  const absent = new Float32Array(numQueries * width);
  for (let q = 0; q < numQueries; q++) {
    present[q * width + personClass] = personLogitOfQuery[q] ?? 0;
    absent[q * width + numClasses] = DETR_NO_OBJECT_LOGIT;
  }
  const one = g.scalar(1);
  return g.add(
    g.mul(presence, g.constant(present, [1, numQueries, width])),
    g.mul(g.sub(one, presence), g.constant(absent, [1, numQueries, width])),
  );
}

/** No-object logit of a query without a person (all other logits 0). */
export const DETR_NO_OBJECT_LOGIT = 10;

/** Query rows for `scatterRows`: person i at query `personQueries[i]`, others the zero row. */
function queryRows(personQueries: readonly number[], numQueries: number): number[] {
  const rows = new Array<number>(numQueries).fill(personQueries.length);
  personQueries.forEach((q, i) => {
    if (!(q >= 0 && q < numQueries) || rows[q] !== personQueries.length) {
      throw new Error(`person queries ${personQueries} must be distinct and < ${numQueries}`);
    }
    rows[q] = i;
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// DETR person detector.

export interface DetrPersonModelOptions {
  /** Input name, default "input". Input [B,3,H,W], any H and W. */
  inputName?: string;
  normalization?: Normalization;
  /** Number of queries Q, default 10. */
  numQueries?: number;
  /** Classes C without no-object, default 91 (COCO DETR); the logits have C+1 columns. */
  numClasses?: number;
  /** Person class index, default 1 (0 when numClasses is 1). */
  personClass?: number;
  /** Blue level of each person the model looks for, default `PERSON_BLUE_LEVELS`. */
  personLevels?: readonly number[];
  /** Query of each person, default person i at query Q−1−i. */
  personQueries?: readonly number[];
  /** Person-class logit of each person when present, default 10, 9, 8, ... */
  personLogits?: readonly number[];
}

/**
 * A DETR-style person detector. Input [B,3,H,W] normalized with `normalization` (default DETR's).
 * Outputs `pred_logits` [B,Q,C+1] and `pred_boxes` [B,Q,4].
 *
 * Person i (blue level `personLevels[i]`) lives at query `personQueries[i]`. It is present when
 * some pixel, after a 3×3 erosion of the mask |B − level| < 20, matches; its box is then the
 * extent of the eroded mask grown back by one pixel, in pixel-edge units: columns
 * xmin..xmax give x1 = (xmin)/W, x2 = (xmax + 1)/W clamped to [0, 1], output as normalized
 * cx, cy, w, h. A rectangle drawn over pixels [X0, X0+w) with no resize gives exactly
 * x1 = X0/W, x2 = (X0+w)/W; a bilinear resize moves the edges by at most about one pixel.
 *
 * Logits: present person → person class = `personLogits[i]`, all others 0 (score
 * e^L / (e^L + C) for C classes); any other query (absent person or no person) → no-object =
 * `DETR_NO_OBJECT_LOGIT`, all others 0. Boxes of such queries are 0.
 */
export function buildDetrPersonModel(options: DetrPersonModelOptions = {}): SyntheticModel {
  const inputName = options.inputName ?? "input";
  const norm = options.normalization ?? DETR_NORMALIZATION;
  const numQueries = options.numQueries ?? 10;
  const numClasses = options.numClasses ?? 91;
  const personClass = options.personClass ?? (numClasses === 1 ? 0 : 1);
  const levels = options.personLevels ?? PERSON_BLUE_LEVELS;
  const personQueries = options.personQueries ?? levels.map((_, i) => numQueries - 1 - i);
  const personLogits = options.personLogits ?? levels.map((_, i) => 10 - i);

  const g = new OnnxGraph({ name: "synthetic_detr" });
  const input = g.input(inputName, ["batch", 3, "height", "width"]);
  const planes = pixelPlanes(g, input, norm);
  const { boxes, present } = personBoxes(g, input, planes.b, levels);
  const rows = queryRows(personQueries, numQueries);
  const logitOfQuery = rows.map((i) => personLogits[i]);
  const presence = scatterRows(g, present, 3, rows);
  g.output(
    detectionLogits(g, presence, numQueries, numClasses, personClass, logitOfQuery),
    "pred_logits",
    ["batch", numQueries, numClasses + 1],
  );
  g.output(scatterRows(g, boxes, 3, rows), "pred_boxes", ["batch", numQueries, 4]);
  return {
    bytes: g.toBytes(),
    manifest: {
      name: "synthetic-detr",
      description: "Synthetic DETR person detector (tests/support/synthetic_models.ts)",
      task: "detector",
      family: "detr",
      file: "synthetic-detr.onnx",
      input: {
        name: inputName,
        width: 0,
        height: 0,
        resize: "shorter-side",
        shorterSide: 800,
        longerSideMax: 1333,
        colorOrder: norm.colorOrder,
        mean: [...norm.mean],
        std: [...norm.std],
      },
      outputs: { logits: "pred_logits", boxes: "pred_boxes" },
      options: { personClass },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// SimCC keypoint model.

export interface SimccModelOptions {
  /** Input name, default "input". */
  inputName?: string;
  /** Crop size, default 192×256. */
  width?: number;
  height?: number;
  normalization?: Normalization;
  /** Keypoint types K, default 17. */
  numTypes?: number;
  /** Bins per pixel r, default 2. */
  splitRatio?: number;
  /** Gaussian sigma in bins, default 3. */
  sigma?: number;
  /** Flip pairs read by position (see module comment), default COCO's when K = 17. */
  flipPairs?: readonly (readonly [number, number])[];
}

/**
 * An RTMPose-style SimCC model. Input [B,3,H,W] crop. Outputs `simcc_x` [B,K,W·r] and
 * `simcc_y` [B,K,H·r]: for keypoint k located at (x, y) (see module comment, incl. the
 * left/right rule), simcc_x[k, i] = exp(−(i − r·x)² / (2σ²)), simcc_y[k, i] likewise with y;
 * all zeros when the marker is missing. The argmax bin is the one nearest r·x, with value
 * exp(−d² / (2σ²)) for its distance d ≤ 0.5 bins (1 when r·x is an integer).
 */
export function buildSimccModel(options: SimccModelOptions = {}): SyntheticModel {
  const inputName = options.inputName ?? "input";
  const width = options.width ?? 192, height = options.height ?? 256;
  const norm = options.normalization ?? DETR_NORMALIZATION;
  const numTypes = options.numTypes ?? 17;
  const r = options.splitRatio ?? 2;
  const sigma = options.sigma ?? 3;
  const flipPairs = options.flipPairs ?? (numTypes === 17 ? COCO_FLIP_PAIRS : []);

  const g = new OnnxGraph({ name: "synthetic_simcc" });
  const input = g.input(inputName, ["batch", 3, height, width]);
  const planes = pixelPlanes(g, input, norm);
  const located = resolveSides(g, markerCentroids(g, input, planes, numTypes), numTypes, flipPairs);
  const vector = (coordinate: string, bins: number, name: string) => {
    const centre = g.mul(g.reshape(coordinate, [0, numTypes, 1]), g.scalar(r)); // [B,K,1]
    const d = g.sub(g.constant(Array.from({ length: bins }, (_, i) => i), [1, 1, bins]), centre);
    const gauss = g.exp(g.mul(g.mul(d, d), g.scalar(-1 / (2 * sigma * sigma))));
    g.output(g.mul(gauss, g.reshape(located.present, [0, numTypes, 1])), name, [
      "batch",
      numTypes,
      bins,
    ]);
  };
  vector(located.x, Math.round(width * r), "simcc_x");
  vector(located.y, Math.round(height * r), "simcc_y");
  return {
    bytes: g.toBytes(),
    manifest: {
      name: "synthetic-simcc",
      description: "Synthetic SimCC keypoint model (tests/support/synthetic_models.ts)",
      task: "keypoints",
      family: "simcc",
      file: "synthetic-simcc.onnx",
      input: {
        name: inputName,
        width,
        height,
        colorOrder: norm.colorOrder,
        mean: [...norm.mean],
        std: [...norm.std],
        dynamicBatch: true,
      },
      outputs: { simcc_x: "simcc_x", simcc_y: "simcc_y" },
      keypoints: keypointNames(numTypes),
      flipPairs: flipPairs.map(([a, b]) => [a, b] as [number, number]),
      options: { splitRatio: r },
    },
  };
}

function keypointNames(numTypes: number): string[] {
  return numTypes === 17
    ? [...COCO_KEYPOINT_NAMES]
    : Array.from({ length: numTypes }, (_, j) => `kp${j}`);
}

// ---------------------------------------------------------------------------------------------
// PRTR keypoint Transformers.

/**
 * What each of the Q keypoint queries of a synthetic PRTR model says. Logits of query q are
 * ln(probabilities[q][j]) for the J keypoint types (−30 where the probability is 0) and
 * ln(backgroundOdds[q]) for the background column, so a softmax over the J type columns
 * gives back `probabilities[q]` (rows sum to 1) and one over all J+1 columns gives
 * probabilities[q][j] / (1 + backgroundOdds[q]).
 */
export interface PrtrQueryLayout {
  numTypes: number;
  numQueries: number;
  /** The keypoint type whose marker location query q reports, or −1 for a distractor. */
  source: number[];
  /** Per query, J type probabilities summing to 1. */
  probabilities: number[][];
  /** Per query, exp(background logit). */
  backgroundOdds: number[];
  /** Per query, the constant normalized (x, y) a distractor reports ([0, 0] for others). */
  distractorCoords: [number, number][];
}

/** Logit written for a probability of 0. */
const ZERO_PROBABILITY_LOGIT = -30;

/**
 * The default query layout (J ≥ 3 types, Q ≥ J queries), in a fixed shuffled query order:
 *
 * - types 2..J−1: one query each reporting that type, probability 0.9 on it and 0.1 spread
 *   evenly over the other J−1 types; background odds 0.05;
 * - types 0 and 1, a conflict only the optimal matching resolves: query A reports type 1's
 *   marker with probabilities 0.6 on type 0 and 0.4 on type 1; query B reports type 0's marker
 *   with 0.5 on type 0, 0.1 on type 1, and 0.4 spread over types 2..J−1; background odds 0.05.
 *   Best per type alone would give both types to A; the optimal matching (A→1, B→0, total
 *   0.9 against 0.7) reads type 0 from B with score 0.5 and type 1 from A with score 0.4;
 * - the remaining Q−J queries are distractors with fixed coordinates: probability 0.3 on type
 *   2 + (k mod (J−2)) and 0.7 spread over the others; background odds 3.
 */
export function prtrQueryLayout(numTypes = 17, numQueries = 100): PrtrQueryLayout {
  if (numTypes < 3 || numQueries < numTypes) {
    throw new Error(`PRTR layout needs J ≥ 3 and Q ≥ J, got J=${numTypes}, Q=${numQueries}`);
  }
  const spread = (total: number, except: readonly number[]) => {
    const row = new Array<number>(numTypes).fill(0);
    const others = numTypes - except.length;
    for (let j = 0; j < numTypes; j++) if (!except.includes(j)) row[j] = total / others;
    return row;
  };
  type Role = { source: number; probabilities: number[]; odds: number; coords: [number, number] };
  const roles: Role[] = [];
  for (let j = 2; j < numTypes; j++) {
    const probabilities = spread(0.1, [j]);
    probabilities[j] = 0.9;
    roles.push({ source: j, probabilities, odds: 0.05, coords: [0, 0] });
  }
  const a = new Array<number>(numTypes).fill(0);
  a[0] = 0.6;
  a[1] = 0.4;
  roles.push({ source: 1, probabilities: a, odds: 0.05, coords: [0, 0] });
  const b = spread(0.4, [0, 1]);
  b[0] = 0.5;
  b[1] = 0.1;
  roles.push({ source: 0, probabilities: b, odds: 0.05, coords: [0, 0] });
  const distractors = numQueries - numTypes;
  for (let k = 0; k < distractors; k++) {
    const favourite = 2 + (k % (numTypes - 2));
    const probabilities = spread(0.7, [favourite]);
    probabilities[favourite] = 0.3;
    const coords: [number, number] = [(k + 0.5) / distractors, 1 - (k + 0.5) / distractors];
    roles.push({ source: -1, probabilities, odds: 3, coords });
  }
  // Fixed shuffle (a small LCG) so that query order says nothing about types.
  const order = roles.map((_, i) => i);
  let seed = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const k = seed % (i + 1);
    [order[i], order[k]] = [order[k], order[i]];
  }
  const placed = order.map((i) => roles[i]);
  return {
    numTypes,
    numQueries,
    source: placed.map((r) => r.source),
    probabilities: placed.map((r) => r.probabilities),
    backgroundOdds: placed.map((r) => r.odds),
    distractorCoords: placed.map((r) => r.coords),
  };
}

/** The layout's logits as a [Q, J+1] table. */
export function prtrLayoutLogits(layout: PrtrQueryLayout): Float32Array {
  const { numTypes: J, numQueries: Q } = layout;
  const logits = new Float32Array(Q * (J + 1));
  for (let q = 0; q < Q; q++) {
    for (let j = 0; j < J; j++) {
      const p = layout.probabilities[q][j];
      logits[q * (J + 1) + j] = p > 0 ? Math.log(p) : ZERO_PROBABILITY_LOGIT;
    }
    logits[q * (J + 1) + J] = Math.log(layout.backgroundOdds[q]);
  }
  return logits;
}

/**
 * Per-query outputs from per-type locations: coords [B,G,Q,2] (normalized by the input size)
 * and logits [B,G,Q,J+1]. A query reporting a missing marker gets all-zero logits.
 */
function prtrQueryOutputs(
  g: OnnxGraph,
  input: string,
  located: { x: string; y: string; present: string },
  layout: PrtrQueryLayout,
): { coords: string; logits: string } {
  const { numTypes: J, numQueries: Q } = layout;
  const width = g.dimAsFloat(input, 3), height = g.dimAsFloat(input, 2);
  const normalized = g.concat([g.div(located.x, width), g.div(located.y, height)], 3); // [B,G,J,2]
  const sources = layout.source.map((s) => Math.max(s, 0));
  const isDistractor = layout.source.map((s) => (s < 0 ? 1 : 0));
  const keep = g.constant(isDistractor.map((d) => 1 - d), [1, 1, Q, 1]);
  const fixed = g.constant(
    layout.distractorCoords.flatMap((c, q) => (isDistractor[q] ? c : [0, 0])),
    [1, 1, Q, 2],
  );
  const coords = g.add(g.mul(g.gather(normalized, sources, 2), keep), fixed);
  const present = g.max(
    g.gather(located.present, sources, 2),
    g.constant(isDistractor, [1, 1, Q, 1]),
  ); // [B,G,Q,1]
  const logits = g.mul(g.constant(prtrLayoutLogits(layout), [1, 1, Q, J + 1]), present);
  return { coords, logits };
}

export interface PrtrKeypointModelOptions {
  /** Input name, default "input". */
  inputName?: string;
  /** Crop size, default 288×384 (the paper's 384×288, h×w). */
  width?: number;
  height?: number;
  normalization?: Normalization;
  /** Query layout, default `prtrQueryLayout(17, 100)`. */
  layout?: PrtrQueryLayout;
  /** Flip pairs read by position, default COCO's when J = 17. */
  flipPairs?: readonly (readonly [number, number])[];
  /**
   * Intermediate decoder layers L to report as the auxiliary output `aux_coords` [B,L,Q,2]
   * (default 0: none). Layer l (0-based) puts each query at c + (0.5 − c)·(L − l)/(L + 1)
   * for its final coordinates c: from near the crop's centre towards c, layer by layer.
   */
  auxLayers?: number;
}

/**
 * A two-stage PRTR keypoint Transformer. Input [B,3,H,W] crop. Outputs `pred_logits`
 * [B,Q,J+1] (the layout's logits, zeroed for queries whose marker is missing) and
 * `pred_coords` [B,Q,2]: for a query reporting type j, the marker location (module comment,
 * incl. the left/right rule) divided by the input size, (x/W, y/H) in "pixel p at p" units as
 * PRTR's training targets are; for a distractor, its fixed coordinates.
 */
export function buildPrtrKeypointModel(options: PrtrKeypointModelOptions = {}): SyntheticModel {
  const inputName = options.inputName ?? "input";
  const width = options.width ?? 288, height = options.height ?? 384;
  const norm = options.normalization ?? DETR_NORMALIZATION;
  const layout = options.layout ?? prtrQueryLayout(17, 100);
  const J = layout.numTypes, Q = layout.numQueries;
  const flipPairs = options.flipPairs ?? (J === 17 ? COCO_FLIP_PAIRS : []);

  const g = new OnnxGraph({ name: "synthetic_prtr" });
  const input = g.input(inputName, ["batch", 3, height, width]);
  const planes = pixelPlanes(g, input, norm);
  const located = resolveSides(g, markerCentroids(g, input, planes, J), J, flipPairs);
  const { coords, logits } = prtrQueryOutputs(g, input, located, layout);
  g.output(g.reshape(logits, [0, Q, J + 1]), "pred_logits", ["batch", Q, J + 1]);
  g.output(g.reshape(coords, [0, Q, 2]), "pred_coords", ["batch", Q, 2]);
  const layers = options.auxLayers ?? 0;
  if (layers > 0) {
    const final = g.reshape(coords, [0, 1, Q, 2]);
    const towards = g.constant(
      Array.from({ length: layers }, (_, l) => (layers - l) / (layers + 1)),
      [1, layers, 1, 1],
    );
    const aux = g.add(final, g.mul(g.sub(g.scalar(0.5), final), towards)); // [B,L,Q,2]
    g.output(aux, "aux_coords", ["batch", layers, Q, 2]);
  }
  return {
    bytes: g.toBytes(),
    manifest: {
      name: "synthetic-prtr",
      description: "Synthetic two-stage PRTR keypoint model (tests/support/synthetic_models.ts)",
      task: "keypoints",
      family: "prtr",
      file: "synthetic-prtr.onnx",
      input: {
        name: inputName,
        width,
        height,
        colorOrder: norm.colorOrder,
        mean: [...norm.mean],
        std: [...norm.std],
        dynamicBatch: true,
      },
      outputs: { pred_logits: "pred_logits", pred_coords: "pred_coords" },
      keypoints: keypointNames(J),
      flipPairs: flipPairs.map(([a, b]) => [a, b] as [number, number]),
    },
  };
}

export interface PrtrSequentialModelOptions {
  /** Input name, default "input". Input [B,3,H,W], any H and W. */
  inputName?: string;
  normalization?: Normalization;
  /** Person (detection) queries, default 10. */
  numQueries?: number;
  /** Classes without no-object, default 1 (person only: 2 logits, person class 0). */
  numClasses?: number;
  personClass?: number;
  personLevels?: readonly number[];
  personQueries?: readonly number[];
  personLogits?: readonly number[];
  /** Keypoint query layout, default `prtrQueryLayout(17, 100)`. */
  layout?: PrtrQueryLayout;
}

/**
 * A sequential (end-to-end) PRTR model: whole image in, people and their keypoints out.
 * Outputs `pred_logits` [B,P,C+1] and `pred_boxes` [B,P,4] exactly as `buildDetrPersonModel`
 * (default C = 1); `pred_kpt_logits` [B,P,Q,J+1] and `pred_kpt_coord` [B,P,Q,2] as
 * `buildPrtrKeypointModel` per person query, where person i's markers are those whose pixels
 * have its blue level (|B − level| < 20) and locations are divided by the whole input size.
 * Types are read by colour only (no left/right rule: there is no flip test end to end).
 * Queries without a person get zero keypoint logits and coordinates.
 */
export function buildPrtrSequentialModel(options: PrtrSequentialModelOptions = {}): SyntheticModel {
  const inputName = options.inputName ?? "input";
  const norm = options.normalization ?? DETR_NORMALIZATION;
  const numQueries = options.numQueries ?? 10;
  const numClasses = options.numClasses ?? 1;
  const personClass = options.personClass ?? (numClasses === 1 ? 0 : 1);
  const levels = options.personLevels ?? PERSON_BLUE_LEVELS;
  const personQueries = options.personQueries ?? levels.map((_, i) => numQueries - 1 - i);
  const personLogits = options.personLogits ?? levels.map((_, i) => 10 - i);
  const layout = options.layout ?? prtrQueryLayout(17, 100);
  const J = layout.numTypes, Qk = layout.numQueries, P = levels.length;

  const g = new OnnxGraph({ name: "synthetic_prtr_sequential" });
  const input = g.input(inputName, ["batch", 3, "height", "width"]);
  const planes = pixelPlanes(g, input, norm);
  const { boxes, present } = personBoxes(g, input, planes.b, levels);
  const rows = queryRows(personQueries, numQueries);
  const presence = scatterRows(g, present, 3, rows);
  g.output(
    detectionLogits(
      g,
      presence,
      numQueries,
      numClasses,
      personClass,
      rows.map((i) => personLogits[i]),
    ),
    "pred_logits",
    ["batch", numQueries, numClasses + 1],
  );
  g.output(scatterRows(g, boxes, 3, rows), "pred_boxes", ["batch", numQueries, 4]);

  const ofPerson = bandMask(g, planes.b, g.constant(levels, [1, P, 1, 1]), PERSON_BLUE_TOLERANCE);
  const located = markerCentroids(g, input, planes, J, { masks: ofPerson, count: P });
  const { coords, logits } = prtrQueryOutputs(g, input, located, layout); // [B,P,Qk,·]
  const toQueries = (perPerson: string, size: number) =>
    g.reshape(
      scatterRows(g, g.reshape(perPerson, [0, P, Qk * size]), 3, rows),
      [0, numQueries, Qk, size],
    );
  g.output(toQueries(logits, J + 1), "pred_kpt_logits", ["batch", numQueries, Qk, J + 1]);
  g.output(toQueries(coords, 2), "pred_kpt_coord", ["batch", numQueries, Qk, 2]);
  return {
    bytes: g.toBytes(),
    manifest: {
      name: "synthetic-prtr-sequential",
      description: "Synthetic sequential PRTR model (tests/support/synthetic_models.ts)",
      task: "end2end",
      family: "prtr-sequential",
      file: "synthetic-prtr-sequential.onnx",
      input: {
        name: inputName,
        width: 0,
        height: 0,
        resize: "shorter-side",
        shorterSide: 512,
        longerSideMax: 853,
        colorOrder: norm.colorOrder,
        mean: [...norm.mean],
        std: [...norm.std],
      },
      outputs: {
        logits: "pred_logits",
        boxes: "pred_boxes",
        kpt_logits: "pred_kpt_logits",
        kpt_coords: "pred_kpt_coord",
      },
      keypoints: keypointNames(J),
      flipPairs: (J === 17 ? COCO_FLIP_PAIRS : []).map(([a, b]) => [a, b] as [number, number]),
      options: { personClass },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// TransPose: a Transformer heatmap model whose attention is known in closed form.

export interface TransPoseModelOptions {
  /** Input name, default "input". */
  inputName?: string;
  /** Crop size, default 192×256 (TransPose's). */
  width?: number;
  height?: number;
  normalization?: Normalization;
  /** Crop pixels per token (the stem's stride), default 8 (TransPose-R). */
  stride?: number;
  /** Where each token looks, in tokens from itself: default [2, −3]. */
  offset?: readonly [number, number];
  /** Spread of head 0's attention in tokens, default 1.5. */
  sigma?: number;
  /** Where the 1/√d scale sits: on the queries ("before") or the product ("after", default). */
  scale?: "before" | "after";
  /** Heatmap Gaussian sigma in heatmap pixels, default 1.5. */
  heatmapSigma?: number;
}

/**
 * A TransPose-shaped keypoint model (Yang et al., ICCV 2021) whose self-attention is known in
 * closed form. Input [B,3,H,W] crop; output `heatmaps` [B,17,H/4,W/4].
 *
 * - Stem: an s × s convolution of stride s (channels 0–2 the patch's mean colour, 3–7 zero),
 *   flattened into N = (W/s)·(H/s) tokens, plus a constant positional embedding in channels
 *   4–7: (x, y, 1, −(x² + y²)/2) with (x, y) the token's column and row.
 * - One self-attention layer of two heads of width 3 (queries, keys, values by MatMul with
 *   constant weights, multi-head reshape/transpose, keys transposed by perm [0,2,3,1], the
 *   1/√3 scale before or after the product, Softmax over the last axis), then the output
 *   projection (zero weights) added back to the tokens.
 *   Head 0: query token t at p_t attends to key token u with logit −|p_u − (p_t + offset)|² /
 *   (2σ²) (the |p_t + offset|² part is the same along the row, so the Softmax drops it): a
 *   Gaussian centred `offset` tokens from the query. Head 1's queries are zero: uniform 1/N.
 *   The averaged row of token t is therefore (G_u / Σ G + 1/N) / 2 with
 *   G_u = exp(−|p_u − p_t − offset|² / (2σ²)).
 * - Heatmap head: a 1 × 1 convolution and a stride-2 transposed convolution of the tokens
 *   (zero weights: they add 0), plus, per keypoint type, a Gaussian of `heatmapSigma`
 *   heatmap pixels at the marker's location / 4 (synthetic colour protocol, left/right rule),
 *   all zeros when the marker is missing.
 */
export function buildTransPoseModel(options: TransPoseModelOptions = {}): SyntheticModel {
  const inputName = options.inputName ?? "input";
  const width = options.width ?? 192, height = options.height ?? 256;
  const norm = options.normalization ?? DETR_NORMALIZATION;
  const s = options.stride ?? 8;
  const [dx, dy] = options.offset ?? [2, -3];
  const sigma = options.sigma ?? 1.5;
  const J = 17, heads = 2, dh = 3, channels = 8;
  const gw = width / s, gh = height / s, n = gw * gh;
  const hw = width / 4, hh = height / 4;
  if (!Number.isInteger(gw) || !Number.isInteger(gh) || !Number.isInteger(hw * hh)) {
    throw new Error(`crop ${width}×${height} is not a whole number of ${s}-pixel tokens`);
  }
  const scale = 1 / Math.sqrt(dh);
  const g = new OnnxGraph({ name: "synthetic_transpose" });
  const input = g.input(inputName, ["batch", 3, height, width]);

  // Stem and tokens.
  const stemWeights = new Float32Array(channels * 3 * s * s);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < s * s; i++) stemWeights[(c * 3 + c) * s * s + i] = 1 / (s * s);
  }
  const stem = g.conv(input, { values: stemWeights, dims: [channels, 3, s, s] }, {
    strides: [s, s],
    bias: new Float32Array(channels),
  });
  const tokens = g.transpose(g.reshape(stem, [0, channels, n]), [0, 2, 1]); // [B,N,C]
  const embedding = new Float32Array(n * channels);
  for (let t = 0; t < n; t++) {
    const x = t % gw, y = Math.floor(t / gw);
    embedding.set([x, y, 1, -(x * x + y * y) / 2], t * channels + 4);
  }
  const x = g.add(tokens, g.constant(embedding, [1, n, channels]));

  // Projections: head 0 in columns 0–2, head 1 in 3–5.
  const a = 1 / (sigma * sigma * scale);
  const wq = new Float32Array(channels * heads * dh);
  const wk = new Float32Array(channels * heads * dh);
  const wv = new Float32Array(channels * heads * dh);
  const set = (w: Float32Array, row: number, col: number, v: number) => {
    w[row * heads * dh + col] = v;
  };
  // Head 0's query (x + dx, y + dy, 1)·a and key (x, y, −(x² + y²)/2); head 1's query is 0.
  const entries: [Float32Array, number, number, number][] = [
    [wq, 4, 0, a],
    [wq, 6, 0, a * dx],
    [wq, 5, 1, a],
    [wq, 6, 1, a * dy],
    [wq, 6, 2, a],
  ];
  for (const head of [0, 1]) {
    entries.push([wk, 4, head * dh, 1], [wk, 5, head * dh + 1, 1], [wk, 7, head * dh + 2, 1]);
    for (let c = 0; c < dh; c++) entries.push([wv, c, head * dh + c, 1]);
  }
  for (const [w, row, col, v] of entries) set(w, row, col, v);
  const project = (w: Float32Array) => g.matmul(x, g.constant(w, [channels, heads * dh]));
  const split = (v: string) => g.reshape(v, [0, n, heads, dh]);
  let queries = g.transpose(split(project(wq)), [0, 2, 1, 3]); // [B,h,N,d]
  const keys = g.transpose(split(project(wk)), [0, 2, 3, 1]); // [B,h,d,N]
  const values = g.transpose(split(project(wv)), [0, 2, 1, 3]);
  if (options.scale === "before") queries = g.mul(queries, g.scalar(scale));
  let logits = g.matmul(queries, keys); // [B,h,N,N]
  if (options.scale !== "before") logits = g.mul(logits, g.scalar(scale));
  const attention = g.softmax(logits, -1);
  const mixed = g.reshape(g.transpose(g.matmul(attention, values), [0, 2, 1, 3]), [
    0,
    n,
    heads * dh,
  ]);
  const out = g.add(
    x,
    g.matmul(mixed, g.constant(new Float32Array(heads * dh * channels), [heads * dh, channels])),
  );

  // Heatmap head: the tokens (zero weights) plus the markers' Gaussians.
  const grid = g.reshape(g.transpose(out, [0, 2, 1]), [0, channels, gh, gw]);
  const coarse = g.conv(grid, {
    values: new Float32Array(J * channels),
    dims: [J, channels, 1, 1],
  });
  const upsampled = g.op("ConvTranspose", [
    coarse,
    g.constant(new Float32Array(J * J * 4), [J, J, 2, 2]),
  ], {
    kernel_shape: [2, 2],
    strides: [2, 2],
  }); // [B,J,2gh,2gw]
  const planes = pixelPlanes(g, input, norm);
  const located = resolveSides(g, markerCentroids(g, input, planes, J), J, COCO_FLIP_PAIRS);
  const at = (v: string) => g.mul(g.reshape(v, [0, J, 1, 1]), g.scalar(0.25));
  const columns = g.constant(Array.from({ length: hw }, (_, i) => i), [1, 1, 1, hw]);
  const rows = g.constant(Array.from({ length: hh }, (_, i) => i), [1, 1, hh, 1]);
  const ddx = g.sub(columns, at(located.x)), ddy = g.sub(rows, at(located.y));
  const hs = options.heatmapSigma ?? 1.5;
  const gauss = g.exp(
    g.mul(g.add(g.mul(ddx, ddx), g.mul(ddy, ddy)), g.scalar(-1 / (2 * hs * hs))),
  );
  const heatmaps = g.add(g.mul(gauss, g.reshape(located.present, [0, J, 1, 1])), upsampled);
  g.output(heatmaps, "heatmaps", ["batch", J, hh, hw]);
  return {
    bytes: g.toBytes(),
    manifest: {
      name: "synthetic-transpose",
      description: "Synthetic TransPose keypoint model (tests/support/synthetic_models.ts)",
      task: "keypoints",
      family: "heatmap",
      file: "synthetic-transpose.onnx",
      input: {
        name: inputName,
        width,
        height,
        colorOrder: norm.colorOrder,
        mean: [...norm.mean],
        std: [...norm.std],
        dynamicBatch: true,
      },
      outputs: { heatmaps: "heatmaps" },
      keypoints: [...COCO_KEYPOINT_NAMES],
      flipPairs: COCO_FLIP_PAIRS.map(([a, b]) => [a, b] as [number, number]),
    },
  };
}

/**
 * The averaged attention row `buildTransPoseModel` computes for query token (tx, ty), in
 * float64 from its closed form: (G_u / Σ G + 1/N) / 2.
 */
export function transPoseAttentionRow(
  tx: number,
  ty: number,
  gridWidth: number,
  gridHeight: number,
  offset: readonly [number, number] = [2, -3],
  sigma = 1.5,
): Float64Array {
  const n = gridWidth * gridHeight;
  const gauss = new Float64Array(n);
  let sum = 0;
  for (let u = 0; u < n; u++) {
    const ex = (u % gridWidth) - (tx + offset[0]),
      ey = Math.floor(u / gridWidth) - (ty + offset[1]);
    gauss[u] = Math.exp(-(ex * ex + ey * ey) / (2 * sigma * sigma));
    sum += gauss[u];
  }
  return gauss.map((v) => (v / sum + 1 / n) / 2);
}
