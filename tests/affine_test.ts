import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import {
  applyAffine,
  boxToCropRegion,
  composeAffine,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "../lib/geometry/affine.ts";

Deno.test("a tall box is widened to the 3:4 aspect ratio and enlarged 1.25x", () => {
  // 60 wide, 200 tall, centred at (130, 200): width becomes 200·0.75 = 150, then ×1.25.
  const region = boxToCropRegion({ x1: 100, y1: 100, x2: 160, y2: 300, score: 1 }, 192 / 256);
  assertEquals(region, { cx: 130, cy: 200, width: 187.5, height: 250 });
});

Deno.test("a wide box keeps its width and grows in height", () => {
  const region = boxToCropRegion({ x1: 0, y1: 0, x2: 300, y2: 100, score: 1 }, 0.75, 1);
  assertEquals(region, { cx: 150, cy: 50, width: 300, height: 400 });
});

Deno.test("the region centre maps to the crop centre and its corners to the crop corners", () => {
  const region = { cx: 130, cy: 200, width: 187.5, height: 250 };
  const m = imageToCropTransform(region, 192, 256);
  const [u, v] = applyAffine(m, 130, 200);
  assertAlmostEquals(u, 96, 1e-9);
  assertAlmostEquals(v, 128, 1e-9);
  const [u0, v0] = applyAffine(m, 130 - 187.5 / 2, 200 - 250 / 2);
  assertAlmostEquals(u0, 0, 1e-9);
  assertAlmostEquals(v0, 0, 1e-9);
  const [u1, v1] = applyAffine(m, 130 + 187.5 / 2, 200 + 250 / 2);
  assertAlmostEquals(u1, 192, 1e-9);
  assertAlmostEquals(v1, 256, 1e-9);
});

Deno.test("invertAffine undoes the transform, composed both ways", () => {
  const m = Float64Array.of(1.7, -0.3, 12, 0.4, 0.9, -5);
  const inv = invertAffine(m);
  for (const product of [composeAffine(inv, m), composeAffine(m, inv)]) {
    const identity = [1, 0, 0, 0, 1, 0];
    product.forEach((value, i) => assertAlmostEquals(value, identity[i], 1e-12));
  }
  const [x, y] = applyAffine(inv, ...applyAffine(m, 3.25, -7.5));
  assertAlmostEquals(x, 3.25, 1e-12);
  assertAlmostEquals(y, -7.5, 1e-12);
});

Deno.test("invertAffine refuses a singular matrix", () => {
  assertThrows(() => invertAffine(Float64Array.of(1, 2, 0, 2, 4, 0)), Error, "not invertible");
});

Deno.test("transformKeypoints maps x, y and keeps scores", () => {
  const kps = Float32Array.of(1, 2, 0.5, 10, 20, 0.9);
  transformKeypoints(Float64Array.of(2, 0, 1, 0, 3, -1), kps);
  assertEquals([...kps].map((v) => Math.round(v * 1000) / 1000), [3, 5, 0.5, 21, 59, 0.9]);
});
