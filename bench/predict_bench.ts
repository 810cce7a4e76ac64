/**
 * `deno task bench [options] [DIR]`: runs the pipeline over a folder of images and prints
 * images/s and the time spent per stage (decode, detect, crop, keypoint inference,
 * decode + post) as a table, or one JSON object with --json.
 */

import { existsSync } from "node:fs";
import {
  COMMON_OPTIONS,
  numberOption,
  optionHelp,
  parseCommandLine,
  PIPELINE_OPTIONS,
  pipelineHelp,
  pipelineOptions,
  UsageError,
  VERSION,
} from "../cli/args.ts";
import { backendLabel, runCommand } from "../cli/common.ts";
import { printErr } from "../cli/progress.ts";
import { decodeImage } from "../lib/image.ts";
import { expandInputs } from "../lib/inputs.ts";
import { PosePipeline } from "../lib/pipeline.ts";
import type { RgbImage } from "../lib/types.ts";

const SHARED_IMAGES = new URL("../../shared/coco/val2017", import.meta.url).pathname;
const SHARED_MODELS = new URL("../../shared/models", import.meta.url).pathname;

const HELP =
  `Usage: deno task bench [options] [DIR|images...]   (default DIR: ../shared/coco/val2017)

  --limit N     use the first N images (default: all)
  --warmup N    untimed runs first (default 3)
  --json        print one JSON object instead of the table
${optionHelp(["help", "version"])}

${pipelineHelp(["boxes", "box-thr"])}
                        (bench: --models defaults to ../shared/models when it exists)`;

Deno.exit(await runCommand("bench", () => bench(Deno.args)));

async function bench(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...PIPELINE_OPTIONS,
    ...COMMON_OPTIONS,
    limit: { type: "string" },
    warmup: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.version) {
    console.log(`posekit ${VERSION}`);
    return 0;
  }
  for (const name of ["boxes", "box-thr"]) {
    if (values[name] !== undefined) {
      throw new UsageError(`bench does not take --${name} (it times the detector too)`);
    }
  }
  const inputs = positionals.length ? positionals : [SHARED_IMAGES];
  const limit = numberOption(values.limit as string, "limit", (n) => Number.isInteger(n) && n > 0);
  const warmup =
    numberOption(values.warmup as string, "warmup", (n) => Number.isInteger(n) && n >= 0) ?? 3;
  // As the images default to ../shared, so do the models (README: `deno task bench`).
  if (values.models === undefined && existsSync(SHARED_MODELS)) values.models = [SHARED_MODELS];
  const options = pipelineOptions(values);

  const { files, errors } = await expandInputs(inputs);
  for (const e of errors) printErr(`posekit: ${e.path}: ${e.reason}\n`);
  const selected = files.slice(0, limit ?? files.length);
  if (selected.length === 0) throw new Error("no images to run the bench on");

  return await run(options, selected, warmup, values);
}

async function run(
  options: ReturnType<typeof pipelineOptions>,
  selected: string[],
  warmup: number,
  values: Record<string, string | boolean | string[] | undefined>,
): Promise<number> {
  const pipeline = await PosePipeline.create(options);
  // Read the files up front so disk time stays out of the figures; decoding is timed.
  const bytes = await Promise.all(selected.map((f) => Deno.readFile(f)));
  for (let i = 0; i < Math.min(warmup, bytes.length); i++) {
    await pipeline.run(await decodeImage(bytes[i], selected[i]));
  }
  Object.assign(pipeline.timings, { detect: 0, crop: 0, keypoints: 0, post: 0 });

  let decodeMs = 0, people = 0;
  const start = performance.now();
  for (let i = 0; i < bytes.length; i++) {
    const t0 = performance.now();
    const image: RgbImage = await decodeImage(bytes[i], selected[i]);
    decodeMs += performance.now() - t0;
    people += (await pipeline.run(image)).length;
  }
  const wallMs = performance.now() - start;
  await pipeline.close();

  const n = bytes.length;
  const stages = {
    decode: decodeMs / n,
    detect: pipeline.timings.detect / n,
    crop: pipeline.timings.crop / n,
    keypoints: pipeline.timings.keypoints / n,
    post: pipeline.timings.post / n,
  };
  const report = {
    images: n,
    people,
    imagesPerSecond: n / (wallMs / 1000),
    msPerImage: stages,
    backend: backendLabel(pipeline.runtimeInfo),
    detector: pipeline.detector?.manifest.name,
    pose: pipeline.pose.manifest.name,
    flip: !values["no-flip"],
  };
  if (values.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(
      `${n} images, ${people} people, ${
        report.imagesPerSecond.toFixed(2)
      } images/s on ${report.backend}`,
    );
    console.log(
      `models: ${report.detector ?? "-"} + ${report.pose}, flip test ${report.flip ? "on" : "off"}`,
    );
    console.log("");
    console.log("stage                  ms/image");
    const names: Record<keyof typeof stages, string> = {
      decode: "decode image",
      detect: "detect people",
      crop: "crop",
      keypoints: "keypoint inference",
      post: "decode + post",
    };
    let total = 0;
    for (const [key, ms] of Object.entries(stages)) {
      total += ms;
      console.log(`${names[key as keyof typeof stages].padEnd(22)} ${ms.toFixed(2).padStart(8)}`);
    }
    console.log(`${"total".padEnd(22)} ${total.toFixed(2).padStart(8)}`);
  }
  return 0;
}
