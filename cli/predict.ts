/** `posekit predict`: poses for images, written as COCO keypoint results. */

import { parseDetectionBoxes } from "../lib/boxes.ts";
import { assignImageIds, writeResults } from "../lib/coco_results.ts";
import { expandInputs } from "../lib/inputs.ts";
import {
  COMMON_OPTIONS,
  decodeOptions,
  numberOption,
  optionHelp,
  parseCommandLine,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  pipelineOptions,
  UsageError,
  VERSION,
} from "./args.ts";
import { processImages } from "./batch.ts";
import {
  createPipelineWithProgress,
  prepareOutputFile,
  prepareOutputFolder,
  printSummary,
  readJsonFile,
} from "./common.ts";
import { printErr } from "./progress.ts";

/** `predict --help`. */
export const PREDICT_HELP = `Usage: deno task predict [options] <image|directory|glob|-|URL>...

Finds people and their 17 COCO keypoints in JPEG/PNG images (directories are searched
recursively; - reads one image from stdin; http(s):// URLs are fetched, up to 256 MiB
within 30 s) and writes COCO keypoint results:
  [{"image_id", "category_id": 1, "keypoints": [x, y, score] × 17, "score", "bbox",
    "file_name"}]

Output:
  --out FILE            write the results here (atomically; missing folders are created);
                        default: stdout. Left untouched when no input could be read.
  --draw DIR            also write each image with boxes and skeletons drawn on it
                        (DIR and its parents are created)
  --quiet               no progress bar and no summary line
${optionHelp(["help", "version"])}

${PIPELINE_HELP}
`;

/** Runs predict; returns the exit code. */
export async function predict(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    ...COMMON_OPTIONS,
    out: { type: "string" },
    draw: { type: "string" },
    quiet: { type: "boolean" },
  });
  if (values.help) {
    console.log(PREDICT_HELP);
    return 0;
  }
  if (values.version) {
    console.log(`posekit ${VERSION}`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no images given");
  const options = pipelineOptions(values);
  const decode = decodeOptions(values);
  const boxThreshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  const drawDir = values.draw as string | undefined;
  // Before any work: a run that cannot write its output would be lost at the end.
  if (out !== undefined) await prepareOutputFile(out, "--out");
  if (drawDir !== undefined) await prepareOutputFolder(drawDir, "--draw");

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
    // Nothing to run: no models are loaded, and an existing --out is kept as it was (a
    // mistyped input must not replace earlier results with an empty list).
    if (out === undefined) await writeResults(undefined, []);
    else printErr(`posekit: no input could be read; --out ${out} was not written\n`);
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
      decode,
      progress: quiet ? false : undefined,
    });
    if (out !== undefined && batch.images === 0) {
      // Every image failed: keep earlier results rather than replace them with nothing.
      printErr(`posekit: no image could be processed; --out ${out} was not written\n`);
    } else await writeResults(out, batch.results);
    if (!quiet) printSummary(pipeline, batch, errors.length);
    const failed = batch.failures.length + errors.length + batch.drawFailures.length;
    return failed > 0 ? 1 : 0;
  } finally {
    await pipeline.close();
  }
}
