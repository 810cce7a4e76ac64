/**
 * Native onnxruntime on its CPU execution provider, through the npm package `onnxruntime-node`
 * (a Node-API addon that Deno loads as a native library).
 *
 * The package is imported only when a native session is asked for, with a specifier that
 * `deno compile` cannot see, so the WASM path and compiled binaries never depend on it. Its
 * CPU binaries ship inside the npm package: plain `deno install` is all it needs. Its
 * postinstall script only fetches CUDA libraries from NuGet (and fails offline), so it must
 * not be allowed to run. Loading the addon needs `--allow-ffi`.
 */

import type * as OrtNode from "npm:onnxruntime-node@1.30.0";
import {
  type InferenceSession,
  type InputTensor,
  type ModelInputs,
  type TensorInfo,
  toModelOutputs,
} from "../runtime/session.ts";
import type { ModelOutputs } from "../types.ts";

/** The onnxruntime-node module API. */
export type OrtNodeModule = typeof OrtNode;

/** Options for one native session. */
export interface NativeSessionOptions {
  /** Threads of onnxruntime's CPU kernels (intra-op); default: the number of CPU cores. */
  threads?: number;
  /**
   * Imports onnxruntime-node; default: a dynamic import of "onnxruntime-node". Tests replace
   * it to see what users are told when the import fails.
   */
  importModule?: () => Promise<OrtNodeModule>;
}

/** Held in a variable so that `deno compile` does not pull the addon into binaries. */
const ORT_NODE_SPECIFIER = "npm:onnxruntime-node@1.30.0";

/** `Deno.build` os/arch pairs whose binaries ship in onnxruntime-node 1.30.0. */
const SUPPORTED_PLATFORMS: readonly string[] = [
  "linux/x86_64",
  "linux/aarch64",
  "darwin/aarch64",
  "windows/x86_64",
  "windows/aarch64",
];

const USE_WASM = "or use --backend wasm";

/**
 * Loads a model (file path or bytes) on native onnxruntime's CPU execution provider:
 * `threads` intra-op threads, one inter-op thread, all graph optimizations.
 *
 * Throws one Error naming the fix when native onnxruntime cannot be used here (inside a
 * `deno compile` binary, unsupported platform, package not installed, `--allow-ffi`
 * missing). Model-load and run errors name the model (`label`) and carry onnxruntime's reason.
 */
export async function loadNativeSession(
  model: string | Uint8Array,
  label: string,
  options: NativeSessionOptions = {},
): Promise<InferenceSession> {
  const ort = await importOrtNode(options.importModule);
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
  const threads = Math.max(1, Math.floor(options.threads ?? navigator.hardwareConcurrency ?? 1));
  let session: OrtNode.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      logSeverityLevel: 4,
      // onnxruntime's intra-op threads spin between runs by default, taking the cores the
      // worker needs for decoding and crops in between: with 2 threads, 1 worker ran 8.5–9.0
      // images/s spinning and 11.5–12.6 without (40 shared images, side by side).
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    });
  } catch (error) {
    throw new Error(`onnxruntime (native) cannot load model ${label}: ${cleanMessage(error)}`);
  }
  return new NativeSession(label, ort, session);
}

/** Imports onnxruntime-node, turning every way it can fail into one message naming the fix. */
async function importOrtNode(
  importModule: (() => Promise<OrtNodeModule>) | undefined,
): Promise<OrtNodeModule> {
  if (!importModule) {
    if (Deno.build.standalone) {
      throw new Error(
        "native onnxruntime is not available inside a compiled posekit binary (onnxruntime-node " +
          "is a native addon that deno compile does not bundle): use --backend wasm, or run " +
          `posekit from source with --allow-ffi after "deno install".`,
      );
    }
    const platform = `${Deno.build.os}/${Deno.build.arch}`;
    if (!SUPPORTED_PLATFORMS.includes(platform)) {
      throw new Error(
        `native onnxruntime has no binaries for ${platform} (onnxruntime-node ships ` +
          `${SUPPORTED_PLATFORMS.join(", ")}): use --backend wasm.`,
      );
    }
  }
  try {
    return await (importModule ?? (() => import(ORT_NODE_SPECIFIER)))();
  } catch (error) {
    throw new Error(nativeImportFailureMessage(error));
  }
}

/** What to tell the user when importing onnxruntime-node failed with `error`. */
export function nativeImportFailureMessage(error: unknown): string {
  const reason = cleanMessage(error);
  if (
    error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied ||
    /requires ffi access|--allow-ffi/i.test(reason)
  ) {
    return `native onnxruntime needs permission to load its Node-API addon: add --allow-ffi ` +
      `to the deno command, ${USE_WASM}. (${reason})`;
  }
  return `cannot load native onnxruntime (the npm package onnxruntime-node): ${reason}. ` +
    `Run "deno install" in the project (its CPU binaries ship in the package; no build ` +
    `script is needed), ${USE_WASM}.`;
}

/** A model loaded on native onnxruntime. */
class NativeSession implements InferenceSession {
  readonly backend = "native";
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];

  constructor(
    readonly path: string,
    private readonly ort: OrtNodeModule,
    private readonly session: OrtNode.InferenceSession,
  ) {
    this.inputs = tensorInfos(session.inputNames, session.inputMetadata);
    this.outputs = tensorInfos(session.outputNames, session.outputMetadata);
  }

  async run(inputs: ModelInputs): Promise<ModelOutputs> {
    const feeds: Record<string, OrtNode.Tensor> = {};
    for (const [name, input] of Object.entries(inputs)) feeds[name] = this.tensor(input);
    let results: OrtNode.InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds, { logSeverityLevel: 4 });
    } catch (error) {
      const described = Object.entries(inputs)
        .map(([name, input]) => `"${name}" ${input.type} [${input.dims.join(",")}]`)
        .join(", ");
      throw new Error(
        `model ${this.path} failed on inputs ${described} (native onnxruntime): ${
          cleanMessage(error)
        }`,
      );
    }
    return toModelOutputs(results, this.path);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private tensor(input: InputTensor): OrtNode.Tensor {
    return input.type === "float32"
      ? new this.ort.Tensor("float32", input.data, input.dims)
      : new this.ort.Tensor("int64", input.data, input.dims);
  }
}

type ValueMetadata = OrtNode.InferenceSession.ValueMetadata;

/** Names with their metadata when this onnxruntime-node reports it (1.22 and later). */
function tensorInfos(
  names: readonly string[],
  metadata: readonly ValueMetadata[] | undefined,
): TensorInfo[] {
  return names.map((name, i) => {
    const m = metadata?.[i];
    if (!m) return { name, type: "unknown", shape: [] };
    return m.isTensor
      ? { name, type: m.type, shape: [...m.shape] }
      : { name, type: "non-tensor", shape: [] };
  });
}

function cleanMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Error: /, "").trim();
}
