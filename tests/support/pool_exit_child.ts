/**
 * Child process of tests/pool_exit_test.ts: a pool of 2 workers whose runtimes start on
 * "auto" (each probes WebGPU, loading the GPU drivers — Vulkan, EGL with Mesa's llvmpipe —
 * into its thread), runs 2 shared images, closes the pool and exits at once, as the CLI does.
 *
 * `deno run -A tests/support/pool_exit_child.ts MODELS_DIR IMAGE... [--terminate]`:
 * with `--terminate` the pool terminates its workers before the exit (`close()`), which is
 * what crashed the CLI at exit (exit 139 or a glibc heap message); without it, the CLI's way
 * (`close({ terminate: false })`).
 */

import { PosePool } from "../../lib/deno/workers/pool.ts";

const terminate = Deno.args.includes("--terminate");
const [models, ...images] = Deno.args.filter((a) => a !== "--terminate");
const pool = await PosePool.create({
  workers: 2,
  threadsPerWorker: 1,
  pipeline: { backend: "auto", modelDirs: [models] },
});
let results = 0;
for await (const result of pool.process(images.map((path) => ({ path })))) {
  if (result.error) throw new Error(result.error);
  results++;
}
await pool.close({ terminate });
console.log(results);
Deno.exit(0);
