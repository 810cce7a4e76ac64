/**
 * The catalog of known models: the manifests in `models/`, embedded with static JSON imports
 * so that a `deno compile` binary carries them without reading any folder at run time.
 *
 * Adding a model = adding `models/<name>.json` and one import line below;
 * `tests/model_catalog_test.ts` fails when a JSON file on disk is missing here.
 */

import { FAMILY_NAMES, findFamily } from "../families/registry.ts";
import type { ImageResize, ModelManifest, ModelTask } from "./manifest.ts";
import deimv2AttoCoco from "../../models/deimv2_atto_coco.json" with { type: "json" };
import deimv2FemtoCoco from "../../models/deimv2_femto_coco.json" with { type: "json" };
import ppTinypose128x96 from "../../models/pp_tinypose_128x96.json" with { type: "json" };
import ppTinypose256x192 from "../../models/pp_tinypose_256x192.json" with { type: "json" };
import vitposeSCoco256x192 from "../../models/vitpose_s_coco_256x192.json" with { type: "json" };
import yolo11nPoseInt8 from "../../models/yolo11n_pose_int8.json" with { type: "json" };
import detrResnet50Person from "../../models/detr_resnet50_person.json" with { type: "json" };
import prtrHrnetW32384x288 from "../../models/prtr_hrnet_w32_384x288.json" with { type: "json" };
import prtrHrnetW32512x384 from "../../models/prtr_hrnet_w32_512x384.json" with { type: "json" };
import prtrRes101384x288 from "../../models/prtr_res101_384x288.json" with { type: "json" };
import prtrRes101512x384 from "../../models/prtr_res101_512x384.json" with { type: "json" };
import prtrRes50384x288 from "../../models/prtr_res50_384x288.json" with { type: "json" };
import prtrRes50512x384 from "../../models/prtr_res50_512x384.json" with { type: "json" };
import rtmdetNanoPerson from "../../models/rtmdet_nano_person.json" with { type: "json" };
import rtmposeLBody7256x192 from "../../models/rtmpose_l_body7_256x192.json" with { type: "json" };
import rtmposeMBody7256x192 from "../../models/rtmpose_m_body7_256x192.json" with { type: "json" };
import rtmposeSBody7256x192 from "../../models/rtmpose_s_body7_256x192.json" with { type: "json" };
import rtmposeTBody7256x192 from "../../models/rtmpose_t_body7_256x192.json" with { type: "json" };
import simpleposeNano256x192 from "../../models/simplepose_nano_256x192.json" with { type: "json" };
import yoloxNano from "../../models/yolox_nano.json" with { type: "json" };
import { editDistance } from "../util/edit_distance.ts";

/** Embedded manifests with the file each came from (for error messages). */
const EMBEDDED: readonly (readonly [source: string, json: unknown])[] = [
  ["models/deimv2_atto_coco.json", deimv2AttoCoco],
  ["models/deimv2_femto_coco.json", deimv2FemtoCoco],
  ["models/pp_tinypose_128x96.json", ppTinypose128x96],
  ["models/pp_tinypose_256x192.json", ppTinypose256x192],
  ["models/vitpose_s_coco_256x192.json", vitposeSCoco256x192],
  ["models/yolo11n_pose_int8.json", yolo11nPoseInt8],
  ["models/detr_resnet50_person.json", detrResnet50Person],
  ["models/prtr_hrnet_w32_384x288.json", prtrHrnetW32384x288],
  ["models/prtr_hrnet_w32_512x384.json", prtrHrnetW32512x384],
  ["models/prtr_res101_384x288.json", prtrRes101384x288],
  ["models/prtr_res101_512x384.json", prtrRes101512x384],
  ["models/prtr_res50_384x288.json", prtrRes50384x288],
  ["models/prtr_res50_512x384.json", prtrRes50512x384],
  ["models/rtmdet_nano_person.json", rtmdetNanoPerson],
  ["models/rtmpose_l_body7_256x192.json", rtmposeLBody7256x192],
  ["models/rtmpose_m_body7_256x192.json", rtmposeMBody7256x192],
  ["models/rtmpose_s_body7_256x192.json", rtmposeSBody7256x192],
  ["models/rtmpose_t_body7_256x192.json", rtmposeTBody7256x192],
  ["models/simplepose_nano_256x192.json", simpleposeNano256x192],
  ["models/yolox_nano.json", yoloxNano],
];

/**
 * Every catalog manifest.
 *
 * @example The catalog's detectors
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_DETECTOR, listManifests } from "@posekit/posekit";
 *
 * // The manifests are embedded in the package: nothing is read from disk.
 * const detectors = listManifests().filter((m) => m.task === "detector").map((m) => m.name);
 * assert.ok(detectors.includes(DEFAULT_DETECTOR)); // "rtmdet_nano_person"
 * const names = listManifests().map((m) => m.name);
 * assert.equal(new Set(names).size, names.length); // a name picks one model
 * ```
 */
export function listManifests(): ModelManifest[] {
  return [...CATALOG];
}

/**
 * The catalog manifest called `name`, if any.
 *
 * @example One keypoint model's manifest
 * ```ts
 * import assert from "node:assert/strict";
 * import { findManifest } from "@posekit/posekit";
 *
 * const manifest = findManifest("rtmpose_t_body7_256x192");
 * assert.equal(manifest?.task, "keypoints");
 * assert.equal(manifest?.family, "simcc");
 * assert.deepEqual([manifest?.input.width, manifest?.input.height], [192, 256]); // the crop
 * assert.equal(findManifest("rtmpose_t"), undefined); // whole names only
 * ```
 */
export function findManifest(name: string): ModelManifest | undefined {
  return listManifests().find((manifest) => manifest.name === name);
}

const TASKS: readonly ModelTask[] = ["detector", "keypoints", "end2end"];
const RESIZES: readonly ImageResize[] = [
  "letterbox",
  "letterbox-centred",
  "shorter-side",
  "stretch",
];
const TOP_LEVEL_FIELDS = [
  "name",
  "description",
  "task",
  "family",
  "file",
  "sha256",
  "acceptedSha256",
  "accuracy",
  "url",
  "archive",
  "license",
  "source",
  "input",
  "outputs",
  "keypoints",
  "flipPairs",
  "skeleton",
  "options",
];
const INPUT_FIELDS = [
  "name",
  "width",
  "height",
  "resize",
  "padValue",
  "shorterSide",
  "longerSideMax",
  "colorOrder",
  "mean",
  "std",
  "dynamicBatch",
  "cropTransform",
];

/**
 * Checks that `json` (parsed from `source`, a file path or label used in messages) is a
 * well-formed model manifest and returns it typed. Errors name the file and the field, e.g.
 * `my.json: "input.std[1]" must be a positive number`. Unknown fields are errors too (a typo
 * such as "sha265" would otherwise be silently ignored); fields starting with "$" or "_" are
 * allowed for comments and schema references.
 *
 * @example A manifest of your own, and a typo in one
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateManifest } from "@posekit/posekit";
 *
 * const json = {
 *   name: "my_pose",
 *   task: "keypoints",
 *   family: "simcc",
 *   file: "my_pose.onnx",
 *   input: {
 *     name: "input",
 *     width: 192,
 *     height: 256,
 *     colorOrder: "rgb",
 *     mean: [123.675, 116.28, 103.53], // ImageNet's, in 0–255 units
 *     std: [58.395, 57.12, 57.375],
 *   },
 *   outputs: { simcc_x: "simcc_x", simcc_y: "simcc_y" },
 * };
 * assert.equal(validateManifest(json, "my_pose.json").file, "my_pose.onnx");
 * // An unknown field is an error naming the file and the field, not silently ignored.
 * assert.throws(() => validateManifest({ ...json, sha265: "…" }, "my_pose.json"), {
 *   message: /^my_pose\.json: "sha265" is not a manifest field/,
 * });
 * ```
 */
export function validateManifest(json: unknown, source: string): ModelManifest {
  const fail = (field: string, problem: string): never => {
    throw new Error(`${source}: "${field}" ${problem}`);
  };
  if (!isObject(json)) throw new Error(`${source}: a model manifest must be a JSON object`);
  checkKnownFields(json, TOP_LEVEL_FIELDS, "", fail);

  requireString(json, "name", fail);
  optionalString(json, "description", fail);
  requireOneOf(json, "task", TASKS, fail);
  requireOneOf(json, "family", FAMILY_NAMES, fail);
  const family = findFamily(json.family as string)!;
  if (json.task !== family.task) {
    fail("task", `is "${json.task}" but family "${family.name}" is a ${family.task} family`);
  }
  const file = requireString(json, "file", fail);
  if (/[/\\]/.test(file) || file === "." || file === "..") {
    fail("file", `must be a plain file name without folders, got "${file}"`);
  }
  if (json.sha256 !== undefined) {
    if (typeof json.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(json.sha256)) {
      fail("sha256", "must be 64 lower-case hex digits");
    }
  }
  if (json.url !== undefined) {
    if (typeof json.url !== "string" || !/^https?:\/\/\S+$/.test(json.url)) {
      fail("url", "must be an http:// or https:// URL");
    }
  }
  if (json.archive !== undefined) {
    const archive = json.archive;
    if (!isObject(archive)) return fail("archive", 'must be {"format": "zip", "member": "..."}');
    checkKnownFields(archive, ["format", "member", "sha256"], "archive.", fail);
    if (archive.format !== "zip") fail("archive.format", 'must be "zip"');
    if (typeof archive.member !== "string" || archive.member === "") {
      fail("archive.member", "must be the path of the model inside the archive");
    }
    if (
      archive.sha256 !== undefined &&
      (typeof archive.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(archive.sha256))
    ) {
      fail("archive.sha256", "must be 64 lower-case hex digits (the archive's sha256)");
    }
    if (json.url === undefined) fail("archive", 'needs a "url" of the archive');
  }
  if (json.acceptedSha256 !== undefined) {
    const hashes = json.acceptedSha256;
    if (
      !Array.isArray(hashes) ||
      !hashes.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))
    ) {
      fail("acceptedSha256", "must be a list of 64-digit lower-case hex sha256 values");
    }
  }
  optionalString(json, "accuracy", fail);
  optionalString(json, "license", fail);
  optionalString(json, "source", fail);

  const input = json.input;
  if (!isObject(input)) return fail("input", "must be an object describing the model input");
  checkKnownFields(input, INPUT_FIELDS, "input.", fail);
  requireString(input, "name", fail, "input.");
  for (const key of ["width", "height"]) {
    const value = input[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      fail(`input.${key}`, "must be a non-negative integer (pixels)");
    }
  }
  if (input.resize !== undefined) requireOneOf(input, "resize", RESIZES, fail, "input.");
  if (
    input.resize !== undefined && input.resize !== "shorter-side" &&
    (input.width === 0 || input.height === 0)
  ) {
    fail("input.width", `and "input.height" must be positive for a ${input.resize} resize`);
  }
  if (
    input.padValue !== undefined &&
    (typeof input.padValue !== "number" || !(input.padValue >= 0 && input.padValue <= 255))
  ) {
    fail("input.padValue", "must be a number from 0 to 255");
  }
  for (const key of ["shorterSide", "longerSideMax"]) {
    const value = input[key];
    if (value !== undefined && (typeof value !== "number" || !(value > 0))) {
      fail(`input.${key}`, "must be a positive number (pixels)");
    }
  }
  requireOneOf(input, "colorOrder", ["rgb", "bgr"], fail, "input.");
  requireTriple(input, "mean", fail, (v) => Number.isFinite(v), "a number");
  requireTriple(input, "std", fail, (v) => Number.isFinite(v) && v > 0, "a positive number");
  if (input.dynamicBatch !== undefined && typeof input.dynamicBatch !== "boolean") {
    fail("input.dynamicBatch", "must be true or false");
  }
  if (input.cropTransform !== undefined) {
    requireOneOf(input, "cropTransform", ["standard", "udp"], fail, "input.");
  }

  const outputs = json.outputs;
  if (!isObject(outputs)) {
    return fail("outputs", 'must map output roles to output names, e.g. {"heatmaps": "output"}');
  }
  for (const [role, name] of Object.entries(outputs)) {
    if (typeof name !== "string" || name === "") {
      fail(`outputs.${role}`, "must be the name of an output of the model");
    }
  }

  let keypointCount: number | undefined;
  if (json.keypoints !== undefined) {
    const keypoints = json.keypoints;
    if (!Array.isArray(keypoints) || keypoints.length === 0) {
      return fail("keypoints", "must be a non-empty list of keypoint names");
    }
    keypoints.forEach((name, i) => {
      if (typeof name !== "string" || name === "") fail(`keypoints[${i}]`, "must be a name");
    });
    keypointCount = keypoints.length;
  }
  for (const key of ["flipPairs", "skeleton"]) {
    const pairs = json[key];
    if (pairs === undefined) continue;
    if (!Array.isArray(pairs)) return fail(key, "must be a list of [i, j] index pairs");
    pairs.forEach((pair, i) => {
      const valid = Array.isArray(pair) && pair.length === 2 &&
        pair.every((index) =>
          Number.isInteger(index) && index >= 0 &&
          (keypointCount === undefined || index < keypointCount)
        );
      if (!valid) {
        fail(
          `${key}[${i}]`,
          `must be a pair of 0-based keypoint indices` +
            (keypointCount === undefined ? "" : ` below ${keypointCount}`) +
            `, got ${JSON.stringify(pair)}`,
        );
      }
    });
  }

  if (json.options !== undefined) {
    const options = json.options;
    if (!isObject(options)) return fail("options", "must be an object");
    for (const [key, value] of Object.entries(options)) {
      if (!["number", "string", "boolean"].includes(typeof value)) {
        fail(`options.${key}`, "must be a number, a string or a boolean");
      }
    }
  }
  return json as unknown as ModelManifest;
}

type Fail = (field: string, problem: string) => never;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKnownFields(
  object: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  fail: Fail,
): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key) && !key.startsWith("$") && !key.startsWith("_")) {
      fail(`${prefix}${key}`, `is not a manifest field (known: ${known.join(", ")})`);
    }
  }
}

function requireString(
  object: Record<string, unknown>,
  key: string,
  fail: Fail,
  prefix = "",
): string {
  const value = object[key];
  if (typeof value !== "string" || value === "") return fail(prefix + key, "must be a string");
  return value;
}

function optionalString(object: Record<string, unknown>, key: string, fail: Fail): void {
  if (object[key] !== undefined && typeof object[key] !== "string") fail(key, "must be a string");
}

function requireOneOf(
  object: Record<string, unknown>,
  key: string,
  allowed: readonly string[],
  fail: Fail,
  prefix = "",
): void {
  const value = object[key];
  if (typeof value !== "string" || !allowed.includes(value)) {
    fail(
      prefix + key,
      `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}` +
        (value === undefined ? " (it is missing)" : `, got ${JSON.stringify(value)}`),
    );
  }
}

function requireTriple(
  object: Record<string, unknown>,
  key: string,
  fail: Fail,
  valid: (value: number) => boolean,
  what: string,
): void {
  const value = object[key];
  if (!Array.isArray(value) || value.length !== 3) {
    fail(`input.${key}`, "must be a list of 3 numbers (one per channel, in 0–255 units)");
    return;
  }
  value.forEach((v, i) => {
    if (typeof v !== "number" || !valid(v)) fail(`input.${key}[${i}]`, `must be ${what}`);
  });
}

// Last, so that the field lists above are initialized when it runs.
/** Every catalog manifest, validated when this module loads (a broken one names its file). */
const CATALOG: readonly ModelManifest[] = EMBEDDED.map(([source, json]) => {
  const manifest = validateManifest(json, source);
  const expectedName = source.slice(source.lastIndexOf("/") + 1, -".json".length);
  if (manifest.name !== expectedName) {
    throw new Error(`${source}: "name" is "${manifest.name}" but must be "${expectedName}"`);
  }
  return manifest;
});

/**
 * Catalog names close to a misspelt `given`: those containing it, or within a third of its
 * length (at least 2) in edit distance; nearest first, at most 3.
 */
export function nearestNames(given: string, names: readonly string[]): string[] {
  const lower = given.toLowerCase();
  return names
    .map((name) => ({ name, d: name.includes(lower) ? 0 : editDistance(lower, name) }))
    .filter(({ d }) => d <= Math.max(2, Math.floor(given.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ name }) => name);
}
