/**
 * The image loop shared by predict and eval: read, decode, run the pipeline, collect COCO
 * results, draw; a bad image is reported and skipped, never fatal.
 */

import { basename, join } from "node:path";
import { decodeImage, type DecodeOptions } from "../lib/image.ts";
import type { BoxesByImage } from "../lib/boxes.ts";
import { type CocoKeypointResult, toCocoResults } from "../lib/coco_results.ts";
import { drawPoses, encodeJpeg } from "../lib/draw.ts";
import { isUrlInput, readInput, type ReadInputOptions, STDIN_INPUT } from "../lib/inputs.ts";
import type { PosePipeline } from "../lib/pipeline.ts";
import { printErr, ProgressBar } from "./progress.ts";

/** One image to process and the id its results get. */
export interface BatchItem {
  /** A file, `-` (stdin) or a URL. */
  path: string;
  imageId: number;
  /** The `file_name` its results carry (default: `path`). */
  fileName?: string;
}

/** How `processImages` runs. */
export interface BatchOptions {
  /** Boxes per image id instead of the detector. */
  boxes?: BoxesByImage;
  /** Folder for drawn images (it must exist: see `prepareOutputFolder`). */
  drawDir?: string;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** Decoding options (the pixel limit). */
  decode?: DecodeOptions;
  /** Reading options (size limit and timeout of stdin and URLs). */
  read?: ReadInputOptions;
}

/** What a batch did. */
export interface BatchResult {
  results: CocoKeypointResult[];
  images: number;
  people: number;
  /** Images that could not be read, decoded or run: they have no results. */
  failures: { path: string; reason: string }[];
  /** Drawings that could not be written: their images' results are kept. */
  drawFailures: { path: string; reason: string }[];
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
    drawFailures: [],
    decodeMs: 0,
    wallMs: 0,
  };
  const drawnNames = new Set<string>();
  const report = (list: { path: string; reason: string }[], path: string, error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    list.push({ path, reason });
    bar.clear();
    printErr(`posekit: ${path}: ${reason.replace(`${path}: `, "")}\n`);
  };
  for (const item of items) {
    let drawing: Promise<void> | undefined;
    try {
      const bytes = await readInput(item.path, options.read);
      const t0 = performance.now();
      const image = await decodeImage(bytes, item.path, options.decode);
      result.decodeMs += performance.now() - t0;
      const poses = await pipeline.run(
        image,
        options.boxes && pipeline.needsBoxes ? options.boxes.get(item.imageId) ?? [] : "detector",
      );
      result.results.push(...toCocoResults(item.imageId, poses, item.fileName ?? item.path));
      result.images++;
      result.people += poses.length;
      if (options.drawDir) {
        const drawDir = options.drawDir;
        // A drawing that cannot be written is its own error: the image's results stay.
        drawing = (async () => {
          const drawn = drawPoses(image, poses, { skeleton: pipeline.pose.manifest.skeleton });
          const name = uniqueName(drawingStem(item.path), drawnNames);
          const target = join(drawDir, name);
          try {
            await Deno.writeFile(target, await encodeJpeg(drawn, 90));
          } catch (error) {
            throw new Error(`cannot write the drawing ${target}: ${(error as Error).message}`);
          }
        })();
      }
    } catch (error) {
      report(result.failures, item.path, error);
    }
    if (drawing) await drawing.catch((error) => report(result.drawFailures, item.path, error));
    bar.tick();
  }
  bar.clear();
  result.wallMs = performance.now() - start;
  return result;
}

/** The name a drawing is saved under, without extension: `stdin` for `-`, a URL's file name. */
function drawingStem(input: string): string {
  if (input === STDIN_INPUT) return "stdin";
  const name = isUrlInput(input) ? basename(new URL(input).pathname) || "image" : basename(input);
  return name.replace(/\.[^.]*$/, "") || name;
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
