/**
 * The exit crash of `predict --workers 2` (exit 139 or a glibc heap message such as
 * "malloc_consolidate(): unaligned fastbin chunk detected" in about 1 run of 10, after every
 * result was written). Deno's `Worker.terminate()` only starts a worker's teardown and never
 * waits for it; a worker whose runtime had probed WebGPU unloads the GPU drivers (Mesa's EGL
 * driver, swrast_dri.so) as it ends, while the process, exiting, runs those same drivers'
 * exit handlers. Two guards: "auto" is resolved once in the main process, so CPU workers never
 * load a GPU driver; and the CLI closes its pool with `terminate: false` (sessions released
 * on each worker's thread, workers left idle until the process ends).
 */

import { join } from "node:path";
import { chooseBackend } from "../lib/runtime/backend.ts";
import { probeDenoWebGpu as probeWebGpu } from "../lib/deno/runtime.ts";
import { planWorkers } from "../cli/common.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, REPO_DIR, runDeno } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

Deno.test("--workers 2 with backend auto: resolved here, the workers get a backend", async () => {
  const decision = chooseBackend("auto", (await probeWebGpu()).adapter);
  const plan = await planWorkers(2, {}, 12);
  assertEquals(plan.workers, 2);
  if (decision.backend === "webgpu") {
    assertEquals(plan.options.backend, undefined); // each worker starts its own WebGPU
  } else {
    assertEquals(plan.options.backend, "wasm"); // no worker probes (loads) the GPU drivers
    assert(plan.note?.startsWith("backend auto: "), `the note says why: ${plan.note}`);
  }
});

/** Runs of the child; each crashed in about 15% of runs before the fix (6 of 40). */
const RUNS = 20;

Deno.test({
  name: `a pool whose workers loaded GPU drivers, closed as the CLI does: ${RUNS} exits, no crash`,
  ignore: ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017"),
  async fn() {
    const dir = requireShared("coco", "val2017");
    const images = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".jpg"))
      .sort().slice(0, 2).map((n) => join(dir, n));
    const child = join(REPO_DIR, "tests", "support", "pool_exit_child.ts");
    for (let i = 0; i < RUNS; i++) {
      const run = await runDeno(["-A", child, requireShared("models"), ...images]);
      assertEquals(run.code, 0, `run ${i + 1}: ${describeRun(run)}`);
      assertEquals(run.stdout.trim(), "2", `run ${i + 1}: ${describeRun(run)}`);
      assert(!/malloc|corrupted|free\(\)/.test(run.stderr), `run ${i + 1}: ${run.stderr}`);
    }
  },
});
