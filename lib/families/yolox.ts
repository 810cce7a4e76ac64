/**
 * YOLOX detector (e.g. YOLOX-nano, 80 COCO classes), exported without NMS.
 *
 * Output role: `output` [1, N, 5 + C]: per anchor point cx, cy, w, h, objectness, C class
 * scores (objectness and class scores already through a sigmoid, as YOLOX's head emits them).
 * Score = objectness × class score. NMS runs here, class-wise by default.
 *
 * Box values, by manifest option `decoded`:
 * - `false` (default, YOLOX's `export_onnx.py` without `--decode_in_inference`): grid-relative.
 *   Anchor points run over strides 8, 16, 32, each a (H/s) × (W/s) grid in row-major order;
 *   cx = (x + gridX)·s, cy = (y + gridY)·s, w = exp(w)·s, h = exp(h)·s. N must match the grid.
 * - `true` (exports that decode in the graph): cx, cy, w, h are already input pixels.
 *
 * Other manifest options: `nmsIou` (default 0.45), `personClass` (default 0),
 * `classAgnostic` (default false: boxes of different classes never suppress each other; true:
 * each anchor takes its best class and one NMS runs over all classes).
 *
 * Input: letterbox (pad bottom/right, `input.padValue` default 114); YOLOX takes raw 0–255
 * BGR values, i.e. mean 0 and std 1 in the manifest.
 */

import { inputBoxToImage } from "../geometry/frame.ts";
import type { Box, OutputTensor } from "../types.ts";
import { classwiseNms, nms } from "../geometry/nms.ts";
import { type DetectorAdapter, type FamilyDescriptor, requireOutput } from "./family.ts";
import type { ImageFrame } from "../geometry/frame.ts";
import { booleanOption, imageInputSpec, indexOption, numberOption } from "./manifest_fields.ts";
import { letterboxInput } from "./recognition_defaults.ts";

/** Strides of YOLOX's three detection levels. */
export const YOLOX_STRIDES: readonly number[] = [8, 16, 32];

/** Options of `decodeYolox` / `decodeYoloxDetections`. */
export interface YoloxDecodeOptions {
  /** Drop candidates whose score (objectness × class score) is below this, before NMS. */
  scoreThreshold: number;
  /** IoU above which NMS drops a box (default 0.45). */
  nmsIou?: number;
  /** Class id of "person" (default 0); `decodeYolox` keeps only this class. */
  personClass?: number;
  /** One NMS over all classes with each anchor's best class (default false: class-wise). */
  classAgnostic?: boolean;
  /** Box values are already cx, cy, w, h in input pixels (default false: grid-relative). */
  decoded?: boolean;
}

/** One detection of any class, in image pixels. */
export interface ClassBox {
  box: Box;
  classId: number;
}

/**
 * Candidates before NMS: boxes (x1, y1, x2, y2 in input pixels, not clipped), scores, classes.
 */
function yoloxCandidates(
  output: OutputTensor,
  frame: ImageFrame,
  opts: YoloxDecodeOptions,
  onlyClass?: number,
): { boxes: Float32Array; scores: Float32Array; classes: Int32Array } {
  const dims = output.dims;
  if (dims.length !== 3 || dims[2] < 6) {
    throw new Error(`yolox: "output" must be [1, N, 5 + classes], got [${dims.join(", ")}]`);
  }
  const n = dims[1];
  const width = dims[2];
  const numClasses = width - 5;
  const data = output.data;

  // Grid cell and stride of every anchor point, unless the graph already decoded the boxes.
  let gridX: Int32Array | undefined, gridY: Int32Array | undefined, strides: Int32Array | undefined;
  if (!opts.decoded) {
    gridX = new Int32Array(n);
    gridY = new Int32Array(n);
    strides = new Int32Array(n);
    let a = 0;
    for (const s of YOLOX_STRIDES) {
      const gw = Math.floor(frame.inputWidth / s), gh = Math.floor(frame.inputHeight / s);
      for (let y = 0; y < gh; y++) {
        for (let x = 0; x < gw; x++, a++) {
          if (a < n) {
            gridX[a] = x;
            gridY[a] = y;
            strides[a] = s;
          }
        }
      }
    }
    if (a !== n) {
      throw new Error(
        `yolox: ${n} anchor points, but a ${frame.inputWidth}×${frame.inputHeight} input has ` +
          `${a} at strides ${YOLOX_STRIDES.join(", ")}; if the model decodes boxes itself, ` +
          `set "options": {"decoded": true} in its manifest`,
      );
    }
  }

  const boxes: number[] = [];
  const scores: number[] = [];
  const classes: number[] = [];
  const add = (row: number, score: number, classId: number) => {
    let cx = data[row], cy = data[row + 1], w = data[row + 2], h = data[row + 3];
    if (strides) {
      const a = row / width, s = strides[a];
      cx = (cx + gridX![a]) * s;
      cy = (cy + gridY![a]) * s;
      w = Math.exp(w) * s;
      h = Math.exp(h) * s;
    }
    boxes.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
    scores.push(score);
    classes.push(classId);
  };

  for (let a = 0; a < n; a++) {
    const row = a * width;
    const objectness = data[row + 4];
    if (opts.classAgnostic) {
      let best = 0;
      for (let c = 1; c < numClasses; c++) if (data[row + 5 + c] > data[row + 5 + best]) best = c;
      const score = objectness * data[row + 5 + best];
      if (score >= opts.scoreThreshold) add(row, score, best);
    } else {
      // Multi-label: every class above the threshold is its own candidate.
      const first = onlyClass ?? 0, last = onlyClass ?? numClasses - 1;
      for (let c = first; c <= last; c++) {
        const score = objectness * data[row + 5 + c];
        if (score >= opts.scoreThreshold) add(row, score, c);
      }
    }
  }
  return {
    boxes: Float32Array.from(boxes),
    scores: Float32Array.from(scores),
    classes: Int32Array.from(classes),
  };
}

/**
 * Detections of every class from a YOLOX output, after NMS, in image pixels (through
 * `frame`, clipped to the image; boxes left empty are dropped), best first.
 */
export function decodeYoloxDetections(
  output: OutputTensor,
  frame: ImageFrame,
  opts: YoloxDecodeOptions,
): ClassBox[] {
  return nmsAndMap(yoloxCandidates(output, frame, opts), frame, opts);
}

function nmsAndMap(
  { boxes, scores, classes }: { boxes: Float32Array; scores: Float32Array; classes: Int32Array },
  frame: ImageFrame,
  opts: YoloxDecodeOptions,
): ClassBox[] {
  const iou = opts.nmsIou ?? 0.45;
  const keep = opts.classAgnostic
    ? nms(boxes, scores, iou)
    : classwiseNms(boxes, scores, classes, iou);
  const result: ClassBox[] = [];
  for (const i of keep) {
    const at = 4 * i;
    const box = inputBoxToImage(
      frame,
      boxes[at],
      boxes[at + 1],
      boxes[at + 2],
      boxes[at + 3],
      scores[i],
    );
    if (box) result.push({ box, classId: classes[i] });
  }
  return result.sort((a, b) => b.box.score - a.box.score);
}

/**
 * Person boxes from a YOLOX output, in image pixels, best first: the same as the
 * `personClass` boxes of `decodeYoloxDetections`. Class-wise NMS never lets one class
 * suppress another, so then only person candidates are decoded (other classes cannot change
 * the result); with `classAgnostic` every class takes part in the NMS.
 */
export function decodeYolox(
  output: OutputTensor,
  frame: ImageFrame,
  opts: YoloxDecodeOptions,
): Box[] {
  const personClass = opts.personClass ?? 0;
  const numClasses = output.dims[2] - 5;
  if (!(personClass >= 0 && personClass < numClasses)) {
    throw new Error(`yolox: person class ${personClass} is outside the ${numClasses} classes`);
  }
  const candidates = yoloxCandidates(
    output,
    frame,
    opts,
    opts.classAgnostic ? undefined : personClass,
  );
  return nmsAndMap(candidates, frame, opts)
    .filter((d) => d.classId === personClass)
    .map((d) => d.box);
}

/** YOLOX, exported without NMS (grid-relative or decoded boxes). */
export const yoloxFamily: FamilyDescriptor<"yolox"> = {
  name: "yolox",
  task: "detector",
  summary: "YOLOX detector, exported without NMS (one output [B,N,5+C])",
  outputRoles: ["output"],
  recognize(graph) {
    if (graph.outputs.length !== 1 || graph.outputs[0].shape.length !== 3) return;
    const out = graph.outputs[0];
    const last = out.shape[2];
    if (typeof last === "number" && last > 0 && last < 6) {
      throw new Error(
        `its one output [${out.shape.join(",")}] is too narrow for YOLOX's [B,N,5+C]`,
      );
    }
    return {
      // YOLOX takes raw 0–255 BGR values.
      input: letterboxInput(graph, "bgr", [0, 0, 0], [1, 1, 1]),
      outputs: { output: out.name },
    };
  },
  createAdapter(manifest): DetectorAdapter {
    const input = imageInputSpec(manifest, "letterbox");
    const nmsIou = numberOption(manifest, "nmsIou", 0.45, [(n) => n > 0 && n <= 1, "in (0, 1]"]);
    const personClass = indexOption(manifest, "personClass", 0);
    const classAgnostic = booleanOption(manifest, "classAgnostic", false);
    const decoded = booleanOption(manifest, "decoded", false);
    return {
      task: "detector",
      manifest,
      input,
      decode(outputs, frame, settings) {
        return decodeYolox(requireOutput(outputs, manifest, "output"), frame, {
          scoreThreshold: settings.scoreThreshold,
          nmsIou,
          personClass,
          classAgnostic,
          decoded,
        });
      },
    };
  },
};
