/**
 * `deno task bench [options] [DIR]`: runs the pipeline over a folder of images and prints
 * images/s and the time spent per stage (decode, detect, crop, keypoint inference,
 * decode + post) as a table, or one JSON object with --json.
 */

import {
  numberOption,
  parseCommandLine,
  PIPELINE_HELP,
  PIPELINE_OPTIONS,
  pipelineOptions,
} from "../cli/args.ts";
import { backendLabel } from "../cli/common.ts";
import { printErr } from "../cli/progress.ts";
import { decodeImage } from "../lib/image.ts";
import { expandInputs } from "../lib/inputs.ts";
import { PosePipeline } from "../lib/pipeline.ts";
import type { RgbImage } from "../lib/types.ts";

const HELP =
  `Usage: deno task bench [options] [DIR|images...]   (default DIR: ../shared/coco/val2017)

  --limit N     use the first N images (default: all)
  --warmup N    untimed runs first (default 3)
  --json        print one JSON object instead of the table

${PIPELINE_HELP}`;

const { values, positionals } = parseCommandLine(Deno.args, {
  ...PIPELINE_OPTIONS,
  limit: { type: "string" },
  warmup: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (values.boxes !== undefined) {
  printErr("bench: --boxes is not supported (the bench times the detector too)\n");
  Deno.exit(2);
}
const inputs = positionals.length
  ? positionals
  : [new URL("../../shared/coco/val2017", import.meta.url).pathname];
const limit = numberOption(values.limit as string, "limit", (n) => Number.isInteger(n) && n > 0);
const warmup =
  numberOption(values.warmup as string, "warmup", (n) => Number.isInteger(n) && n >= 0) ?? 3;

const { files, errors } = await expandInputs(inputs);
for (const e of errors) printErr(`bench: ${e.path}: ${e.reason}\n`);
const selected = files.slice(0, limit ?? files.length);
if (selected.length === 0) {
  printErr("bench: no images\n");
  Deno.exit(1);
}

const pipeline = await PosePipeline.create(pipelineOptions(values));
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
  backend: backendLabel(),
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
