/**
 * The whole pipeline on WebGPU (the software adapter CI installs) against WASM, through the
 * command line: same people, keypoints within 0.01 px. On WebGPU the fixed-batch SimplePose
 * model is reloaded with a symbolic batch (checked against single runs) so that all crops of
 * an image and their mirrored copies go in one run; this test covers that path too.
 *
 * Tolerance: results are written with 3 decimals, and the backends' heatmaps differ by about
 * 1e-6 (tests/webgpu_test.ts), far below what moves an argmax, so coordinates agree to the
 * written precision (measured: 0.001); scores to 1e-4.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, runCli } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

const IMAGES = ["000000000785.jpg", "000000196141.jpg"];

interface Result {
  image_id: number;
  keypoints: number[];
  score: number;
}

async function predict(backend: string): Promise<Result[]> {
  const run = await runCli([
    "predict",
    ...IMAGES.map((name) => requireShared("coco", "val2017", name)),
    "--models",
    requireShared("models"),
    "--backend",
    backend,
    "--quiet",
  ]);
  assertEquals(run.code, 0, describeRun(run));
  return JSON.parse(run.stdout);
}

Deno.test({
  name: "predict on WebGPU finds the same people and keypoints as on WASM",
  ignore: ignoreWithoutShared("models") || ignoreWithoutShared("coco", "val2017"),
  async fn() {
    const gpu = await predict("webgpu");
    const cpu = await predict("wasm");
    assertEquals(gpu.length, cpu.length);
    assert(cpu.length >= 3, `expected several people, got ${cpu.length}`);
    for (let i = 0; i < cpu.length; i++) {
      assertEquals(gpu[i].image_id, cpu[i].image_id);
      for (let k = 0; k < 51; k++) {
        const tolerance = k % 3 === 2 ? 1e-4 : 0.01;
        const difference = Math.abs(gpu[i].keypoints[k] - cpu[i].keypoints[k]);
        assert(difference <= tolerance, `person ${i} value ${k} differs by ${difference}`);
      }
      assert(Math.abs(gpu[i].score - cpu[i].score) <= 1e-4, `person ${i} score differs`);
    }
  },
});
