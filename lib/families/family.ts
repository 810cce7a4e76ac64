/**
 * What a model family is: one descriptor (name, task, output roles, how to recognize a bare
 * ONNX graph, how to build its adapter) and the adapters the pipeline talks to. Adding a
 * family is one file in this folder exporting one `FamilyDescriptor`, and one line in
 * `registry.ts`; the pipeline does not change.
 */

import type { ManifestInput, ModelManifest, ModelTask } from "../models/manifest.ts";
import type { ModelInputs, TensorInfo } from "../runtime/session.ts";
import type { Box, ModelOutputs, Normalization, OutputTensor, Pose } from "../types.ts";
import type { ImageFrame, ImageResizeSpec } from "../geometry/frame.ts";
import type { CropExplanation, ExplainGraph } from "../explain/types.ts";

/** Whole-image input of a detector or end-to-end model. */
export interface ImageInputSpec {
  /** Name of the image input tensor. */
  name: string;
  /** How the image is resized (and padded) to the input size. */
  resize: ImageResizeSpec;
  /** How pixel values become input values. */
  normalization: Normalization;
  /**
   * Inputs besides the image, for models that take more (the original image size of
   * RT-DETR-style post-processors); `batch` is the image batch size.
   */
  extraInputs?: (frame: ImageFrame, batch: number) => ModelInputs;
}

/**
 * Where a person crop comes from and how it is sampled: the top-down protocol's geometry,
 * declared by each keypoint family.
 */
export interface CropSpec {
  /** Name of the crop input tensor. */
  name: string;
  /** Crop (network input) width in pixels. */
  width: number;
  /** Crop (network input) height in pixels. */
  height: number;
  /** How pixel values become input values. */
  normalization: Normalization;
  /** Box enlargement before cropping (1.25 in the standard protocol). */
  padding: number;
  /** Width / height the box is widened to before cropping (default: the input's). */
  aspectRatio: number;
  /**
   * "standard": HRNet's affine (scale = input width / region width); "udp": the unbiased
   * transform of Huang et al. (CVPR 2020), in pixel-distance units ((size − 1) based).
   */
  transform: "standard" | "udp";
  /**
   * Flip test: shift the flipped-back heatmap one pixel right (HRNet's SHIFT_HEATMAP); true
   * for the standard transform, false for UDP, whose mirror is already aligned. Families
   * that mirror coordinates rather than heatmaps do not read it.
   */
  flipShift: boolean;
}

/** Settings the pipeline hands to whole-image decoders. */
export interface DecodeSettings {
  /** Drop people (or boxes) below this score. */
  scoreThreshold: number;
  /** Keypoints above this score count towards a pose score (where the family rescores). */
  keypointScoreThreshold: number;
}

/** A person detector: image tensor in, person boxes in image pixels out. */
export interface DetectorAdapter {
  /** Discriminates the adapter kinds. */
  task: "detector";
  /** The manifest the adapter was built from. */
  manifest: ModelManifest;
  /** The whole-image input. */
  input: ImageInputSpec;
  /** Person boxes in image pixels, best first. */
  decode(outputs: ModelOutputs, frame: ImageFrame, settings: DecodeSettings): Box[];
}

/** A top-down keypoint model: one person crop in, K keypoints in crop pixels out. */
export interface KeypointAdapter {
  /** Discriminates the adapter kinds. */
  task: "keypoints";
  /** The manifest the adapter was built from. */
  manifest: ModelManifest;
  /** The person crop input. */
  input: CropSpec;
  /** K, the number of keypoints per person. */
  numKeypoints: number;
  /** Left/right keypoint index pairs swapped by the flip test. */
  flipPairs: readonly (readonly [number, number])[];
  /**
   * Keypoints of one crop as K × 3 (x, y, score) in crop input pixels, where pixel p of the
   * network input is at coordinate p. `outputs` holds this crop only (batch dimension 1).
   * When `flipped` is given it holds the outputs for the horizontally mirrored crop, and the
   * adapter fuses both the way its family's flip test does.
   */
  decode(outputs: ModelOutputs, flipped?: ModelOutputs): Float32Array;
  /**
   * What the model looked at in this crop (`--explain`): its confidence maps, attention or
   * query readout, in crop input pixels. `keypoints` is what `decode` returned for the same
   * outputs (crop pixels). Optional: a family without it explains nothing, and the pipeline
   * calls it only when asked for explanations, so that plain runs pay nothing for it.
   */
  explain?(
    outputs: ModelOutputs,
    flipped: ModelOutputs | undefined,
    keypoints: Float32Array,
  ): CropExplanation;
}

/** A model that goes from a whole image straight to people with keypoints. */
export interface EndToEndAdapter {
  /** Discriminates the adapter kinds. */
  task: "end2end";
  /** The manifest the adapter was built from. */
  manifest: ModelManifest;
  /** The whole-image input. */
  input: ImageInputSpec;
  /** K, the number of keypoints per person. */
  numKeypoints: number;
  /** People in image pixels, best first. */
  decode(outputs: ModelOutputs, frame: ImageFrame, settings: DecodeSettings): Pose[];
}

/** The adapter of any task. */
export type ModelAdapter = DetectorAdapter | KeypointAdapter | EndToEndAdapter;

/** Options that apply across families (each family reads what concerns it). */
export interface AdapterOptions {
  /** Heatmap models: DARK sub-pixel refinement instead of the quarter-pixel offset. */
  dark?: boolean;
  /**
   * Load the model for explanations (`--explain`): its family may add graph outputs (the last
   * self-attention Softmax, say) through `FamilyDescriptor.explain.prepareGraph`. Off by
   * default, so that plain runs have exactly the model's own outputs.
   */
  explain?: boolean;
}

/** What recognition sees of a bare ONNX graph. */
export interface GraphInfo {
  /** The model's file name (for the manifest's name and messages). */
  fileName: string;
  /** The graph's inputs. */
  inputs: readonly TensorInfo[];
  /** The graph's outputs. */
  outputs: readonly TensorInfo[];
  /** The one 4-D input [B,3,H,W]. */
  image: TensorInfo;
  /** Its height when fixed. */
  inputHeight?: number;
  /** Its width when fixed. */
  inputWidth?: number;
  /** True when the batch dimension is symbolic. */
  dynamicBatch: boolean;
  /** The output called `name`, if any. */
  output(name: string): TensorInfo | undefined;
}

/** The manifest fields a recognizer fills in (name, file and description are added). */
export type RecognizedManifest = Omit<ModelManifest, "name" | "file" | "family" | "task"> & {
  input: ManifestInput;
};

/** One model family. */
export interface FamilyDescriptor<Name extends string = string> {
  /** The manifest's `family` value. */
  name: Name;
  /** What its models do: detect people, find keypoints in crops, or both (end-to-end). */
  task: ModelTask;
  /** One line for people: what models this covers. */
  summary: string;
  /** Output roles the adapter reads (manifest `outputs` keys), required ones first. */
  outputRoles: readonly string[];
  /** Roles that may be absent. */
  optionalRoles?: readonly string[];
  /** Default names of the inputs besides the image that the adapter feeds itself. */
  extraInputs?: readonly string[];
  /**
   * The manifest for a bare graph of this family, or undefined when the graph is not one.
   * Throws (with a reason) when the graph looks like this family but cannot be used as is.
   */
  recognize?(graph: GraphInfo): RecognizedManifest | undefined;
  /** Builds the adapter; throws an Error naming the model file and the manifest field. */
  createAdapter(manifest: ModelManifest, options: AdapterOptions): ModelAdapter;
  /** Explanation hooks (`--explain`); a family without them is explained by its adapter only. */
  explain?: FamilyExplainHooks;
}

/** How a family prepares its models for explanations. */
export interface FamilyExplainHooks {
  /**
   * The model to load when explanations are asked for: the bytes with extra graph outputs
   * (an intermediate value such as the attention), the manifest mapping them to roles that
   * the adapter's `explain` reads, and one-line notes (what was found, or why an explanation
   * will be missing: never an error). Called once at load, only with `explain`.
   */
  prepareGraph?(bytes: Uint8Array, manifest: ModelManifest): ExplainGraph;
}

/** The output tensor for `role` (manifest `outputs[role]`, or the role itself as a name). */
export function requireOutput(
  outputs: ModelOutputs,
  manifest: ModelManifest,
  role: string,
): OutputTensor {
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

/** The output for `role` when the manifest maps it or the model has it, else undefined. */
export function optionalOutput(
  outputs: ModelOutputs,
  manifest: ModelManifest,
  role: string,
): OutputTensor | undefined {
  return outputs[manifest.outputs[role] ?? role];
}
