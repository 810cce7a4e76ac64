/**
 * The pose pipeline in Deno: models loaded by name (manifest names, manifest or .onnx paths,
 * downloaded on first use) and images decoded from bytes.
 */

import type { DecodeOptions } from "../image/decode.ts";
import {
  type BoxSource,
  DEFAULT_DETECTOR,
  DEFAULT_POSE,
  type PipelineSettings,
  PosePipeline as CorePosePipeline,
} from "../pipeline.ts";
import type { BackendChoice } from "../runtime/backend.ts";
import type { Runtime as CoreRuntime } from "../runtime/runtime.ts";
import type { Pose } from "../types.ts";
import { decodeImage } from "./image_file.ts";
import type { LoadedModel } from "../models/load.ts";
import { loadModel, type LoadOptions } from "./models/load_file.ts";
import { Runtime } from "./runtime.ts";

/** How to build a pipeline. Every field has a sensible default. */
export interface PipelineOptions extends PipelineSettings, LoadOptions {
  /**
   * Person detector: manifest name, manifest .json path or .onnx path; `false` when boxes
   * always come from elsewhere (a box file, ground truth), so no detector is loaded.
   */
  detector?: string | false;
  /** Keypoint model (or an end-to-end model): manifest name, .json path or .onnx path. */
  pose?: string;
  /** A runtime to run on; default: one started from `threads` and `backend`. */
  runtime?: CoreRuntime;
  /** CPU threads (WASM, native; default: CPU cores). */
  threads?: number;
  /** Execution backend: "auto" (default) picks WebGPU on a hardware GPU, else WASM. */
  backend?: BackendChoice | "native";
}

/**
 * The whole top-down (or end-to-end) pose pipeline. Create with `PosePipeline.create`.
 *
 * @example Chosen models and thresholds, on an image file, with detected or given boxes
 * ```ts ignore
 * import { PosePipeline, readImageFile } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create({
 *   pose: "rtmpose_s_body7_256x192", // with the default detector, RTMDet-nano
 *   scoreThreshold: 0.4,
 *   maxPeople: 10,
 * });
 * try {
 *   console.log(pipeline.runtimeInfo.backend, pipeline.notes); // what it runs on, and why
 *   const image = await readImageFile("group.jpg");
 *   const detected = await pipeline.run(image);
 *   const given = await pipeline.run(image, [{ x1: 40, y1: 20, x2: 210, y2: 380, score: 1 }]);
 *   console.log(detected.length, given.length, pipeline.timings); // ms per stage so far
 * } finally {
 *   await pipeline.close(); // frees both models
 * }
 * ```
 */
export class PosePipeline extends CorePosePipeline {
  /** Loads the models named in `options` (defaults: RTMDet-nano + SimplePose-nano). */
  static async create(options: PipelineOptions = {}): Promise<PosePipeline> {
    const runtime = options.runtime ??
      await Runtime.start({ threads: options.threads, backend: options.backend });
    const pose = await loadModel(options.pose ?? DEFAULT_POSE, runtime, options);
    let detector: LoadedModel | undefined;
    if (pose.adapter.task === "keypoints" && options.detector !== false) {
      try {
        detector = await loadModel(options.detector ?? DEFAULT_DETECTOR, runtime, options);
      } catch (error) {
        await pose.session.release();
        throw error;
      }
    }
    try {
      const checked = PosePipeline.checkModels({ runtime, pose, detector });
      return new PosePipeline(
        runtime,
        checked.detector,
        checked.pose,
        PosePipeline.settingsFrom(options),
      );
    } catch (error) {
      await Promise.all([pose.session.release(), detector?.session.release()]);
      throw error;
    }
  }

  /**
   * Poses for an encoded JPEG or PNG image (EXIF orientation applied); `source` names the
   * image in error messages.
   */
  async runBytes(
    bytes: Uint8Array,
    boxes: BoxSource = "detector",
    source = "image",
    decode: DecodeOptions = {},
  ): Promise<Pose[]> {
    return await this.run(await decodeImage(bytes, source, decode), boxes);
  }
}
