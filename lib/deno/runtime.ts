/**
 * onnxruntime in Deno: the platform that `Runtime` runs on here, and `Runtime` and
 * `ModelSession` with it filled in.
 *
 * Two builds of onnxruntime-web are used, as two separate module instances:
 * - WASM: `onnxruntime-web` resolves to the Node build in Deno, which runs real threads.
 * - WebGPU: `onnxruntime-web/webgpu`, the web bundle with the WebGPU execution provider. It is
 *   imported (with a static specifier, so `deno compile` includes it) only when WebGPU is
 *   used, so WASM runs do not pay for loading it.
 * The .wasm bytes are read here and handed over as `ort.env.wasm.wasmBinary`, so nothing is
 * fetched at run time and the same code works inside a `deno compile` binary. onnxruntime-web
 * keeps one WASM instance per process, set up by the first session: its thread count is fixed
 * from then on.
 */

// First: Deno's Worker is taken before onnxruntime-web can replace it (see web_worker.ts).
import "./web_worker.ts";
import * as ort from "npm:onnxruntime-web@1.30.0";
import {
  ModelSession as CoreModelSession,
  Runtime as CoreRuntime,
  type RuntimeOptions,
  type RuntimePlatform,
  type SessionOptions,
} from "../runtime/runtime.ts";
import type { InferenceSession } from "../runtime/session.ts";
import { probeWebGpu } from "../runtime/backend.ts";
import { allocatedCores } from "./cpu_allocation.ts";

/** Reads one of the WASM binaries that ship in the onnxruntime-web npm package. */
async function readWasmBinary(
  file: "ort-wasm-simd-threaded.wasm" | "ort-wasm-simd-threaded.asyncify.wasm",
): Promise<Uint8Array> {
  // One static specifier per file, so that `deno compile` can see what to include.
  const url = new URL(
    file === "ort-wasm-simd-threaded.wasm"
      ? import.meta.resolve("npm:onnxruntime-web@1.30.0/ort-wasm-simd-threaded.wasm")
      : import.meta.resolve("npm:onnxruntime-web@1.30.0/ort-wasm-simd-threaded.asyncify.wasm"),
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

/**
 * Mesa's Vulkan drivers try to reach a Wayland display on every adapter enumeration, and
 * libwayland prints "XDG_RUNTIME_DIR is invalid or not set" to stderr when that variable is
 * unset (headless machines, CI). Any value silences it and the connection attempt still fails
 * quietly, so when it is unset (and we may touch the environment) we point it at the temp dir
 * for the rest of the process; onnxruntime enumerates adapters again later.
 */
function quietWaylandWarning(): void {
  try {
    const query = { name: "env", variable: "XDG_RUNTIME_DIR" } as const;
    if (Deno.build.os !== "linux") return;
    if (Deno.permissions.querySync(query).state !== "granted") return;
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("TMPDIR") || "/tmp");
  } catch {
    // Not worth failing over a warning.
  }
}

/**
 * `probeWebGpu` in Deno: Mesa's Wayland warning silenced first (see `quietWaylandWarning`), so
 * that asking for an adapter prints nothing on a headless machine.
 */
export function probeDenoWebGpu(
  options: Parameters<typeof probeWebGpu>[0] = {},
): ReturnType<typeof probeWebGpu> {
  if (!options.gpu) quietWaylandWarning();
  return probeWebGpu({ platformName: "this Deno", ...options });
}

/** onnxruntime in Deno: the Node build for WASM, the web bundle for WebGPU, native on demand. */
export const DENO_PLATFORM: RuntimePlatform = {
  /** The cores the scheduler granted this process (SLURM, a container's quota), not the node's. */
  get cores(): number {
    return allocatedCores().cores;
  },
  name: "this Deno",
  /** Sets up the WASM build once per process (its own state): the binary and threads. */
  async wasm(threads) {
    if (!ort.env.wasm.wasmBinary) {
      const binary = await readWasmBinary("ort-wasm-simd-threaded.wasm");
      if (!ort.env.wasm.wasmBinary) {
        ort.env.wasm.wasmBinary = binary;
        ort.env.wasm.numThreads = threads;
        ort.env.logLevel = "fatal";
      }
    }
    return { ort, threads: ort.env.wasm.numThreads ?? threads };
  },
  async webgpu() {
    const ortGpu = await import("npm:onnxruntime-web@1.30.0/webgpu");
    ortGpu.env.wasm.wasmBinary = await readWasmBinary("ort-wasm-simd-threaded.asyncify.wasm");
    // The web bundle starts extra threads by importing a blob: URL as a worker, which Deno
    // refuses inside npm packages. Only its CPU fallback kernels would use them.
    ortGpu.env.wasm.numThreads = 1;
    ortGpu.env.logLevel = "fatal";
    return ortGpu;
  },
  readModel: (path) => Deno.readFile(path),
  async loadNative(bytes, label, threads): Promise<InferenceSession> {
    const { loadNativeSession } = await import("./native_session.ts");
    return await loadNativeSession(bytes, label, { threads });
  },
  beforeGpuProbe: quietWaylandWarning,
};

/**
 * A runtime: the backend every session of a pipeline runs on, its threads, and the notes
 * worth telling the user once (why "auto" did not get WebGPU, which model fell back to
 * WASM). Start one with `Runtime.start` and hand it to the pipeline. In Deno the platform is
 * `DENO_PLATFORM` unless `options.platform` says otherwise.
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
export class Runtime extends CoreRuntime {
  /** Starts a runtime on Deno's platform (see the core `Runtime.start` for the backends). */
  static override start(options: RuntimeOptions = {}): Promise<CoreRuntime> {
    return CoreRuntime.start({ ...options, platform: options.platform ?? DENO_PLATFORM });
  }
}

/**
 * A model loaded in onnxruntime-web, on WASM or WebGPU; in Deno, on `DENO_PLATFORM`.
 *
 * @example One model on its own: its inputs and outputs, and one run
 * ```ts ignore
 * import { ModelSession, resolveModel } from "@posekit/posekit";
 *
 * const { path } = await resolveModel("rtmpose_s_body7_256x192");
 * const session = await ModelSession.load(path); // on WASM, the default backend
 * try {
 *   console.log(session.inputs, session.outputs); // names, types and shapes
 *   // One 256×192 RGB crop, already normalised; outputs come back as float32 on the CPU.
 *   const crop = new Float32Array(3 * 256 * 192);
 *   const { simcc_x, simcc_y } = await session.run("input", crop, [1, 3, 256, 192]);
 *   console.log(simcc_x.dims, simcc_y.dims); // [1, 17, 384] and [1, 17, 512]
 * } finally {
 *   await session.release();
 * }
 * ```
 */
export class ModelSession extends CoreModelSession {
  /**
   * One model on its own, outside a pipeline's runtime (tools and tests): on WASM (default)
   * or WebGPU (which then starts on any adapter). Errors name the model file.
   */
  static override load(
    model: string | Uint8Array,
    label: string = typeof model === "string" ? model : "model",
    options: SessionOptions = {},
  ): Promise<CoreModelSession> {
    return CoreModelSession.load(model, label, {
      ...options,
      platform: options.platform ?? DENO_PLATFORM,
    });
  }
}
