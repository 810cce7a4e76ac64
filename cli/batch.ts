/**
 * The image loop shared by predict and eval: read, decode, run the pipeline, collect COCO
 * results, draw; a bad image is reported and skipped, never fatal.
 */

import { basename, join } from "node:path";
import { decodeImage } from "../lib/image.ts";
import type { BoxesByImage } from "../lib/boxes.ts";
import { type CocoKeypointResult, toCocoResults } from "../lib/coco_results.ts";
import { drawPoses, encodeJpeg } from "../lib/draw.ts";
import type { PosePipeline } from "../lib/pipeline.ts";
import { printErr, ProgressBar } from "./progress.ts";

/** One image to process and the id its results get. */
export interface BatchItem {
  path: string;
  imageId: number;
}

export interface BatchOptions {
  /** Boxes per image id instead of the detector. */
  boxes?: BoxesByImage;
  /** Folder for drawn images. */
  drawDir?: string;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
}

export interface BatchResult {
  results: CocoKeypointResult[];
  images: number;
  people: number;
  failures: { path: string; reason: string }[];
  /** Milliseconds spent decoding images. */
  decodeMs: number;
  wallMs: number;
}

/** Runs the pipeline over `items`, in order. */
export async function processImages(
  pipeline: PosePipeline,
  items: BatchItem[],
  options: BatchOptions = {},
): Promise<BatchResult> {
  const start = performance.now();
  const bar = new ProgressBar(items.length, "images", options.progress);
  const result: BatchResult = {
    results: [],
    images: 0,
    people: 0,
    failures: [],
    decodeMs: 0,
    wallMs: 0,
  };
  if (options.drawDir) await Deno.mkdir(options.drawDir, { recursive: true });
  const drawnNames = new Set<string>();
  for (const item of items) {
    try {
      const bytes = await Deno.readFile(item.path);
      const t0 = performance.now();
      const image = await decodeImage(bytes, item.path);
      result.decodeMs += performance.now() - t0;
      const poses = await pipeline.run(
        image,
        options.boxes && pipeline.needsBoxes ? options.boxes.get(item.imageId) ?? [] : "detector",
      );
      result.results.push(...toCocoResults(item.imageId, poses));
      result.images++;
      result.people += poses.length;
      if (options.drawDir) {
        const drawn = drawPoses(image, poses, { skeleton: pipeline.pose.manifest.skeleton });
        const name = uniqueName(basename(item.path).replace(/\.[^.]*$/, ""), drawnNames);
        await Deno.writeFile(join(options.drawDir, name), await encodeJpeg(drawn, 90));
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      result.failures.push({ path: item.path, reason });
      bar.clear();
      printErr(`posekit: ${item.path}: ${reason.replace(`${item.path}: `, "")}\n`);
    }
    bar.tick();
  }
  bar.clear();
  result.wallMs = performance.now() - start;
  return result;
}

/**
 * `<stem>.jpg`, or `<stem>-2.jpg`, `<stem>-3.jpg`, … when an earlier image of the run took that
 * name (a.png beside a.jpg, or the same name in two folders), so no drawing overwrites another.
 */
function uniqueName(stem: string, taken: Set<string>): string {
  let name = `${stem}.jpg`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}-${n}.jpg`;
  taken.add(name.toLowerCase());
  return name;
}
