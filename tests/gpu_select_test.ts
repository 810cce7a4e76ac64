/**
 * Backend selection from adapter descriptions: "auto" takes WebGPU only on hardware GPUs,
 * "webgpu" takes any adapter, "wasm" never looks. No GPU is needed: the descriptions below are
 * what real drivers report (Deno gives PCI ids in decimal: 4318 = 0x10de NVIDIA, 4098 =
 * 0x1002 AMD, 32902 = 0x8086 Intel, 65541 = 0x10005 Mesa's software Vulkan).
 */

import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import {
  type AdapterDescription,
  chooseBackend,
  describeAdapter,
  type GpuLike,
  probeWebGpu,
  softwareAdapterReason,
} from "../lib/runtime/backend.ts";

function adapter(fields: Partial<AdapterDescription>): AdapterDescription {
  return {
    description: "",
    vendor: "",
    architecture: "",
    device: "",
    isFallback: false,
    ...fields,
  };
}

const HARDWARE: Record<string, AdapterDescription> = {
  "NVIDIA (Deno, Vulkan)": adapter({
    description: "NVIDIA GeForce RTX 4090",
    vendor: "4318",
    device: "9860",
  }),
  "NVIDIA H200 (Deno, Vulkan)": adapter({ description: "NVIDIA H200", vendor: "4318" }),
  "AMD (Deno, Vulkan)": adapter({
    description: "AMD Radeon RX 7900 XTX (RADV NAVI31)",
    vendor: "4098",
  }),
  "Intel (Deno, Vulkan)": adapter({
    description: "Intel(R) UHD Graphics 630 (CFL GT2)",
    vendor: "32902",
  }),
  "Apple (Deno, Metal)": adapter({ description: "Apple M2 Pro", vendor: "0" }),
  "Chrome-style names": adapter({ vendor: "nvidia", architecture: "ampere" }),
  "Intel, browser-style": adapter({ vendor: "intel", architecture: "gen-12lp" }),
};

const SOFTWARE: Record<string, AdapterDescription> = {
  // What this project's CI machine reports (Mesa lavapipe through Vulkan).
  "llvmpipe, flagged fallback": adapter({
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    device: "0",
    isFallback: true,
  }),
  // The same driver where the implementation does not set the fallback flag.
  "llvmpipe, unflagged": adapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }),
  "lavapipe by name": adapter({ description: "lavapipe", vendor: "mesa" }),
  "softpipe": adapter({ description: "softpipe" }),
  "Mesa vendor id only": adapter({ vendor: "65541", device: "0" }),
  "SwiftShader": adapter({
    description: "SwiftShader Device (Subzero)",
    vendor: "6880",
    device: "49374",
  }),
  "SwiftShader, browser-style": adapter({ vendor: "google", architecture: "swiftshader" }),
  "SwiftShader ids only": adapter({ vendor: "0x1ae0", device: "0xc0de" }),
  "WARP": adapter({ description: "Microsoft Basic Render Driver", vendor: "5140", device: "140" }),
  "WARP ids only": adapter({ vendor: "5140", device: "140" }),
  "fallback flag alone": adapter({ description: "Some GPU", isFallback: true }),
};

Deno.test("auto picks WebGPU on hardware adapters", () => {
  for (const [name, description] of Object.entries(HARDWARE)) {
    assertEquals(softwareAdapterReason(description), undefined, name);
    const decision = chooseBackend("auto", description);
    assertEquals(decision.backend, "webgpu", name);
  }
});

Deno.test("auto picks WASM on software adapters and says why", () => {
  for (const [name, description] of Object.entries(SOFTWARE)) {
    assert(softwareAdapterReason(description), `${name} should count as software`);
    const decision = chooseBackend("auto", description);
    assertEquals(decision.backend, "wasm", name);
    assert(/software/.test(decision.reason), `${name}: reason "${decision.reason}"`);
  }
});

Deno.test("auto picks WASM when there is no adapter", () => {
  const decision = chooseBackend("auto", undefined);
  assertEquals(decision.backend, "wasm");
  assert(/no WebGPU adapter/.test(decision.reason), decision.reason);
});

Deno.test("a forced backend is used whatever the adapter", () => {
  for (const description of [...Object.values(HARDWARE), ...Object.values(SOFTWARE)]) {
    assertEquals(chooseBackend("webgpu", description).backend, "webgpu");
    assertEquals(chooseBackend("wasm", description).backend, "wasm");
  }
  assertEquals(chooseBackend("wasm", undefined).backend, "wasm");
  const forcedOnSoftware = chooseBackend("webgpu", SOFTWARE["llvmpipe, flagged fallback"]);
  assert(/llvmpipe/.test(forcedOnSoftware.reason), forcedOnSoftware.reason);
  assert(/software/.test(forcedOnSoftware.reason), forcedOnSoftware.reason);
});

Deno.test("forced WebGPU without an adapter is a clear error", () => {
  assertThrows(
    () => chooseBackend("webgpu", undefined),
    Error,
    "WebGPU is not available: no WebGPU adapter was found. Use --backend wasm (or auto).",
  );
});

Deno.test("describeAdapter reads GPUAdapter.info and both spellings of the fallback flag", () => {
  const info = {
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    architecture: "",
    device: "0",
    isFallbackAdapter: true,
  };
  assertEquals(describeAdapter({ info }), {
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "65541",
    architecture: "",
    device: "0",
    isFallback: true,
  });
  assertEquals(describeAdapter({ info: { vendor: "nvidia" }, isFallbackAdapter: true }), {
    description: "",
    vendor: "nvidia",
    architecture: "",
    device: "",
    isFallback: true,
  });
  assertEquals(describeAdapter({}).isFallback, false);
});

Deno.test("probeWebGpu describes the adapter, or says why there is none", async () => {
  const nvidia = { info: { description: "NVIDIA GeForce RTX 4090", vendor: "4318" } };
  const found = await probeWebGpu({ gpu: { requestAdapter: () => Promise.resolve(nvidia) } });
  assertEquals(found.adapter?.description, "NVIDIA GeForce RTX 4090");

  const none = await probeWebGpu({ gpu: { requestAdapter: () => Promise.resolve(null) } });
  assertEquals(none.adapter, undefined);
  assert(/no adapter/.test(none.error ?? ""), none.error);

  const broken: GpuLike = { requestAdapter: () => Promise.reject(new Error("driver crashed")) };
  const failed = await probeWebGpu({ gpu: broken });
  assert(/driver crashed/.test(failed.error ?? ""), failed.error);
});

Deno.test("probeWebGpu gives up on a driver that never answers", async () => {
  const hanging: GpuLike = { requestAdapter: () => new Promise(() => {}) };
  const start = performance.now();
  const result = await probeWebGpu({ gpu: hanging, timeoutMs: 50 });
  assertEquals(result.adapter, undefined);
  assert(/did not answer/.test(result.error ?? ""), result.error);
  assert(performance.now() - start < 5000, "the timeout did not fire");
});
