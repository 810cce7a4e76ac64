/**
 * The one list of model families. Adding a family: one file in this folder exporting its
 * descriptor, and one line here. Recognition of bare ONNX graphs tries the families in this
 * order (more specific output layouts first).
 */

import type { ModelManifest } from "../models/manifest.ts";
import { detrFamily } from "./detr.ts";
import type { AdapterOptions, FamilyDescriptor, ModelAdapter } from "./family.ts";
import { heatmapFamily } from "./heatmap.ts";
import { prtrFamily } from "./prtr.ts";
import { prtrSequentialFamily } from "./prtr_sequential.ts";
import { regressionFamily } from "./regression.ts";
import { rtdetrFamily } from "./rtdetr.ts";
import { rtmdetFamily } from "./rtmdet.ts";
import { simccFamily } from "./simcc.ts";
import { yoloPoseFamily } from "./yolo_pose.ts";
import { yoloxFamily } from "./yolox.ts";

/** Every family posekit knows, in recognition order. */
export const FAMILIES = [
  rtmdetFamily,
  rtdetrFamily,
  prtrSequentialFamily,
  detrFamily,
  prtrFamily,
  simccFamily,
  regressionFamily,
  yoloPoseFamily,
  yoloxFamily,
  heatmapFamily,
] as const;

/** A family name, as manifests write it. */
export type ModelFamily = (typeof FAMILIES)[number]["name"];

/** The names of all families. */
export const FAMILY_NAMES: readonly ModelFamily[] = FAMILIES.map((f) => f.name);

/** The descriptor called `name`, if any. *
 * @example Look a family up
 * ```ts
 * import assert from "node:assert/strict";
 * import { FAMILIES, findFamily } from "@posekit/posekit";
 *
 * assert.equal(findFamily("simcc")?.task, "keypoints");
 * assert.equal(findFamily("no-such-family"), undefined);
 * for (const family of FAMILIES) console.log(`${family.name} (${family.task}): ${family.summary}`);
 * ```
 */
export function findFamily(name: string): FamilyDescriptor | undefined {
  return (FAMILIES as readonly FamilyDescriptor[]).find((f) => f.name === name);
}

/**
 * Builds the adapter for a manifest. Errors name the model file: an unknown family, or a
 * `task` that contradicts the family's.
 *
 * @example The adapter of a catalog model
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAdapter, DEFAULT_POSE, findManifest } from "@posekit/posekit";
 *
 * const adapter = createAdapter(findManifest(DEFAULT_POSE)!);
 * assert.equal(adapter.task, "keypoints");
 * if (adapter.task === "keypoints") {
 *   assert.equal(adapter.numKeypoints, 17);
 *   assert.deepEqual([adapter.input.width, adapter.input.height], [192, 256]); // the crop size
 * }
 * ```
 */
export function createAdapter(manifest: ModelManifest, options: AdapterOptions = {}): ModelAdapter {
  const family = findFamily(manifest.family);
  if (!family) {
    throw new Error(
      `model ${manifest.file}: unknown family "${manifest.family}" ` +
        `(known: ${FAMILY_NAMES.join(", ")})`,
    );
  }
  if (manifest.task !== family.task) {
    throw new Error(
      `model ${manifest.file}: task "${manifest.task}" contradicts family "${family.name}", ` +
        `whose task is "${family.task}"`,
    );
  }
  return family.createAdapter(manifest, options);
}

/** What a manifest must declare, per family (for the "cannot tell what model" error). */
export function manifestRequirements(): string {
  const roles = (FAMILIES as readonly FamilyDescriptor[]).map((f) =>
    `${f.name} (${f.task}): ${
      [...f.outputRoles, ...(f.optionalRoles ?? []).map((r) => `${r}?`)].join(", ")
    }`
  );
  return `Write a manifest JSON for it (see models/README.md) declaring: "task" ` +
    `(detector, keypoints or end2end), "family", "input" {"name", "width", "height", ` +
    `"colorOrder", "mean", "std"; whole-image models also "resize"}, and "outputs" mapping ` +
    `the family's roles to output names — ${roles.join("; ")}.`;
}
