/** `posekit predict`: poses for images and videos, written as COCO results or JSON Lines. */

import { parseDetectionBoxes } from "../lib/coco/boxes.ts";
import { assignImageIds } from "../lib/coco/results.ts";
import { writeFileAtomic, writeResults } from "../lib/deno/files.ts";
import { formatResultsCsv } from "../lib/output/csv.ts";
import { expandInputs, isVideoInput } from "../lib/deno/inputs.ts";
import { JsonlWriter, readJsonlProgress } from "../lib/deno/jsonl_file.ts";
import { comparePaths, resolveShard, selectShard, ShardError } from "../lib/output/shard.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import type { PosePool } from "../lib/deno/workers/pool.ts";
import {
  COMMON_OPTIONS,
  decodeOptions,
  DRAW_OPTIONS,
  drawStyle,
  numberOption,
  optionHelp,
  parseCommandLine,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  pipelineOptions,
  THROUGHPUT_OPTIONS,
  UsageError,
  VERSION,
  VIDEO_OPTIONS,
  videoSettings,
  workersOption,
} from "./args.ts";
import { type BatchItem, CocoCollector, processInputs, type RecordSink } from "./batch.ts";
import {
  createPipelineWithProgress,
  createPoolWithNotes,
  planWorkers,
  prepareOutputFile,
  prepareOutputFolder,
  printSummary,
  readJsonFile,
} from "./common.ts";
import { outputFormat } from "./output_paths.ts";
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, explainSettings } from "./explain.ts";
import { printErr } from "./progress.ts";

/** `predict --help`. */
export const PREDICT_HELP =
  `Usage: deno task predict [options] <image|video|directory|glob|-|URL>...

Finds people and their 17 COCO keypoints in JPEG/PNG images and videos (directories are
searched recursively; - reads one image from stdin; http(s):// URLs are fetched, up to
256 MiB within 30 s; videos, rtsp:// streams and /dev/video0 are read with ffmpeg).

Output:
  --out FILE.json       COCO keypoint results, written atomically at the end:
                        [{"image_id", "category_id": 1, "keypoints", "score", "bbox",
                          "file_name"}] (video frames: image_id = frame, plus "frame" and
                        "track_id"; one video per run). Default: the same on stdout.
  --out FILE.jsonl      one JSON line per image or frame as soon as it is done:
                        {"file", "image_id", ["frame", "time",] "people": [...]}
  --out FILE.csv        one row per person, written atomically at the end: image_id,
                        file_name, frame, track_id, score, bbox, then x, y, score per keypoint
  --resume              with a .jsonl --out: skip what it already holds, append the rest
  --shard I/N           process the I-th of N parts of the sorted inputs (0-based);
                        default from JOB_COMPLETION_INDEX (with --shards N) or a SLURM array
  --shards N            the part count for a Kubernetes Indexed Job
  --draw DIR            also write each image (DIR/<name>.jpg) and video (DIR/<name>.mp4)
                        with boxes and skeletons drawn (DIR and its parents are created)
${EXPLAIN_HELP}
  --quiet               no progress bar and no summary line
${optionHelp(["help", "version"])}

Drawing:
${optionHelp(Object.keys(DRAW_OPTIONS))}

Videos:
${optionHelp(Object.keys(VIDEO_OPTIONS))}

${PIPELINE_HELP}
${optionHelp(["workers"])}
`;

/** Runs predict; returns the exit code. */
export async function predict(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    ...COMMON_OPTIONS,
    ...THROUGHPUT_OPTIONS,
    ...DRAW_OPTIONS,
    ...VIDEO_OPTIONS,
    out: { type: "string" },
    resume: { type: "boolean" },
    shard: { type: "string" },
    shards: { type: "string" },
    draw: { type: "string" },
    ...EXPLAIN_OPTIONS,
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
  const options = await pipelineOptions(values, values.quiet === true);
  const decode = decodeOptions(values);
  const draw = drawStyle(values);
  const video = videoSettings(values);
  const workers = workersOption(values);
  const boxThreshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  const format = outputFormat(out);
  const jsonl = format === "jsonl";
  const drawDir = values.draw as string | undefined;
  if (values.resume && !jsonl) throw new UsageError("--resume needs a .jsonl --out");
  let shard;
  try {
    shard = resolveShard({
      shard: values.shard as string | undefined,
      shards: numberOption(values.shards as string, "shards", (n) => Number.isInteger(n) && n > 0),
      env: Deno.env.toObject(),
    });
  } catch (error) {
    if (error instanceof ShardError) throw new UsageError(error.message);
    throw error;
  }
  // Before any work: a run that cannot write its output would be lost at the end.
  if (out !== undefined) await prepareOutputFile(out, "--out");
  if (drawDir !== undefined) await prepareOutputFolder(drawDir, "--draw");
  const explain = await explainSettings(values);

  const boxes = values.boxes
    ? parseDetectionBoxes(
      await readJsonFile(values.boxes as string),
      values.boxes as string,
      boxThreshold,
    )
    : undefined;

  const { files, errors } = await expandInputs(positionals);
  for (const e of errors) printErr(`posekit: ${e.path}: ${e.reason}\n`);
  // Ids are assigned over the sorted list (same-named files in two folders get the same ids
  // however the inputs were ordered), so shards never clash and merge like one run.
  const idOf = new Map(assignImageIds([...files].sort(comparePaths)).map((i) => [i.path, i]));
  let items: BatchItem[] = files.map((path) => idOf.get(path)!);
  if (shard) items = selectShard(items, shard.index, shard.count, (item) => item.path);
  const videos = items.filter((item) => isVideoInput(item.path)).length;
  if (!jsonl && videos > 0 && (videos > 1 || items.length > videos)) {
    throw new UsageError(
      "a .json (or stdout) output holds one video and nothing else, since frame numbers are " +
        "its image ids; write several videos, or videos and images, with --out FILE.jsonl",
    );
  }
  if (items.length === 0) {
    // Nothing to run: no models are loaded, and an existing --out is kept as it was (a
    // mistyped input must not replace earlier results with an empty list).
    if (out === undefined) await writeResults(undefined, []);
    else printErr(`posekit: no input could be read; --out ${out} was not written\n`);
    return 1;
  }
  const done = values.resume ? (await readJsonlProgress(out!)).done : undefined;

  // With --boxes the detector is never used, so it is not loaded.
  const loadOptions = {
    ...options,
    ...(boxes ? { detector: false as const } : {}),
    ...(explain ? { explain: true } : {}), // extra graph outputs only when explaining
  };
  let pipeline: Promise<PosePipeline> | undefined;
  const stills = items.length - videos;
  let pool: PosePool | undefined;
  let sink: RecordSink;
  let writer: JsonlWriter | undefined;
  const collector = jsonl ? undefined : new CocoCollector();
  try {
    const plan = await planWorkers(workers, loadOptions, stills);
    if (plan.workers > 1 && stills > 0 && !explain) {
      pool = await createPoolWithNotes(plan, loadOptions.threads, decode, quiet);
    }
    if (jsonl) {
      // Opened with the first record: a run that fails before it (a model that cannot load)
      // leaves an existing file as it was.
      let opening: Promise<JsonlWriter> | undefined;
      sink = {
        write: async (record) => {
          opening ??= JsonlWriter.open(out!, { append: values.resume === true });
          writer = await opening;
          await writer.write(record);
        },
      };
    } else sink = collector!;
    const batch = await processInputs(
      items,
      () => (pipeline ??= createPipelineWithProgress(loadOptions, quiet)),
      {
        sink,
        boxes,
        drawDir,
        draw,
        video,
        done,
        pool,
        decode,
        explain,
        progress: quiet ? false : undefined,
      },
    );
    await writer?.close();
    writer = undefined;
    if (collector) {
      if (out !== undefined && batch.images + batch.frames === 0) {
        // Every input failed: keep earlier results rather than replace them with nothing.
        printErr(`posekit: no image could be processed; --out ${out} was not written\n`);
      } else if (format === "csv") {
        await writeFileAtomic(out!, formatResultsCsv(collector.results));
      } else await writeResults(out, collector.results);
    }
    if (!quiet) printSummary(batch, errors.length, pipeline ? await pipeline : undefined, pool);
    const failed = batch.failures.length + errors.length + batch.drawFailures.length;
    return failed > 0 ? 1 : 0;
  } finally {
    await writer?.close();
    pool?.close();
    if (pipeline) await (await pipeline.catch(() => undefined))?.close();
  }
}
