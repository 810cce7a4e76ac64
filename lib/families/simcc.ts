/**
 * SimCC keypoint models (RTMPose): per keypoint, one 1-D classification vector over x and one
 * over y, each `splitRatio` bins per input pixel.
 *
 * Outputs (roles): `simcc_x` [B,K,W·r] and `simcc_y` [B,K,H·r] for an input of W×H pixels.
 *
 * Manifest options:
 * - `splitRatio` (number): bins per pixel r; default: the x vector length / input width
 *   (2 for RTMPose).
 * - `padding` (number): box enlargement before cropping; default 1.25.
 *
 * Decoding follows mmpose's SimCC codec and rtmlib's `get_simcc_maximum`: location = argmax / r
 * in crop input pixels. Score = the smaller of the x and y maxima (the raw values the ONNX
 * export gives, not probabilities).
 *
 * Flip test (mmpose `flip_vectors` + the SimCC head's averaging): the mirrored crop's x vectors
 * are reversed (bin i → W·r−1−i), left/right keypoint channels swapped, then both x and y
 * vectors are averaged with the unflipped ones before decoding. No shift is applied, so the
 * reversed vectors are offset by (r−1)/r pixel from pixel-centre mirroring, as in mmpose.
 *
 * Explanations (`--explain`): per keypoint, the outer product of its (fused) x and y vectors
 * as a confidence map (`simccConfidenceMaps`), and self-attention rows as for heatmap models.
 */

import { argmax } from "../math/numeric.ts";
import { flipPermutation } from "../coco/keypoints.ts";
import type { ModelOutputs, OutputTensor } from "../types.ts";
import {
  type FamilyDescriptor,
  type KeypointAdapter,
  optionalOutput,
  requireOutput,
} from "./family.ts";
import type { ConfidenceMaps, CropExplanation } from "../explain/types.ts";
import { ATTENTION_ROLE, keypointAttention, prepareSelfAttention } from "../explain/attention.ts";
import { cocoKeypointFields, imagenetCropInput, staticDim } from "./recognition_defaults.ts";
import { cropSpec, keypointLayout, numberOption } from "./manifest_fields.ts";

/** One crop's SimCC vectors: K rows of `x.length / K` and `y.length / K` values. */
export interface SimccVectors {
  numKeypoints: number;
  /** K × Wx values, keypoint-major. */
  x: Float32Array;
  /** K × Wy values, keypoint-major. */
  y: Float32Array;
}

/** The first batch item's vectors from `simcc_x` [B,K,Wx] and `simcc_y` [B,K,Wy] tensors. */
export function simccVectors(simccX: OutputTensor, simccY: OutputTensor): SimccVectors {
  const xd = simccX.dims, yd = simccY.dims;
  if (xd.length < 2 || yd.length < 2 || xd[xd.length - 2] !== yd[yd.length - 2]) {
    throw new Error(
      `SimCC: expected simcc_x [B,K,Wx] and simcc_y [B,K,Wy] with the same K, got ` +
        `[${xd.join(",")}] and [${yd.join(",")}]`,
    );
  }
  const numKeypoints = xd[xd.length - 2];
  const wx = xd[xd.length - 1], wy = yd[yd.length - 1];
  return {
    numKeypoints,
    x: simccX.data.subarray(0, numKeypoints * wx),
    y: simccY.data.subarray(0, numKeypoints * wy),
  };
}

/**
 * Fuses the vectors of a crop and of its mirrored copy (mmpose's SimCC flip test): the
 * mirrored x vectors are reversed and their left/right channels swapped (y vectors only
 * swapped), then both are averaged with the original ones.
 */
export function fuseFlippedSimcc(
  original: SimccVectors,
  flipped: SimccVectors,
  flipPairs: readonly (readonly [number, number])[],
): SimccVectors {
  const k = original.numKeypoints;
  if (
    flipped.numKeypoints !== k || flipped.x.length !== original.x.length ||
    flipped.y.length !== original.y.length
  ) {
    throw new Error("SimCC flip test: the mirrored crop's outputs differ in shape");
  }
  const wx = original.x.length / k, wy = original.y.length / k;
  const source = flipPermutation(k, flipPairs);
  const x = new Float32Array(original.x.length);
  const y = new Float32Array(original.y.length);
  for (let j = 0; j < k; j++) {
    const fx = source[j] * wx, fy = source[j] * wy;
    for (let i = 0; i < wx; i++) {
      x[j * wx + i] = 0.5 * (original.x[j * wx + i] + flipped.x[fx + wx - 1 - i]);
    }
    for (let i = 0; i < wy; i++) {
      y[j * wy + i] = 0.5 * (original.y[j * wy + i] + flipped.y[fy + i]);
    }
  }
  return { numKeypoints: k, x, y };
}

/**
 * Keypoints as K × 3 (x, y, score) in crop input pixels: x = argmax(x vector) / r,
 * y = argmax(y vector) / r, score = min(max x value, max y value). Ties take the first bin.
 */
export function decodeSimcc(vectors: SimccVectors, splitRatio: number): Float32Array {
  const k = vectors.numKeypoints;
  const wx = vectors.x.length / k, wy = vectors.y.length / k;
  const out = new Float32Array(k * 3);
  for (let j = 0; j < k; j++) {
    const ix = argmax(vectors.x, j * wx, wx), vx = vectors.x[j * wx + ix];
    const iy = argmax(vectors.y, j * wy, wy), vy = vectors.y[j * wy + iy];
    out[j * 3] = ix / splitRatio;
    out[j * 3 + 1] = iy / splitRatio;
    out[j * 3 + 2] = Math.min(vx, vy);
  }
  return out;
}

/**
 * Each keypoint's confidence map: the outer product of its x and y vectors (negative values
 * as 0), one map pixel per crop pixel, each holding the largest product of its r × r bins,
 * so that the map's maximum is the pixel of the decoded location (argmax / r, floored).
 */
export function simccConfidenceMaps(
  vectors: SimccVectors,
  splitRatio: number,
  width: number,
  height: number,
): ConfidenceMaps {
  const k = vectors.numKeypoints;
  const wx = vectors.x.length / k, wy = vectors.y.length / k;
  // Per crop pixel, the largest (non-negative) value of its bins along each axis.
  const pool = (v: Float32Array, bins: number, size: number, j: number) => {
    const out = new Float32Array(size);
    for (let i = 0; i < bins; i++) {
      const u = Math.min(size - 1, Math.floor(i / splitRatio));
      out[u] = Math.max(out[u], v[j * bins + i]);
    }
    return out;
  };
  const data = new Float32Array(k * width * height);
  for (let j = 0; j < k; j++) {
    const px = pool(vectors.x, wx, width, j), py = pool(vectors.y, wy, height, j);
    const plane = j * width * height;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) data[plane + y * width + x] = px[x] * py[y];
    }
  }
  return { numKeypoints: k, width, height, data, mapToCrop: Float64Array.of(1, 0, 0, 0, 1, 0) };
}

/** SimCC (RTMPose): `simcc_x` + `simcc_y` classification vectors. */
export const simccFamily: FamilyDescriptor<"simcc"> = {
  name: "simcc",
  task: "keypoints",
  summary: "SimCC keypoint models (RTMPose): simcc_x, simcc_y vectors",
  outputRoles: ["simcc_x", "simcc_y"],
  recognize(graph) {
    const simccX = graph.output("simcc_x"), simccY = graph.output("simcc_y");
    if (!simccX || !simccY) return;
    const lengthX = staticDim(simccX.shape[simccX.shape.length - 1]);
    const lengthY = staticDim(simccY.shape[simccY.shape.length - 1]);
    const k = staticDim(simccX.shape[simccX.shape.length - 2]);
    let width = graph.inputWidth, height = graph.inputHeight;
    let splitRatio = 2;
    if (width && lengthX) splitRatio = lengthX / width;
    else if (height && lengthY) splitRatio = lengthY / height;
    width ??= lengthX ? lengthX / splitRatio : 192;
    height ??= lengthY ? lengthY / splitRatio : 256;
    return {
      input: { ...imagenetCropInput(graph, width, height), width, height },
      outputs: { simcc_x: simccX.name, simcc_y: simccY.name },
      ...cocoKeypointFields(k),
      options: { splitRatio, padding: 1.25 },
    };
  },
  createAdapter(manifest): KeypointAdapter {
    const input = cropSpec(manifest);
    const { numKeypoints, flipPairs } = keypointLayout(manifest);
    const splitRatio = numberOption(manifest, "splitRatio", undefined, [
      (n) => n > 0,
      "a positive number",
    ]);
    /** This crop's vectors, fused with the mirrored crop's for the flip test. */
    const fusedVectors = (outputs: ModelOutputs, flipped?: ModelOutputs) => {
      const vectors = simccVectors(
        requireOutput(outputs, manifest, "simcc_x"),
        requireOutput(outputs, manifest, "simcc_y"),
      );
      if (!flipped) return vectors;
      const mirrored = simccVectors(
        requireOutput(flipped, manifest, "simcc_x"),
        requireOutput(flipped, manifest, "simcc_y"),
      );
      return fuseFlippedSimcc(vectors, mirrored, flipPairs);
    };
    const ratioOf = (vectors: SimccVectors) =>
      splitRatio ?? vectors.x.length / vectors.numKeypoints / input.width;
    return {
      task: "keypoints",
      manifest,
      input,
      numKeypoints,
      flipPairs,
      decode(outputs: ModelOutputs, flipped?: ModelOutputs): Float32Array {
        const vectors = fusedVectors(outputs, flipped);
        return decodeSimcc(vectors, ratioOf(vectors));
      },
      explain(outputs, flipped, keypoints): CropExplanation {
        const vectors = fusedVectors(outputs, flipped);
        const maps = simccConfidenceMaps(vectors, ratioOf(vectors), input.width, input.height);
        const explanation: CropExplanation = { maps };
        const attention = optionalOutput(outputs, manifest, ATTENTION_ROLE);
        if (attention) {
          const rows = keypointAttention(attention, input, keypoints);
          if (typeof rows === "string") explanation.notes = [`model ${manifest.file}: ${rows}`];
          else explanation.attention = rows;
        }
        return explanation;
      },
    };
  },
  explain: { prepareGraph: prepareSelfAttention },
};
