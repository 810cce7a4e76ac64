/** `posekit predict`: poses for images, written as COCO keypoint results. */

import { parseDetectionBoxes } from "../lib/boxes.ts";
import { assignImageIds, writeResults } from "../lib/coco_results.ts";
import { expandInputs } from "../lib/inputs.ts";
import {
  numberOption,
  parseCommandLine,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  pipelineOptions,
  UsageError,
} from "./args.ts";
import { processImages } from "./batch.ts";
import {
  checkOutputFile,
  checkOutputFolder,
  createPipelineWithProgress,
  printSummary,
  readJsonFile,
} from "./common.ts";
import { printErr } from "./progress.ts";

export const PREDICT_HELP = `Usage: deno task predict [options] <image|directory|glob>...

Finds people and their 17 COCO keypoints in JPEG/PNG images (directories are searched
recursively) and writes COCO keypoint results:
  [{"image_id", "category_id": 1, "keypoints": [x, y, score] × 17, "score", "bbox"}]

Output:
  --out FILE            write the results here (atomically); default: stdout
  --draw DIR            also write each image with boxes and skeletons drawn on it
  --quiet               no progress bar and no summary line

${PIPELINE_HELP}
`;

/** Runs predict; returns the exit code. */
export async function predict(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    out: { type: "string" },
    draw: { type: "string" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(PREDICT_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no images given");
  const options = pipelineOptions(values);
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  const drawDir = values.draw as string | undefined;
  if (out !== undefined) await checkOutputFile(out, "--out");
  if (drawDir !== undefined) await checkOutputFolder(drawDir, "--draw");

  const boxThreshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
  const boxes = values.boxes
    ? parseDetectionBoxes(
      await readJsonFile(values.boxes as string),
      values.boxes as string,
      boxThreshold,
    )
    : undefined;

  const { files, errors } = await expandInputs(positionals);
  for (const e of errors) printErr(`posekit: ${e.path}: ${e.reason}\n`);
  const items = assignImageIds(files);
  if (items.length === 0) {
    // Nothing to run: no need to load models. The (empty) output is still written.
    await writeResults(out, [], items);
    return 1;
  }

  // With --boxes the detector is never used, so it is not loaded.
  const pipeline = await createPipelineWithProgress(
    boxes ? { ...options, detector: false } : options,
    quiet,
  );
  try {
    const batch = await processImages(pipeline, items, {
      boxes,
      drawDir,
      progress: quiet ? false : undefined,
    });
    const written = await writeResults(out, batch.results, items);
    if (!quiet) {
      printSummary(pipeline, batch, errors.length);
      if (written.mappingPath) {
        printErr(`image ids of non-COCO file names: ${written.mappingPath}\n`);
      }
    }
    return batch.failures.length + errors.length > 0 ? 1 : 0;
  } finally {
    await pipeline.close();
  }
}
