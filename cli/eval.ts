/** `posekit eval`: COCO keypoint AP of a results file, or of the pipeline run on COCO images. */

import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { type BoxesByImage, groundTruthBoxes, parseDetectionBoxes } from "../lib/coco/boxes.ts";
import { writeResults } from "../lib/deno/files.ts";
import { type CocoGroundTruth, parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import { writeEvalReport } from "../lib/deno/eval_report.ts";
import { mergeJsonlFiles } from "../lib/deno/merge_files.ts";
import { threadsPerWorker } from "../lib/deno/cpu_allocation.ts";
import type { MergedResult } from "../lib/output/merge.ts";
import { evaluateKeypoints } from "../lib/eval/cocoeval.ts";
import { formatKeypointTable, formatSummary, formatTable } from "../lib/eval/summary.ts";
import {
  COMMON_OPTIONS,
  decodeOptions,
  numberOption,
  optionHelp,
  parseCommandLine,
  PIPELINE_OPTIONS,
  pipelineHelp,
  pipelineOptions,
  THROUGHPUT_OPTIONS,
  UsageError,
  VERSION,
  workersOption,
} from "./args.ts";
import { type BatchItem, CocoCollector, processInputs } from "./batch.ts";
import type { PosePool } from "../lib/deno/workers/pool.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import {
  backendLabel,
  createPipelineWithProgress,
  createPoolWithNotes,
  planWorkers,
  prepareOutputFile,
  prepareOutputFolder,
  printSummary,
  readJsonFile,
} from "./common.ts";
import { printErr } from "./progress.ts";

/** `eval --help`. */
export const EVAL_HELP = `Usage:
  deno task eval --gt ANNOTATIONS.json --results RESULTS.json [--only-gt-images]
  deno task eval --gt ANNOTATIONS.json --images DIR [--boxes gt|FILE] [options]
  add --report DIR [--compare OTHER.json] to either for a page explaining the AP

Computes COCO keypoint AP (OKS), with the same numbers as pycocotools' COCOeval.
With --images, first runs the pipeline on every image of the annotation file.

  --gt FILE             COCO person keypoint annotations (e.g. person_keypoints_val2017.json)
  --results FILE        COCO keypoint results to evaluate (.json, or predict's .jsonl)
  --only-gt-images      with --results: drop results on images the annotations do not have
                        (counted in a warning) instead of failing
  --images DIR          folder holding the annotation file's images (file_name); names that
                        lead outside DIR are refused
  --boxes gt|FILE       with --images: ground-truth boxes of annotations with keypoints,
                        score 1 (the papers' "GT box" setting), or a COCO detection file
  --out FILE            with --images: also write the results here (folders are created)
  --json                print only one JSON object with the stats on stdout
  --report DIR          also write DIR/report.html (keypoint errors and what each costs,
                        PR curves, slices, a 95% bootstrap interval; one offline page, with
                        the worst images when --images), DIR/summary.json, DIR/per_image.csv
  --compare FILE        with --report: other results on the same images; the report gives
                        AP - AP(FILE) with its paired 95% interval
  --quiet               no progress bar
${optionHelp(["help", "version"])}

With --images, also:
${pipelineHelp(["boxes"]).replace(/^Models and pipeline:\n/, "")}
${optionHelp(["workers"])}

Exit codes: 0 evaluated; 1 failed (an unreadable or invalid file; with --images, an image
that could not be run); 2 usage error.
`;

/** The ground-truth images' ids that results name but the annotations lack. */
function idsAbsentFromGroundTruth(json: unknown, known: Set<number>): number[] {
  if (!Array.isArray(json)) return [];
  const absent = new Set<number>();
  for (const entry of json) {
    const id = (entry as { image_id?: unknown } | null)?.image_id;
    if (typeof id === "number" && !known.has(id)) absent.add(id);
  }
  return [...absent];
}

function examples(values: readonly (string | number)[]): string {
  return values.slice(0, 5).join(", ") + (values.length > 5 ? ", …" : "");
}

/** Runs eval; returns the exit code. */
export async function evaluate(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    ...THROUGHPUT_OPTIONS,
    gt: { type: "string" },
    results: { type: "string" },
    images: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    "only-gt-images": { type: "boolean" },
    report: { type: "string" },
    compare: { type: "string" },
    ...COMMON_OPTIONS,
  });
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (values.version) {
    console.log(`posekit ${VERSION}`);
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
  if (resultsPath) {
    // No model runs on a results file: its options would be silently ignored.
    const runOnly = Object.keys(PIPELINE_OPTIONS).find((name) => values[name] !== undefined);
    if (runOnly) {
      throw new UsageError(`--${runOnly} goes with --images (no model runs on --results)`);
    }
  } else if (values["only-gt-images"]) {
    throw new UsageError("--only-gt-images goes with --results");
  }
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  if (out !== undefined) {
    if (!imagesDir) throw new UsageError("--out goes with --images (it writes the results made)");
  }
  const reportDir = values.report as string | undefined;
  const comparePath = values.compare as string | undefined;
  if (comparePath !== undefined && reportDir === undefined) {
    throw new UsageError("--compare goes with --report (the comparison is on the report)");
  }
  const options = imagesDir ? await pipelineOptions(values) : undefined;
  const decode = decodeOptions(values);
  const boxThreshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
  if (out !== undefined) await prepareOutputFile(out, "--out");
  if (reportDir !== undefined) await prepareOutputFolder(reportDir, "--report");

  const gtJson = await readJsonFile(gtPath);
  const gt = parseGroundTruth(gtJson, gtPath);
  for (const w of gt.warnings) printErr(`posekit: warning: ${w}\n`);
  // Read before any model runs, so that a bad file fails at once.
  const compare = comparePath === undefined
    ? undefined
    : await readOtherResults(comparePath, gt, values["only-gt-images"] === true);
  let resultsJson: unknown;
  let exitCode = 0;
  let runInfo: Record<string, unknown> = {};

  if (resultsPath) {
    resultsJson = /\.jsonl$/i.test(resultsPath)
      ? await readJsonlResults(resultsPath)
      : await readJsonFile(resultsPath);
    const known = new Set(gt.images.map((image) => image.id));
    const absent = idsAbsentFromGroundTruth(resultsJson, known);
    if (absent.length && !values["only-gt-images"]) {
      throw new Error(
        `${resultsPath}: results on ${absent.length} image id${absent.length === 1 ? "" : "s"} ` +
          `absent from ${gtPath} (${examples(absent)}); --only-gt-images evaluates only the ` +
          `ground truth's images`,
      );
    }
    if (absent.length) {
      const all = resultsJson as { image_id?: unknown }[];
      const kept = all.filter((r) => typeof r?.image_id !== "number" || known.has(r.image_id));
      printErr(
        `posekit: warning: --only-gt-images: dropped ${
          all.length - kept.length
        } of ${all.length} ` +
          `results, on ${absent.length} image ids absent from ${gtPath} (${examples(absent)})\n`,
      );
      resultsJson = kept;
    }
  } else {
    const boxesArg = values.boxes as string | undefined;
    let boxes: BoxesByImage | undefined;
    if (boxesArg === "gt") {
      boxes = groundTruthBoxes(gtJson as Parameters<typeof groundTruthBoxes>[0]);
    } else if (boxesArg) {
      boxes = parseDetectionBoxes(await readJsonFile(boxesArg), boxesArg, boxThreshold);
      const covered = gt.images.filter((image) => boxes!.has(image.id)).length;
      if (covered < gt.images.length) {
        printErr(
          `posekit: warning: --boxes ${boxesArg} has boxes for ${covered} of ` +
            `${gt.images.length} images in ${gtPath}` +
            (boxThreshold > 0 ? ` (scoring at least --box-thr ${boxThreshold})` : "") +
            `; the other ${gt.images.length - covered} count as images without people\n`,
        );
      }
    }
    const items: BatchItem[] = [];
    const missing: string[] = [];
    const outside: string[] = [];
    const root = resolve(imagesDir!);
    for (const image of gt.images) {
      const fileName = image.fileName ?? `${String(image.id).padStart(12, "0")}.jpg`;
      const path = join(imagesDir!, fileName);
      // A file_name such as ../../etc/hostname or /etc/passwd must not be read.
      if (leavesFolder(root, fileName)) {
        outside.push(fileName);
        continue;
      }
      try {
        if ((await Deno.stat(path)).isFile) items.push({ path, imageId: image.id, fileName });
        else missing.push(path);
      } catch {
        missing.push(path);
      }
    }
    if (outside.length) {
      printErr(
        `posekit: ${outside.length} of ${gt.images.length} images in ${gtPath} have a file_name ` +
          `outside --images ${imagesDir} and were refused (${
            examples(outside.map((name) => JSON.stringify(name)))
          }); they count as images without people\n`,
      );
      exitCode = 1;
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
    const loadOptions = boxes ? { ...options!, detector: false as const } : options!;
    const workers = workersOption(values);
    let pipeline: PosePipeline | undefined;
    let pool: PosePool | undefined;
    try {
      const plan = await planWorkers(workers, loadOptions, items.length);
      if (plan.workers > 1) {
        // Threads share out the cores the scheduler granted, not the node's (see planWorkers).
        const threads = loadOptions.threads ?? threadsPerWorker(plan.workers);
        pool = await createPoolWithNotes(plan, threads, decode, quiet);
      } else pipeline = await createPipelineWithProgress(loadOptions, quiet);
      const collector = new CocoCollector();
      const batch = await processInputs(items, () => Promise.resolve(pipeline!), {
        sink: collector,
        boxes,
        decode,
        pool,
        progress: quiet ? false : undefined,
      });
      if (!quiet) printSummary(batch, 0, pipeline, pool);
      if (out !== undefined) await writeResults(out, collector.results);
      resultsJson = collector.results;
      if (batch.failures.length) exitCode = 1;
      runInfo = {
        images: batch.images,
        people: batch.people,
        failures: batch.failures.length,
        missingImages: missing.length,
        refusedImages: outside.length,
        boxes: boxesArg ?? "detector",
        backend: pipeline
          ? backendLabel(pipeline.runtimeInfo)
          : `${pool!.size} workers × ${pool!.threadsPerWorker} threads ` +
            `(${pool!.loaded.runtime.backend})`,
        detector: pipeline
          ? pipeline.detector?.manifest.name
          : pool!.loaded.models.length > 1
          ? pool!.loaded.models[0]
          : undefined,
        pose: pipeline?.pose.manifest.name ?? pool!.loaded.models.at(-1),
      };
    } finally {
      // The process exits soon: workers release their sessions and stay idle rather than
      // tear down while it exits (see `PoolCloseOptions.terminate`).
      await pool?.close({ terminate: false });
      await pipeline?.close();
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
  if (reportDir !== undefined) {
    const written = await writeEvalReport({
      dir: reportDir,
      gt,
      results,
      evaluation,
      compare,
      imagesDir,
      labels: {
        groundTruth: gtPath,
        results: resultsPath ??
          `the pipeline on ${imagesDir} (${runInfo.pose}, boxes: ${runInfo.boxes})`,
        compare: comparePath,
      },
      version: VERSION,
    });
    for (const w of written.warnings) printErr(`posekit: warning: ${w}\n`);
    printErr(`posekit: report written to ${written.files.join(", ")}\n`);
  }
  return exitCode;
}

/** `--compare`'s results, read as `--results` is (with --only-gt-images applied alike). */
async function readOtherResults(path: string, gt: CocoGroundTruth, onlyGtImages: boolean) {
  let json = /\.jsonl$/i.test(path) ? await readJsonlResults(path) : await readJsonFile(path);
  if (onlyGtImages && Array.isArray(json)) {
    const known = new Set(gt.imageIds);
    json = json.filter((r) => typeof r?.image_id !== "number" || known.has(r.image_id));
  }
  const { results, warnings } = parseResults(json, path, gt);
  for (const w of warnings) printErr(`posekit: warning: ${w}\n`);
  return results;
}

/**
 * COCO results from a `predict --out x.jsonl` file (what `merge` would write for it): a torn
 * last line of a killed run is left out with a warning; a corrupt line is an error.
 */
async function readJsonlResults(path: string): Promise<MergedResult[]> {
  const merged = await mergeJsonlFiles([path], "input");
  for (const torn of merged.torn) {
    printErr(
      `posekit: warning: ${torn.file}: line ${torn.line} is incomplete (a run killed while ` +
        `writing it); ignored\n`,
    );
  }
  return merged.results;
}

/**
 * True when `fileName` (a ground-truth `file_name`, relative to the folder `root`) names
 * something outside `root`, or `root` itself: an absolute name, or one whose resolved path
 * climbs out. The first segment of the relative path is compared with `..`, not its first
 * characters: `..foo.jpg` is a file inside.
 */
export function leavesFolder(root: string, fileName: string): boolean {
  const inside = relative(root, resolve(root, fileName));
  return isAbsolute(fileName) || inside === "" || isAbsolute(inside) ||
    inside.split(sep)[0] === "..";
}
