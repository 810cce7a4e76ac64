/**
 * Core data types shared by every stage of the pipeline.
 *
 * Data flows one way: image → boxes → crops → model outputs → keypoints in image
 * coordinates → COCO results → evaluation. Each stage speaks only these types.
 */

/** A decoded image: 8-bit RGB, interleaved, row-major, `data.length === width * height * 3`. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** R, G, B bytes per pixel, row by row from the top-left pixel. */
  data: Uint8Array;
}

/** An axis-aligned person box in image pixels (x1,y1 top-left; x2,y2 bottom-right). */
export interface Box {
  /** Left edge, image pixels. */
  x1: number;
  /** Top edge, image pixels. */
  y1: number;
  /** Right edge, image pixels. */
  x2: number;
  /** Bottom edge, image pixels. */
  y2: number;
  /** Detector confidence in [0, 1]. */
  score: number;
}

/** One person: its box and K keypoints in image pixels. */
export interface Pose {
  /** The person box the keypoints were found in. */
  box: Box;
  /** K × 3 values: x, y, score per keypoint, in image pixels. */
  keypoints: Float32Array;
  /** Person score (detector score × mean of confident keypoint scores for top-down models). */
  score: number;
}

/**
 * A model output as plain data, independent of onnxruntime so that decoders stay pure
 * functions that tests can feed by hand.
 */
export interface OutputTensor {
  /** The values, row-major. */
  data: Float32Array;
  /** The shape; the product of `dims` is `data.length`. */
  dims: readonly number[];
}

/** Model outputs by output name. */
export type ModelOutputs = Record<string, OutputTensor>;

/** Channel order of the network input. */
export type ColorOrder = "rgb" | "bgr";

/**
 * How pixel values become network inputs: `(value - mean[c]) / std[c]` with values in 0–255,
 * channels in `colorOrder`. Mean and std are listed in the network's channel order.
 */
export interface Normalization {
  /** Channel order of the network input. */
  colorOrder: ColorOrder;
  /** Per-channel mean, 0–255 units. */
  mean: readonly [number, number, number];
  /** Per-channel standard deviation, 0–255 units. */
  std: readonly [number, number, number];
}
