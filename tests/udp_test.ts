/**
 * UDP (Huang et al., CVPR 2020) crop transform, decoding and flip-back, against values worked
 * out by hand from the paper's definitions (sizes in unit lengths: w pixels span w − 1).
 */

import { applyAffine, imageToCropTransform, invertAffine } from "../lib/geometry/affine.ts";
import { decodeUdpHeatmaps } from "../lib/codecs/udp.ts";
import { udpCropTransform } from "../lib/geometry/affine.ts";
import { flipBackHeatmaps } from "../lib/families/heatmap.ts";
import { gaussianBlurHeatmap } from "../lib/codecs/gaussian.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";

// A 96×128 region (the 192×256 input's 3:4 aspect) centred on (100, 200): it spans
// x ∈ [52, 148], y ∈ [136, 264].
const REGION = { cx: 100, cy: 200, width: 96, height: 128 };

function assertPoint(actual: [number, number], expected: [number, number], tol = 1e-9) {
  assertAlmostEquals(actual[0], expected[0], tol, "x");
  assertAlmostEquals(actual[1], expected[1], tol, "y");
}

Deno.test("UDP crop transform: region edges go to input pixels 0 and size − 1", () => {
  const m = udpCropTransform(REGION, 192, 256);
  // Scale (192 − 1)/96 along x, (256 − 1)/128 along y.
  assertAlmostEquals(m[0], 191 / 96, 1e-12);
  assertAlmostEquals(m[4], 255 / 128, 1e-12);
  assertEquals([m[1], m[3]], [0, 0]);
  // Top-left corner (52, 136) → (0, 0); bottom-right (148, 264) → (191, 255).
  assertPoint(applyAffine(m, 52, 136), [0, 0]);
  assertPoint(applyAffine(m, 148, 264), [191, 255]);
  // Centre → ((192 − 1)/2, (256 − 1)/2) = (95.5, 127.5).
  assertPoint(applyAffine(m, 100, 200), [95.5, 127.5]);
  // The inverse takes input pixels back: (191, 255) is the region's bottom-right corner.
  assertPoint(applyAffine(invertAffine(m), 191, 255), [148, 264]);

  // The standard transform (scale 192/96 = 2) maps the same corner to (192, 256), one pixel
  // past the last input pixel, and the centre to (96, 128).
  const standard = imageToCropTransform(REGION, 192, 256);
  assertPoint(applyAffine(standard, 148, 264), [192, 256]);
  assertPoint(applyAffine(standard, 100, 200), [96, 128]);
});

Deno.test("UDP crop transform refuses empty regions and 1-pixel inputs", () => {
  assertThrows(() => udpCropTransform({ ...REGION, width: 0 }, 192, 256), Error, "no area");
  assertThrows(() => udpCropTransform(REGION, 1, 256), Error, "exceed 1×1");
});

/** K one-hot 48×64 heatmaps with the peak of keypoint j at `peaks[j]`. */
function oneHot(peaks: [number, number][], h = 64, w = 48): Float32Array {
  const data = new Float32Array(peaks.length * h * w);
  peaks.forEach(([x, y], j) => (data[j * h * w + y * w + x] = 0.9));
  return data;
}

Deno.test("UDP decode: heatmap pixel (47, 63) is input pixel (191, 255); standard gives (188, 252)", () => {
  const heatmaps = oneHot([[47, 63], [0, 0], [10, 20]]);
  const udp = decodeUdpHeatmaps(heatmaps, 3, 64, 48, 192, 256, { refine: "none" });
  // UDP scale: (192 − 1)/(48 − 1) = 191/47 and (256 − 1)/(64 − 1) = 255/63.
  // (47, 63) → (47·191/47, 63·255/63) = (191, 255): the last heatmap pixel is the last input one.
  assertAlmostEquals(udp[0], 191, 1e-4);
  assertAlmostEquals(udp[1], 255, 1e-4);
  assertAlmostEquals(udp[2], 0.9, 1e-7);
  assertEquals([udp[3], udp[4]], [0, 0]);
  // (10, 20) → (1910/47, 5100/63) = (40.6383, 80.9524).
  assertAlmostEquals(udp[6], 1910 / 47, 1e-4);
  assertAlmostEquals(udp[7], 5100 / 63, 1e-4);
  // (The standard decoder's scale 192/48 = 4 would put it at (188, 252), 3 pixels short of
  // the crop's last pixel.)
});

Deno.test("UDP decode composed with the inverse UDP crop transform is mmpose's heatmap → image map", () => {
  // mmpose: x_img = x_hm / (W − 1) · region.width + cx − width/2. For (47, 63) that is
  // 47/47·96 + 100 − 48 = 148 and 63/63·128 + 200 − 64 = 264: the region's far corner.
  // For (10, 20): 10/47·96 + 52 = 72.4255…, 20/63·128 + 136 = 176.6349….
  const kp = decodeUdpHeatmaps(oneHot([[47, 63], [10, 20]]), 2, 64, 48, 192, 256, {
    refine: "none",
  });
  const back = invertAffine(udpCropTransform(REGION, 192, 256));
  assertPoint(applyAffine(back, kp[0], kp[1]), [148, 264], 1e-4);
  assertPoint(applyAffine(back, kp[3], kp[4]), [10 / 47 * 96 + 52, 20 / 63 * 128 + 136], 1e-4);
});

/** A 48×64 heatmap holding exp(−d²/(2σ²)) around the sub-pixel point (mx, my). */
function gaussianHeatmap(mx: number, my: number, sigma = 2, h = 64, w = 48): Float32Array {
  const data = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data[y * w + x] = Math.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * sigma * sigma));
    }
  }
  return data;
}

Deno.test("UDP dark-udp: a Gaussian peak at a sub-pixel point decodes within 0.05 heatmap px", () => {
  // Peak at heatmap (20.3, 30.7): the argmax alone says (20, 31), 0.3 px off on each axis.
  // The blurred Gaussian stays Gaussian, whose log is a quadratic: one Newton step lands on
  // the centre, up to the small effect of the zero-padded blur and the map's edges.
  const mx = 20.3, my = 30.7;
  const sx = 191 / 47, sy = 255 / 63;
  for (const kernel of [11, 7]) {
    const kp = decodeUdpHeatmaps(gaussianHeatmap(mx, my), 1, 64, 48, 192, 256, {
      blurKernel: kernel,
    });
    assertAlmostEquals(kp[0] / sx, mx, 0.05, `x, kernel ${kernel}`);
    assertAlmostEquals(kp[1] / sy, my, 0.05, `y, kernel ${kernel}`);
  }
  const plain = decodeUdpHeatmaps(gaussianHeatmap(mx, my), 1, 64, 48, 192, 256, {
    refine: "none",
  });
  assertEquals([plain[0] / sx, plain[1] / sy].map((v) => Math.round(v * 1e4) / 1e4), [20, 31]);
});

Deno.test("UDP decode: non-positive maps give (0, 0); malformed inputs are refused", () => {
  const flat = new Float32Array(64 * 48).fill(-1);
  const kp = decodeUdpHeatmaps(flat, 1, 64, 48, 192, 256);
  assertEquals([...kp], [0, 0, -1]);
  assertThrows(() => decodeUdpHeatmaps(flat, 2, 64, 48, 192, 256), Error, "2×64×48");
  assertThrows(() => decodeUdpHeatmaps(flat, 1, 64, 48, 192, 256, { blurKernel: 4 }), Error);
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => decodeUdpHeatmaps(flat, 1, 64, 48, 192, 256, { refine: "dark" as any }),
    Error,
    "refine",
  );
});

Deno.test("UDP flip-back: the plain mirror recovers the keypoint exactly (no one-pixel shift)", () => {
  // Keypoint 0 (left) at input x = 10·191/47 in the crop; the mirrored crop (column u written
  // at 191 − u) shows it at 191 − 10·191/47 = 37·191/47, i.e. heatmap column 37 = 47 − 10,
  // and the network reports it as keypoint 1 (right). Flip-back must put it at column 10 of
  // channel 0.
  const mirrored = oneHot([[5, 9], [37, 20]]);
  const back = flipBackHeatmaps(mirrored, 2, 64, 48, [[0, 1]], false);
  const kp = decodeUdpHeatmaps(back, 2, 64, 48, 192, 256, { refine: "none" });
  assertAlmostEquals(kp[0], 10 * 191 / 47, 1e-4);
  assertAlmostEquals(kp[1], 20 * 255 / 63, 1e-4);
  assertAlmostEquals(kp[3], 42 * 191 / 47, 1e-4); // 47 − 5
  assertAlmostEquals(kp[4], 9 * 255 / 63, 1e-4);
});

Deno.test("UDP flip-back: refuses pairs outside K and short data", () => {
  const maps = oneHot([[1, 1], [2, 2]]);
  assertThrows(() => flipBackHeatmaps(maps, 2, 64, 48, [[0, 2]], false), Error, "outside 2");
  assertThrows(() => flipBackHeatmaps(maps, 3, 64, 48, [[0, 1]], false), Error, "3×64×48");
});

Deno.test("DARK blur: 3-tap kernel of a one-hot, zero padded, rescaled to the original maximum", () => {
  // One-hot 2 at the centre of 3×3: the blur is the outer product of [¼, ½, ¼] times 2,
  // maximum ½ at the centre, rescaled ×4 back to 2: [0.5, 1, 0.5; 1, 2, 1; 0.5, 1, 0.5].
  const hm = Float32Array.of(0, 0, 0, 0, 2, 0, 0, 0, 0);
  assertEquals([...gaussianBlurHeatmap(hm, 3, 3, 3)], [0.5, 1, 0.5, 1, 2, 1, 0.5, 1, 0.5]);
});
