/** Drawn results of a batch: options from the drawing flags, and collision-free file names. */

import { basename, join } from "node:path";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import { writeFileAtomic } from "../lib/deno/files.ts";
import { STDIN_INPUT } from "../lib/deno/inputs.ts";
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
  const target = join(
    context.options.drawDir!,
    uniqueName(drawingStem(input), context.drawnNames, "jpg"),
  );
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
 * `<stem>.<ext>`, or `<stem>-2.<ext>`, … when an earlier input of the run took that name
 * (a.png beside a.jpg, or the same name in two folders), so no drawing overwrites another.
 */
export function uniqueName(stem: string, taken: Set<string>, extension: string): string {
  let name = `${stem}.${extension}`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}-${n}.${extension}`;
  taken.add(name.toLowerCase());
  return name;
}
