/**
 * Access to the read-only `shared/` folder (real models, COCO images and annotations) that
 * sits beside the project. `POSEKIT_SHARED` overrides its location.
 *
 * Outside CI a test that needs it is ignored when it is missing; under `CI=true` the test
 * runs and fails with a message saying what is missing.
 */

import { join, resolve } from "node:path";

/** Absolute path of the shared folder. */
export const SHARED_DIR: string = resolve(
  Deno.env.get("POSEKIT_SHARED") ?? join(import.meta.dirname!, "..", "..", "..", "shared"),
);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The COCO val2017 dev keypoint annotations under shared/, as path parts for the helpers below. */
export const DEV_ANNOTATIONS: readonly string[] = [
  "coco",
  "annotations",
  "person_keypoints_val2017_dev.json",
];

/** Path of a file under shared/. */
export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

/**
 * `ignore` flag for Deno.test: true only when shared files are missing and we are not in CI.
 * In CI the test runs (and fails loudly through `requireShared`).
 */
export function ignoreWithoutShared(...parts: string[]): boolean {
  if (Deno.env.get("CI") === "true") return false;
  return !exists(sharedPath(...parts));
}

/** Throws a clear error when a shared file is missing; returns its path. */
export function requireShared(...parts: string[]): string {
  const path = sharedPath(...parts);
  if (!exists(path)) {
    throw new Error(
      `missing ${path}: tests need the shared/ folder beside the project (or POSEKIT_SHARED)`,
    );
  }
  return path;
}
