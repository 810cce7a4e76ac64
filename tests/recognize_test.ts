import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { recognizeModel } from "../lib/families/recognize.ts";
import { createAdapter, FAMILY_NAMES, manifestRequirements } from "../lib/families/registry.ts";
import type { DetectorAdapter, KeypointAdapter } from "../lib/families/family.ts";
import { COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES } from "../lib/coco/keypoints.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { ModelSession } from "../lib/deno/runtime.ts";
import type { TensorInfo } from "../lib/runtime/runtime.ts";

const IMAGENET_MEAN: [number, number, number] = [123.675, 116.28, 103.53];
const IMAGENET_STD: [number, number, number] = [58.395, 57.12, 57.375];

function t(name: string, ...shape: (number | string)[]): TensorInfo {
  return { name, type: "float32", shape };
}

async function recognizeShared(file: string): Promise<ModelManifest> {
  const session = await ModelSession.load(requireShared("models", file));
  try {
    return recognizeModel(file, session.inputs, session.outputs);
  } finally {
    await session.release();
  }
}

// The real models in ../shared, described in shared/README.md.

Deno.test({
  name: "recognizeModel: RTMDet-nano end2end export",
  ignore: ignoreWithoutShared("models", "rtmdet_nano_person.onnx"),
  async fn() {
    const manifest = await recognizeShared("rtmdet_nano_person.onnx");
    assertEquals([manifest.task, manifest.family], ["detector", "rtmdet"]);
    assertEquals(manifest.name, "rtmdet_nano_person");
    assertEquals(manifest.file, "rtmdet_nano_person.onnx");
    // Dynamic H, W: the family default 640; BGR with mmdet's mean/std (shared/README.md).
    assertEquals(manifest.input, {
      name: "input",
      width: 640,
      height: 640,
      resize: "letterbox",
      padValue: 114,
      colorOrder: "bgr",
      mean: [103.53, 116.28, 123.675],
      std: [57.375, 57.12, 58.395],
      dynamicBatch: true,
    });
    assertEquals(manifest.outputs, { dets: "dets", labels: "labels" });
    assertEquals(manifest.sha256, undefined);
  },
});

Deno.test({
  name: "recognizeModel: YOLOX-nano agrees with its hand-written manifest",
  ignore: ignoreWithoutShared("models", "yolox_nano.onnx"),
  async fn() {
    const manifest = await recognizeShared("yolox_nano.onnx");
    assertEquals([manifest.task, manifest.family], ["detector", "yolox"]);
    // shared/README.md: `images` [1,3,416,416], BGR, raw 0–255, letterbox with 114.
    assertEquals(manifest.input, {
      name: "images",
      width: 416,
      height: 416,
      resize: "letterbox",
      padValue: 114,
      colorOrder: "bgr",
      mean: [0, 0, 0],
      std: [1, 1, 1],
      dynamicBatch: false,
    });
    assertEquals(manifest.outputs, { output: "output" });
  },
});

Deno.test({
  name: "recognizeModel: SimplePose heatmap model",
  ignore: ignoreWithoutShared("models", "simplepose_nano_256x192.onnx"),
  async fn() {
    const manifest = await recognizeShared("simplepose_nano_256x192.onnx");
    assertEquals([manifest.task, manifest.family], ["keypoints", "heatmap"]);
    // shared/README.md: `data` [1,3,256,192], RGB, ImageNet mean/std (0.485… × 255).
    assertEquals(manifest.input, {
      name: "data",
      width: 192,
      height: 256,
      colorOrder: "rgb",
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      dynamicBatch: false,
    });
    assertEquals(manifest.outputs, { heatmaps: "hybridsequential0_conv7_fwd" });
    assertEquals(manifest.keypoints, [...COCO_KEYPOINT_NAMES]);
    assertEquals(manifest.flipPairs, COCO_FLIP_PAIRS.map(([a, b]) => [a, b]));
    assertEquals(manifest.options, { padding: 1.25 });
  },
});

// Hand-written tensor lists for the families with no model in ../shared.

Deno.test("recognizeModel: DETR with a dynamic input gets DETR's shorter-side resize", () => {
  const manifest = recognizeModel(
    "models/detr_resnet50.onnx",
    [t("input", "batch", 3, "height", "width")],
    [t("pred_logits", "batch", 100, 92), t("pred_boxes", "batch", 100, 4)],
  );
  assertEquals([manifest.task, manifest.family, manifest.file], [
    "detector",
    "detr",
    "detr_resnet50.onnx",
  ]);
  assertEquals(manifest.input.resize, "shorter-side");
  assertEquals([manifest.input.shorterSide, manifest.input.longerSideMax], [800, 1333]);
  assertEquals([manifest.input.colorOrder, manifest.input.mean, manifest.input.std], [
    "rgb",
    IMAGENET_MEAN,
    IMAGENET_STD,
  ]);
  assertEquals(manifest.outputs, { logits: "pred_logits", boxes: "pred_boxes" });
  assertEquals(manifest.options, undefined);
  // The DETR adapter accepts it as it is.
  const adapter = createAdapter(manifest) as DetectorAdapter;
  assertEquals(adapter.input.resize, {
    kind: "shorter-side",
    shorterSide: 800,
    longerSideMax: 1333,
  });
});

Deno.test("recognizeModel: a fixed-size DETR export is letterboxed, boxes relative to the input", () => {
  const manifest = recognizeModel(
    "detr_640.onnx",
    [t("images", 1, 3, 640, 640)],
    [t("pred_logits", 1, 100, 2), t("pred_boxes", 1, 100, 4)],
  );
  assertEquals(manifest.input.resize, "letterbox");
  assertEquals([manifest.input.width, manifest.input.height], [640, 640]);
  assertEquals(manifest.options, { boxesRelativeTo: "input" });
  assertEquals((createAdapter(manifest) as DetectorAdapter).input.resize.kind, "letterbox");
});

Deno.test("recognizeModel: PRTR two-stage keypoint model", () => {
  const manifest = recognizeModel(
    "prtr_hrnet_w32_384x288.onnx",
    [t("input", "batch", 3, 384, 288)],
    [t("pred_logits", "batch", 100, 18), t("pred_coords", "batch", 100, 2)],
  );
  assertEquals([manifest.task, manifest.family], ["keypoints", "prtr"]);
  assertEquals([manifest.input.width, manifest.input.height], [288, 384]);
  assertEquals(manifest.input.dynamicBatch, true);
  assertEquals(manifest.input.colorOrder, "rgb");
  assertEquals(manifest.outputs, { logits: "pred_logits", coords: "pred_coords" });
  assertEquals(manifest.keypoints?.length, 17);
  assertEquals(manifest.options, { padding: 1.25 });
  // Dynamic spatial dims: the paper's 384×288.
  const dynamic = recognizeModel(
    "prtr.onnx",
    [t("input", "b", 3, "h", "w")],
    [t("pred_logits", "b", 100, 18), t("pred_coords", "b", 100, 2)],
  );
  assertEquals([dynamic.input.width, dynamic.input.height], [288, 384]);
});

Deno.test("recognizeModel: PRTR sequential end-to-end model", () => {
  const manifest = recognizeModel(
    "prtr_sequential.onnx",
    [t("input", 1, 3, "height", "width")],
    [
      t("pred_logits", 1, 100, 2),
      t("pred_boxes", 1, 100, 4),
      t("pred_kpt_logits", 1, 100, 100, 18),
      t("pred_kpt_coord", 1, 100, 100, 2),
    ],
  );
  assertEquals([manifest.task, manifest.family], ["end2end", "prtr-sequential"]);
  assertEquals(manifest.outputs, {
    logits: "pred_logits",
    boxes: "pred_boxes",
    kpt_logits: "pred_kpt_logits",
    kpt_coords: "pred_kpt_coord",
  });
  assertEquals(manifest.input.resize, "shorter-side");
  assertEquals(manifest.input.dynamicBatch, false);
  assertEquals(manifest.flipPairs?.length, 8);
  assertThrows(
    () =>
      recognizeModel("broken.onnx", [t("input", 1, 3, 800, 800)], [
        t("pred_kpt_logits", 1, 100, 100, 18),
        t("pred_kpt_coord", 1, 100, 100, 2),
      ]),
    Error,
    "pred_boxes",
  );
});

Deno.test("recognizeModel: SimCC split ratio = x length / input width", () => {
  // RTMPose-m 256x192: simcc_x 384 = 192·2, simcc_y 512 = 256·2.
  const manifest = recognizeModel(
    "end2end.onnx",
    [t("input", "batch", 3, 256, 192)],
    [t("simcc_x", "batch", 17, 384), t("simcc_y", "batch", 17, 512)],
  );
  assertEquals([manifest.task, manifest.family, manifest.name], ["keypoints", "simcc", "end2end"]);
  assertEquals([manifest.input.width, manifest.input.height], [192, 256]);
  assertEquals(manifest.input.dynamicBatch, true);
  assertEquals(manifest.options, { splitRatio: 2, padding: 1.25 });
  assertEquals(manifest.outputs, { simcc_x: "simcc_x", simcc_y: "simcc_y" });
  // 288 wide with 864 bins: r = 3.
  const wide = recognizeModel(
    "r3.onnx",
    [t("input", 1, 3, 384, 288)],
    [t("simcc_x", 1, 17, 864), t("simcc_y", 1, 17, 1152)],
  );
  assertEquals(wide.options?.splitRatio, 3);
  // Dynamic input dims: r defaults to 2 and the crop size follows the vector lengths.
  const dynamic = recognizeModel(
    "dyn.onnx",
    [t("input", "b", 3, "h", "w")],
    [t("simcc_x", "b", 17, 576), t("simcc_y", "b", 17, 768)],
  );
  assertEquals([dynamic.input.width, dynamic.input.height], [288, 384]);
  assertEquals(dynamic.options?.splitRatio, 2);
  const adapter = createAdapter(manifest) as KeypointAdapter;
  assertEquals([adapter.input.width, adapter.input.height, adapter.numKeypoints], [192, 256, 17]);
});

Deno.test("recognizeModel: heatmap sizes follow the quarter-resolution output", () => {
  const manifest = recognizeModel(
    "hrnet.onnx",
    [t("input", "batch", 3, "height", "width")],
    [t("heatmaps", "batch", 17, 96, 72)],
  );
  assertEquals([manifest.family, manifest.input.width, manifest.input.height], [
    "heatmap",
    288,
    384,
  ]);
  assertEquals(manifest.outputs, { heatmaps: "heatmaps" });
});

Deno.test("recognizeModel: a dynamic YOLOX input gets 640", () => {
  const manifest = recognizeModel(
    "yolox_s.onnx",
    [t("images", "batch", 3, "h", "w")],
    [t("output", "batch", "n", 85)],
  );
  assertEquals([manifest.family, manifest.input.width, manifest.input.height], ["yolox", 640, 640]);
});

Deno.test("recognizeModel: an unrecognized model lists its tensors and what a manifest needs", () => {
  const error = assertThrows(
    () =>
      recognizeModel(
        "mystery.onnx",
        [t("pixel_values", 1, 3, 224, 224)],
        [t("scores", 1, 1000), t("features", 1, 768)],
      ),
    Error,
    "mystery.onnx",
  );
  for (const part of ["pixel_values [1,3,224,224]", "scores [1,1000]", "features [1,768]"]) {
    assert(error.message.includes(part), `message names ${part}: ${error.message}`);
  }
  for (const part of ['"task"', '"family"', '"input"', "colorOrder", "mean", "std", '"outputs"']) {
    assert(error.message.includes(part), `message asks for ${part}`);
  }
  assert(error.message.includes("models/README.md"), "message points to models/README.md");
  // What a manifest must declare comes from the family registry, every family included.
  assert(error.message.endsWith(manifestRequirements()), "message ends with the requirements");
  for (const family of FAMILY_NAMES) {
    assert(error.message.includes(`${family} (`), `message describes family ${family}`);
  }
});

Deno.test("recognizeModel: cases it refuses to guess", () => {
  // Two image-shaped inputs.
  assertThrows(
    () =>
      recognizeModel("two.onnx", [t("image", 1, 3, 256, 192), t("mask", 1, 3, 256, 192)], [
        t("heatmaps", 1, 17, 64, 48),
      ]),
    Error,
    "one image input",
  );
  // A second, non-image input that the recognized family does not feed.
  assertThrows(
    () =>
      recognizeModel("two.onnx", [t("image", 1, 3, 256, 192), t("scale", 1, 2)], [
        t("heatmaps", 1, 17, 64, 48),
      ]),
    Error,
    `its input "scale" is not one posekit can feed`,
  );
  // Not 3 channels.
  assertThrows(
    () => recognizeModel("gray.onnx", [t("x", 1, 1, 256, 192)], [t("h", 1, 17, 64, 48)]),
    Error,
    "channels",
  );
  // Whole-body heatmaps: 133 keypoints need names and flip pairs from a manifest.
  assertThrows(
    () => recognizeModel("wb.onnx", [t("x", 1, 3, 256, 192)], [t("h", 1, 133, 64, 48)]),
    Error,
    "17",
  );
  // Heatmaps at another stride.
  assertThrows(
    () => recognizeModel("s8.onnx", [t("x", 1, 3, 256, 192)], [t("h", 1, 17, 32, 24)]),
    Error,
    "quarter",
  );
  // A 16-joint PRTR (MPII) has no COCO metadata.
  assertThrows(
    () =>
      recognizeModel("mpii.onnx", [t("x", 1, 3, 256, 256)], [
        t("pred_logits", 1, 100, 17),
        t("pred_coords", 1, 100, 2),
      ]),
    Error,
    "flipPairs",
  );
  // rtmdet-like outputs with 7 values per box.
  assertThrows(
    () =>
      recognizeModel("d.onnx", [t("x", 1, 3, 640, 640)], [
        t("dets", 1, 100, 7),
        t("labels", 1, 100),
      ]),
    Error,
    "not 5",
  );
});

// The shipped manifests for models that must be exported (models/README.md) or downloaded must
// describe what those exports look like; recognition from the same tensors is an independent check.

async function shippedManifest(name: string): Promise<ModelManifest> {
  return JSON.parse(await Deno.readTextFile(new URL(`../models/${name}.json`, import.meta.url)));
}

Deno.test("shipped PRTR manifests agree with their exports' tensors", async () => {
  for (const backbone of ["res50", "res101", "hrnet_w32"]) {
    for (const [h, w] of [[384, 288], [512, 384]]) {
      const name = `prtr_${backbone}_${h}x${w}`;
      const shipped = await shippedManifest(name);
      const recognized = recognizeModel(
        `${name}.onnx`,
        [t("input", "batch", 3, h, w)],
        [t("pred_logits", "batch", 100, 18), t("pred_coords", "batch", 100, 2)],
      );
      assertEquals(shipped.file, `${name}.onnx`);
      for (const key of ["task", "family", "input", "outputs", "keypoints", "flipPairs"] as const) {
        assertEquals(shipped[key], recognized[key], `${name} ${key}`);
      }
      assertEquals(shipped.options, recognized.options, `${name} options`);
    }
  }
});

Deno.test("shipped RTMPose manifests agree with the official end2end.onnx tensors", async () => {
  for (const size of ["t", "s", "m", "l"]) {
    const name = `rtmpose_${size}_body7_256x192`;
    const shipped = await shippedManifest(name);
    // The ONNX SDK exports: input [batch,3,256,192], simcc_x [batch,17,384], simcc_y [.., 512].
    const recognized = recognizeModel(
      "end2end.onnx",
      [t("input", "batch", 3, 256, 192)],
      [t("simcc_x", "batch", 17, 384), t("simcc_y", "batch", 17, 512)],
    );
    for (const key of ["task", "family", "input", "outputs", "keypoints", "flipPairs"] as const) {
      assertEquals(shipped[key], recognized[key], `${name} ${key}`);
    }
    assertEquals(shipped.options, recognized.options, `${name} options`);
    assert(shipped.url?.startsWith("https://download.openmmlab.com/"), `${name} url`);
    const stem = shipped.url!.slice(shipped.url!.lastIndexOf("/") + 1, -".zip".length);
    assertEquals(shipped.archive, {
      format: "zip",
      member: `20230831/rtmpose_onnx/${stem}/end2end.onnx`,
    });
    assert(/^[0-9a-f]{64}$/.test(shipped.sha256 ?? ""), `${name} sha256`);
  }
});

Deno.test("shipped DETR manifest agrees with the export script's tensors", async () => {
  const shipped = await shippedManifest("detr_resnet50_person");
  const recognized = recognizeModel(
    "detr_resnet50.onnx",
    [t("input", "batch", 3, "height", "width")],
    [t("pred_logits", "batch", 100, 92), t("pred_boxes", "batch", 100, 4)],
  );
  for (const key of ["task", "family", "file", "input", "outputs"] as const) {
    assertEquals(shipped[key], recognized[key], key);
  }
  // COCO DETR: person is category 1, which is also the decoder's default for 92 logits.
  assertEquals(shipped.options, { personClass: 1 });
});

Deno.test("shipped PP-TinyPose manifests agree with their exports' tensors (argmax ignored)", async () => {
  // shared/README.md: `image` [1,3,H,W]; heatmaps `conv2d_441.tmp_1` [1,17,H/4,W/4] and the
  // heatmaps' argmax `argmax_0.tmp_0` [1,17], which posekit does not need.
  for (const [h, w] of [[256, 192], [128, 96]]) {
    const name = `pp_tinypose_${h}x${w}`;
    const shipped = await shippedManifest(name);
    const recognized = recognizeModel(
      `${name}.onnx`,
      [t("image", 1, 3, h, w)],
      [t("conv2d_441.tmp_1", 1, 17, h / 4, w / 4), {
        ...t("argmax_0.tmp_0", 1, 17),
        type: "int64",
      }],
    );
    assertEquals(shipped.file, `${name}.onnx`);
    for (const key of ["task", "family", "input", "outputs", "keypoints", "flipPairs"] as const) {
      assertEquals(shipped[key], recognized[key], `${name} ${key}`);
    }
    assertEquals(shipped.options, recognized.options, `${name} options`);
  }
});
