/// <reference lib="dom" />
/**
 * `deno run -A bench/web_bench.ts [--limit 20] [--rounds 3] [--warmup 3] [--json] [DIR]`
 *
 * The page's images/s against the CLI's in-process WASM pipeline on the same images (default
 * models, flip test, decoding included), with 1 and 2 WASM threads, side by side: each round
 * runs the four configurations one after the other, so that drifting load on a shared machine
 * hits them alike. The CLI side runs in a child process per thread count (onnxruntime-web fixes
 * its thread count once per process); the page side in a fresh Chromium page per thread count
 * (once per page), through `#images`. Both first run `--warmup` images untimed. Prints
 * images/s per round, their medians, and the median of the per-round ratios page / CLI.
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { withChromium } from "../tests/support/chromium.ts";
import { startPageServer } from "../lib/deno/page_server.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { decodeImage } from "../lib/deno/image_file.ts";

const HELP = `Usage: deno run -A bench/web_bench.ts [options] [DIR]
  DIR           images (default ../shared/coco/val2017), the first --limit by sorted name
  --models DIR  model folder (default ../shared/models)
  --limit N     timed images per configuration (default 20)
  --rounds N    rounds (default 3); medians are reported
  --warmup N    untimed images before each timed run (default 3)
  --json        one JSON object instead of the table`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string", default: "../shared/models" },
    limit: { type: "string", default: "20" },
    rounds: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    "cli-child": { type: "string" },
  },
  allowPositionals: true,
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const dir = resolve(positionals[0] ?? "../shared/coco/val2017");
const modelDir = resolve(values.models!);
const limit = Number(values.limit);
const warmup = Number(values.warmup);
const all = [...Deno.readDirSync(dir)].filter((e) => /\.(jpe?g|png)$/i.test(e.name))
  .map((e) => resolve(dir, e.name)).sort();
const warm = all.slice(0, warmup);
const timed = all.slice(warmup, warmup + limit);

/** The CLI's in-process pipeline: read, decode, run; images/s over the timed images. */
async function cliChild(threads: number): Promise<number> {
  const pipeline = await PosePipeline.create({ backend: "wasm", threads, modelDirs: [modelDir] });
  const run = async (paths: string[]) => {
    for (const path of paths) {
      await pipeline.run(await decodeImage(await Deno.readFile(path), path));
    }
  };
  await run(warm);
  const start = performance.now();
  await run(timed);
  const seconds = (performance.now() - start) / 1000;
  await pipeline.close();
  return timed.length / seconds;
}

if (values["cli-child"]) {
  console.log(JSON.stringify({ imagesPerSecond: await cliChild(Number(values["cli-child"])) }));
  Deno.exit(0);
}

async function cli(threads: number): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--cli-child", String(threads), ...Deno.args],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`the CLI child with ${threads} threads failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout)).imagesPerSecond;
}

const rounds = Number(values.rounds);
const rows: Record<string, number[]> = { "cli 1": [], "page 1": [], "cli 2": [], "page 2": [] };
const server = await startPageServer({ modelDirs: [modelDir] });
try {
  await withChromium(async (browser) => {
    const page = async (threads: number): Promise<number> => {
      const tab = await browser.newPage();
      try {
        await tab.goto(`${server.url}?backend=wasm&threads=${threads}`);
        const settle = async () => {
          await tab.waitForFunction(
            () => ["ready", "done", "error"].includes(document.body.dataset.status ?? ""),
            { timeout: 600_000 },
          );
          // deno-lint-ignore no-explicit-any
          const state = await tab.evaluate(() => (globalThis as any).posekit);
          if (state.errors.length) throw new Error(state.errors.join("; "));
          if (state.runtime.threads !== threads) {
            throw new Error(`page runs ${state.runtime.threads} threads`);
          }
          return state;
        };
        await settle();
        const input = await tab.$("#images") as import("puppeteer-core").ElementHandle<
          HTMLInputElement
        >;
        await input.uploadFile(...warm);
        await tab.waitForFunction(() => document.body.dataset.status === "running");
        await settle();
        await input.uploadFile(...timed);
        await tab.waitForFunction(() => document.body.dataset.status === "running");
        const { lastRun } = await settle();
        return lastRun.images / lastRun.seconds;
      } finally {
        await tab.close();
      }
    };
    for (let round = 0; round < rounds; round++) {
      for (const threads of [1, 2]) {
        rows[`cli ${threads}`].push(await cli(threads));
        rows[`page ${threads}`].push(await page(threads));
      }
      if (!values.json) {
        console.error(
          `round ${round + 1}: ` +
            Object.entries(rows).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)}`).join(", "),
        );
      }
    }
  });
} finally {
  await server.close();
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const ratio = (threads: number) =>
  median(rows[`page ${threads}`].map((p, i) => p / rows[`cli ${threads}`][i]));
const report = {
  images: timed.length,
  rounds,
  imagesPerSecond: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, v])),
  medians: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])),
  pageOverCli: { threads1: ratio(1), threads2: ratio(2) },
};
if (values.json) console.log(JSON.stringify(report));
else {
  for (const [k, v] of Object.entries(rows)) {
    console.log(
      `${k.padEnd(7)} ${v.map((x) => x.toFixed(2)).join("  ")}  median ${
        median(v).toFixed(2)
      } images/s`,
    );
  }
  console.log(
    `page / CLI (median of per-round ratios): 1 thread ${ratio(1).toFixed(2)}, ` +
      `2 threads ${ratio(2).toFixed(2)} (target ≥ 0.8: the page within 1.25× of the CLI)`,
  );
}
