/** `posekit predict`: poses for images and videos, written as COCO results or JSON Lines. */

import { resolve } from "node:path";
import { parseDetectionBoxes } from "../lib/coco/boxes.ts";
import { assignImageIds } from "../lib/coco/results.ts";
import { writeFileAtomic, writeResults } from "../lib/deno/files.ts";
import { formatResultsCsv } from "../lib/output/csv.ts";
import { expandInputs, isVideoInput } from "../lib/deno/inputs.ts";
import { JsonlExistsError, JsonlOutput, JsonlSettingsError } from "../lib/deno/jsonl_file.ts";
import { type JsonlHeader, recordKey } from "../lib/output/jsonl.ts";
import { DEFAULT_DETECTOR, DEFAULT_POSE } from "../lib/pipeline.ts";
import { ONE_EURO_DEFAULTS, type OneEuroOptions } from "../lib/track/one_euro.ts";
import { DEFAULT_WEAK_BOX_SCORE } from "../lib/video_poses.ts";
import {
  comparePaths,
  resolveShard,
  selectShard,
  type Shard,
  ShardError,
} from "../lib/output/shard.ts";
import type { PipelineOptions, PosePipeline } from "../lib/deno/pipeline.ts";
import type { PosePool } from "../lib/deno/workers/pool.ts";
import {
  commandName,
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
import { threadsPerWorker } from "../lib/deno/cpu_allocation.ts";
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
  --overwrite           with a .jsonl --out: start it afresh (a .jsonl that is not empty
                        needs --resume or --overwrite, so finished work is never lost)
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

Exit codes: 0 every input done; 1 some input failed (the others' results are written);
2 usage error; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
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
    overwrite: { type: "boolean" },
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
  if (video.live && values.draw !== undefined) {
    throw new UsageError("--live has no fixed frame rate to draw a video at: leave out --draw");
  }
  if (video.live && (video.every ?? 1) > 1) {
    throw new UsageError("--live takes the newest frame each time: leave out --every");
  }
  const workers = workersOption(values);
  const boxThreshold = numberOption(values["box-thr"] as string, "box-thr") ?? 0;
  const quiet = values.quiet === true;
  const out = values.out as string | undefined;
  const format = outputFormat(out);
  const jsonl = format === "jsonl";
  const drawDir = values.draw as string | undefined;
  if (values.resume && !jsonl) throw new UsageError("--resume needs a .jsonl --out");
  if (values.resume && values.overwrite) {
    throw new UsageError("--resume and --overwrite exclude each other: keep the results or not");
  }
  let shard: Shard | undefined;
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
  if (
    out !== undefined && values.boxes !== undefined &&
    resolve(out) === resolve(values.boxes as string)
  ) {
    throw new UsageError(`--out ${out} is the --boxes file: choose another --out`);
  }
  if (out !== undefined) await prepareOutputFile(out, "--out");
  if (drawDir !== undefined) await prepareOutputFolder(drawDir, "--draw");
  const explain = await explainSettings(values);
  // A .jsonl output is checked (and with --resume read) now, before any model is loaded.
  let output: JsonlOutput | undefined;
  if (jsonl) {
    const header = await jsonlHeader(values, options, video);
    try {
      output = await JsonlOutput.open(out!, {
        resume: values.resume === true,
        overwrite: values.overwrite === true,
        header,
      });
    } catch (error) {
      if (error instanceof JsonlExistsError) {
        throw new UsageError(
          `--out ${out} already holds results: add --resume to carry on where it stopped, ` +
            `or --overwrite to start it again`,
        );
      }
      if (error instanceof JsonlSettingsError) {
        throw new UsageError(
          `cannot --resume ${out}: ${error.message}; rerun with the options it was made with, ` +
            `or choose another --out`,
        );
      }
      throw error;
    }
  }
  try {
    return await run(output);
  } finally {
    await output?.close();
  }

  async function run(output: JsonlOutput | undefined): Promise<number> {
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
    // A resumed file's images keep the ids they were written with, and the new ones get others
    // (a second x.jpg, from another folder, added to the inputs).
    const reserved = new Map<string, number>();
    for (const path of files) {
      const id = output?.progress.imageIds.get(recordKey({ file: path }, Deno.cwd()));
      if (id !== undefined) reserved.set(path, id);
    }
    const idOf = new Map(
      assignImageIds([...files].sort(comparePaths), reserved).map((i) => [i.path, i]),
    );
    let items: BatchItem[] = files.map((path) => idOf.get(path)!);
    if (shard) items = selectShard(items, shard.index, shard.count, (item) => item.path);
    const videos = items.filter((item) => isVideoInput(item.path)).length;
    if (!jsonl && videos > 0 && (videos > 1 || items.length > videos)) {
      throw new UsageError(
        "a .json (or stdout) output holds one video and nothing else, since frame numbers are " +
          "its image ids; write several videos, or videos and images, with --out FILE.jsonl",
      );
    }
    if (items.length === 0 && shard && files.length > 0) {
      // More shards than inputs: this one's share is empty. That is a finished task, not a
      // failure (a job array would mark it failed and retry it forever): it writes an empty
      // part, so that every index has its file and merge finds nothing missing.
      if (output) await output.begin();
      else if (format === "csv") await writeFileAtomic(out!, formatResultsCsv([]));
      else await writeResults(out, []);
      if (!quiet) {
        printErr(
          `posekit: shard ${shard.index}/${shard.count} holds none of the ${files.length} ` +
            `input${files.length === 1 ? "" : "s"}; ${out ?? "stdout"} holds no results\n`,
        );
      }
      return errors.length > 0 ? 1 : 0;
    }
    if (items.length === 0) {
      // Nothing to run: no models are loaded, and an existing --out is kept as it was (a
      // mistyped input must not replace earlier results with an empty list).
      if (out === undefined) await writeResults(undefined, []);
      else printErr(`posekit: no input could be read; --out ${out} was not written\n`);
      return 1;
    }
    const done = values.resume ? output!.done : undefined;

    // With --boxes the detector is never used, so it is not loaded.
    const loadOptions = {
      ...options,
      ...(boxes ? { detector: false as const } : {}),
      ...(explain ? { explain: true } : {}), // extra graph outputs only when explaining
    };
    let pipeline: Promise<PosePipeline> | undefined;
    const stills = items.length - videos;
    let pool: PosePool | undefined;
    const collector = output ? undefined : new CocoCollector();
    let written = 0;
    const sink: RecordSink = {
      write: async (record) => {
        await (output ?? collector!).write(record);
        written++;
      },
    };
    // Ctrl-C: say what is kept and how to carry on, rather than vanish silently.
    const onInterrupt = () => {
      // What the file holds: a resumed run's earlier records too.
      const held = (output?.progress.records ?? 0) + written;
      printErr(`\n${interruptedMessage(args, out, jsonl, held)}\n`);
      Deno.exit(130);
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      const plan = await planWorkers(workers, loadOptions, stills);
      if (plan.workers > 1 && stills > 0 && !explain) {
        // Threads share out the cores the scheduler granted, not the node's (see planWorkers).
        const threads = loadOptions.threads ?? threadsPerWorker(plan.workers);
        pool = await createPoolWithNotes(plan, threads, decode, quiet);
      }
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
          keyBase: Deno.cwd(),
          pool,
          decode,
          explain,
          progress: quiet ? false : undefined,
        },
      );
      // Closed here, not only in finally: a failed final sync is this run's failure.
      await output?.close();
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
      Deno.removeSignalListener("SIGINT", onInterrupt);
      // The process exits next: workers release their sessions and stay idle rather than
      // tear down while it exits (see `PoolCloseOptions.terminate`).
      await pool?.close({ terminate: false });
      if (pipeline) await (await pipeline.catch(() => undefined))?.close();
    }
  }
}

/**
 * What an interrupted run kept: with a `.jsonl` output, every image or frame done so far and
 * the command that carries on; otherwise nothing, since `.json` and `.csv` are written whole
 * at the end.
 */
export function interruptedMessage(
  args: readonly string[],
  out: string | undefined,
  jsonl: boolean,
  written: number,
): string {
  if (jsonl) {
    const again = [
      ...args.filter((a) => a !== "--overwrite"),
      ...(args.includes("--resume") ? [] : ["--resume"]),
    ];
    return `posekit: interrupted: ${written} image${written === 1 ? "" : "s"}/frames are in ` +
      `${out}; carry on with: ${commandName("predict")} ${again.map(shellWord).join(" ")}`;
  }
  return `posekit: interrupted: nothing was written (${out ?? "stdout"} is written at the end); ` +
    `--out FILE.jsonl keeps each image as it finishes, and --resume carries on from it`;
}

/**
 * The header of a `.jsonl` output (see `JsonlHeader`): the models and every option that shapes
 * the results, with defaults filled in so that an option given at its default value matches
 * one left out. Model files and the boxes file are named by their absolute paths, catalog
 * models by name. Options that only change speed (workers, threads, backend) or what is
 * refused (--max-pixels) are left out: resuming on another machine with another backend is
 * the same job.
 */
async function jsonlHeader(
  values: Record<string, string | boolean | string[] | undefined>,
  options: PipelineOptions,
  video: ReturnType<typeof videoSettings>,
): Promise<JsonlHeader> {
  const boxes = values.boxes as string | undefined;
  const smooth = video.smooth === false
    ? false
    : { ...ONE_EURO_DEFAULTS, ...(video.smooth as Partial<OneEuroOptions>) };
  return {
    version: VERSION,
    cwd: Deno.cwd(),
    // With --boxes the detector is never run.
    detector: boxes === undefined
      ? await modelIdentity(options.detector || undefined, DEFAULT_DETECTOR)
      : null,
    pose: await modelIdentity(options.pose, DEFAULT_POSE),
    boxes: boxes === undefined ? null : resolve(boxes),
    box_thr: boxes === undefined ? null : numberOption(values["box-thr"] as string, "box-thr") ?? 0,
    det_thr: numberOption(values["det-thr"] as string, "det-thr") ?? 0.3,
    max_people: numberOption(values["max-people"] as string, "max-people") ?? 20,
    min_score: options.minScore ?? 0,
    flip: !values["no-flip"],
    dark: values.dark === true,
    every: video.every ?? 1,
    track: video.track,
    det_every: video.detectEvery ?? 1,
    // Tracking poses weak boxes near tracks too (framePoses): results differ from a run
    // without, so a header from before it does not match.
    weak_box_thr: video.track ? DEFAULT_WEAK_BOX_SCORE : null,
    smooth: smooth === false ? false : {
      min_cutoff: smooth.minCutoff,
      beta: smooth.beta,
      d_cutoff: smooth.dCutoff,
    },
  };
}

/**
 * A model as the header names it: a catalog name as given, a file (an `.onnx` or manifest
 * `.json` path that exists, or any path with a folder in it) by its absolute path, so that
 * `./m.onnx` and `/abs/m.onnx` are one model.
 */
async function modelIdentity(spec: string | undefined, fallback: string): Promise<string> {
  if (spec === undefined) return fallback;
  const isPath = /[\\/]/.test(spec) ||
    (/\.(onnx|json)$/i.test(spec) && await Deno.stat(spec).then((s) => s.isFile, () => false));
  return isPath ? resolve(spec) : spec;
}

/** `word` as a shell reads it back: as it is when plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
