/**
 * The one interface every execution backend implements (onnxruntime-web on WASM or WebGPU,
 * native onnxruntime), so adapters and the pipeline never know which one runs a model.
 */

import type { ModelOutputs } from "../types.ts";

/** Execution backend actually used for a session. */
export type Backend = "wasm" | "webgpu" | "native";

/** Name, element type and shape of a model input or output (symbolic dims as strings). */
export interface TensorInfo {
  /** Tensor name in the ONNX graph. */
  name: string;
  /** Element type as onnxruntime names it ("float32", "int64", …). */
  type: string;
  /** Dimensions: sizes, or names for symbolic dimensions. */
  shape: (number | string)[];
}

/** One input tensor of a run: float32 images, int64 sizes (DETR-family post-processors). */
export type InputTensor =
  | { type: "float32"; data: Float32Array; dims: readonly number[] }
  | { type: "int64"; data: BigInt64Array; dims: readonly number[] };

/** Model inputs by input name. */
export type ModelInputs = Record<string, InputTensor>;

/** A loaded ONNX model on one backend. */
export interface InferenceSession {
  /** The model file (or a label), for messages. */
  readonly path: string;
  /** The backend this session runs on. */
  readonly backend: Backend;
  /** The model's inputs, in graph order. */
  readonly inputs: readonly TensorInfo[];
  /** The model's outputs, in graph order. */
  readonly outputs: readonly TensorInfo[];
  /**
   * Runs the model; every output comes back as float32 data on the CPU (int64 and other
   * numeric outputs converted). Errors name the model file and carry the backend's reason.
   */
  run(inputs: ModelInputs): Promise<ModelOutputs>;
  /** Frees the session. */
  release(): Promise<void>;
}

/** A float32 input tensor. */
export function float32Input(data: Float32Array, dims: readonly number[]): InputTensor {
  return { type: "float32", data, dims };
}

/** An int64 input tensor from plain numbers. */
export function int64Input(values: readonly number[], dims: readonly number[]): InputTensor {
  return { type: "int64", data: BigInt64Array.from(values, (v) => BigInt(Math.round(v))), dims };
}

/** What both onnxruntime packages hand back for an output tensor. */
export interface BackendTensor {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
  dispose(): void;
}

/**
 * A backend's outputs as posekit's float32 `ModelOutputs` (int64 labels included), each
 * tensor disposed. An output no decoder can read (strings, booleans) is an error naming the
 * model and the output.
 */
export function toModelOutputs(
  results: Record<string, BackendTensor>,
  modelPath: string,
): ModelOutputs {
  const outputs: ModelOutputs = {};
  for (const [name, tensor] of Object.entries(results)) {
    const data = tensor.data;
    const numeric = tensor.type !== "bool" && tensor.type !== "string";
    const converted = data instanceof Float32Array
      ? data
      : !numeric
      ? undefined
      : data instanceof BigInt64Array || data instanceof BigUint64Array
      ? Float32Array.from(data, (v) => Number(v))
      : ArrayBuffer.isView(data)
      ? Float32Array.from(data as unknown as ArrayLike<number>)
      : undefined;
    tensor.dispose();
    if (!converted) {
      throw new Error(
        `model ${modelPath}: output "${name}" has element type ${tensor.type}, which no ` +
          `decoder reads (numbers are needed)`,
      );
    }
    outputs[name] = { data: converted, dims: tensor.dims };
  }
  return outputs;
}
