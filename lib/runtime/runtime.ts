/**
 * The execution runtime: onnxruntime-web on WASM SIMD or WebGPU, and native onnxruntime where
 * the platform has it, behind one `Runtime` object that the pipeline is handed. Nothing here
 * is module-level state: the backend, threads, the WebGPU device holder and the notes live in
 * the `Runtime` instance.
 *
 * The platform (`RuntimePlatform`) hands over onnxruntime-web, set up with its WebAssembly:
 * in Deno the bytes of the .wasm files, read from the npm package (`lib/deno/runtime.ts`); in
 * a page the URLs they are served from. Nothing here reads files or imports onnxruntime-web
 * itself, so the same code runs in both.
 */

import type * as ort from "npm:onnxruntime-web@1.30.0";
import { baseName as basename } from "../util/paths.ts";
import {
  adapterName,
  type BackendChoice,
  chooseBackend,
  describeAdapter,
  type ProbeResult,
  probeWebGpu,
  softwareAdapterReason,
  webGpuUnavailableMessage,
} from "./backend.ts";
import type { ModelOutputs } from "../types.ts";
import { doublingModel, withOpset11Clip } from "./onnx_rewrite.ts";
import {
  type Backend,
  type InferenceSession,
  type InputTensor,
  type ModelInputs,
  type TensorInfo,
  toModelOutputs,
} from "./session.ts";

export type { BackendChoice } from "./backend.ts";
export type { Backend, InferenceSession, TensorInfo } from "./session.ts";
export { withOpset11Clip, withSymbolicBatch } from "./onnx_rewrite.ts";

/** The onnxruntime-web module API (both builds share it). */
export type Ort = typeof ort;

/** How to start a runtime. */
export interface RuntimeOptions {
  /**
   * Where onnxruntime-web (and native sessions) come from; required here, filled in by
   * Deno's `Runtime.start` (`lib/deno/runtime.ts`) and by the page.
   */
  platform?: RuntimePlatform;
  /** CPU threads (WASM, native): at most the CPU cores (more are cut, with a note); default: all. */
  threads?: number;
  /**
   * "auto" (default): WebGPU on a hardware GPU adapter, else WASM; "wasm", "webgpu", or
   * "native" (onnxruntime-node's CPU provider; needs --allow-ffi).
   */
  backend?: BackendChoice | "native";
}

/** What a runtime settled on, for run summaries and benchmarks. */
export interface RuntimeInfo {
  /** Backend that sessions run on by default. */
  backend: Backend;
  /** The WebGPU adapter in use (WebGPU only), e.g. "NVIDIA GeForce RTX 4090". */
  adapter?: string;
  /** Threads of the CPU kernels (1 on WebGPU, whose CPU fallback is single-threaded). */
  threads: number;
}

interface WebGpuRuntime {
  ort: Ort;
  /** Name of the adapter onnxruntime's device was created on. */
  adapter: string;
  /** Open for the life of the process: it keeps onnxruntime's GPU device alive. */
  deviceHolder: ort.InferenceSession;
}

/**
 * What a platform gives the runtime. Deno's is `DENO_PLATFORM` (`lib/deno/runtime.ts`); a page
 * builds one from the onnxruntime-web module it loaded (see `web/`).
 */
export interface RuntimePlatform {
  /** Logical CPU cores: the default thread count. */
  readonly cores: number;
  /** What lacks `navigator.gpu` when it is missing, for messages ("this Deno", "this browser"). */
  readonly name: string;
  /**
   * onnxruntime-web for WASM sessions, with its WebAssembly set and `threads` asked for. Its
   * thread count is fixed by the first session of the process (or page): the answer says the
   * count in force.
   */
  wasm(threads: number): Promise<{ ort: Ort; threads: number }>;
  /**
   * onnxruntime-web with the WebGPU execution provider and its WebAssembly set (in a page, the
   * same instance as `wasm`'s). Throws when it cannot be loaded.
   */
  webgpu(): Promise<Ort>;
  /** Reads a model named by a string (a path in Deno, a URL in a page). */
  readModel?(ref: string): Promise<Uint8Array>;
  /** Native onnxruntime sessions, where the platform has them (Deno's `--backend native`). */
  loadNative?(bytes: Uint8Array, label: string, threads: number): Promise<InferenceSession>;
  /** Called before `navigator.gpu` is asked for an adapter (Deno quiets a Wayland warning). */
  beforeGpuProbe?(): void;
}

async function startWebGpu(
  probed: ProbeResult,
  platform: RuntimePlatform,
): Promise<WebGpuRuntime> {
  if (!probed.adapter) throw new Error(webGpuUnavailableMessage(probed.error));
  let ortGpu: Ort;
  try {
    ortGpu = await platform.webgpu();
  } catch (error) {
    throw new Error(webGpuUnavailableMessage(
      `cannot load onnxruntime-web's WebGPU build: ${cleanOrtMessage(error)}`,
    ));
  }
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
 * The CPU threads to run with: `asked` (default: all `cores`), at most `cores`, with a note for
 * the user when it was cut. More threads than cores only make them wait for each other, and
 * each of onnxruntime-web's WASM threads is a worker of its own: a page asked for `?threads=1000`
 * would start a thousand.
 */
function threadCount(
  asked: number | undefined,
  cores: number,
): { threads: number; note?: string } {
  const available = Math.max(1, Math.floor(cores) || 1);
  if (asked === undefined) return { threads: available };
  if (!(Number.isInteger(asked) && asked >= 1)) {
    throw new RangeError(`threads must be a whole number ≥ 1, got ${asked}`);
  }
  if (asked <= available) return { threads: asked };
  return {
    threads: available,
    note: `${asked} threads asked for, ${available} CPU core${available === 1 ? "" : "s"} ` +
      `here: using ${available}`,
  };
}

/** Per-session options of `ModelSession.load`. */
export interface SessionOptions {
  /** Where onnxruntime-web comes from (Deno's `ModelSession` fills it in). */
  platform?: RuntimePlatform;
  /** "wasm" (default) or "webgpu". */
  backend?: "wasm" | "webgpu";
  /** WASM threads when this is the process's first WASM session (default: CPU cores). */
  threads?: number;
}

/** A model's bytes, read through the platform when named, with an error that names it. */
async function readModel(
  model: string | Uint8Array,
  label: string,
  platform: RuntimePlatform,
): Promise<Uint8Array> {
  if (typeof model !== "string") return model;
  if (!platform.readModel) {
    throw new Error(`cannot read model ${label}: on ${platform.name}, pass the model's bytes`);
  }
  try {
    return await platform.readModel(model);
  } catch (error) {
    throw new Error(`cannot read model ${label}: ${(error as Error).message}`);
  }
}

/**
 * A runtime: the backend every session of a pipeline runs on, its threads, and the notes
 * worth telling the user once (why "auto" did not get WebGPU, which model fell back to
 * WASM). Start one with `Runtime.start` and hand it to the pipeline.
 *
 * onnxruntime-web runs one model at a time: two runs in flight at once, even of two sessions,
 * break each other ("Cannot read properties of null"). A runtime queues the runs of all its
 * onnxruntime-web sessions, so pipelines in one process that may run at the same time should
 * share one runtime (across workers there is nothing to share: each has its own onnxruntime).
 *
 * @example One runtime for two pipelines
 * ```ts ignore
 * import { PosePipeline, Runtime } from "@posekit/posekit";
 *
 * const runtime = await Runtime.start({ backend: "auto", threads: 4 });
 * console.log(runtime.info.backend, runtime.notes); // "webgpu" or "wasm", and why
 * const body = await PosePipeline.create({ runtime });
 * const end2end = await PosePipeline.create({ runtime, pose: "yolo11n_pose_int8", detector: false });
 * ```
 */
export class Runtime {
  /** Sentences for the user, gathered as sessions load (e.g. a WebGPU → WASM fallback). */
  readonly notes: string[] = [];
  /** Serializes WebGPU session creation, which onnxruntime refuses to run concurrently. */
  private webGpuCreation: Promise<unknown> = Promise.resolve();
  /** Queues the runs of this runtime's onnxruntime-web sessions, one at a time. */
  private readonly runs: RunQueue = { last: Promise.resolve() };

  /** Use `Runtime.start`. */
  protected constructor(
    /** What this runtime settled on. */
    readonly info: RuntimeInfo,
    private readonly choice: BackendChoice | "native",
    private readonly platform: RuntimePlatform,
    /** onnxruntime-web for WASM sessions (also a WebGPU runtime's fallback), once set up. */
    private wasmOrt: Ort | undefined,
    private readonly webGpu: WebGpuRuntime | undefined,
  ) {}

  /**
   * Picks the backend and starts it:
   * - "wasm": WASM SIMD with `threads` threads;
   * - "webgpu": WebGPU on whatever adapter there is (software ones too); throws
   *   "WebGPU is not available: <reason>. Use --backend wasm (or auto)." when it cannot start;
   * - "native": the platform's native onnxruntime (a clear error naming the fix where it
   *   cannot load);
   * - "auto" (default): WebGPU on a hardware adapter, else WASM, with a note saying why.
   */
  static async start(options: RuntimeOptions = {}): Promise<Runtime> {
    const platform = options.platform;
    if (!platform) {
      throw new Error(
        "Runtime.start needs a platform: in Deno import Runtime from posekit's mod.ts, " +
          "in a page pass the platform built from onnxruntime-web",
      );
    }
    const choice = options.backend ?? "auto";
    const { threads, note: threadsNote } = threadCount(options.threads, platform.cores);
    // Native onnxruntime is imported with the first model, whose load names any fix needed.
    if (choice === "native") {
      if (!platform.loadNative) throw new Error(`${platform.name} has no native onnxruntime`);
      const runtime = new Runtime(
        { backend: "native", threads },
        choice,
        platform,
        undefined,
        undefined,
      );
      if (threadsNote) runtime.notes.push(threadsNote);
      return runtime;
    }
    const wasm = async (note?: string) => {
      const set = await platform.wasm(threads);
      const runtime = new Runtime(
        { backend: "wasm", threads: set.threads },
        choice,
        platform,
        set.ort,
        undefined,
      );
      if (note) runtime.notes.push(note);
      if (threadsNote) runtime.notes.push(threadsNote);
      if (runtime.info.threads !== threads && options.threads !== undefined) {
        runtime.notes.push(
          `onnxruntime-web's WASM threads were already set to ${runtime.info.threads} ` +
            `in this process`,
        );
      }
      return runtime;
    };
    if (choice === "wasm") return await wasm();
    platform.beforeGpuProbe?.();
    const probed = await probeWebGpu({ platformName: platform.name });
    if (choice === "webgpu" && !probed.adapter) {
      throw new Error(webGpuUnavailableMessage(probed.error));
    }
    const decision = chooseBackend(choice, probed.adapter);
    if (decision.backend === "wasm") {
      return await wasm(
        `backend auto: ${probed.adapter ? decision.reason : `${probed.error}; using WASM`}`,
      );
    }
    try {
      const gpu = await startWebGpu(probed, platform);
      return new Runtime(
        { backend: "webgpu", adapter: gpu.adapter, threads: 1 },
        choice,
        platform,
        undefined,
        gpu,
      );
    } catch (error) {
      if (choice === "webgpu") throw error;
      return await wasm(
        `backend auto: ${(error as Error).message.replace(/ Use --backend.*$/, "")} Using WASM.`,
      );
    }
  }

  /**
   * Loads a model (bytes, or a name the platform reads: a file path in Deno, a URL in a page)
   * on this runtime's backend. Errors name the model (`label`) and carry onnxruntime's own
   * reason. When "auto" picked WebGPU and WebGPU cannot load this model, it runs on WASM
   * instead and a note says so.
   */
  async load(
    model: string | Uint8Array,
    label: string = typeof model === "string" ? model : "model",
  ): Promise<InferenceSession> {
    const bytes = await readModel(model, label, this.platform);
    const backend = this.info.backend;
    if (backend === "native") {
      return await this.platform.loadNative!(bytes, label, this.info.threads);
    }
    if (backend === "wasm") {
      return await ModelSession.create(bytes, label, this.wasmOrt!, "wasm", this.runs);
    }
    try {
      const pending = this.webGpuCreation.then(() =>
        ModelSession.create(bytes, label, this.webGpu!.ort, "webgpu", this.runs)
      );
      this.webGpuCreation = pending.catch(() => {});
      return await pending;
    } catch (error) {
      if (this.choice !== "auto") throw error;
      this.wasmOrt ??= (await this.platform.wasm(this.platform.cores)).ort;
      const session = await ModelSession.create(bytes, label, this.wasmOrt, "wasm", this.runs);
      this.notes.push(
        `backend auto: ${basename(label)} runs on WASM because WebGPU cannot load it ` +
          `(${(error as Error).message})`,
      );
      return session;
    }
  }
}

/** The last run of a runtime's queue (see `Runtime`): the next one starts after it. */
interface RunQueue {
  last: Promise<unknown>;
}

/**
 * A model loaded in onnxruntime-web, on WASM or WebGPU.
 *
 * @example In a page: one model on its own, run on a blank crop
 * ```ts ignore
 * import { ModelSession, type RuntimePlatform } from "@posekit/posekit/core";
 *
 * declare const platform: RuntimePlatform; // onnxruntime-web as the page loaded it (see core.ts)
 * const url = "/models/simplepose_nano_256x192.onnx";
 * const session = await ModelSession.load(url, "simplepose", { platform, backend: "wasm" });
 * const [input] = session.inputs; // its name, type and shape
 * const dims = [1, 3, 256, 192]; // one RGB crop of 256×192
 * const outputs = await session.run(input.name, new Float32Array(3 * 256 * 192), dims);
 * for (const [name, output] of Object.entries(outputs)) console.log(name, output.dims);
 * await session.release();
 * ```
 */
export class ModelSession implements InferenceSession {
  /** Use `ModelSession.load` or `Runtime.load`. */
  protected constructor(
    readonly path: string,
    /** Backend this session runs on. */
    readonly backend: Backend,
    private readonly ort: Ort,
    private readonly session: ort.InferenceSession,
    private readonly runs: RunQueue,
  ) {}

  /**
   * One model on its own, outside a pipeline's runtime (tools and tests): on WASM (default)
   * or WebGPU (which then starts on any adapter). Errors name the model file.
   */
  static async load(
    model: string | Uint8Array,
    label: string = typeof model === "string" ? model : "model",
    options: SessionOptions = {},
  ): Promise<ModelSession> {
    const runtime = await Runtime.start({
      platform: options.platform,
      backend: options.backend ?? "wasm",
      threads: options.threads,
    });
    return await runtime.load(model, label) as ModelSession;
  }

  /** Creates the onnxruntime-web session (the runtime has set the build up). */
  static async create(
    bytes: Uint8Array,
    label: string,
    runtime: Ort,
    backend: "wasm" | "webgpu" = "wasm",
    runs: RunQueue = { last: Promise.resolve() },
  ): Promise<ModelSession> {
    // Keeps legacy ReLU6 (Clip-6) nodes on the GPU instead of round trips to the CPU.
    const model = backend === "webgpu" ? withOpset11Clip(bytes) : bytes;
    try {
      const session = await runtime.InferenceSession.create(model, {
        executionProviders: [backend],
        graphOptimizationLevel: "all",
        logSeverityLevel: 4,
        // Outputs come back to the CPU (the decoders read them there): one download per
        // output per run, and the CPU input is uploaded once per run. Operators the WebGPU
        // backend lacks still run on the CPU inside the run (e.g. RTMDet's in-graph NMS).
        preferredOutputLocation: "cpu",
      });
      return new ModelSession(label, backend, runtime, session, runs);
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
   * Runs the model; returns all outputs as float32 data on the CPU. Takes named inputs, or
   * (for the common one-image case) one float32 input's name, data and dims.
   */
  async run(
    inputs: ModelInputs | string,
    data?: Float32Array,
    dims?: readonly number[],
  ): Promise<ModelOutputs> {
    const named: ModelInputs = typeof inputs === "string"
      ? { [inputs]: { type: "float32", data: data!, dims: dims! } }
      : inputs;
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, input] of Object.entries(named)) {
      feeds[name] = toOrtTensor(this.ort, input);
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      // Severity 4 (fatal only): failures come back as the error below, not as raw log lines.
      const run = this.runs.last.then(() => this.session.run(feeds, { logSeverityLevel: 4 }));
      this.runs.last = run.catch(() => {});
      results = await run;
    } catch (error) {
      const described = Object.entries(named)
        .map(([name, t]) => `"${name}" [${t.dims.join(",")}]`)
        .join(", ");
      throw new Error(
        `model ${this.path} failed on input ${described}: ${cleanOrtMessage(error)}${
          legacyExportHint(error)
        }`,
      );
    }
    return toModelOutputs(results, this.path);
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

function toOrtTensor(runtime: Ort, input: InputTensor): ort.Tensor {
  return input.type === "int64"
    ? new runtime.Tensor("int64", input.data, input.dims)
    : new runtime.Tensor("float32", input.data, input.dims);
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
