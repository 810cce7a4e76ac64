/**
 * `deno run -A bench/exit_crash_repeat.ts [--runs 100] [--images 12] [--workers 2]
 *   [--backend auto|wasm|native] [--format jsonl|json] [--keep] [DIR]`
 *
 * Runs `deno task predict` on the first `--images` images of DIR (default
 * ../shared/coco/val2017) with `--workers` and a fresh `--out` file, `--runs` times one after
 * the other, and counts the runs that did not end well: a nonzero exit code or a signal
 * (139 = SIGSEGV, 134 = SIGABRT), unexpected stderr (heap-corruption messages such as
 * "malloc_consolidate(): unaligned fastbin chunk detected"), or an output without one line
 * (one result) per image. Prints one line per bad run and a summary; exits 1 when any run
 * crashed. The check for the exit crash of two workers (issue: exit 139 in ~1 of 10 runs).
 */

import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "100" },
    images: { type: "string", default: "12" },
    workers: { type: "string", default: "2" },
    backend: { type: "string" },
    format: { type: "string", default: "jsonl" },
    keep: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const imageCount = Number(values.images);
const dir = resolve(positionals[0] ?? "../shared/coco/val2017");
const images = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && /\.jpe?g$/i.test(e.name))
  .map((e) => join(dir, e.name))
  .sort()
  .slice(0, imageCount);
const models = resolve(dir, "../../models");
const tmp = await Deno.makeTempDir({ prefix: "exit_crash_" });

/** Stderr lines a good run prints (notes, the summary); anything else is suspect. */
const EXPECTED = /^(posekit: |Task predict|\s*$)/;

let bad = 0;
const codes = new Map<string, number>();
const started = performance.now();
for (let i = 0; i < runs; i++) {
  const out = join(tmp, `run${i}.${values.format}`);
  const args = [
    "task",
    "predict",
    ...images,
    "--models",
    models,
    "--workers",
    values.workers!,
    "--quiet",
    "--out",
    out,
    ...(values.backend ? ["--backend", values.backend] : []),
  ];
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  const odd = stderr.split("\n").filter((line) => !EXPECTED.test(line));
  let lines = -1;
  try {
    const text = await Deno.readTextFile(out);
    lines = values.format === "jsonl"
      ? text.split("\n").filter((l) => l.includes('"file"')).length
      : new Set((JSON.parse(text) as { image_id: number }[]).map((r) => r.image_id)).size;
  } catch {
    // no output: counted below
  }
  const code = result.signal ? `signal ${result.signal}` : `exit ${result.code}`;
  codes.set(code, (codes.get(code) ?? 0) + 1);
  const crashed = result.code !== 0 || odd.length > 0;
  if (crashed) bad++;
  if (crashed || (values.format === "jsonl" && lines !== images.length)) {
    console.log(
      `run ${i + 1}: ${code}, ${lines} results${odd.length ? `, stderr: ${odd.join(" | ")}` : ""}`,
    );
  }
  if (!values.keep) await Deno.remove(out).catch(() => {});
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${bad} of ${runs} runs crashed (${[...codes].map(([c, n]) => `${c}: ${n}`).join(", ")}); ` +
    `${images.length} images, --workers ${values.workers}, ${values.backend ?? "default"} ` +
    `backend, .${values.format}; ${seconds.toFixed(0)} s`,
);
if (!values.keep) await Deno.remove(tmp, { recursive: true }).catch(() => {});
Deno.exit(bad > 0 ? 1 : 0);
