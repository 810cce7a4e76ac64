/**
 * `deno run -A bench/workers_bench.ts [--limit 40] [--rounds 2] [--json] [DIR]`: side by side
 * in one run, on WASM with flip test, the images/s of
 *   (a) the pipeline in this process, 1 thread,
 *   (b) a pool of 1 worker × 2 threads (one process at its best today),
 *   (c) a pool of 2 workers × 1 thread,
 * and the ratios c/b and c/a (issue 9 targets c/b ≥ 1.3, c/a ≥ 1.8), plus ms per stage and
 * memory per worker. Every image is read and decoded inside the timed loop in all three (in
 * the workers for (b) and (c)). Rounds alternate a, b, c so that drifting machine load hits
 * all three alike; the figures reported are the medians over rounds.
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { join } from "node:path";
// Imported before any pipeline starts: see the note on `WebWorker` in lib/workers/pool.ts.
import { PosePool, type WorkerStats } from "../lib/workers/pool.ts";
import { decodeImage } from "../lib/image.ts";
import { type PipelineOptions, PosePipeline, type StageTimings } from "../lib/pipeline.ts";

const HELP = `Usage: deno run -A bench/workers_bench.ts [options] [DIR]
  DIR           images (default ../shared/coco/val2017), the first --limit by sorted name
  --limit N     images per configuration (default 40)
  --rounds N    rounds of (a), (b), (c) (default 2); medians are reported
  --warmup N    untimed images per worker before each timed run (default 3)
  --models DIR  model folder (default ../shared/models)
  --json        one JSON object instead of the table`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    limit: { type: "string", default: "40" },
    rounds: { type: "string", default: "2" },
    warmup: { type: "string", default: "3" },
    models: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

function positiveInt(text: string, name: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`workers_bench: --${name} must be a whole number ≥ ${min}, got ${text}`);
    Deno.exit(2);
  }
  return n;
}

const limit = positiveInt(values.limit, "limit");
const rounds = positiveInt(values.rounds, "rounds");
const warmup = positiveInt(values.warmup, "warmup", 0);
const sharedDir = new URL("../../shared/", import.meta.url).pathname;
const imageDir = positionals[0] ?? join(sharedDir, "coco", "val2017");
const modelDir = values.models ?? join(sharedDir, "models");

const files = [...Deno.readDirSync(imageDir)]
  .filter((e) => e.isFile && /\.(jpe?g|png)$/i.test(e.name))
  .map((e) => e.name)
  .sort()
  .slice(0, limit)
  .map((name) => join(imageDir, name));
if (files.length === 0) {
  console.error(`workers_bench: no images in ${imageDir}`);
  Deno.exit(1);
}

const pipelineOptions: Omit<PipelineOptions, "threads"> = {
  backend: "wasm",
  flip: true,
  modelDirs: [modelDir],
};

/** One timed run of one configuration. */
interface RunFigures {
  imagesPerSecond: number;
  people: number;
  /** CPU time of the whole process (all threads, user + system) per image, in ms. */
  cpuMsPerImage: number;
  /** CPU time over wall time: the cores this run actually got (2 at most here). */
  coresUsed: number;
  /**
   * Milliseconds per image and stage, summed over workers: time inside each stage, including
   * time a thread waited for a core, so on a loaded machine these grow with contention.
   */
  msPerImage: StageTimings & { decode: number };
  /** Per worker (one entry, the main process, for the in-process run), in MiB. */
  memory: { images: number; peakRssMiB: number; peakHeapAndExternalMiB: number }[];
}

const MiB = 1024 * 1024;

/** Starts a wall clock and a process CPU clock; the result reads both. */
function startClocks(): () => { wallMs: number; cpuMs: number } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

/** Stage sums divided by the image count, decode first. */
function perImage(timings: StageTimings, decodeMs: number, n: number): RunFigures["msPerImage"] {
  const out: Record<string, number> = { decode: decodeMs / n };
  for (const [stage, ms] of Object.entries(timings)) out[stage] = ms / n;
  return out as unknown as RunFigures["msPerImage"];
}

/** Zeroes a pipeline's stage sums (after the warm-up), whatever its stages. */
function resetTimings(timings: StageTimings): void {
  for (const key of Object.keys(timings) as (keyof StageTimings)[]) timings[key] = 0;
}

async function runInProcess(): Promise<RunFigures> {
  const pipeline = await PosePipeline.create({ ...pipelineOptions, threads: 1 });
  try {
    for (const path of files.slice(0, warmup)) {
      await pipeline.run(await decodeImage(await Deno.readFile(path), path));
    }
    resetTimings(pipeline.timings);
    let decodeMs = 0, people = 0, peakRss = 0, peakHeap = 0;
    const stop = startClocks();
    for (const path of files) {
      const bytes = await Deno.readFile(path);
      const t0 = performance.now();
      const image = await decodeImage(bytes, path);
      decodeMs += performance.now() - t0;
      people += (await pipeline.run(image)).length;
      const usage = Deno.memoryUsage();
      peakRss = Math.max(peakRss, usage.rss);
      peakHeap = Math.max(peakHeap, usage.heapTotal + usage.external);
    }
    const { wallMs, cpuMs } = stop();
    return {
      imagesPerSecond: files.length / (wallMs / 1000),
      people,
      cpuMsPerImage: cpuMs / files.length,
      coresUsed: cpuMs / wallMs,
      msPerImage: perImage(pipeline.timings, decodeMs, files.length),
      memory: [{
        images: files.length,
        peakRssMiB: peakRss / MiB,
        peakHeapAndExternalMiB: peakHeap / MiB,
      }],
    };
  } finally {
    await pipeline.close();
  }
}

async function runPool(workers: number, threadsPerWorker: number): Promise<RunFigures> {
  const pool = await PosePool.create({ workers, threadsPerWorker, pipeline: pipelineOptions });
  try {
    const warm = files.slice(0, warmup * workers).map((path) => ({ path }));
    for await (const _ of pool.process(warm)) { /* untimed */ }
    const before = pool.stats();
    let people = 0;
    const stop = startClocks();
    for await (const result of pool.process(files.map((path) => ({ path })))) {
      if (result.error) throw new Error(result.error);
      people += result.poses!.length;
    }
    const { wallMs, cpuMs } = stop();
    const after = pool.stats();
    const timed = after.map((s, i) => difference(s, before[i]));
    const timings = { ...timed[0].timings };
    resetTimings(timings);
    let decodeMs = 0;
    for (const s of timed) {
      decodeMs += s.decodeMs;
      for (const key of Object.keys(timings) as (keyof StageTimings)[]) {
        timings[key] += s.timings[key];
      }
    }
    return {
      imagesPerSecond: files.length / (wallMs / 1000),
      people,
      cpuMsPerImage: cpuMs / files.length,
      coresUsed: cpuMs / wallMs,
      msPerImage: perImage(timings, decodeMs, files.length),
      memory: after.map((s, i) => ({
        images: timed[i].images,
        peakRssMiB: s.peakRss / MiB,
        peakHeapAndExternalMiB: s.peakHeapAndExternal / MiB,
      })),
    };
  } finally {
    pool.close();
  }
}

/** The counts and times of the timed run alone (peaks are kept as they are). */
function difference(after: WorkerStats, before: WorkerStats): WorkerStats {
  const timings = { ...after.timings };
  for (const key of Object.keys(timings) as (keyof StageTimings)[]) {
    timings[key] -= before.timings[key];
  }
  return {
    ...after,
    images: after.images - before.images,
    decodeMs: after.decodeMs - before.decodeMs,
    timings,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const configs = {
  a: { label: "(a) in process, 1 thread", run: () => runInProcess() },
  b: { label: "(b) 1 worker × 2 threads", run: () => runPool(1, 2) },
  c: { label: "(c) 2 workers × 1 thread", run: () => runPool(2, 1) },
} as const;
type ConfigKey = keyof typeof configs;

const loadBefore = Deno.loadavg();
const runs: Record<ConfigKey, RunFigures[]> = { a: [], b: [], c: [] };
for (let round = 0; round < rounds; round++) {
  for (const key of Object.keys(configs) as ConfigKey[]) {
    const figures = await configs[key].run();
    runs[key].push(figures);
    if (!values.json) {
      console.error(
        `round ${round + 1}: ${configs[key].label}: ${
          figures.imagesPerSecond.toFixed(2)
        } images/s, ` +
          `${figures.coresUsed.toFixed(2)} cores, ${
            figures.cpuMsPerImage.toFixed(0)
          } CPU ms/image, ` +
          `load ${Deno.loadavg()[0].toFixed(1)}`,
      );
    }
  }
}
const loadAfter = Deno.loadavg();

const speed = (key: ConfigKey) => median(runs[key].map((r) => r.imagesPerSecond));
const report = {
  images: files.length,
  rounds,
  backend: "wasm",
  flip: true,
  cpus: navigator.hardwareConcurrency,
  loadAverage1m: { before: loadBefore[0], after: loadAfter[0] },
  imagesPerSecond: { a: speed("a"), b: speed("b"), c: speed("c") },
  perRound: Object.fromEntries(
    (Object.keys(configs) as ConfigKey[]).map((k) => [k, runs[k].map((r) => r.imagesPerSecond)]),
  ),
  ratios: { cOverB: speed("c") / speed("b"), cOverA: speed("c") / speed("a") },
  targets: { cOverB: 1.3, cOverA: 1.8 },
  people: runs.a[0].people,
  cpuMsPerImage: Object.fromEntries(
    (Object.keys(configs) as ConfigKey[]).map((
      k,
    ) => [k, median(runs[k].map((r) => r.cpuMsPerImage))]),
  ),
  coresUsed: Object.fromEntries(
    (Object.keys(configs) as ConfigKey[]).map((k) => [k, median(runs[k].map((r) => r.coresUsed))]),
  ),
  msPerImage: Object.fromEntries(
    (Object.keys(configs) as ConfigKey[]).map((k) => [k, runs[k][runs[k].length - 1].msPerImage]),
  ),
  memory: Object.fromEntries(
    (Object.keys(configs) as ConfigKey[]).map((k) => [k, runs[k][runs[k].length - 1].memory]),
  ),
};

if (values.json) {
  console.log(JSON.stringify(report));
} else {
  const f = (x: number, d = 2) => x.toFixed(d);
  console.log(
    `${files.length} images, ${report.people} people, WASM, flip test on, ` +
      `${report.cpus} CPUs, load average ${f(loadBefore[0])} → ${f(loadAfter[0])}; ` +
      `medians of ${rounds} round(s)`,
  );
  console.log("");
  const stages = Object.keys(report.msPerImage.a);
  console.log(
    `${"configuration".padEnd(26)} ${"images/s".padStart(8)}   ${
      "per round".padEnd(16)
    } ms/image: ${stages.map((name) => name.padStart(9)).join(" ")}`,
  );
  for (const key of Object.keys(configs) as ConfigKey[]) {
    const ms = report.msPerImage[key] as unknown as Record<string, number>;
    console.log(
      `${configs[key].label.padEnd(26)} ${f(speed(key)).padStart(8)}   ${
        runs[key].map((r) => f(r.imagesPerSecond)).join(" ").padEnd(16)
      }           ${stages.map((name) => f(ms[name] ?? 0, 1).padStart(9)).join(" ")}`,
    );
  }
  console.log("");
  console.log("configuration              CPU ms/image  cores used (CPU time / wall time)");
  for (const key of Object.keys(configs) as ConfigKey[]) {
    console.log(
      `${configs[key].label.padEnd(26)} ${f(report.cpuMsPerImage[key], 0).padStart(12)}  ${
        f(report.coresUsed[key])
      }`,
    );
  }
  console.log("");
  console.log(
    `c/b = ${f(report.ratios.cOverB)} (target ≥ 1.3)   c/a = ${
      f(report.ratios.cOverA)
    } (target ≥ 1.8)`,
  );
  console.log("");
  console.log("memory (last round)        worker  images  peak rss MiB  peak heap+external MiB");
  for (const key of Object.keys(configs) as ConfigKey[]) {
    report.memory[key].forEach((m, i) => {
      console.log(
        `${(i === 0 ? configs[key].label : "").padEnd(26)} ${String(i).padStart(6)} ${
          String(m.images).padStart(7)
        } ${f(m.peakRssMiB, 0).padStart(13)} ${f(m.peakHeapAndExternalMiB, 0).padStart(23)}`,
      );
    });
  }
  console.log(
    "(workers are threads of one process: rss is the whole process's; heap+external is the " +
      "worker's own)",
  );
}
