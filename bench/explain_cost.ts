/**
 * What `--explain` costs when it is not asked for: nothing, measured.
 *
 * `deno run -A bench/explain_cost.ts [--base DIR] [--rounds N] [--runs N]`
 *
 * 1. Session outputs: each model loaded plainly has exactly its own graph outputs; loaded with
 *    `explain` the TransPose-shaped test model gains one (its attention), PP-TinyPose none.
 * 2. Timing: the keypoint stage (PP-TinyPose 256×192, flip test, the people of a COCO image
 *    with several) through this checkout's pipeline and, with `--base DIR` (a checkout of the
 *    commit before explanations, e.g. `git archive <commit> lib | tar -x -C DIR`), through that
 *    one's, on one runtime, alternating in rounds; it prints the median milliseconds per image
 *    of each and their ratio, plus `explain()` for scale and the base again as a control (the
 *    noise floor). Without `--base` it compares `run()`
 *    on a model loaded plainly and one loaded with `explain` (the same graph for PP-TinyPose).
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { decodeImage } from "../lib/deno/image_file.ts";
import { Runtime } from "../lib/deno/runtime.ts";
import { loadModelFrom } from "../lib/models/load.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { PosePipeline } from "../lib/pipeline.ts";
import type { Box, Pose, RgbImage } from "../lib/types.ts";
import { buildTransPoseModel } from "../tests/support/synthetic_models.ts";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "30" },
    runs: { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
  },
});
const SHARED = new URL("../../shared/", import.meta.url).pathname;
const rounds = Number(values.rounds), runs = Number(values.runs);
const runtime = await Runtime.start({ backend: "wasm", threads: Number(values.threads) });

async function manifestOf(name: string): Promise<ModelManifest> {
  return JSON.parse(
    await Deno.readTextFile(new URL(`../models/${name}.json`, import.meta.url)),
  ) as ModelManifest;
}

// 1. Session outputs.
const tinyPath = `${SHARED}models/pp_tinypose_256x192.onnx`;
const tiny = { bytes: await Deno.readFile(tinyPath), path: tinyPath };
const tinyManifest = await manifestOf("pp_tinypose_256x192");
const transpose = buildTransPoseModel();
for (
  const [label, source] of [
    ["pp_tinypose_256x192", { ...tiny, manifest: tinyManifest }],
    ["synthetic TransPose", { ...transpose, path: transpose.manifest.file }],
  ] as const
) {
  for (const explain of [false, true]) {
    const model = await loadModelFrom(source, runtime, { explain });
    console.log(
      `${label}, explain ${explain}: outputs ${
        model.session.outputs.map((o) => o.name).join(", ")
      }`,
    );
    await model.session.release();
  }
}

// 2. Timing.
const file = `${SHARED}coco/val2017/000000196141.jpg`;
const image = await decodeImage(await Deno.readFile(file), file);
const detector = await loadModelFrom(
  {
    bytes: await Deno.readFile(`${SHARED}models/rtmdet_nano_person.onnx`),
    path: "rtmdet_nano_person.onnx",
    manifest: await manifestOf("rtmdet_nano_person"),
  },
  runtime,
);
const boxes: Box[] = await PosePipeline.fromModels({
  runtime,
  pose: await loadModelFrom({ ...tiny, manifest: tinyManifest }, runtime),
  detector,
}).detect(image);
console.log(`${file}: ${boxes.length} people`);

interface Runner {
  label: string;
  run(image: RgbImage, boxes: Box[]): Promise<unknown>;
}
const runners: Runner[] = [];
const plain = PosePipeline.fromModels({
  runtime,
  pose: await loadModelFrom({ ...tiny, manifest: tinyManifest }, runtime),
});
if (values.base) {
  const base = await import(`${values.base}/lib/pipeline.ts`);
  const baseLoad = await import(`${values.base}/lib/models/load.ts`);
  const basePipeline = base.PosePipeline.fromModels({
    runtime,
    pose: await baseLoad.loadModelFrom({ ...tiny, manifest: tinyManifest }, runtime),
  });
  runners.push({ label: "base run()", run: (i, b) => basePipeline.run(i, b) });
  // A control: the same pipeline again, so that its ratio shows the noise floor.
  runners.push({ label: "base run() again", run: (i, b) => basePipeline.run(i, b) });
}
runners.push({ label: "this run()", run: (i, b) => plain.run(i, b) });
if (!values.base) {
  const loaded = PosePipeline.fromModels({
    runtime,
    pose: await loadModelFrom({ ...tiny, manifest: tinyManifest }, runtime, { explain: true }),
  });
  runners.push({ label: "explain-loaded run()", run: (i, b) => loaded.run(i, b) });
}
runners.push({ label: "this explain()", run: (i, b) => plain.explain(i, b) });

for (const runner of runners) await runner.run(image, boxes); // warm-up
// Wall time, and this process's CPU time: with one onnxruntime thread the work runs on this
// thread, so CPU time leaves out the waits a busy shared machine adds to wall time.
const times = new Map(runners.map((r) => [r.label, { wall: [] as number[], cpu: [] as number[] }]));
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
for (let round = 0; round < rounds; round++) {
  for (const runner of runners) {
    const start = performance.now(), cpuStart = cpuMs();
    for (let i = 0; i < runs; i++) await runner.run(image, boxes);
    const entry = times.get(runner.label)!;
    entry.wall.push((performance.now() - start) / runs);
    entry.cpu.push((cpuMs() - cpuStart) / runs);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Paired by round: each round's ratio to the first runner's time in that round, so that the
// machine's drift (other processes) cancels out; the median of those ratios.
const reference = times.get(runners[0].label)!;
for (const kind of ["cpu", "wall"] as const) {
  for (const runner of runners) {
    const ms = times.get(runner.label)![kind];
    const ratios = ms.map((t, i) => t / reference[kind][i]);
    const sorted = [...ratios].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    console.log(
      `${kind} ${runner.label.padEnd(22)} median ${median(ms).toFixed(1)} ms/image, ratio to ` +
        `${runners[0].label}: median ${median(ratios).toFixed(3)} ` +
        `(quartiles ${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)}, ${rounds} rounds of ${runs})`,
    );
  }
}
const poses = (await plain.run(image, boxes)) as Pose[];
console.log(`${poses.length} poses`);
