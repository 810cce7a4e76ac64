/** `posekit eval`: COCO keypoint AP of a results file, or of the pipeline run on COCO images. */

import { join } from "node:path";
import { type BoxesByImage, groundTruthBoxes, parseDetectionBoxes } from "../lib/boxes.ts";
import { writeResults } from "../lib/coco_results.ts";
import { parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import { evaluateKeypoints } from "../lib/eval/cocoeval.ts";
import { formatKeypointTable, formatSummary, formatTable } from "../lib/eval/summary.ts";
import {
  numberOption,
  parseCommandLine,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  pipelineOptions,
  UsageError,
} from "./args.ts";
import { type BatchItem, processImages } from "./batch.ts";
import {
  backendLabel,
  checkOutputFile,
  createPipelineWithProgress,
  printSummary,
  readJsonFile,
} from "./common.ts";
import { printErr } from "./progress.ts";

export const EVAL_HELP = `Usage:
  deno task eval --gt ANNOTATIONS.json --results RESULTS.json
  deno task eval --gt ANNOTATIONS.json --images DIR [--boxes gt|FILE] [options]

Computes COCO keypoint AP (OKS), with the same numbers as pycocotools' COCOeval.
With --images, first runs the pipeline on every image of the annotation file.

  --gt FILE             COCO person keypoint annotations (e.g. person_keypoints_val2017.json)
  --results FILE        COCO keypoint results to evaluate
  --images DIR          folder holding the annotation file's images (file_name)
  --boxes gt            with --images: ground-truth boxes of annotations with keypoints,
                        score 1 (the papers' "GT box" setting)
  --out FILE            with --images: also write the results here
  --json                print only one JSON object with the stats on stdout
  --quiet               no progress bar

${PIPELINE_HELP}
`;

/** Runs eval; returns the exit code. */
export async function evaluate(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    gt: { type: "string" },
    results: { type: "string" },
    images: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const gtPath = values.gt as string | undefined;
  if (!gtPath) throw new UsageError("--gt ANNOTATIONS.json is required");
  const resultsPath = values.results as string | undefined;
  const imagesDir = values.images as string | undefined;
  if (!resultsPath === !imagesDir) {
    throw new UsageError("give either --results FILE or --images DIR");
  }
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  if (out !== undefined) {
    if (!imagesDir) throw new UsageError("--out goes with --images (it writes the results made)");
    await checkOutputFile(out, "--out");
  }

  const gtJson = await readJsonFile(gtPath);
  const gt = parseGroundTruth(gtJson, gtPath);
  let resultsJson: unknown;
  let exitCode = 0;
  let runInfo: Record<string, unknown> = {};

  if (resultsPath) {
    resultsJson = await readJsonFile(resultsPath);
  } else {
    const boxesArg = values.boxes as string | undefined;
    let boxes: BoxesByImage | undefined;
    if (boxesArg === "gt") {
      boxes = groundTruthBoxes(gtJson as Parameters<typeof groundTruthBoxes>[0]);
    } else if (boxesArg) {
      const threshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
      boxes = parseDetectionBoxes(await readJsonFile(boxesArg), boxesArg, threshold);
    }
    const items: BatchItem[] = [];
    const missing: string[] = [];
    for (const image of gt.images) {
      const path = join(imagesDir!, image.fileName ?? `${String(image.id).padStart(12, "0")}.jpg`);
      try {
        if ((await Deno.stat(path)).isFile) items.push({ path, imageId: image.id });
      } catch {
        missing.push(path);
      }
    }
    if (missing.length) {
      printErr(
        `posekit: warning: ${missing.length} of ${gt.images.length} images in ${gtPath} are not in ` +
          `${imagesDir} (e.g. ${
            missing.slice(0, 3).join(", ")
          }); they count as images without people\n`,
      );
    }
    if (items.length === 0) throw new Error(`none of the images in ${gtPath} are in ${imagesDir}`);
    const options = pipelineOptions(values);
    const pipeline = await createPipelineWithProgress(
      boxes ? { ...options, detector: false } : options,
      quiet,
    );
    try {
      const batch = await processImages(pipeline, items, {
        boxes,
        progress: quiet ? false : undefined,
      });
      if (!quiet) printSummary(pipeline, batch);
      if (out !== undefined) await writeResults(out, batch.results);
      resultsJson = batch.results;
      if (batch.failures.length) exitCode = 1;
      runInfo = {
        images: batch.images,
        people: batch.people,
        failures: batch.failures.length,
        missingImages: missing.length,
        boxes: boxesArg ?? "detector",
        backend: backendLabel(),
        detector: pipeline.detector?.manifest.name,
        pose: pipeline.pose.manifest.name,
      };
    } finally {
      await pipeline.close();
    }
  }

  const { results, warnings } = parseResults(resultsJson, resultsPath ?? "pipeline results", gt);
  for (const w of warnings) printErr(`posekit: warning: ${w}\n`);
  const evaluation = evaluateKeypoints(gt, results);
  for (const w of evaluation.warnings) printErr(`posekit: warning: ${w}\n`);
  if (values.json) {
    console.log(JSON.stringify({ ...evaluation.stats, ...runInfo }));
  } else {
    console.log(formatSummary(evaluation.stats));
    console.log();
    console.log(formatTable(evaluation.stats));
    if (evaluation.perKeypoint?.length) {
      console.log();
      console.log(formatKeypointTable(evaluation.perKeypoint));
    }
  }
  return exitCode;
}
