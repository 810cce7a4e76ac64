/**
 * `deno run -A bench/throughput_compare.ts [--limit 40] [--rounds 5] [--warmup 6] [--only wasm] [--json] [DIR]`
 *
 * Issue 9's throughput ratios, side by side in one run on the same images (flip test on):
 * WASM and native, each as 1 worker × 1 thread, 1 × 2 and 2 × 1 (workers × threads), and WASM
 * with 2 threads in the bench's own process, no worker (how posekit ran before). Every
 * configuration is one `bench/predict_bench.ts --json --workers W --threads T` run in its own
 * child process (onnxruntime-web fixes its WASM thread count once per process), and a round
 * runs all seven one after the other, so that drifting load on a shared machine hits them
 * alike. Prints images/s per round and their median, the ratios (per round, their median, and
 * the ratio of the medians) against the issue's targets (held to the median of the per-round
 * ratios), the pipeline's overhead share and where it goes, and
 * memory per worker.
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { BenchReport } from "./predict_bench.ts";

const HELP = `Usage: deno run -A bench/throughput_compare.ts [options] [DIR]
  DIR           images (default ../shared/coco/val2017), the first --limit by sorted name
  --limit N     images per configuration (default 40)
  --rounds N    rounds of the configurations (default 5); medians are reported
  --warmup N    untimed images per worker before each timed run (default 6: V8 goes on
                optimizing onnxruntime's WebAssembly in background threads over the first
                images, which a second busy worker would pay for)
  --only KIND   only the "wasm" or the "native" configurations (more rounds in the same time)
  --json        one JSON object instead of the tables`;

/** One configuration: backend, workers (0: in the process itself), threads per worker. */
interface Config {
  key: string;
  backend: "wasm" | "native";
  workers: number;
  threads: number;
}

const CONFIGS: readonly Config[] = [
  { key: "wasm 1×1", backend: "wasm", workers: 1, threads: 1 },
  { key: "wasm 1×2", backend: "wasm", workers: 1, threads: 2 },
  { key: "wasm 2×1", backend: "wasm", workers: 2, threads: 1 },
  { key: "native 1×1", backend: "native", workers: 1, threads: 1 },
  { key: "native 1×2", backend: "native", workers: 1, threads: 2 },
  { key: "native 2×1", backend: "native", workers: 2, threads: 1 },
  // The pipeline in the bench's own process, no worker: how posekit ran before --workers.
  { key: "wasm proc×2", backend: "wasm", workers: 0, threads: 2 },
];

/** A ratio of two configurations' images/s, with the issue's target when it sets one. */
interface RatioSpec {
  name: string;
  over: string;
  under: string;
  target?: { atLeast: number };
}

const RATIOS: readonly RatioSpec[] = [
  { name: "WASM 2×1 / 1×2", over: "wasm 2×1", under: "wasm 1×2", target: { atLeast: 1.3 } },
  { name: "WASM 2×1 / 1×1", over: "wasm 2×1", under: "wasm 1×1", target: { atLeast: 1.8 } },
  {
    name: "native / WASM, 1 worker × 1 thread",
    over: "native 1×1",
    under: "wasm 1×1",
    target: { atLeast: 3 },
  },
  {
    name: "native / WASM, 1 worker × 2 threads",
    over: "native 1×2",
    under: "wasm 1×2",
    target: { atLeast: 3 },
  },
  { name: "native / WASM, 2 workers × 1 thread", over: "native 2×1", under: "wasm 2×1" },
  { name: "native 2×1 / 1×2", over: "native 2×1", under: "native 1×2" },
  { name: "WASM 2×1 / in process × 2 threads", over: "wasm 2×1", under: "wasm proc×2" },
  { name: "WASM 1×2 / in process × 2 threads", over: "wasm 1×2", under: "wasm proc×2" },
];

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    limit: { type: "string", default: "40" },
    rounds: { type: "string", default: "5" },
    warmup: { type: "string", default: "6" },
    only: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
for (const name of ["limit", "rounds", "warmup"] as const) {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < (name === "warmup" ? 0 : 1)) {
    console.error(`throughput_compare: invalid value for --${name}: "${values[name]}"`);
    Deno.exit(2);
  }
}
const rounds = Number(values.rounds);
if (values.only !== undefined && values.only !== "wasm" && values.only !== "native") {
  console.error(`throughput_compare: --only takes "wasm" or "native", not "${values.only}"`);
  Deno.exit(2);
}
const configs = CONFIGS.filter((c) => values.only === undefined || c.backend === values.only);
const measured = new Set(configs.map((c) => c.key));
const ratioSpecs = RATIOS.filter((r) => measured.has(r.over) && measured.has(r.under));

const BENCH = new URL("./predict_bench.ts", import.meta.url).pathname;
const CONFIG_FILE = new URL("../deno.json", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
/**
 * The permissions of `deno task bench` (deno.json), so that each configuration runs as the
 * task does (FFI for onnxruntime-node and the native JPEG decoder among them); its relative
 * paths are the project root's.
 */
const BENCH_PERMISSIONS = (JSON.parse(Deno.readTextFileSync(CONFIG_FILE)).tasks.bench as string)
  .split(/\s+/).filter((token) => token.startsWith("--allow-"));

/** One configuration's bench report, from its own child process. */
async function runConfig(config: Config): Promise<BenchReport> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      CONFIG_FILE,
      ...BENCH_PERMISSIONS,
      BENCH,
      "--json",
      "--backend",
      config.backend,
      ...(config.workers ? ["--workers", String(config.workers)] : []),
      "--threads",
      String(config.threads),
      "--limit",
      values.limit,
      "--warmup",
      values.warmup,
      ...positionals.map((path) => resolve(path)),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`${config.key} failed:\n${decoder.decode(output.stderr)}`);
  }
  return JSON.parse(decoder.decode(output.stdout));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const runs: Record<string, BenchReport[]> = Object.fromEntries(configs.map((c) => [c.key, []]));
for (let round = 0; round < rounds; round++) {
  for (const config of configs) {
    const report = await runConfig(config);
    runs[config.key].push(report);
    if (!values.json) {
      console.error(
        `round ${round + 1}: ${config.key.padEnd(10)} ${report.imagesPerSecond.toFixed(2)} ` +
          `images/s, ${report.coresUsed.toFixed(2)} cores, load ${
            report.loadAverage1m.after?.toFixed(1) ?? "?"
          }`,
      );
    }
  }
}

const speed = (key: string) => median(runs[key].map((r) => r.imagesPerSecond));
const ratios = ratioSpecs.map((spec) => {
  const perRound = runs[spec.over].map((r, i) =>
    r.imagesPerSecond / runs[spec.under][i].imagesPerSecond
  );
  const ofMedians = speed(spec.over) / speed(spec.under);
  // The configurations of one round ran within a minute of each other, so their ratio is
  // spared the machine's slower drift; its median over rounds is what targets are held to.
  const medianPerRound = median(perRound);
  return {
    ...spec,
    perRound,
    ofMedians,
    medianPerRound,
    met: spec.target ? medianPerRound >= spec.target.atLeast : undefined,
  };
});
const last = (key: string) => runs[key][runs[key].length - 1];
const report = {
  images: last(configs[0].key).images,
  people: last(configs[0].key).people,
  flip: last(configs[0].key).flip,
  rounds,
  warmupPerWorker: Number(values.warmup),
  cpus: navigator.hardwareConcurrency,
  configs: Object.fromEntries(configs.map((c) => [c.key, {
    imagesPerSecond: speed(c.key),
    perRound: runs[c.key].map((r) => r.imagesPerSecond),
    overheadShare: median(runs[c.key].map((r) => r.overheadShare)),
    modelOnlyImagesPerSecond: median(runs[c.key].map((r) => r.modelOnlyImagesPerSecond)),
    coresUsed: median(runs[c.key].map((r) => r.coresUsed)),
    people: runs[c.key].map((r) => r.people),
    lastRound: last(c.key),
  }])),
  ratios,
  overheadTarget: { config: "native 2×1", atMost: 0.1 },
};

if (values.json) {
  console.log(JSON.stringify(report));
} else {
  const f = (x: number, d = 2) => x.toFixed(d);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `${report.images} images, flip test ${report.flip ? "on" : "off"}, ${report.cpus} CPUs, ` +
      `${rounds} round(s), ${report.warmupPerWorker} warm-up image(s) per worker; medians`,
  );
  console.log("");
  console.log(
    "config       images/s  per round      model-only/s  overhead  cores  people  " +
      "rss MiB  heap+ext MiB per worker",
  );
  for (const c of configs) {
    const r = report.configs[c.key];
    const l = r.lastRound;
    console.log(
      `${c.key.padEnd(11)} ${f(r.imagesPerSecond).padStart(9)}  ${
        r.perRound.map((x) => f(x)).join(" ").padEnd(13)
      } ${f(r.modelOnlyImagesPerSecond).padStart(13)} ${pct(r.overheadShare).padStart(9)} ${
        f(r.coresUsed).padStart(6)
      } ${String(l.people).padStart(7)} ${f(l.memory.peakRssMiB, 0).padStart(8)}  ${
        l.memory.perWorker.map((w) => f(w.peakHeapAndExternalMiB, 0)).join(", ")
      }`,
    );
  }
  console.log("");
  console.log(
    "ratio                                   median of rounds  of medians  per round      target",
  );
  for (const r of ratios) {
    console.log(
      `${r.name.padEnd(39)} ${f(r.medianPerRound).padStart(16)} ${f(r.ofMedians).padStart(11)}  ${
        r.perRound.map((x) => f(x)).join(" ").padEnd(13)
      }  ${r.target ? `≥ ${r.target.atLeast} ${r.met ? "met" : "NOT met"}` : "-"}`,
    );
  }
  console.log("");
  console.log("where the time goes (last round; shares of workers × wall time)");
  console.log(
    "config       model  decode   crop   post  around model  outside pipeline   " +
      "ms/image: decode detect  crop  kpts  post model",
  );
  for (const c of configs) {
    const l = last(c.key);
    const o = l.overhead;
    const ms = l.msPerImage;
    console.log(
      `${c.key.padEnd(11)} ${pct(1 - l.overheadShare).padStart(6)} ${pct(o.decode).padStart(7)} ${
        pct(o.crop).padStart(6)
      } ${pct(o.post).padStart(6)} ${pct(o.aroundModel).padStart(13)} ${
        pct(o.outside).padStart(17)
      }   ${
        [ms.decode, ms.detect, ms.crop, ms.keypoints, ms.post, ms.model].map((x) =>
          f(x, 1).padStart(5)
        ).join(" ")
      }`,
    );
  }
  const native2 = report.configs["native 2×1"];
  if (native2) {
    console.log("");
    console.log(
      `overhead share, native 2 workers: ${pct(native2.overheadShare)} (target ≤ 10%: ${
        native2.overheadShare <= 0.1 ? "met" : "NOT met"
      })`,
    );
  }
}
