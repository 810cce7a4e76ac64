/**
 * Deno's web Worker, taken when this module loads. onnxruntime-web's Node build replaces
 * `globalThis.Worker` with node:worker_threads' Worker when its WebAssembly starts in a
 * process (the first in-process session), and that one cannot run a Deno module worker.
 * `lib/deno/runtime.ts`, the only way onnxruntime-web starts in Deno, imports this module, so
 * it is always evaluated first, whatever the order of the caller's imports.
 */

/** Deno's own Worker constructor, as it was before onnxruntime-web could replace it. */
export const WebWorker: typeof Worker = globalThis.Worker;
