/**
 * A manifest for a bare .onnx file, recognized from its inputs and outputs: each family's
 * descriptor says whether a graph is one of its own (`FamilyDescriptor.recognize`), in the
 * registry's order. Preprocessing comes from each family's usual export; anything else
 * needs a manifest.
 */

import type { ModelManifest } from "../models/manifest.ts";
import type { TensorInfo } from "../runtime/session.ts";
import type { FamilyDescriptor, GraphInfo } from "./family.ts";
import { FAMILIES, manifestRequirements } from "./registry.ts";

/**
 * The manifest of a bare model, from its inputs and outputs. Throws an Error listing the
 * model's tensors and what a manifest must declare when no family recognizes it.
 *
 * @example A bare heatmap model
 * ```ts
 * import assert from "node:assert/strict";
 * import { recognizeModel } from "@posekit/posekit";
 *
 * // An image input [1, 3, 256, 192] and 17 heatmaps at a quarter of its size.
 * const manifest = recognizeModel(
 *   "pose.onnx",
 *   [{ name: "input", type: "float32", shape: [1, 3, 256, 192] }],
 *   [{ name: "output", type: "float32", shape: [1, 17, 64, 48] }],
 * );
 * assert.equal(manifest.family, "heatmap");
 * assert.equal(manifest.task, "keypoints");
 * assert.deepEqual([manifest.input.width, manifest.input.height], [192, 256]);
 * ```
 */
export function recognizeModel(
  fileName: string,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
): ModelManifest {
  const fail = (reason: string): never => {
    throw new Error(unrecognizedMessage(fileName, inputs, outputs, reason));
  };
  const images = inputs.filter((t) => t.shape.length === 4);
  if (images.length !== 1) fail("expected exactly one image input [B,3,H,W]");
  const image = images[0];
  const channels = staticSize(image.shape[1]);
  if (channels !== undefined && channels !== 3) fail(`the input has ${channels} channels, not 3`);
  const graph: GraphInfo = {
    fileName,
    inputs,
    outputs,
    image,
    inputHeight: staticSize(image.shape[2]),
    inputWidth: staticSize(image.shape[3]),
    dynamicBatch: staticSize(image.shape[0]) === undefined,
    output: (name) => outputs.find((t) => t.name === name),
  };
  const file = fileName.replace(/^.*[\\/]/, "");
  for (const family of FAMILIES as readonly FamilyDescriptor[]) {
    let recognized;
    try {
      recognized = family.recognize?.(graph);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (!recognized) continue;
    // A recognizer that does not know a second input cannot feed it.
    const fed = new Set([image.name, ...(family.extraInputs ?? [])]);
    const unfed = inputs.filter((t) => !fed.has(t.name));
    if (unfed.length > 0) fail(`its input "${unfed[0].name}" is not one posekit can feed`);
    return {
      name: file.replace(/\.onnx$/i, ""),
      file,
      description: "recognized by posekit from the model's inputs and outputs",
      task: family.task,
      family: family.name as ModelManifest["family"],
      ...recognized,
    };
  }
  return fail("its outputs match no family posekit knows");
}

/** A dimension's size when it is fixed, else undefined (symbolic names, -1, 0). */
function staticSize(dim: number | string | undefined): number | undefined {
  return typeof dim === "number" && dim > 0 ? dim : undefined;
}

function unrecognizedMessage(
  fileName: string,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  reason: string,
): string {
  const list = (tensors: readonly TensorInfo[]) =>
    tensors.length
      ? tensors.map((t) => `    ${t.name} [${t.shape.join(",")}] ${t.type}`).join("\n")
      : "    (none)";
  return [
    `cannot tell what kind of model ${fileName} is: ${reason}.`,
    `  inputs:`,
    list(inputs),
    `  outputs:`,
    list(outputs),
    manifestRequirements(),
  ].join("\n");
}
