/** Crops: the flip test's mirrored crop is the crop with each row reversed, bit for bit. */

import { assertEquals } from "./support/assert.ts";
import { cropGeometry, cropsToTensor } from "../lib/geometry/crops.ts";
import type { CropSpec } from "../lib/families/family.ts";
import { warpCropToTensor } from "../lib/image/preprocess.ts";
import type { RgbImage } from "../lib/types.ts";

function noiseImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let seed = 7;
  for (let i = 0; i < data.length; i++) data[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  return { width, height, data };
}

for (const transform of ["standard", "udp"] as const) {
  Deno.test(`cropsToTensor (${transform}): the mirrored copy equals a mirrored warp exactly`, () => {
    const spec: CropSpec = {
      name: "input",
      width: 48,
      height: 64,
      normalization: { colorOrder: "bgr", mean: [100, 110, 120], std: [50, 60, 70] },
      padding: 1.25,
      aspectRatio: 48 / 64,
      transform,
      flipShift: transform === "standard",
    };
    const image = noiseImage(120, 90);
    // A box half outside the image too, so the border path is compared as well.
    const boxes = [{ x1: 10.3, y1: 5.7, x2: 70.2, y2: 88.9, score: 1 }, {
      x1: -20,
      y1: 40,
      x2: 30,
      y2: 120,
      score: 1,
    }];
    const geometries = boxes.map((b) => cropGeometry(b, spec)!);
    const tensor = cropsToTensor(image, geometries, spec, true);
    const size = 3 * spec.width * spec.height;
    geometries.forEach((g, i) => {
      const expected = new Float32Array(size);
      warpCropToTensor(
        image,
        g.cropToImage,
        spec.width,
        spec.height,
        spec.normalization,
        expected,
        0,
        true,
      );
      assertEquals(tensor.subarray((2 * i + 1) * size, (2 * i + 2) * size), expected);
    });
  });
}

Deno.test("crop spec: aspectRatio and flipShift come from the transform unless the manifest sets them", async () => {
  const { cropSpec } = await import("../lib/families/manifest_fields.ts");
  const manifest = {
    name: "m",
    task: "keypoints" as const,
    family: "heatmap" as const,
    file: "m.onnx",
    input: {
      name: "input",
      width: 192,
      height: 256,
      colorOrder: "rgb" as const,
      mean: [0, 0, 0] as [number, number, number],
      std: [1, 1, 1] as [number, number, number],
    },
    outputs: {},
  };
  const standard = cropSpec(manifest);
  assertEquals([standard.aspectRatio, standard.flipShift], [0.75, true]);
  const udp = cropSpec({ ...manifest, input: { ...manifest.input, cropTransform: "udp" } });
  assertEquals([udp.aspectRatio, udp.flipShift], [0.75, false]);
  const square = cropSpec({ ...manifest, options: { aspectRatio: 1, flipShift: false } });
  assertEquals([square.aspectRatio, square.flipShift], [1, false]);
  // A 40 × 80 box widened to the square aspect, ×1.25: a 100 × 100 region.
  const g = cropGeometry({ x1: 0, y1: 0, x2: 40, y2: 80, score: 1 }, square)!;
  assertEquals([g.region.width, g.region.height], [100, 100]);
});
