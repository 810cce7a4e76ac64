/**
 * Loading a model from its bytes, apart from running it: repair a legacy export in memory, open a
 * session on the runtime, build the family adapter from the manifest (or recognize the bare graph),
 * check the manifest against the graph once, and prove with one run that the backend can execute
 * it. On WebGPU, a keypoint model with a fixed batch of 1 is relaxed to a symbolic batch when that
 * gives the same results.
 */

import { baseName as basename } from "../util/paths.ts";
import type { AdapterOptions, ModelAdapter } from "../families/family.ts";
import { recognizeModel } from "../families/recognize.ts";
import { createAdapter, findFamily } from "../families/registry.ts";
import type { ModelManifest } from "./manifest.ts";
import { withoutBatchNormSpatial } from "../runtime/onnx_rewrite.ts";
import { type Runtime, withSymbolicBatch } from "../runtime/runtime.ts";
import { float32Input, type InferenceSession, type ModelInputs } from "../runtime/session.ts";
import type { ModelOutputs } from "../types.ts";

/** A loaded model: its manifest, file, session, adapter and how it batches. */
export interface LoadedModel<A extends ModelAdapter = ModelAdapter> {
  /** The manifest (given, or recognized from a bare .onnx graph). */
  manifest: ModelManifest;
  /** The model file. */
  path: string;
  /** The open session on the runtime's backend. */
  session: InferenceSession;
  /** The family adapter built from the manifest. */
  adapter: A;
  /** True when several inputs may share one run (a symbolic batch dimension). */
  dynamicBatch: boolean;
  /** Sentences for the user about this load (a repaired legacy export, say). */
  notes: string[];
}

/** A model's bytes and what names it. */
export interface ModelSource {
  /** The .onnx file's bytes. */
  bytes: Uint8Array;
  /** Where it came from (a path or URL), for messages and `LoadedModel.path`. */
  path: string;
  /** Its manifest; without one, the bare graph is recognized (`recognizeModel`). */
  manifest?: ModelManifest;
}

/**
 * Loads and checks one model from its bytes: repairs a legacy export in memory, opens a
 * session on `runtime`, builds the family adapter from the manifest (or recognizes the bare
 * graph), checks the manifest against the graph and proves with one run that the backend can
 * execute it. Errors name the model and what to do. Deno's `loadModel` finds the bytes by
 * name; a page fetches them.
 *
 * @example Load a keypoint model fetched in a page
 * ```ts ignore
 * import { loadModelFrom, type Runtime } from "@posekit/posekit/core";
 *
 * declare const runtime: Runtime;
 * const url = "/models/simplepose_nano_256x192.onnx";
 * const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
 * const model = await loadModelFrom({ bytes, path: url }, runtime);
 * console.log(model.adapter.task, model.dynamicBatch); // "keypoints"
 * ```
 */
export async function loadModelFrom(
  source: ModelSource,
  runtime: Runtime,
  options: AdapterOptions = {},
): Promise<LoadedModel> {
  const notes: string[] = [];
  let bytes = source.bytes;
  const repair = withoutBatchNormSpatial(bytes, { source: source.path });
  if (repair.repaired > 0) {
    bytes = repair.bytes;
    notes.push(
      `${basename(source.path)}: removed the obsolete "spatial" attribute from ` +
        `${repair.repaired} BatchNormalization nodes (a legacy export; results are unchanged)`,
    );
  }
  let session = await runtime.load(bytes, source.path);
  try {
    let manifest = source.manifest ??
      recognizeModel(basename(source.path), session.inputs, session.outputs);
    const prepare = options.explain
      ? findFamily(manifest.family)?.explain?.prepareGraph
      : undefined;
    if (prepare) {
      // Only when explanations are asked for: the family may add graph outputs (the
      // attention), which a plain run must not pay for. Recognition saw the model's own
      // outputs; the session is reopened on the prepared bytes.
      const prepared = prepare(bytes, manifest);
      notes.push(...prepared.notes);
      manifest = prepared.manifest;
      if (prepared.bytes !== bytes) {
        bytes = prepared.bytes;
        const reopened = await runtime.load(bytes, source.path);
        await session.release();
        session = reopened;
      }
    }
    const adapter = createAdapter(manifest, options);
    checkInputsAgainstGraph(adapter, session, source.path);
    await smokeTest(session, adapter);
    const dynamicBatch = isDynamicBatch(session, adapter);
    const loaded: LoadedModel = {
      manifest,
      path: source.path,
      session,
      adapter,
      dynamicBatch,
      notes,
    };
    return session.backend === "webgpu" ? await withBatchedCrops(loaded, bytes, runtime) : loaded;
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** The image (or crop) input's size as the adapter will feed it, height then width. */
function inputSize(adapter: ModelAdapter): [number, number] | undefined {
  if (adapter.task === "keypoints") return [adapter.input.height, adapter.input.width];
  const resize = adapter.input.resize;
  return resize.kind === "shorter-side" ? undefined : [resize.height, resize.width];
}

/**
 * The manifest against the graph, once at load: the input names exist, and a fixed input
 * size equals the manifest's (else every image would fail at inference).
 */
function checkInputsAgainstGraph(
  adapter: ModelAdapter,
  session: InferenceSession,
  path: string,
): void {
  const image = session.inputs.find((t) => t.name === adapter.input.name);
  if (!image) {
    throw new Error(
      `model ${path}: the manifest's input "${adapter.input.name}" is not an input of the ` +
        `model (it has ${session.inputs.map((t) => `"${t.name}"`).join(", ")}); fix input.name`,
    );
  }
  const size = inputSize(adapter);
  const [h, w] = [image.shape[2], image.shape[3]];
  if (size && typeof h === "number" && typeof w === "number" && h > 0 && w > 0) {
    if (h !== size[0] || w !== size[1]) {
      throw new Error(
        `model ${path}: the manifest says the input is ${size[1]}x${size[0]} but the model ` +
          `takes ${w}x${h}; fix input.width and input.height in its manifest`,
      );
    }
  }
}

/** True when the image input's batch dimension is symbolic (or the manifest says so). */
function isDynamicBatch(session: InferenceSession, adapter: ModelAdapter): boolean {
  if (adapter.manifest.input.dynamicBatch) return true;
  const image = session.inputs.find((t) => t.name === adapter.input.name);
  const batch = image?.shape[0];
  return typeof batch === "string" || (typeof batch === "number" && batch <= 0);
}

/** The feeds for one all-zero input of batch `batch`, as the adapter would build them. */
export function blankInputs(adapter: ModelAdapter, batch = 1): ModelInputs {
  const size = inputSize(adapter) ?? [64, 64];
  const dims = [batch, 3, size[0], size[1]];
  const inputs: ModelInputs = {
    [adapter.input.name]: float32Input(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims),
  };
  if (adapter.task !== "keypoints" && adapter.input.extraInputs) {
    const frame = {
      imageWidth: size[1],
      imageHeight: size[0],
      inputWidth: size[1],
      inputHeight: size[0],
      scaleX: 1,
      scaleY: 1,
      padX: 0,
      padY: 0,
      contentWidth: size[1],
      contentHeight: size[0],
    };
    Object.assign(inputs, adapter.input.extraInputs(frame, batch));
  }
  return inputs;
}

/** One run on zeros, so that a model the backend cannot execute fails at load time. */
async function smokeTest(session: InferenceSession, adapter: ModelAdapter): Promise<void> {
  // A failure already names the model file and carries the backend's reason.
  await session.run(blankInputs(adapter));
}

/**
 * Views of batch item `index` of every output (dims with batch 1; no copy). With `count`, the
 * batch size of the run: an output whose first axis is a multiple of it holds that many rows
 * per item (attention exported as [B·heads, N, N]), and item `index` gets its own rows.
 */
export function sliceBatch(outputs: ModelOutputs, index: number, count?: number): ModelOutputs {
  const item: ModelOutputs = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    const batch = tensor.dims[0] ?? 1;
    const rows = count && batch !== count && batch % count === 0 ? batch / count : 1;
    const size = (tensor.data.length / Math.max(batch, 1)) * rows;
    item[name] = {
      data: tensor.data.subarray(index * size, (index + 1) * size),
      dims: [rows, ...tensor.dims.slice(1)],
    };
  }
  return item;
}

/**
 * On the GPU, one run per crop wastes most of each run on launch and transfer overhead. Many
 * keypoint models declare a fixed batch of 1 yet treat batch items independently: such a
 * model is reloaded with a symbolic batch, and kept that way only when a batch of two random
 * crops gives what two single runs give.
 */
async function withBatchedCrops(
  model: LoadedModel,
  original: Uint8Array,
  runtime: Runtime,
): Promise<LoadedModel> {
  const { adapter, session } = model;
  if (adapter.task !== "keypoints" || model.dynamicBatch) return model;
  const bytes = withSymbolicBatch(original);
  if (bytes === original) return model; // no batch fixed at 1: nothing to relax
  let batched: InferenceSession | undefined;
  try {
    batched = await runtime.load(bytes, model.path);
    const dims = [1, 3, adapter.input.height, adapter.input.width];
    const size = dims[1] * dims[2] * dims[3];
    const pair = Float32Array.from({ length: 2 * size }, (_, i) => Math.sin(i * 12.9898) * 2);
    const name = adapter.input.name;
    const together = await batched.run({ [name]: float32Input(pair, [2, ...dims.slice(1)]) });
    for (let i = 0; i < 2; i++) {
      const alone = await session.run({
        [name]: float32Input(pair.subarray(i * size, (i + 1) * size), dims),
      });
      const part = sliceBatch(together, i, 2);
      for (const [output, tensor] of Object.entries(alone)) {
        const other = part[output]?.data;
        if (!other || other.length !== tensor.data.length) throw new Error("shapes differ");
        for (let k = 0; k < other.length; k++) {
          if (Math.abs(other[k] - tensor.data[k]) > 1e-3 * (1 + Math.abs(tensor.data[k]))) {
            throw new Error("batched outputs differ");
          }
        }
      }
    }
  } catch {
    await batched?.release();
    return model;
  }
  await session.release();
  return { ...model, session: batched, dynamicBatch: true };
}
