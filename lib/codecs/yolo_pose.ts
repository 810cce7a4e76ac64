/**
 * YOLO-pose codec: the Ultralytics export of YOLOv8-pose and YOLO11-pose (`output0`), and the
 * centred letterbox its predictor feeds it. Pure functions.
 *
 * The export's head already decodes everything (Ultralytics `Pose.kpts_decode` with
 * `export=True`): per anchor, box centre and size in input pixels, the person score after
 * sigmoid (`Detect` concatenates `cls.sigmoid()`), then K × (x, y, visibility) with x, y in
 * input pixels and visibility after sigmoid. Ultralytics' predictor then keeps anchors whose
 * score is > `conf`, runs class-agnostic torchvision NMS at `iou`, keeps `max_det`, and maps
 * boxes and keypoints back through the letterbox (`scale_boxes`, `scale_coords`, clipped to
 * the image). Coordinates: input pixels, pixel p at coordinate p.
 */

import { nms } from "../geometry/nms.ts";
import type { CentredLetterbox } from "../geometry/frame.ts";
import type { Box } from "../types.ts";

/** Options of `decodeYoloPose`. */
export interface YoloPoseDecodeOptions {
  /** Keep anchors whose person score is greater than this (Ultralytics `conf`, 0.25). */
  scoreThreshold: number;
  /** NMS drops a box whose IoU with a kept one is greater than this (Ultralytics `iou`). */
  iouThreshold: number;
  /** At most this many people, best first (Ultralytics `max_det`). */
  maxDetections: number;
  /** K keypoints per person (17 for COCO). */
  numKeypoints: number;
  /** Output name for messages; default "output0". */
  outputName?: string;
}

/** One person as the export gives it, in network INPUT pixels. */
export interface YoloPosePerson {
  /** x1, y1, x2, y2 in input pixels; `score` = the person score. */
  box: Box;
  /** Person score (already a probability in the export). */
  score: number;
  /** K × 3: x, y in input pixels, visibility probability. */
  keypoints: Float32Array;
}

/**
 * The people in one Ultralytics pose output, best first, in INPUT pixels.
 *
 * `dims` is [1, 5 + 3K, N] (the export's channel-major layout) or [1, N, 5 + 3K] (transposed);
 * when both read the same (N = 5 + 3K) the export's layout is assumed. Boxes are centre/size
 * converted to corners; class-agnostic greedy NMS (`lib/nms.ts`) as torchvision's.
 *
 * @throws an Error naming the output and the expected shape when the rank, batch or channel
 *   count is wrong or the data is shorter than the dims say.
 */
export function decodeYoloPose(
  output: Float32Array,
  dims: readonly number[],
  options: YoloPoseDecodeOptions,
): YoloPosePerson[] {
  const k = options.numKeypoints;
  const channels = 5 + 3 * k;
  const name = options.outputName ?? "output0";
  const expected = `[1, ${channels}, N] (or [1, N, ${channels}]) for ${k} keypoints`;
  if (!(Number.isInteger(k) && k > 0)) {
    throw new Error(`YOLO-pose: numKeypoints must be a positive integer, got ${k}`);
  }
  if (dims.length !== 3 || dims[0] !== 1 || !(dims[1] === channels || dims[2] === channels)) {
    throw new Error(`YOLO-pose output "${name}" must be ${expected}, got [${dims.join(", ")}]`);
  }
  const channelMajor = dims[1] === channels;
  const n = channelMajor ? dims[2] : dims[1];
  if (output.length < n * channels) {
    throw new Error(
      `YOLO-pose output "${name}" [${dims.join(", ")}] has only ${output.length} values`,
    );
  }
  // Value of channel c of anchor a, in either layout.
  const at = channelMajor
    ? (c: number, a: number) => output[c * n + a]
    : (c: number, a: number) => output[a * channels + c];

  const candidates: number[] = [];
  for (let a = 0; a < n; a++) if (at(4, a) > options.scoreThreshold) candidates.push(a);
  const boxes = new Float32Array(candidates.length * 4);
  const scores = new Float32Array(candidates.length);
  candidates.forEach((a, i) => {
    const cx = at(0, a), cy = at(1, a), hw = at(2, a) / 2, hh = at(3, a) / 2;
    boxes.set([cx - hw, cy - hh, cx + hw, cy + hh], 4 * i);
    scores[i] = at(4, a);
  });
  const kept = nms(boxes, scores, options.iouThreshold).subarray(0, options.maxDetections);
  return Array.from(kept, (i) => {
    const a = candidates[i];
    const keypoints = new Float32Array(3 * k);
    for (let c = 0; c < 3 * k; c++) keypoints[c] = at(5 + c, a);
    const score = scores[i];
    const box: Box = {
      x1: boxes[4 * i],
      y1: boxes[4 * i + 1],
      x2: boxes[4 * i + 2],
      y2: boxes[4 * i + 3],
      score,
    };
    return { box, score, keypoints };
  });
}

/** Input pixel (x, y) back to image pixels: ((x − padX)/scale, (y − padY)/scale), unclipped. */
export function unletterbox(
  letterbox: CentredLetterbox,
  x: number,
  y: number,
): [number, number] {
  return [(x - letterbox.padX) / letterbox.scale, (y - letterbox.padY) / letterbox.scale];
}

/**
 * A person from `decodeYoloPose` mapped back to image pixels, box corners and keypoints
 * clipped to [0, imageWidth] × [0, imageHeight] as Ultralytics' `scale_boxes` / `scale_coords`
 * do (with the integer left/top pad the image really has; one Ultralytics version subtracts
 * the unrounded (dw, dh) from keypoints instead, under half an input pixel apart).
 * Scores are kept as they are.
 */
export function unletterboxPerson(
  letterbox: CentredLetterbox,
  person: YoloPosePerson,
): YoloPosePerson {
  const { imageWidth: w, imageHeight: h } = letterbox;
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const [x1, y1] = unletterbox(letterbox, person.box.x1, person.box.y1);
  const [x2, y2] = unletterbox(letterbox, person.box.x2, person.box.y2);
  const keypoints = new Float32Array(person.keypoints.length);
  for (let j = 0; j + 2 < keypoints.length; j += 3) {
    const [x, y] = unletterbox(letterbox, person.keypoints[j], person.keypoints[j + 1]);
    keypoints[j] = clip(x, w);
    keypoints[j + 1] = clip(y, h);
    keypoints[j + 2] = person.keypoints[j + 2];
  }
  return {
    box: {
      x1: clip(x1, w),
      y1: clip(y1, h),
      x2: clip(x2, w),
      y2: clip(y2, h),
      score: person.box.score,
    },
    score: person.score,
    keypoints,
  };
}
