/**
 * The threads a runtime starts with: at most the cores the platform has, cut with a note
 * (each of onnxruntime-web's WASM threads is a worker: a page's `?threads=1000` would start a
 * thousand), and nonsense refused. The platform below records what onnxruntime-web's setup
 * was asked for; nothing runs a model.
 */

import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { type Ort, Runtime, type RuntimePlatform } from "../lib/runtime/runtime.ts";

/** A platform of `cores` cores whose WASM setup records the threads it was asked for. */
function platformWith(cores: number): RuntimePlatform & { asked: number[] } {
  const asked: number[] = [];
  return {
    cores,
    name: "a test platform",
    asked,
    wasm(threads) {
      asked.push(threads);
      return Promise.resolve({ ort: {} as Ort, threads });
    },
    webgpu: () => Promise.reject(new Error("no WebGPU here")),
    loadNative: () => Promise.reject(new Error("no native onnxruntime here")),
  };
}

Deno.test("WASM threads beyond the cores are cut to the cores, with a note", async () => {
  const platform = platformWith(4);
  const runtime = await Runtime.start({ platform, backend: "wasm", threads: 1000 });
  assertEquals(platform.asked, [4]);
  assertEquals(runtime.info.threads, 4);
  assertEquals(runtime.notes, ["1000 threads asked for, 4 CPU cores here: using 4"]);
});

Deno.test("native threads beyond the cores are cut the same way", async () => {
  const runtime = await Runtime.start({
    platform: platformWith(1),
    backend: "native",
    threads: 3,
  });
  assertEquals(runtime.info.threads, 1);
  assertEquals(runtime.notes, ["3 threads asked for, 1 CPU core here: using 1"]);
});

Deno.test("threads up to the cores are used as asked, and the default is all cores", async () => {
  for (const threads of [1, 2, 4]) {
    const platform = platformWith(4);
    const runtime = await Runtime.start({ platform, backend: "wasm", threads });
    assertEquals([platform.asked, runtime.info.threads, runtime.notes], [[threads], threads, []]);
  }
  const platform = platformWith(6);
  assertEquals((await Runtime.start({ platform, backend: "wasm" })).info.threads, 6);
  assertEquals(platform.asked, [6]);
});

Deno.test("threads that are no whole number ≥ 1 are refused before anything starts", async () => {
  for (const threads of [0, -2, 1.5, NaN, Infinity]) {
    const platform = platformWith(4);
    const error = await assertRejects(
      () => Runtime.start({ platform, backend: "wasm", threads }),
      RangeError,
    );
    assert(error.message.includes(`got ${threads}`), error.message);
    assertEquals(platform.asked, []);
  }
});
