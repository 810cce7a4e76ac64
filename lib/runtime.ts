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

export type { Backend, BackendChoice } from "./gpu.ts";

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

/** Threads of onnxruntime's CPU kernels for the default backend (0 before `initRuntime`). */
export function runtimeThreads(): number {
  return defaultInfo?.threads ?? 0;
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

/**
 * The model with the batch dimension (dim 0) of its graph inputs and outputs made symbolic
 * ("batch") where it is declared as a fixed 1, so that onnxruntime accepts several crops in one
 * run. Everything else is copied byte for byte. Returns the input unchanged when nothing was
 * fixed at 1.
 *
 * Only safe for graphs that treat batch items independently (fully convolutional models such
 * as SimplePose); a graph that reshapes with a hard-coded batch fails or mixes items, so a
 * caller must check a batched run against single runs before relying on it. Bytes that are not
 * a well-formed protobuf message come back unchanged too (onnxruntime reports those).
 */
export function withSymbolicBatch(model: Uint8Array): Uint8Array {
  try {
    return relaxBatch(model);
  } catch {
    return model;
  }
}

function relaxBatch(model: Uint8Array): Uint8Array {
  // ModelProto.graph = 7; GraphProto.input = 11, output = 12, initializer = 5;
  // TensorProto.name = 8; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1;
  // TypeProto.Tensor.shape = 2; TensorShapeProto.dim = 1; Dimension.dim_value = 1,
  // dim_param = 2.
  let changed = false;
  const relaxed = mapMessageFields(model, 7, (graph) => {
    // Old exports list the weights among the graph inputs too; leave those alone.
    const weights = new Set<string>();
    for (const field of messageFields(graph)) {
      if (field.number !== 5 || field.wireType !== 2) continue;
      const name = messageFields(field.payload!).find((f) => f.number === 8)?.payload;
      if (name) weights.add(TEXT_DECODER.decode(name));
    }
    const relaxValue = (valueInfo: Uint8Array) => {
      const name = messageFields(valueInfo).find((f) => f.number === 1)?.payload;
      if (name && weights.has(TEXT_DECODER.decode(name))) return undefined;
      return mapMessageFields(
        valueInfo,
        2,
        (type) =>
          mapMessageFields(
            type,
            1,
            (tensor) =>
              mapMessageFields(tensor, 2, (shape) =>
                mapMessageFields(shape, 1, (dim) => {
                  const [first] = messageFields(dim);
                  if (!first || first.number !== 1 || first.value !== 1) {
                    return undefined;
                  }
                  changed = true;
                  return Uint8Array.from(protoField(2, "batch"));
                }, true)),
          ),
      );
    };
    return mapMessageFields(mapMessageFields(graph, 11, relaxValue), 12, relaxValue);
  });
  return changed ? relaxed : model;
}

/**
 * Operators whose meaning is the same at opset 11 as at any opset from 7 to 10 (newer
 * versions only add options whose defaults keep the old behaviour), given the attribute
 * checks in `withOpset11Clip`.
 */
const OPSET_11_SAFE_OPS = new Set([
  "Add",
  "AveragePool",
  "BatchNormalization",
  "Clip",
  "Concat",
  "Conv",
  "ConvTranspose",
  "Div",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Identity",
  "LeakyRelu",
  "MaxPool",
  "Mul",
  "PRelu",
  "Relu",
  "Sigmoid",
  "Sub",
  "Sum",
  "Tanh",
]);

/**
 * Old exports (opset 7 to 10) write ReLU6 as Clip with `min`/`max` attributes, and
 * onnxruntime's WebGPU backend only has Clip kernels from opset 11 on (bounds as inputs).
 * Each such node then runs on the CPU, costing a GPU→CPU→GPU round trip per node per run
 * (34 per SimplePose crop). This returns the model moved to opset 11 with those Clip nodes
 * rewritten to take their bounds as scalar initializers: the same computation, all on the
 * GPU. Models it cannot prove safe (other domains, operators outside a short list of ones
 * that did not change meaning up to opset 11, legacy attributes) come back unchanged, as do
 * models without such Clip nodes.
 */
export function withOpset11Clip(model: Uint8Array): Uint8Array {
  try {
    return upgradeClip(model);
  } catch {
    return model; // Not a well-formed model: onnxruntime will say what is wrong with it.
  }
}

function upgradeClip(model: Uint8Array): Uint8Array {
  // ModelProto: ir_version = 1, opset_import = 8, graph = 7. OperatorSetIdProto: domain = 1,
  // version = 2. GraphProto: node = 1, initializer = 5. NodeProto: input = 1, op_type = 4,
  // attribute = 5, domain = 7. AttributeProto: name = 1, f = 2.
  const top = messageFields(model);
  const opsets = top.filter((f) => f.number === 8).map((f) => messageFields(f.payload!));
  const defaultOpset = opsets.find((o) => !o.find((f) => f.number === 1)?.payload?.length);
  const version = defaultOpset?.find((f) => f.number === 2)?.value ?? 0;
  if (opsets.length !== 1 || version < 7 || version > 10) return model;
  const graphField = top.find((f) => f.number === 7);
  if (!graphField) return model;

  const text = (bytes: Uint8Array | undefined) => (bytes ? TEXT_DECODER.decode(bytes) : "");
  const attributeName = (f: ProtoField) =>
    text(messageFields(f.payload!).find((a) => a.number === 1)?.payload);
  let clips = 0;
  for (const field of messageFields(graphField.payload!)) {
    if (field.number !== 1) continue;
    const node = messageFields(field.payload!);
    const op = text(node.find((f) => f.number === 4)?.payload);
    const attributes = node.filter((f) => f.number === 5).map(attributeName);
    if (text(node.find((f) => f.number === 7)?.payload) !== "") return model;
    if (!OPSET_11_SAFE_OPS.has(op)) return model;
    if (op === "BatchNormalization" && attributes.includes("spatial")) return model;
    if (op === "ConvTranspose" && attributes.includes("output_shape")) return model;
    if (op === "Clip") clips++;
  }
  if (clips === 0) return model;

  // One scalar initializer per distinct bound value.
  const bounds = new Map<string, { name: string; bytes: number[] }>();
  const boundName = (f32: Uint8Array) => {
    const key = Array.from(f32).join(",");
    let bound = bounds.get(key);
    if (!bound) {
      bound = { name: `posekit_clip_bound_${bounds.size}`, bytes: Array.from(f32) };
      bounds.set(key, bound);
    }
    return bound.name;
  };
  const graph = mapMessageFields(graphField.payload!, 1, (nodeBytes) => {
    const node = messageFields(nodeBytes);
    if (text(node.find((f) => f.number === 4)?.payload) !== "Clip") return undefined;
    const limits: Record<string, string> = { min: "", max: "" };
    const kept: number[] = [];
    for (const field of node) {
      const name = field.number === 5 ? attributeName(field) : "";
      if (name === "min" || name === "max") {
        const value = messageFields(field.payload!).find((a) => a.number === 2 && a.wireType === 5);
        if (value) limits[name] = boundName(value.payload!);
      } else kept.push(...field.raw);
    }
    // Inputs come first in NodeProto order, so the bounds follow the data input.
    return Uint8Array.from([...kept, ...protoField(1, limits.min), ...protoField(1, limits.max)]);
  });
  const initializers: Uint8Array[] = [];
  for (const { name, bytes } of bounds.values()) {
    // TensorProto: data_type = 2 (1 = FLOAT), name = 8, raw_data = 9; no dims: a scalar.
    const tensor = [...protoField(2, 1), ...protoField(8, name), ...protoField(9, bytes)];
    initializers.push(Uint8Array.from(protoField(5, tensor)));
  }
  const parts: Uint8Array[] = [];
  for (const field of top) {
    if (field.number === 1) parts.push(Uint8Array.from(protoField(1, Math.max(field.value!, 6))));
    else if (field.number === 8) {
      parts.push(Uint8Array.from(protoField(8, [...protoField(1, ""), ...protoField(2, 11)])));
    } else if (field.number === 7) {
      const body = concatBytes([graph, ...initializers]);
      const head: number[] = [];
      pushVarint(head, (7 << 3) | 2);
      pushVarint(head, body.length);
      parts.push(Uint8Array.from(head), body);
    } else parts.push(field.raw);
  }
  return concatBytes(parts);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const TEXT_DECODER = new TextDecoder();

/** One protobuf field: its number, varint value (wire type 0), or bytes (other types). */
interface ProtoField {
  number: number;
  wireType: number;
  value?: number;
  /** Length-delimited contents (wire type 2), or the 4 or 8 bytes of a fixed-size value. */
  payload?: Uint8Array;
  /** The whole field as encoded, tag included. */
  raw: Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0, scale = 1;
  for (;;) {
    if (at >= bytes.length) throw new Error("truncated protobuf varint");
    const byte = bytes[at++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) return [value, at];
  }
}

function pushVarint(out: number[], n: number): void {
  for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
}

/** The fields of an encoded protobuf message, in order. */
function messageFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    let tag: number, value: number | undefined, payload: Uint8Array | undefined;
    [tag, at] = readVarint(bytes, at);
    const wireType = tag & 7;
    if (wireType === 0) [value, at] = readVarint(bytes, at);
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      payload = bytes.subarray(at, at + size);
      at += size;
    } else if (wireType === 2) {
      let length: number;
      [length, at] = readVarint(bytes, at);
      payload = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`unsupported protobuf wire type ${wireType}`);
    if (at > bytes.length) throw new Error("truncated protobuf message");
    fields.push({
      number: Math.floor(tag / 8),
      wireType,
      value,
      payload,
      raw: bytes.subarray(start, at),
    });
  }
  return fields;
}

/**
 * The message with the payload of each length-delimited field `number` replaced by
 * `replace(payload)` (kept when that returns undefined); with `firstOnly`, only the first.
 */
function mapMessageFields(
  bytes: Uint8Array,
  number: number,
  replace: (payload: Uint8Array) => Uint8Array | undefined,
  firstOnly = false,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let seen = false;
  for (const field of messageFields(bytes)) {
    if (field.number === number && field.wireType === 2 && !(firstOnly && seen)) {
      seen = true;
      const replaced = replace(field.payload!);
      if (replaced) {
        const head: number[] = [];
        pushVarint(head, (number << 3) | 2);
        pushVarint(head, replaced.length);
        parts.push(Uint8Array.from(head), replaced);
        continue;
      }
    }
    parts.push(field.raw);
  }
  return concatBytes(parts);
}

/** One encoded protobuf field: a varint, a string, or an embedded message's bytes. */
function protoField(number: number, value: number | string | number[]): number[] {
  const out: number[] = [];
  if (typeof value === "number") {
    pushVarint(out, number << 3);
    pushVarint(out, value);
    return out;
  }
  const bytes = typeof value === "string" ? [...new TextEncoder().encode(value)] : value;
  pushVarint(out, (number << 3) | 2);
  pushVarint(out, bytes.length);
  return out.concat(bytes);
}

/**
 * A complete ONNX model computing y = x + x on a float32 vector of 4: the smallest graph
 * that makes the WebGPU backend compile and run a kernel. Hand-encoded protobuf (ModelProto),
 * so no file ships for it.
 */
function doublingModel(): Uint8Array {
  const field = protoField;
  // ValueInfoProto{name, type: TypeProto{tensor_type{elem_type FLOAT, shape{dim{dim_value 4}}}}}
  const vector4 = (name: string) =>
    field(1, name).concat(field(2, field(1, field(1, 1).concat(field(2, field(1, field(1, 4)))))));
  const node = field(1, "x").concat(field(1, "x"), field(2, "y"), field(4, "Add"));
  const graph = field(1, node).concat(
    field(2, "probe"),
    field(11, vector4("x")),
    field(12, vector4("y")),
  );
  return Uint8Array.from([
    ...field(1, 8), // ir_version 8
    ...field(8, field(1, "").concat(field(2, 13))), // opset_import: default domain, version 13
    ...field(7, graph),
  ]);
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
