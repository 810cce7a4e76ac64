/**
 * Model manifests: everything posekit needs to know about an ONNX model file that the file
 * itself does not say (family, preprocessing, output roles, keypoint metadata, where to get it).
 *
 * One JSON file per model lives in `models/`; a bare .onnx path gets a manifest inferred from
 * its inputs and outputs (see `lib/families/infer.ts`).
 */

import type { ColorOrder } from "../types.ts";

/** What a model does in the pipeline. */
export type ModelTask = "detector" | "keypoints" | "end2end";

/** Known model families: the names of the descriptors in `lib/families/registry.ts`. */

/** How a whole image becomes a detector (or end-to-end model) input. */
export type ImageResize =
  /** Keep the aspect ratio so the image fits `width`×`height`, pad bottom/right with `padValue`. */
  | "letterbox"
  /** As "letterbox", with the image centred and the padding split around it (Ultralytics). */
  | "letterbox-centred"
  /** Plain resize to `width`×`height`, aspect ratio not kept (RT-DETR, D-FINE, DEIM). */
  | "stretch"
  /** DETR style: shorter side to `shorterSide`, longer side at most `longerSideMax`, no padding. */
  | "shorter-side";

/** A model's input: tensor name, size, resize and normalization. */
export interface ManifestInput {
  /** Input tensor name in the ONNX graph. */
  name: string;
  /** Network input width in pixels (for "shorter-side" detectors: unused, may be 0). */
  width: number;
  /** Network input height in pixels. */
  height: number;
  /** Detectors and end-to-end models only. */
  resize?: ImageResize;
  /** Letterbox pad value (0–255), default 114. */
  padValue?: number;
  /** "shorter-side" resize: target shorter side, default 800. */
  shorterSide?: number;
  /** "shorter-side" resize: longest allowed longer side, default 1333. */
  longerSideMax?: number;
  /** Channel order the network expects. */
  colorOrder: ColorOrder;
  /** Per-channel mean in 0–255 units, in the network's channel order. */
  mean: [number, number, number];
  /** Per-channel std in 0–255 units, in the network's channel order. */
  std: [number, number, number];
  /** True when the batch dimension is dynamic, so several crops can run at once. */
  dynamicBatch?: boolean;
  /**
   * Keypoint models: the crop transform, "standard" (HRNet's affine, default) or "udp"
   * (unbiased data processing, Huang et al. 2020: ViTPose and mmpose's UDP configs).
   */
  cropTransform?: "standard" | "udp";
}

/** A model manifest: what the model file is, where it comes from, how to run and decode it. */
export interface ModelManifest {
  /** Manifest name (the file name in `models/` without `.json`). */
  name: string;
  /** One line for people. */
  description?: string;
  /** What the model does. */
  task: ModelTask;
  /**
   * The family whose adapter runs it: one of `FAMILY_NAMES` (the registry checks it; the
   * schema does not import the registry, which imports the schema).
   */
  family: string;
  /** File name of the .onnx model, looked up in the model directories. */
  file: string;
  /** Lower-case hex sha256 of the .onnx file (the one `url` serves). */
  sha256?: string;
  /**
   * Other sha256 values accepted for a local file: the same weights in another export (the
   * legacy file with its obsolete attributes removed, say).
   */
  acceptedSha256?: string[];
  /** Published accuracy, for people (e.g. "COCO val2017 AP 68.8 (PaddleDetection)"). */
  accuracy?: string;
  /** Official download URL of the model (or of an archive holding it). */
  url?: string;
  /**
   * Set when `url` points to an archive: the path of the .onnx inside it and, optionally, the
   * lower-case hex sha256 of the archive itself, checked before the archive is opened (so a
   * tampered archive is never inflated; `sha256` is checked on the extracted model).
   */
  archive?: { format: "zip"; member: string; sha256?: string };
  /** The model's license (an SPDX identifier where there is one). */
  license?: string;
  /** Where the model comes from, for people. */
  source?: string;
  /** The network input. */
  input: ManifestInput;
  /** Output names by role, e.g. `{ "heatmaps": "output" }`; each family documents its roles. */
  outputs: Record<string, string>;
  /** Keypoint names in output order (keypoint and end-to-end models). */
  keypoints?: string[];
  /** Left/right keypoint index pairs (0-based) swapped by the flip test. */
  flipPairs?: [number, number][];
  /** Limbs to draw, as 0-based keypoint index pairs. */
  skeleton?: [number, number][];
  /** Family-specific settings (documented in each family's file). */
  options?: Record<string, number | string | boolean>;
}
