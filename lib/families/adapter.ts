/**
 * The one small interface every model family implements. The pipeline only talks to these
 * adapters, so adding a family means adding one file to `lib/families/` and one line to the
 * registry (`lib/families/registry.ts`); the pipeline itself does not change.
 */

import type { ModelManifest } from "../manifest.ts";
import type { Box, ModelOutputs, Normalization, Pose } from "../types.ts";

/** How a whole image was turned into the detector input, for mapping results back. */
export interface ImageFrame {
  imageWidth: number;
  imageHeight: number;
  /** Network input size actually used (after resize and padding). */
  inputWidth: number;
  inputHeight: number;
  /** Input pixels per image pixel (same for x and y; letterbox and shorter-side keep ratio). */
  scale: number;
  /** Width and height of the resized image inside the input (the rest is padding). */
  contentWidth: number;
  contentHeight: number;
}

/** Whole-image preprocessing (detectors and end-to-end models). */
export interface ImageInputSpec {
  inputName: string;
  resize:
    | { kind: "letterbox"; width: number; height: number; padValue: number }
    | { kind: "shorter-side"; shorterSide: number; longerSideMax: number };
  normalization: Normalization;
}

export interface DetectorDecodeOptions {
  /** Drop boxes below this person score before any NMS. */
  scoreThreshold: number;
}

/** A person detector: image tensor in, person boxes in image pixels out. */
export interface DetectorAdapter {
  task: "detector";
  manifest: ModelManifest;
  input: ImageInputSpec;
  /** Person boxes in image pixels, best first. */
  decode(outputs: ModelOutputs, frame: ImageFrame, options: DetectorDecodeOptions): Box[];
}

/** A top-down keypoint model: one person crop in, K keypoints in crop pixels out. */
export interface KeypointAdapter {
  task: "keypoints";
  manifest: ModelManifest;
  inputName: string;
  /** Crop (network input) size in pixels. */
  inputWidth: number;
  inputHeight: number;
  normalization: Normalization;
  /** Box enlargement before cropping (1.25 in the standard protocol). */
  padding: number;
  /** True when several crops may share one run. */
  dynamicBatch: boolean;
  numKeypoints: number;
  flipPairs: readonly (readonly [number, number])[];
  /**
   * Keypoints of one crop as K × 3 (x, y, score) in crop input pixels, where pixel p of the
   * network input is at coordinate p. `outputs` holds this crop only (batch dimension 1).
   * When `flipped` is given it holds the outputs for the horizontally mirrored crop, and the
   * adapter fuses both the way its family's flip test does.
   */
  decode(outputs: ModelOutputs, flipped?: ModelOutputs): Float32Array;
}

/** A model that goes from a whole image straight to people with keypoints (PRTR sequential). */
export interface EndToEndAdapter {
  task: "end2end";
  manifest: ModelManifest;
  input: ImageInputSpec;
  numKeypoints: number;
  flipPairs: readonly (readonly [number, number])[];
  /** People in image pixels, best first. */
  decode(outputs: ModelOutputs, frame: ImageFrame, options: DetectorDecodeOptions): Pose[];
}

export type ModelAdapter = DetectorAdapter | KeypointAdapter | EndToEndAdapter;

/** Builds an adapter from a manifest; throws an Error naming the missing manifest field. */
export type AdapterFactory = (manifest: ModelManifest) => ModelAdapter;

/** The output tensor for `role` (manifest `outputs[role]`, or the role itself as a name). */
export function requireOutput(
  outputs: ModelOutputs,
  manifest: ModelManifest,
  role: string,
): ModelOutputs[string] {
  const name = manifest.outputs[role] ?? role;
  const tensor = outputs[name];
  if (!tensor) {
    throw new Error(
      `model ${manifest.file}: output "${name}" (role "${role}") is missing; ` +
        `the model has ${Object.keys(outputs).map((n) => `"${n}"`).join(", ")}. ` +
        `Set "outputs": {"${role}": "<name>"} in its manifest.`,
    );
  }
  return tensor;
}
