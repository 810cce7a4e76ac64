/**
 * onnxruntime-web, set up once per process.
 *
 * The .wasm bytes are read by us and handed over as `ort.env.wasm.wasmBinary`, so nothing is
 * fetched at run time and the same code works inside a `deno compile` binary.
 */

import * as ort from "onnxruntime-web";
import { basename } from "node:path";
import type { ModelOutputs } from "./types.ts";

/** Execution backend actually used for a session. */
export type Backend = "wasm" | "webgpu";

/** What the user asks for: a backend, or "auto" (WebGPU on a hardware GPU, else WASM). */
export type BackendChoice = "auto" | Backend;

export interface RuntimeOptions {
  /** WASM threads; default: the number of CPU cores. */
  threads?: number;
  /** Default "auto". (WebGPU support: see issue 5; until then always WASM.) */
  backend?: BackendChoice;
}

let initialized: { threads: number } | undefined;

/** Reads the onnxruntime-web WASM binary that ships in the npm package. */
async function readWasmBinary(): Promise<Uint8Array> {
  const url = new URL(import.meta.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  try {
    return await Deno.readFile(url);
  } catch (error) {
    throw new Error(
      `cannot read onnxruntime-web's WASM binary at ${url.pathname}: ${
        (error as Error).message
      }. ` +
        `Run "deno install" in the project (or rebuild the binary with "deno task compile").`,
    );
  }
}

/** Initializes the WASM backend once; later calls keep the first settings. */
export async function initRuntime(options: RuntimeOptions = {}): Promise<void> {
  if (initialized) return;
  const threads = Math.max(1, Math.floor(options.threads ?? navigator.hardwareConcurrency ?? 1));
  ort.env.wasm.wasmBinary = await readWasmBinary();
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = "fatal";
  initialized = { threads };
}

/** Threads the WASM backend runs with (after `initRuntime`). */
export function runtimeThreads(): number {
  return initialized?.threads ?? 0;
}

/** Name, element type and shape of a model input or output (symbolic dims as strings). */
export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** A loaded ONNX model. */
export class ModelSession {
  private constructor(
    readonly path: string,
    private readonly session: ort.InferenceSession,
  ) {}

  /**
   * Loads a model from a file path or bytes. Errors name the model file and carry
   * onnxruntime's own reason.
   */
  static async load(
    model: string | Uint8Array,
    label = typeof model === "string" ? model : "model",
  ): Promise<ModelSession> {
    await initRuntime();
    let bytes: Uint8Array;
    if (typeof model === "string") {
      try {
        bytes = await Deno.readFile(model);
      } catch (error) {
        throw new Error(`cannot read model ${label}: ${(error as Error).message}`);
      }
    } else {
      bytes = model;
    }
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ["wasm"],
        graphOptimizationLevel: "all",
        logSeverityLevel: 4,
      });
      return new ModelSession(label, session);
    } catch (error) {
      throw new Error(
        `onnxruntime cannot load model ${label}: ${cleanOrtMessage(error)}` +
          (looksLikeLegacyBatchNorm(error)
            ? `\n  hint: the model looks like an old export (BatchNormalization with "spatial"); ` +
              `re-export it with a recent opset or strip that attribute.`
            : ""),
      );
    }
  }

  /** The model file's base name, for messages. */
  get fileName(): string {
    return basename(this.path);
  }

  get inputs(): TensorInfo[] {
    return this.session.inputMetadata.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : "non-tensor",
      shape: m.isTensor ? [...m.shape] : [],
    }));
  }

  get outputs(): TensorInfo[] {
    return this.session.outputMetadata.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : "non-tensor",
      shape: m.isTensor ? [...m.shape] : [],
    }));
  }

  /** Runs the model on one float32 input; returns all outputs as float32 data. */
  async run(inputName: string, data: Float32Array, dims: readonly number[]): Promise<ModelOutputs> {
    const feeds = { [inputName]: new ort.Tensor("float32", data, dims) };
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds);
    } catch (error) {
      throw new Error(
        `model ${this.path} failed on input "${inputName}" [${dims.join(",")}]: ${
          cleanOrtMessage(error)
        }`,
      );
    }
    const outputs: ModelOutputs = {};
    for (const [name, tensor] of Object.entries(results)) {
      outputs[name] = { data: toFloat32(tensor), dims: tensor.dims };
      tensor.dispose();
    }
    return outputs;
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Float32Array.from(data, (v) => Number(v));
  }
  if (ArrayBuffer.isView(data)) return Float32Array.from(data as unknown as ArrayLike<number>);
  throw new Error(`unsupported output type ${tensor.type}`);
}

function cleanOrtMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Error: /, "").trim();
}

function looksLikeLegacyBatchNorm(error: unknown): boolean {
  return /BatchNorm/i.test(String(error instanceof Error ? error.message : error));
}
