/** `predict --explain DIR`: its options, help and settings (the work is lib/explain/'s). */

import type { ParseArgsConfig } from "node:util";
import { numberOption } from "./args.ts";
import { prepareOutputFolder } from "./output_paths.ts";
import { printErr } from "./progress.ts";

/** The `--explain` options, as `parseArgs` options. */
export const EXPLAIN_OPTIONS = {
  explain: { type: "string" },
  "explain-delta": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Their help lines. */
export const EXPLAIN_HELP =
  `  --explain DIR         also write what the keypoint model looked at, per still image (run
                        in this process): DIR/<name>.explain.json, and pictures of its
                        confidence maps, attention (TransPose) or queries (PRTR; and
                        DIR/queries.json for the run)
  --explain-delta X     dependency areas: attention at least X × its maximum (default 0.5)`;

/**
 * The `--explain` settings given, with the folder created (before any work, as `--draw`'s),
 * or undefined without `--explain`.
 */
export async function explainSettings(
  values: Record<string, string | boolean | string[] | undefined>,
): Promise<{ dir: string; delta?: number } | undefined> {
  const dir = values.explain as string | undefined;
  const delta = numberOption(
    values["explain-delta"] as string | undefined,
    "explain-delta",
    (x) => x > 0 && x <= 1,
  );
  if (dir === undefined) return undefined;
  await prepareOutputFolder(dir, "--explain");
  if (values.workers !== undefined) {
    printErr(`posekit: --explain runs the images in this process: --workers is not used\n`);
  }
  return { dir, delta };
}
