/** Crops: the flip test's mirrored crop is the crop with each row reversed, bit for bit. */

import { assertEquals } from "./support/assert.ts";
import { cropGeometry, cropsToTensor } from "../lib/crops.ts";
import type { CropSpec } from "../lib/families/family.ts";
import { warpCropToTensor } from "../lib/preprocess.ts";
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
      transform,
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
