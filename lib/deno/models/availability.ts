/**
 * The catalog as people want to see it: per model its task, family, input size, published
 * accuracy, license, file size, and where its file is (or that it would be downloaded).
 */

import { join } from "node:path";
import type { ModelManifest } from "../../models/manifest.ts";
import { listManifests } from "../../models/catalog.ts";
import { modelSearchDirs, type ResolveOptions } from "./resolve.ts";

/** One catalog model and where its file is. */
export interface ModelAvailability {
  /** Manifest name. */
  name: string;
  /** What the model does. */
  task: ModelManifest["task"];
  /** Its family. */
  family: ModelManifest["family"];
  /** "192x256" (width x height), or "shorter side 800" for DETR-style resizes. */
  inputSize: string;
  /** Published accuracy, from the manifest. */
  accuracy?: string;
  /** The model's license, from the manifest. */
  license?: string;
  /** File size in bytes when the file is present. */
  bytes?: number;
  /** Folder holding the file, when it is present. */
  foundIn?: string;
  /** "present", "download" (from `url` on first use) or "missing" (no file and no URL). */
  status: "present" | "download" | "missing";
  /** Where the file is downloaded from, when the manifest gives a URL. */
  url?: string;
}

function inputSize(manifest: ModelManifest): string {
  const input = manifest.input;
  if (input.resize === "shorter-side") return `shorter side ${input.shorterSide ?? 800}`;
  return `${input.width}x${input.height}`;
}

/**
 * Every catalog model with where its file is, looking in the folders `predict` would search
 * (`--models`, `$POSEKIT_MODELS`, the cache). Reads file sizes only, never hashes.
 *
 * @example Which catalog models are here
 * ```ts ignore
 * import { catalogAvailability } from "@posekit/posekit";
 *
 * for (const model of await catalogAvailability({ modelDirs: ["models/"] })) {
 *   console.log(model.name, model.task, model.status, model.foundIn ?? model.url ?? "");
 * }
 * ```
 */
export async function catalogAvailability(
  options: ResolveOptions = {},
): Promise<ModelAvailability[]> {
  const dirs = modelSearchDirs(options);
  const rows: ModelAvailability[] = [];
  for (const manifest of listManifests()) {
    let foundIn: string | undefined, bytes: number | undefined;
    for (const { dir } of dirs) {
      try {
        const stat = await Deno.stat(join(dir, manifest.file));
        if (stat.isFile) {
          foundIn = dir;
          bytes = stat.size;
          break;
        }
      } catch {
        // not in this folder
      }
    }
    rows.push({
      name: manifest.name,
      task: manifest.task,
      family: manifest.family,
      inputSize: inputSize(manifest),
      accuracy: manifest.accuracy,
      license: manifest.license,
      bytes,
      foundIn,
      status: foundIn ? "present" : manifest.url ? "download" : "missing",
      url: manifest.url,
    });
  }
  return rows;
}
