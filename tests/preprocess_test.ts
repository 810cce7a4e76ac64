import { assertAlmostEquals, assertEquals } from "./support/assert.ts";
import { imageToTensor, resizeRgbLikeOpenCv, warpCropToTensor } from "../lib/image/preprocess.ts";
import { imageFrame } from "../lib/geometry/frame.ts";
import type { ImageInputSpec } from "../lib/families/family.ts";
import type { Normalization, RgbImage } from "../lib/types.ts";

const RAW_RGB: Normalization = { colorOrder: "rgb", mean: [0, 0, 0], std: [1, 1, 1] };

/** A w×h image whose pixel (x, y) is (x, y, 7). */
function coordinateImage(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([x, y, 7], (y * w + x) * 3);
  }
  return { width: w, height: h, data };
}

/** Crops and resizes of one random image made by OpenCV 4.6 itself (see the script beside it). */
interface OpenCvReference {
  image: { width: number; height: number; data: number[] };
  cases: { name: string; cropToImage: number[]; width: number; height: number; crop: number[] }[];
  resizes: { width: number; height: number; data: number[] }[];
}
const OPENCV: OpenCvReference = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/opencv/opencv_reference.json", import.meta.url)),
);
const OPENCV_IMAGE: RgbImage = {
  width: OPENCV.image.width,
  height: OPENCV.image.height,
  data: Uint8Array.from(OPENCV.image.data),
};

/** Values of an NCHW float crop that differ from an HWC byte image: "(u, v, c) ours/theirs". */
function differences(tensor: Float32Array, hwc: number[], width: number, height: number) {
  const plane = width * height, found: string[] = [];
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const ours = tensor[c * plane + i], theirs = hwc[i * 3 + c];
      if (ours !== theirs) {
        found.push(`(${i % width}, ${Math.floor(i / width)}, ${c}) ${ours}/${theirs}`);
      }
    }
  }
  return found;
}

for (const c of OPENCV.cases) {
  Deno.test(`warpCropToTensor equals cv2.warpAffine bit for bit: ${c.name}`, () => {
    const out = new Float32Array(3 * c.width * c.height);
    warpCropToTensor(
      OPENCV_IMAGE,
      Float64Array.from(c.cropToImage),
      c.width,
      c.height,
      RAW_RGB,
      out,
    );
    assertEquals(differences(out, c.crop, c.width, c.height), []);
  });
}

Deno.test("resizeRgbLikeOpenCv equals cv2.resize (INTER_LINEAR) bit for bit", () => {
  for (const r of OPENCV.resizes) {
    const ours = resizeRgbLikeOpenCv(OPENCV_IMAGE, r.width, r.height);
    const differing = ours.filter((value, i) => value !== r.data[i]).length;
    assertEquals(differing, 0, `${r.width}x${r.height}: ${differing} values differ`);
  }
});

Deno.test("warpCropToTensor samples on OpenCV's 1/32 px grid and rounds to 8 bits", () => {
  const image = coordinateImage(20, 10);
  // Crop pixel (u, v) reads image point (u/2 + 3.25, v/2 + 1.5).
  const out = new Float32Array(3 * 4 * 6);
  warpCropToTensor(image, Float64Array.of(0.5, 0, 3.25, 0, 0.5, 1.5), 6, 4, RAW_RGB, out);
  const plane = 24;
  for (let v = 0; v < 4; v++) {
    for (let u = 0; u < 6; u++) {
      // On a linear ramp, bilinear sampling gives the coordinate, here rounded half up.
      assertEquals(out[v * 6 + u], Math.floor(u / 2 + 3.25 + 0.5));
      assertEquals(out[plane + v * 6 + u], Math.floor(v / 2 + 1.5 + 0.5));
      assertEquals(out[2 * plane + v * 6 + u], 7);
    }
  }
});

Deno.test("warpCropToTensor reads black outside the image and blends at the border", () => {
  const image: RgbImage = { width: 2, height: 2, data: new Uint8Array(12).fill(100) };
  const out = new Float32Array(3 * 1 * 3);
  // Samples at x = -2 (outside), x = -0.5 (half in), x = 0.5 (inside), all at y = 0.
  warpCropToTensor(image, Float64Array.of(1.5, 0, -2, 0, 0, 0), 3, 1, RAW_RGB, out);
  assertEquals([out[0], out[1], out[2]], [0, 50, 100]);
});

Deno.test("mirror writes the horizontally flipped crop", () => {
  const image = coordinateImage(8, 8);
  const plain = new Float32Array(3 * 2 * 5), mirrored = new Float32Array(3 * 2 * 5);
  const m = Float64Array.of(1, 0, 1, 0, 1, 2);
  warpCropToTensor(image, m, 5, 2, RAW_RGB, plain);
  warpCropToTensor(image, m, 5, 2, RAW_RGB, mirrored, 0, true);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 2; v++) {
      for (let u = 0; u < 5; u++) {
        assertEquals(mirrored[c * 10 + v * 5 + u], plain[c * 10 + v * 5 + (4 - u)]);
      }
    }
  }
});

Deno.test("normalization applies mean/std in the network's channel order (BGR here)", () => {
  const image: RgbImage = { width: 1, height: 1, data: Uint8Array.of(10, 20, 30) };
  const out = new Float32Array(3);
  const bgr: Normalization = { colorOrder: "bgr", mean: [1, 2, 3], std: [2, 4, 9] };
  warpCropToTensor(image, Float64Array.of(1, 0, 0, 0, 1, 0), 1, 1, bgr, out);
  const expected = [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 9];
  expected.forEach((value, c) => assertAlmostEquals(out[c], value, 1e-5));
});

const LETTERBOX: ImageInputSpec = {
  name: "input",
  resize: { kind: "letterbox", width: 8, height: 8, padValue: 114, centred: false },
  normalization: RAW_RGB,
};

Deno.test("letterbox keeps the aspect ratio and pads bottom/right with the pad value", () => {
  const image: RgbImage = { width: 16, height: 8, data: new Uint8Array(16 * 8 * 3).fill(50) };
  const { data, dims, frame } = imageToTensor(image, LETTERBOX);
  assertEquals(dims, [1, 3, 8, 8]);
  assertEquals([frame.scaleX, frame.scaleY], [0.5, 0.5]);
  assertEquals([frame.padX, frame.padY], [0, 0]);
  assertEquals([frame.contentWidth, frame.contentHeight], [8, 4]);
  assertEquals(data[3 * 8 + 5], 50); // row 3: content
  assertEquals(data[4 * 8 + 5], 114); // row 4: padding
  assertEquals(data[64 + 7 * 8 + 7], 114);
});

Deno.test("letterbox resize uses half-pixel centres like cv2.resize", () => {
  // Downscaling a 4-pixel ramp 0, 40, 80, 120 to 2 pixels samples at x = 0.5 and 2.5.
  const image: RgbImage = { width: 4, height: 1, data: new Uint8Array(12) };
  [0, 40, 80, 120].forEach((v, x) => image.data.set([v, v, v], x * 3));
  const spec: ImageInputSpec = {
    ...LETTERBOX,
    resize: { ...LETTERBOX.resize, width: 2, height: 2 } as ImageInputSpec["resize"],
  };
  const { data } = imageToTensor(image, spec);
  assertEquals([data[0], data[1]], [20, 100]);
});

Deno.test("shorter-side resize: shorter side to 800 unless the longer would pass 1333", () => {
  const spec: ImageInputSpec = {
    name: "x",
    resize: { kind: "shorter-side", shorterSide: 800, longerSideMax: 1333 },
    normalization: RAW_RGB,
  };
  const normal = imageFrame(spec.resize, 640, 480);
  assertEquals([normal.inputWidth, normal.inputHeight], [1067, 800]);
  const panorama = imageFrame(spec.resize, 2000, 500);
  assertEquals([panorama.inputWidth, panorama.inputHeight], [1333, 333]);
  assertAlmostEquals(panorama.scaleX, 1333 / 2000, 1e-12);
  assertAlmostEquals(panorama.scaleY, 1333 / 2000, 1e-12);
  assertEquals([panorama.padX, panorama.padY], [0, 0]);
});

Deno.test("centred letterbox splits the padding around the image (Ultralytics)", () => {
  // 16×8 into 8×8: scale 0.5, content 8×4, (8 − 4) / 2 = 2 rows of padding above and below.
  const image: RgbImage = { width: 16, height: 8, data: new Uint8Array(16 * 8 * 3).fill(50) };
  const spec: ImageInputSpec = {
    ...LETTERBOX,
    resize: { kind: "letterbox", width: 8, height: 8, padValue: 114, centred: true },
  };
  const { data, frame } = imageToTensor(image, spec);
  assertEquals([frame.scaleX, frame.scaleY, frame.padX, frame.padY], [0.5, 0.5, 0, 2]);
  assertEquals([frame.contentWidth, frame.contentHeight], [8, 4]);
  const column = Array.from({ length: 8 }, (_, v) => data[v * 8 + 3]);
  assertEquals(column, [114, 114, 50, 50, 50, 50, 114, 114]);
});

Deno.test("stretch resizes each axis on its own, with no padding", () => {
  // 16×4 to 8×8: x halves, y doubles; a vertical ramp 0, 40, 80, 120 is sampled at
  // y = (v + 0.5) / 2 − 0.5 (clamped to 0..3) = 0, 0.25, 0.75, 1.75, 2.75, 3 at v = 0, 1, 2, 4,
  // 6, 7: values 0, 10, 30, 70, 110, 120.
  const image: RgbImage = { width: 16, height: 4, data: new Uint8Array(16 * 4 * 3) };
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 16; x++) image.data.fill(40 * y, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  }
  const spec: ImageInputSpec = {
    name: "images",
    resize: { kind: "stretch", width: 8, height: 8 },
    normalization: RAW_RGB,
  };
  const { data, dims, frame } = imageToTensor(image, spec);
  assertEquals(dims, [1, 3, 8, 8]);
  assertEquals([frame.scaleX, frame.scaleY, frame.padX, frame.padY], [0.5, 2, 0, 0]);
  assertEquals([frame.contentWidth, frame.contentHeight], [8, 8]);
  const column = [0, 1, 2, 4, 6, 7].map((v) => data[v * 8 + 5]);
  [0, 10, 30, 70, 110, 120].forEach((value, i) => assertAlmostEquals(column[i], value, 1e-4));
});
