/**
 * `--preset`: a detector and keypoint model chosen by what matters (speed or accuracy), as
 * rtmlib's modes do, from the pairs whose files are at hand. Each preset lists its pairs best
 * first; the first pair whose two files are present wins, else the first that can be
 * downloaded. APs in the comments are measured on the dev annotations of ../shared (flip test,
 * detector score ≥ 0.3), as the README's table gives them.
 */

/** The preset names. */
export const PRESET_NAMES = ["fast", "balanced", "accurate"] as const;

/** A preset name. */
export type PresetName = (typeof PRESET_NAMES)[number];

/** A detector and a keypoint model. */
export interface ModelPair {
  detector: string;
  pose: string;
}

/** Each preset's pairs, best first. */
export const PRESETS: Readonly<Record<PresetName, readonly ModelPair[]>> = {
  // RTMDet-nano + SimplePose-nano: AP 0.570, the smallest and fastest pair.
  fast: [{ detector: "rtmdet_nano_person", pose: "simplepose_nano_256x192" }],
  // DEIMv2-Atto + PP-TinyPose 256x192: AP 0.606; RTMPose-s where downloaded (69.7 published).
  balanced: [
    { detector: "deimv2_atto_coco", pose: "rtmpose_s_body7_256x192" },
    { detector: "deimv2_atto_coco", pose: "pp_tinypose_256x192" },
    { detector: "rtmdet_nano_person", pose: "pp_tinypose_256x192" },
    { detector: "rtmdet_nano_person", pose: "simplepose_nano_256x192" },
  ],
  // DEIMv2-Femto + PP-TinyPose 256x192: AP 0.661; RTMPose-m/l where downloaded (74.9/76.7).
  accurate: [
    { detector: "deimv2_femto_coco", pose: "rtmpose_l_body7_256x192" },
    { detector: "deimv2_femto_coco", pose: "rtmpose_m_body7_256x192" },
    { detector: "deimv2_femto_coco", pose: "pp_tinypose_256x192" },
    { detector: "deimv2_atto_coco", pose: "pp_tinypose_256x192" },
    { detector: "rtmdet_nano_person", pose: "pp_tinypose_256x192" },
    { detector: "rtmdet_nano_person", pose: "simplepose_nano_256x192" },
  ],
};

/** Where a catalog model's file is: present, downloadable on first use, or missing. */
export type ModelStatus = "present" | "download" | "missing";

/**
 * The pair `preset` resolves to, given each model's status: the first pair whose two files
 * are present, else the first whose files are present or downloadable, else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ModelStatus, resolvePreset } from "./presets.ts";
 *
 * const status = new Map<string, ModelStatus>([
 *   ["deimv2_femto_coco", "present"],
 *   ["pp_tinypose_256x192", "present"],
 * ]);
 * assert.deepEqual(resolvePreset("accurate", (name) => status.get(name) ?? "missing"), {
 *   detector: "deimv2_femto_coco",
 *   pose: "pp_tinypose_256x192",
 * });
 * ```
 */
export function resolvePreset(
  preset: PresetName,
  statusOf: (name: string) => ModelStatus,
): ModelPair | undefined {
  const pairs = PRESETS[preset];
  const all = (pair: ModelPair, ok: (s: ModelStatus) => boolean) =>
    ok(statusOf(pair.detector)) && ok(statusOf(pair.pose));
  return pairs.find((pair) => all(pair, (s) => s === "present")) ??
    pairs.find((pair) => all(pair, (s) => s !== "missing"));
}
