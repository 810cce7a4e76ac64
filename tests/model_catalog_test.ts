/**
 * The model catalog: every `models/*.json` is embedded and valid, the shipped manifests say
 * what the README of the shared models says, and they match the real model files.
 */

import { join } from "node:path";
import { assert, assertEquals, assertThrows } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { findManifest, listManifests, validateManifest } from "../lib/models/catalog.ts";
import { COCO_FLIP_PAIRS, COCO_KEYPOINT_NAMES, COCO_SKELETON } from "../lib/coco/keypoints.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { ModelSession } from "../lib/deno/runtime.ts";

const MODELS_DIR = join(import.meta.dirname!, "..", "models");

Deno.test("every models/*.json is embedded in the catalog under its file name", () => {
  const onDisk = [...Deno.readDirSync(MODELS_DIR)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".json"))
    .map((entry) => entry.name.slice(0, -".json".length))
    .sort();
  const inCatalog = listManifests().map((m) => m.name).sort();
  assertEquals(
    inCatalog,
    onDisk,
    "lib/models/catalog.ts must import every models/*.json (add the missing import)",
  );
  for (const name of onDisk) {
    const json = JSON.parse(Deno.readTextFileSync(join(MODELS_DIR, `${name}.json`)));
    assertEquals(findManifest(name), json, `${name}: the embedded manifest differs from disk`);
  }
  assertEquals(findManifest("no_such_model"), undefined);
});

Deno.test("the shared models' manifests follow the shared models' README", () => {
  const rtmdet = findManifest("rtmdet_nano_person")!;
  assertEquals([rtmdet.task, rtmdet.family], ["detector", "rtmdet"]);
  assertEquals(Object.keys(rtmdet.outputs).sort(), ["dets", "labels"]);
  assertEquals(rtmdet.input, {
    name: "input",
    width: 320,
    height: 320,
    resize: "letterbox",
    padValue: 114,
    colorOrder: "bgr",
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
    dynamicBatch: false,
  });

  const yolox = findManifest("yolox_nano")!;
  assertEquals([yolox.task, yolox.family], ["detector", "yolox"]);
  assertEquals(Object.keys(yolox.outputs), ["output"]);
  assertEquals(
    [yolox.input.name, yolox.input.width, yolox.input.height, yolox.input.resize],
    ["images", 416, 416, "letterbox"],
  );
  assertEquals([yolox.input.padValue, yolox.input.colorOrder], [114, "bgr"]);
  assertEquals([yolox.input.mean, yolox.input.std], [[0, 0, 0], [1, 1, 1]]);
  assertEquals(yolox.options, { nmsIou: 0.45, personClass: 0 });

  const simplepose = findManifest("simplepose_nano_256x192")!;
  assertEquals([simplepose.task, simplepose.family], ["keypoints", "heatmap"]);
  assertEquals(Object.keys(simplepose.outputs), ["heatmaps"]);
  assertEquals(
    [simplepose.input.name, simplepose.input.width, simplepose.input.height],
    ["data", 192, 256],
  );
  assertEquals(simplepose.input.colorOrder, "rgb");
  // ImageNet statistics in 0–255 units: 0.485·255 = 123.675, 0.229·255 = 58.395, ...
  const imagenetMean = [0.485, 0.456, 0.406].map((v) => v * 255);
  const imagenetStd = [0.229, 0.224, 0.225].map((v) => v * 255);
  simplepose.input.mean.forEach((v, i) => assert(Math.abs(v - imagenetMean[i]) < 1e-9));
  simplepose.input.std.forEach((v, i) => assert(Math.abs(v - imagenetStd[i]) < 1e-9));
  assertEquals(simplepose.input.dynamicBatch, false);
  assertEquals(simplepose.keypoints, [...COCO_KEYPOINT_NAMES]);
  assertEquals(simplepose.flipPairs, COCO_FLIP_PAIRS.map((p) => [...p]));
  assertEquals(simplepose.skeleton, COCO_SKELETON.map((p) => [...p]));
  assertEquals(simplepose.options?.padding, 1.25);

  // The new shared models (shared/README.md).
  for (const name of ["deimv2_atto_coco", "deimv2_femto_coco"]) {
    const deim = findManifest(name)!;
    const size = name === "deimv2_atto_coco" ? 320 : 416;
    assertEquals([deim.task, deim.family], ["detector", "rtdetr"], name);
    // `images` [N,3,S,S], RGB, /255, plain resize of the whole image (no letterbox, no mean).
    assertEquals(deim.input, {
      name: "images",
      width: size,
      height: size,
      resize: "stretch",
      colorOrder: "rgb",
      mean: [0, 0, 0],
      std: [255, 255, 255],
      dynamicBatch: true,
    }, name);
    assertEquals(deim.outputs, { labels: "labels", boxes: "boxes", scores: "scores" }, name);
    // COCO-80 contiguous labels: person is 0; the int64 (width, height) input.
    assertEquals(deim.options, { personLabel: 0, sizeInput: "orig_target_sizes" }, name);
  }
  for (
    const [name, w, h] of [["pp_tinypose_256x192", 192, 256], [
      "pp_tinypose_128x96",
      96,
      128,
    ]] as const
  ) {
    const tiny = findManifest(name)!;
    assertEquals([tiny.task, tiny.family], ["keypoints", "heatmap"], name);
    assertEquals([tiny.input.name, tiny.input.width, tiny.input.height], ["image", w, h], name);
    assertEquals(tiny.input.colorOrder, "rgb");
    tiny.input.mean.forEach((v, i) => assert(Math.abs(v - imagenetMean[i]) < 1e-9, name));
    tiny.input.std.forEach((v, i) => assert(Math.abs(v - imagenetStd[i]) < 1e-9, name));
    // The heatmaps output; the argmax output is not needed.
    assertEquals(tiny.outputs, { heatmaps: "conv2d_441.tmp_1" }, name);
    assertEquals(tiny.keypoints, [...COCO_KEYPOINT_NAMES], name);
    assertEquals(tiny.flipPairs, COCO_FLIP_PAIRS.map((p) => [...p]), name);
  }
  const yoloPose = findManifest("yolo11n_pose_int8")!;
  assertEquals([yoloPose.task, yoloPose.family], ["end2end", "yolo-pose"]);
  // `images` [1,3,640,640], RGB, /255, centred letterbox with 114; `output0` [1,56,8400].
  assertEquals(yoloPose.input, {
    name: "images",
    width: 640,
    height: 640,
    resize: "letterbox-centred",
    padValue: 114,
    colorOrder: "rgb",
    mean: [0, 0, 0],
    std: [255, 255, 255],
    dynamicBatch: false,
  });
  assertEquals(yoloPose.outputs, { output: "output0" });
  // shared/README.md's reference: class-agnostic NMS at IoU 0.65.
  assertEquals(yoloPose.options?.nmsIou, 0.65);
  // ViTPose (no file here) selects UDP's crop transform.
  assertEquals(findManifest("vitpose_s_coco_256x192")!.input.cropTransform, "udp");

  // A download URL must come with a hash, or the download could not be checked.
  for (const manifest of listManifests()) {
    if (manifest.url) assert(manifest.sha256, `${manifest.name}: url without sha256`);
  }
});

Deno.test({
  name: "catalog manifests match the model files in shared/models (hash, names, shapes)",
  ignore: ignoreWithoutShared("models", "yolox_nano.onnx"),
  async fn() {
    // Every model that shared/README.md lists must be there and match its manifest.
    const required = [
      "rtmdet_nano_person",
      "yolox_nano",
      "simplepose_nano_256x192",
      "deimv2_atto_coco",
      "deimv2_femto_coco",
      "pp_tinypose_256x192",
      "pp_tinypose_128x96",
      "yolo11n_pose_int8",
    ];
    const checked: string[] = [];
    for (const manifest of listManifests()) {
      const isRequired = required.includes(manifest.name);
      const path = join(requireShared("models"), manifest.file);
      if (!isRequired && !exists(path)) continue; // other models are not in shared/
      if (isRequired) requireShared("models", manifest.file);
      await checkAgainstModel(manifest, path);
      checked.push(manifest.name);
    }
    for (const name of required) assert(checked.includes(name), `${name} was not checked`);
  },
});

Deno.test({
  name:
    "the default keypoint model's sha256 is the authors' legacy file, the repaired one accepted",
  ignore: ignoreWithoutShared("models", "legacy", "simplepose_nano_256x192.spatial-bn.onnx"),
  async fn() {
    const manifest = findManifest("simplepose_nano_256x192")!;
    // Issue 8: the authors' own download, so that a fresh machine fetches it by itself.
    assertEquals(
      manifest.url,
      "https://raw.githubusercontent.com/dog-qiuqiu/Ultralight-SimplePose/" +
        "40f9b5d13ef53851d2c2747e2ad884cfb1476291/model/deploy.onnx",
    );
    // shared/README.md: legacy/ holds that file exactly as published; models/ the repaired one.
    const legacy = requireShared("models", "legacy", "simplepose_nano_256x192.spatial-bn.onnx");
    assertEquals(await sha256Hex(await Deno.readFile(legacy)), manifest.sha256);
    const repaired = requireShared("models", "simplepose_nano_256x192.onnx");
    assertEquals(manifest.acceptedSha256, [await sha256Hex(await Deno.readFile(repaired))]);
  },
});

/** Lower-case hex sha256, by WebCrypto (independent of the node:crypto hashing lib/models uses). */
async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function checkAgainstModel(manifest: ModelManifest, path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  // The file here is the one `url` serves, or another export of the same weights that the
  // manifest accepts (the legacy default keypoint model, repaired).
  const hex = await sha256Hex(bytes);
  const accepted = [manifest.sha256, ...(manifest.acceptedSha256 ?? [])];
  assert(accepted.includes(hex), `${manifest.name}: sha256 ${hex} is not one the manifest names`);

  const session = await ModelSession.load(bytes, path);
  try {
    const input = session.inputs.find((i) => i.name === manifest.input.name);
    assert(input, `${manifest.name}: the model has no input "${manifest.input.name}"`);
    const [batch, channels, height, width] = input.shape;
    assertEquals(channels, 3, `${manifest.name}: channels`);
    if (typeof height === "number") assertEquals(height, manifest.input.height);
    if (typeof width === "number") assertEquals(width, manifest.input.width);
    // A manifest may say false for a symbolic batch (the RTMDet export declares one but
    // fails at batch 2), never true for a fixed one.
    if (manifest.input.dynamicBatch) {
      assert(typeof batch === "string", `${manifest.name}: dynamicBatch, but the batch is fixed`);
    }
    const outputNames = session.outputs.map((o) => o.name);
    for (const [role, name] of Object.entries(manifest.outputs)) {
      assert(outputNames.includes(name), `${manifest.name}: output ${role} → "${name}" missing`);
    }
    if (manifest.keypoints && manifest.family === "heatmap") {
      const heatmaps = session.outputs.find((o) => o.name === manifest.outputs.heatmaps)!;
      assertEquals(heatmaps.shape[1], manifest.keypoints.length, "one heatmap per keypoint");
    }
  } finally {
    await session.release();
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("validateManifest names the file and the field of what is wrong", () => {
  const valid = findManifest("simplepose_nano_256x192")!;
  const broken = (change: (m: Record<string, unknown>) => void) => {
    const copy = structuredClone(valid) as unknown as Record<string, unknown>;
    change(copy);
    return copy;
  };
  const expectError = (json: unknown, ...parts: string[]) => {
    const error = assertThrows(() => validateManifest(json, "my/model.json"));
    for (const part of ["my/model.json", ...parts]) {
      assert(error.message.includes(part), `"${error.message}" should mention ${part}`);
    }
  };

  assertEquals(validateManifest(structuredClone(valid), "copy.json"), valid);
  expectError([], "JSON object");
  expectError(broken((m) => delete m.task), '"task"', "missing");
  expectError(broken((m) => m.family = "openpose"), '"family"', '"heatmap"');
  expectError(broken((m) => m.file = "../x.onnx"), '"file"', "plain file name");
  expectError(broken((m) => m.sha256 = "ABC"), '"sha256"', "64 lower-case hex");
  expectError(broken((m) => m.url = "ftp://x"), '"url"');
  expectError(
    broken((m) => {
      delete m.url;
      m.archive = { format: "zip", member: "a.onnx" };
    }),
    '"archive"',
    '"url"',
  );
  expectError(
    broken((m) => m.archive = { format: "zip", member: "a.onnx", sha256: "ABC" }),
    '"archive.sha256"',
    "64 lower-case hex",
  );
  // A task that contradicts the family (heatmap models are keypoint models).
  expectError(broken((m) => m.task = "detector"), '"task"', '"heatmap"', "keypoints");
  expectError(broken((m) => m.acceptedSha256 = ["ABC"]), '"acceptedSha256"');
  expectError(broken((m) => m.acceptedSha256 = "0".repeat(64)), '"acceptedSha256"');
  expectError(broken((m) => m.accuracy = 0.5), '"accuracy"');
  expectError(
    broken((m) => (m.input as Record<string, unknown>).cropTransform = "dark"),
    "input.cropTransform",
  );
  expectError(broken((m) => (m.input as Record<string, unknown>).resize = "crop"), "input.resize");
  expectError(broken((m) => m.sha265 = "typo"), '"sha265"', "not a manifest field");
  expectError(broken((m) => (m.input as Record<string, unknown>).std = [1, 0, 1]), "input.std[1]");
  expectError(broken((m) => (m.input as Record<string, unknown>).mean = [1, 2]), "input.mean");
  expectError(broken((m) => (m.input as Record<string, unknown>).colorOrder = "RGB"), "colorOrder");
  expectError(broken((m) => (m.input as Record<string, unknown>).width = 19.5), "input.width");
  expectError(broken((m) => m.outputs = { heatmaps: 3 }), "outputs.heatmaps");
  expectError(broken((m) => m.flipPairs = [[1, 2], [3, 17]]), "flipPairs[1]", "below 17");
  expectError(broken((m) => m.skeleton = [[0]]), "skeleton[0]");
  expectError(broken((m) => m.options = { padding: [1] }), "options.padding");
  // The resizes and crop transforms of the new families are accepted.
  for (const resize of ["letterbox", "letterbox-centred", "stretch", "shorter-side"]) {
    validateManifest(broken((m) => (m.input as Record<string, unknown>).resize = resize), "r.json");
  }
  validateManifest(
    broken((m) => (m.input as Record<string, unknown>).cropTransform = "udp"),
    "u.json",
  );
  // Comments and schema references are allowed.
  validateManifest(broken((m) => m.$schema = "x"), "c.json");
  validateManifest(broken((m) => m._comment = "why"), "c.json");
});
