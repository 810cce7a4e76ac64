/**
 * WebGPU adapter detection and the choice between the WebGPU and WASM backends.
 *
 * `chooseBackend` is a pure function of what the user asked for and what the adapter says
 * about itself, so the selection rules are tested without a GPU. `probeWebGpu` is the only
 * part that talks to `navigator.gpu`.
 */

/** Execution backend actually used for a session. */
export type Backend = "wasm" | "webgpu";

/** What the user asks for: a backend, or "auto" (WebGPU on a hardware GPU, else WASM). */
export type BackendChoice = "auto" | Backend;

/** What a WebGPU adapter says about itself (all strings may be empty). */
export interface AdapterDescription {
  /** Driver's description, e.g. "NVIDIA GeForce RTX 4090" or "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor name ("nvidia") or, in Deno, the PCI vendor id in decimal ("4318"). */
  vendor: string;
  architecture: string;
  /** Device name or PCI device id in decimal. */
  device: string;
  /** True when the implementation flags the adapter as a fallback (software) adapter. */
  isFallback: boolean;
}

/** The adapter fields `describeAdapter` reads (a `GPUAdapter` has them). */
export interface AdapterLike {
  info?: {
    description?: string;
    vendor?: string;
    architecture?: string;
    device?: string;
    isFallbackAdapter?: boolean;
  };
  /** Older spelling, on the adapter itself. */
  isFallbackAdapter?: boolean;
}

/** Plain description of a WebGPU adapter. */
export function describeAdapter(adapter: AdapterLike): AdapterDescription {
  const info = adapter.info ?? {};
  return {
    description: info.description ?? "",
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    isFallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/** Names of CPU rasterizers that expose themselves as GPUs. */
const SOFTWARE_NAMES =
  /llvmpipe|lavapipe|softpipe|swiftshader|swift shader|microsoft basic render|\bwarp\b|software rasterizer|cpu adapter/i;

/**
 * PCI-style vendor ids (decimal, as Deno reports them) of software implementations:
 * 0x10005 is Mesa's own Vulkan vendor id (llvmpipe/lavapipe); 0x1ae0 with device 0xc0de is
 * SwiftShader; 0x1414 with device 0x8c is Microsoft's WARP ("Basic Render Driver").
 */
function isSoftwareVendorId(vendor: string, device: string): boolean {
  const v = parseId(vendor), d = parseId(device);
  if (v === 0x10005) return true;
  if (v === 0x1ae0 && d === 0xc0de) return true;
  if (v === 0x1414 && d === 0x8c) return true;
  return false;
}

/** A decimal or 0x-hex id, or undefined for names such as "nvidia". */
function parseId(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16);
  return undefined;
}

/** Why an adapter is a software one, or undefined for a hardware GPU. */
export function softwareAdapterReason(adapter: AdapterDescription): string | undefined {
  if (adapter.isFallback) return "it is a fallback adapter";
  for (const field of [adapter.description, adapter.vendor, adapter.architecture, adapter.device]) {
    const match = SOFTWARE_NAMES.exec(field);
    if (match) return `${match[0]} is a software renderer`;
  }
  if (isSoftwareVendorId(adapter.vendor, adapter.device)) {
    return `vendor id ${adapter.vendor} is a software renderer`;
  }
  return undefined;
}

/** A short human name for an adapter: its description, else vendor/architecture. */
export function adapterName(adapter: AdapterDescription): string {
  if (adapter.description) return adapter.description;
  const parts = [adapter.vendor, adapter.architecture, adapter.device].filter((p) => p);
  return parts.length ? parts.join(" ") : "unnamed adapter";
}

/** The backend to run on, and a sentence saying why. */
export interface BackendDecision {
  backend: Backend;
  reason: string;
}

/** The message of every "WebGPU cannot start" error. */
export function webGpuUnavailableMessage(reason: string): string {
  return `WebGPU is not available: ${reason}. Use --backend wasm (or auto).`;
}

/**
 * Picks the backend. "auto" takes WebGPU only on a hardware adapter (a software adapter
 * runs the models slower than WASM SIMD does); "webgpu" takes any adapter, software ones
 * included, and throws when there is none; "wasm" never looks at the adapter.
 */
export function chooseBackend(
  choice: BackendChoice,
  adapter: AdapterDescription | undefined,
): BackendDecision {
  if (choice === "wasm") return { backend: "wasm", reason: "WASM was asked for" };
  if (choice === "webgpu") {
    if (!adapter) throw new Error(webGpuUnavailableMessage("no WebGPU adapter was found"));
    const software = softwareAdapterReason(adapter);
    return {
      backend: "webgpu",
      reason: `WebGPU was asked for; adapter "${adapterName(adapter)}"` +
        (software ? ` (software: ${software})` : ""),
    };
  }
  if (!adapter) return { backend: "wasm", reason: "no WebGPU adapter was found; using WASM" };
  const software = softwareAdapterReason(adapter);
  if (software) {
    return {
      backend: "wasm",
      reason: `only a software WebGPU adapter was found ("${
        adapterName(adapter)
      }": ${software}); using WASM`,
    };
  }
  return { backend: "webgpu", reason: `hardware WebGPU adapter "${adapterName(adapter)}"` };
}

/** The minimal slice of `navigator.gpu` that `probeWebGpu` uses. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: "low-power" | "high-performance" }): Promise<
    AdapterLike | null
  >;
}

/** Result of `probeWebGpu`: the adapter, or why there is none. */
export type ProbeResult =
  | { adapter: AdapterDescription; error?: undefined }
  | { adapter?: undefined; error: string };

/**
 * Asks `navigator.gpu` for its default adapter (the one onnxruntime-web's WebGPU backend will
 * also get) and describes it. Gives up after `timeoutMs` so that a hanging driver cannot hang
 * the CLI. Never throws.
 */
export async function probeWebGpu(
  options: { timeoutMs?: number; gpu?: GpuLike; platformName?: string } = {},
): Promise<ProbeResult> {
  const gpu = options.gpu ?? (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { error: `${options.platformName ?? "this Deno"} has no navigator.gpu` };
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const adapter = await Promise.race([gpu.requestAdapter(), timeout]);
    if (adapter === "timeout") {
      return { error: `the GPU driver did not answer within ${timeoutMs / 1000} s` };
    }
    if (!adapter) return { error: "navigator.gpu offers no adapter" };
    return { adapter: describeAdapter(adapter) };
  } catch (error) {
    return { error: `requesting a WebGPU adapter failed: ${(error as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
