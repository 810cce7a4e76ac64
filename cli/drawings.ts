/** Drawn results of a batch: options from the drawing flags, and collision-free file names. */

import { basename, join } from "node:path";
import { UsageError } from "./args.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import { writeFileAtomic } from "../lib/deno/files.ts";
import { isVideoInput, STDIN_INPUT } from "../lib/deno/inputs.ts";
import { type DrawOptions, drawPoses, encodeJpeg } from "../lib/image/draw.ts";
import type { Pose, RgbImage } from "../lib/types.ts";
import type { VideoPose } from "../lib/video_poses.ts";
import type { BatchContext } from "./batch_context.ts";

/** Drawing options from the batch style and the keypoint model skeleton. */
export function drawOptions(
  context: BatchContext,
  pipeline: PosePipeline | undefined,
): DrawOptions {
  const style = context.options.draw ?? {};
  return {
    skeleton: pipeline?.pose.manifest.skeleton ?? context.options.pool?.loaded.skeleton,
    keypointThreshold: style.keypointThreshold,
    keypointRadius: style.keypointRadius,
    lineWidth: style.lineWidth,
    ...(style.boxes === false ? { boxColor: null } : {}),
    ...(style.labels
      ? {
        label: (pose: VideoPose) =>
          `${pose.trackId === undefined ? "" : `#${pose.trackId} `}${pose.score.toFixed(2)}`,
      }
      : {}),
  };
}

/** Draws one still image and writes it as `<name>.jpg`; errors name the drawing. */
export async function drawImage(
  context: BatchContext,
  input: string,
  image: RgbImage,
  poses: Pose[],
): Promise<void> {
  const pipeline = context.options.pool ? undefined : await context.pipeline();
  const style = drawOptions(context, pipeline);
  const drawn = drawPoses(image, poses, style);
  const target = join(context.options.drawDir!, context.drawingNames.get(input)!);
  try {
    await writeFileAtomic(target, await encodeJpeg(drawn, 90));
  } catch (error) {
    throw new Error(`cannot write the drawing ${target}: ${(error as Error).message}`);
  }
}

/** The name a drawing is saved under, without extension: `stdin` for `-`, a URL's file name. */
export function drawingStem(input: string): string {
  if (input === STDIN_INPUT) return "stdin";
  let name = basename(input);
  if (/^[a-z]+:\/\//i.test(input)) {
    try {
      name = basename(new URL(input).pathname) || "stream";
    } catch {
      name = "stream";
    }
  }
  return name.replace(/\.[^.]*$/, "") || name;
}

/**
 * The drawing's file name of each input (`<name>.jpg` for an image, `.mp4` for a video), given
 * in input order up front, skipped (`--resume`) and failing inputs too, so that a name never
 * depends on what ran: a resumed run draws each image under the name the first run gave it.
 * Refuses a folder where a drawing would replace one of the inputs.
 */
export async function planDrawings(
  inputs: readonly string[],
  drawDir: string,
): Promise<Map<string, string>> {
  const taken = new Set<string>();
  const names = new Map<string, string>();
  for (const input of inputs) {
    if (names.has(input)) continue;
    names.set(input, uniqueName(drawingStem(input), taken, isVideoInput(input) ? "mp4" : "jpg"));
  }
  const folder = await Deno.realPath(drawDir);
  for (const input of inputs) {
    if (input === STDIN_INPUT) continue;
    // A URL or a camera is no file here: no real path, nothing to replace.
    const real = await Deno.realPath(input).catch(() => undefined);
    if (real === join(folder, names.get(input)!)) {
      throw new UsageError(
        `--draw ${drawDir} holds the input ${input}, which its drawing would replace: ` +
          `choose another folder for the drawings`,
      );
    }
  }
  return names;
}

/**
 * `<stem>.<ext>`, or `<stem>-2.<ext>`, … when an earlier input of the run took that name
 * (a.png beside a.jpg, or the same name in two folders), so no drawing overwrites another.
 */
export function uniqueName(stem: string, taken: Set<string>, extension: string): string {
  let name = `${stem}.${extension}`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}-${n}.${extension}`;
  taken.add(name.toLowerCase());
  return name;
}
