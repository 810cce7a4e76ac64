/**
 * onnxruntime-web, set up once per process, on WASM SIMD or WebGPU.
 *
 * The .wasm bytes are read by us and handed over as `ort.env.wasm.wasmBinary`, so nothing is
 * fetched at run time and the same code works inside a `deno compile` binary.
 *
 * Two builds of onnxruntime-web are used, as two separate module instances:
 * - WASM: `onnxruntime-web` resolves to the Node build in Deno, which runs real threads.
 * - WebGPU: `onnxruntime-web/webgpu`, the web bundle with the WebGPU execution provider. It is
 *   imported (with a static specifier, so `deno compile` includes it) only when WebGPU is
 *   used, so WASM runs do not pay for loading it.
 *
 * `initRuntime` picks the process's default backend; `ModelSession.load` can also name a
 * backend explicitly, so that both can run side by side (the WebGPU tests compare them).
 */

import * as ort from "onnxruntime-web";
import { basename } from "node:path";
import {
  adapterName,
  type Backend,
  type BackendChoice,
  chooseBackend,
  describeAdapter,
  type ProbeResult,
  probeWebGpu,
  softwareAdapterReason,
  webGpuUnavailableMessage,
} from "./gpu.ts";
import type { ModelOutputs } from "./types.ts";
import { doublingModel, withOpset11Clip } from "./onnx_rewrite.ts";

export type { Backend, BackendChoice } from "./gpu.ts";
export { withOpset11Clip, withSymbolicBatch } from "./onnx_rewrite.ts";

/** The onnxruntime-web module API (both builds share it). */
type Ort = typeof ort;

export interface RuntimeOptions {
  /** WASM threads; default: the number of CPU cores. */
  threads?: number;
  /** Default "auto": WebGPU on a hardware GPU adapter, else WASM. */
  backend?: BackendChoice;
}

/** What `initRuntime` settled on, for run summaries and benchmarks. */
export interface RuntimeInfo {
  /** Backend that sessions run on by default. */
  backend: Backend;
  /** The WebGPU adapter in use (WebGPU only), e.g. "NVIDIA GeForce RTX 4090". */
  adapter?: string;
  /** Threads of onnxruntime's CPU kernels (1 on WebGPU, whose CPU fallback is single-threaded). */
  threads: number;
  /** Set when "auto" did not get WebGPU, saying why; meant to be shown once. */
  note?: string;
}

let defaultRuntime: Promise<RuntimeInfo> | undefined;
let defaultInfo: RuntimeInfo | undefined;
let defaultChoice: BackendChoice = "auto";
/** WASM threads asked for by `initRuntime` (used when the WASM build starts). */
let requestedThreads: number | undefined;
let wasmRuntime: Promise<number> | undefined;
let webGpuRuntime: Promise<WebGpuRuntime> | undefined;
let probe: Promise<ProbeResult> | undefined;

interface WebGpuRuntime {
  ort: Ort;
  /** Name of the adapter onnxruntime's device was created on. */
  adapter: string;
  /** Open for the life of the process: it keeps onnxruntime's GPU device alive. */
  deviceHolder: ort.InferenceSession;
}

/** Reads one of the WASM binaries that ship in the onnxruntime-web npm package. */
async function readWasmBinary(
  file: "ort-wasm-simd-threaded.wasm" | "ort-wasm-simd-threaded.asyncify.wasm",
): Promise<Uint8Array> {
  // One static specifier per file, so that `deno compile` can see what to include.
  const url = new URL(
    file === "ort-wasm-simd-threaded.wasm"
      ? import.meta.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm")
      : import.meta.resolve("onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm"),
  );
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

function defaultThreads(): number {
  return Math.max(1, Math.floor(requestedThreads ?? navigator.hardwareConcurrency ?? 1));
}

/** Starts the WASM build once; resolves to its thread count. */
function ensureWasm(): Promise<number> {
  wasmRuntime ??= (async () => {
    const threads = defaultThreads();
    ort.env.wasm.wasmBinary = await readWasmBinary("ort-wasm-simd-threaded.wasm");
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = "fatal";
    return threads;
  })().catch((error) => {
    wasmRuntime = undefined;
    throw error;
  });
  return wasmRuntime;
}

/** The default WebGPU adapter, asked for once per process. */
function probeOnce(): Promise<ProbeResult> {
  probe ??= probeWebGpu();
  return probe;
}

/**
 * Starts the WebGPU build once and proves it works by running a tiny model on it, so that
 * "WebGPU cannot start" surfaces here with a clear message rather than in the first real
 * model. That session is kept open for the life of the process: it holds onnxruntime's
 * GPU device, which every later WebGPU session shares.
 */
function ensureWebGpu(): Promise<WebGpuRuntime> {
  webGpuRuntime ??= startWebGpu().catch((error) => {
    webGpuRuntime = undefined;
    throw error;
  });
  return webGpuRuntime;
}

async function startWebGpu(): Promise<WebGpuRuntime> {
  const probed = await probeOnce();
  if (!probed.adapter) throw new Error(webGpuUnavailableMessage(probed.error));
  let ortGpu: Ort;
  try {
    ortGpu = await import("onnxruntime-web/webgpu");
  } catch (error) {
    throw new Error(webGpuUnavailableMessage(
      `cannot load onnxruntime-web's WebGPU build: ${cleanOrtMessage(error)}`,
    ));
  }
  ortGpu.env.wasm.wasmBinary = await readWasmBinary("ort-wasm-simd-threaded.asyncify.wasm");
  // The web bundle starts extra threads by importing a blob: URL as a worker, which Deno
  // refuses inside npm packages. Only its CPU fallback kernels would use them.
  ortGpu.env.wasm.numThreads = 1;
  ortGpu.env.logLevel = "fatal";
  let session: ort.InferenceSession;
  try {
    session = await ortGpu.InferenceSession.create(doublingModel(), {
      executionProviders: ["webgpu"],
      logSeverityLevel: 4,
    });
    const x = Float32Array.of(1, 2, 3, 4);
    const result = await session.run({ x: new ortGpu.Tensor("float32", x, [4]) });
    const y = result.y.data as Float32Array;
    if (!x.every((v, i) => y[i] === 2 * v)) {
      throw new Error(`a test computation gave wrong results (${[...y].join(", ")})`);
    }
    result.y.dispose();
  } catch (error) {
    throw new Error(webGpuUnavailableMessage(
      `onnxruntime-web's WebGPU backend failed to start: ${cleanOrtMessage(error)}`,
    ));
  }
  const adapter = await deviceAdapterName(ortGpu, probed.adapter);
  return { ort: ortGpu, adapter, deviceHolder: session };
}

/** Name of the adapter onnxruntime's GPU device really uses (falls back to the probed one). */
async function deviceAdapterName(
  ortGpu: Ort,
  probed: ReturnType<typeof describeAdapter>,
): Promise<string> {
  let described = probed;
  try {
    const device = (await ortGpu.env.webgpu.device) as { adapterInfo?: GPUAdapterInfo };
    if (device?.adapterInfo) described = describeAdapter({ info: device.adapterInfo });
  } catch {
    // Older WebGPU implementations lack GPUDevice.adapterInfo; the probe says the same.
  }
  return adapterName(described) + (softwareAdapterReason(described) ? ", software adapter" : "");
}

/**
 * Picks the process's default backend and starts it. The first call decides; later calls
 * return the same result whatever they ask (after a failure, the next call tries again).
 *
 * - "wasm": WASM SIMD with `threads` threads.
 * - "webgpu": WebGPU on whatever adapter there is (software ones too); throws
 *   "WebGPU is not available: <reason>. Use --backend wasm (or auto)." when it cannot start.
 * - "auto" (default): WebGPU on a hardware adapter, else WASM with `note` saying why.
 */
export function initRuntime(options: RuntimeOptions = {}): Promise<RuntimeInfo> {
  if (!defaultRuntime) {
    requestedThreads ??= options.threads;
    defaultChoice = options.backend ?? "auto";
    defaultRuntime = startDefault(defaultChoice).then(
      (info) => (defaultInfo = info),
      (error) => {
        defaultRuntime = undefined;
        throw error;
      },
    );
  }
  return defaultRuntime;
}

async function startDefault(choice: BackendChoice): Promise<RuntimeInfo> {
  if (choice === "wasm") return { backend: "wasm", threads: await ensureWasm() };
  const probed = await probeOnce();
  if (choice === "webgpu" && !probed.adapter) {
    throw new Error(webGpuUnavailableMessage(probed.error));
  }
  const decision = chooseBackend(choice, probed.adapter);
  if (decision.backend === "wasm") {
    const reason = probed.adapter ? decision.reason : `${probed.error}; using WASM`;
    return { backend: "wasm", threads: await ensureWasm(), note: `backend auto: ${reason}` };
  }
  try {
    const gpu = await ensureWebGpu();
    return { backend: "webgpu", adapter: gpu.adapter, threads: 1 };
  } catch (error) {
    if (choice === "webgpu") throw error;
    return {
      backend: "wasm",
      threads: await ensureWasm(),
      note: `backend auto: ${(error as Error).message.replace(/ Use --backend.*$/, "")} ` +
        `Using WASM.`,
    };
  }
}

/** What `initRuntime` settled on; undefined before it has finished. */
export function runtimeInfo(): RuntimeInfo | undefined {
  return defaultInfo;
}

/** Name, element type and shape of a model input or output (symbolic dims as strings). */
export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** Options for one model session. */
export interface SessionOptions {
  /** Run this session on this backend instead of the process default (`initRuntime`). */
  backend?: Backend;
}

/** onnxruntime's WebGPU backend refuses to create two sessions at the same time. */
let webGpuCreation: Promise<unknown> = Promise.resolve();

/** A loaded ONNX model. */
export class ModelSession {
  private constructor(
    readonly path: string,
    /** Backend this session runs on. */
    readonly backend: Backend,
    private readonly ort: Ort,
    private readonly session: ort.InferenceSession,
  ) {}

  /**
   * Loads a model from a file path or bytes, on `options.backend` or else on the process's
   * default backend (started by `initRuntime()` with default settings if need be). Errors
   * name the model file and carry onnxruntime's own reason. When "auto" picked WebGPU and
   * WebGPU cannot load this model, it runs on WASM instead and `runtimeInfo().note` says so.
   */
  static async load(
    model: string | Uint8Array,
    label = typeof model === "string" ? model : "model",
    options: SessionOptions = {},
  ): Promise<ModelSession> {
    const backend = options.backend ?? (await initRuntime()).backend;
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
    if (backend === "wasm") return await ModelSession.create(bytes, label, "wasm");
    try {
      return await ModelSession.create(bytes, label, "webgpu");
    } catch (error) {
      if (options.backend || defaultChoice !== "auto") throw error;
      const session = await ModelSession.create(bytes, label, "wasm");
      const note = `backend auto: ${basename(label)} runs on WASM because WebGPU cannot load ` +
        `it (${(error as Error).message})`;
      if (defaultInfo) defaultInfo.note = defaultInfo.note ? `${defaultInfo.note}\n${note}` : note;
      return session;
    }
  }

  private static async create(
    bytes: Uint8Array,
    label: string,
    backend: Backend,
  ): Promise<ModelSession> {
    let runtime: Ort = ort;
    let model = bytes;
    if (backend === "webgpu") {
      runtime = (await ensureWebGpu()).ort;
      // Keeps legacy ReLU6 (Clip-6) nodes on the GPU instead of round trips to the CPU.
      model = withOpset11Clip(bytes);
    } else await ensureWasm();
    const create = () =>
      runtime.InferenceSession.create(model, {
        executionProviders: [backend],
        graphOptimizationLevel: "all",
        logSeverityLevel: 4,
        // Outputs come back to the CPU (the decoders read them there): one download per
        // output per run, and the CPU input is uploaded once per run. Operators the WebGPU
        // backend lacks still run on the CPU inside the run (e.g. RTMDet's in-graph NMS).
        preferredOutputLocation: "cpu",
      });
    try {
      let session: ort.InferenceSession;
      if (backend === "webgpu") {
        const pending = webGpuCreation.then(create);
        webGpuCreation = pending.catch(() => {});
        session = await pending;
      } else {
        session = await create();
      }
      return new ModelSession(label, backend, runtime, session);
    } catch (error) {
      throw new Error(
        `onnxruntime${backend === "webgpu" ? " (WebGPU)" : ""} cannot load model ${label}: ${
          cleanOrtMessage(error)
        }` +
          legacyExportHint(error),
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

  /**
   * Runs the model on one float32 input (any batch size the model accepts); returns all
   * outputs as float32 data on the CPU.
   */
  async run(inputName: string, data: Float32Array, dims: readonly number[]): Promise<ModelOutputs> {
    const feeds = { [inputName]: new this.ort.Tensor("float32", data, dims) };
    let results: ort.InferenceSession.ReturnType;
    try {
      // Severity 4 (fatal only): failures come back as the error below, not as raw log lines.
      results = await this.session.run(feeds, { logSeverityLevel: 4 });
    } catch (error) {
      throw new Error(
        `model ${this.path} failed on input "${inputName}" [${dims.join(",")}]: ${
          cleanOrtMessage(error)
        }${legacyExportHint(error)}`,
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

/** A hint for errors that old exports cause, or "". */
function legacyExportHint(error: unknown): string {
  return looksLikeLegacyBatchNorm(error)
    ? `\n  hint: this looks like an old export whose BatchNormalization nodes carry the obsolete ` +
      `"spatial" attribute; re-export the model with a recent opset, or remove that attribute ` +
      `from its BatchNormalization nodes (onnx.helper in Python).`
    : "";
}

function looksLikeLegacyBatchNorm(error: unknown): boolean {
  return /BatchNorm/i.test(String(error instanceof Error ? error.message : error));
}
