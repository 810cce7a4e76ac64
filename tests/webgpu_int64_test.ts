/**
 * Int64 inputs on WebGPU: DEIMv2-Atto (an RT-DETR-style export whose post-processor takes the
 * original image size as int64) gives on WebGPU the boxes it gives on WASM. CI installs Mesa's
 * software Vulkan driver, so an adapter is there; without one (outside CI) this is skipped.
 */

import { assert, assertEquals } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { probeDenoWebGpu as probeWebGpu } from "../lib/deno/runtime.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";

const probe = await probeWebGpu();
const ignore = (!probe.adapter && Deno.env.get("CI") !== "true") ||
  ignoreWithoutShared("models", "deimv2_atto_coco.onnx") ||
  ignoreWithoutShared("coco", "val2017", "000000000785.jpg");

Deno.test({
  name: "rtdetr on WebGPU: the int64 size input works, boxes equal WASM's within 0.5 px",
  ignore,
  sanitizeResources: false,
  async fn() {
    const image = await readImageFile(requireShared("coco", "val2017", "000000000785.jpg"));
    const boxes = [];
    for (const backend of ["wasm", "webgpu"] as const) {
      const pipeline = await PosePipeline.create({
        modelDirs: [requireShared("models")],
        backend,
        detector: "deimv2_atto_coco",
        threads: 1,
      });
      try {
        assertEquals(pipeline.runtimeInfo.backend, backend);
        boxes.push(await pipeline.detect(image));
      } finally {
        await pipeline.close();
      }
    }
    const [wasm, gpu] = boxes;
    assert(wasm.length > 0, "the skier is found");
    assertEquals(gpu.length, wasm.length, "as many people on both backends");
    wasm.forEach((box, i) => {
      for (const key of ["x1", "y1", "x2", "y2"] as const) {
        assert(Math.abs(box[key] - gpu[i][key]) < 0.5, `${key}: ${box[key]} vs ${gpu[i][key]}`);
      }
      assert(Math.abs(box.score - gpu[i].score) < 1e-3, `score ${box.score} vs ${gpu[i].score}`);
    });
  },
});
