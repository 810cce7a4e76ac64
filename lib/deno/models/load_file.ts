/**
 * Loading a model by name in Deno: resolve the file (a manifest name, a manifest .json or an
 * .onnx path; downloaded on first use), read it, and load it (`loadModelFrom`).
 */

import type { AdapterOptions } from "../../families/family.ts";
import { type LoadedModel, loadModelFrom } from "../../models/load.ts";
import type { Runtime } from "../../runtime/runtime.ts";
import { resolveModel } from "./resolve.ts";

/** How to find and load models. */
export interface LoadOptions extends AdapterOptions {
  /** Directories searched first for model files (`--models`). */
  modelDirs?: string[];
  /** Download progress for models fetched on first use. */
  onDownloadProgress?: (model: string, received: number, total: number | undefined) => void;
}

/**
 * Resolves, loads and checks one model (manifest name, manifest .json or .onnx path). Errors
 * name the model file and what to do.
 *
 * @example Load a keypoint model and run it
 * ```ts ignore
 * import { loadModel, Runtime } from "@posekit/posekit";
 *
 * const runtime = await Runtime.start();
 * const model = await loadModel("simplepose_nano_256x192", runtime, { modelDirs: ["models/"] });
 * console.log(model.path, model.adapter.task, model.dynamicBatch, model.notes);
 * await model.session.release();
 * ```
 */
export async function loadModel(
  spec: string,
  runtime: Runtime,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const resolved = await resolveModel(spec, {
    modelDirs: options.modelDirs,
    onProgress: options.onDownloadProgress
      ? (received, total) => options.onDownloadProgress!(spec, received, total)
      : undefined,
  });
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(resolved.path);
  } catch (error) {
    throw new Error(`cannot read model ${resolved.path}: ${(error as Error).message}`);
  }
  return await loadModelFrom(
    { bytes, path: resolved.path, manifest: resolved.manifest },
    runtime,
    options,
  );
}
