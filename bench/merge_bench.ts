/**
 * `deno run -A bench/merge_bench.ts [--lines 1500000] [--parts 16] [--unsorted 1] [--dir DIR]
 * [--heap MiB] [--keep] [--json]`: `deno task merge`'s peak memory and time on many result
 * lines.
 *
 * Writes `--parts` JSONL parts holding `--lines` records between them (one person each, 17
 * keypoints: about 450 bytes a line, as predict writes them), cut round robin from one sorted
 * list of image paths as shards are; `--unsorted` of the parts have their lines shuffled (a
 * resumed part out of order), so both ways of reading a part are measured. Then runs the
 * merge command as a separate process, as a user does, polling its peak resident memory
 * (VmHWM in /proc, Linux) and timing it, and checks the output's line count. `--heap` caps
 * V8's old space (`--max-old-space-size`): a merge that finishes under a cap far below its
 * input holds a bounded amount, whatever the garbage collector lets the resident size grow to.
 */

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "1500000" },
    parts: { type: "string", default: "16" },
    unsorted: { type: "string", default: "1" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
    heap: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno run -A bench/merge_bench.ts [--lines 1500000] [--parts 16] [--unsorted 1] " +
      "[--dir DIR] [--heap MiB] [--keep] [--json]",
  );
  Deno.exit(0);
}
const lines = Number(values.lines), parts = Number(values.parts);
const unsorted = Number(values.unsorted);
if (![lines, parts, unsorted].every(Number.isInteger) || lines < 1 || parts < 1) {
  console.error("merge_bench: --lines and --parts are whole numbers ≥ 1, --unsorted ≥ 0");
  Deno.exit(2);
}

const dir = values.dir ?? await Deno.makeTempDir({ prefix: "posekit_merge_bench_" });
await Deno.mkdir(dir, { recursive: true });
const merge = new URL("../cli/merge.ts", import.meta.url).pathname;

/** A record line for image `i`: one person whose numbers vary with i. */
function line(i: number): string {
  const x = (i % 600) + 0.125;
  const keypoints: number[] = [];
  for (let k = 0; k < 17; k++) {
    keypoints.push(
      Math.round((x + k * 3.7) * 1000) / 1000,
      Math.round((50 + k * 11.3 + (i % 7)) * 1000) / 1000,
      Math.round(((k + i) % 100) / 100 * 1e6) / 1e6,
    );
  }
  const record = {
    file: `/data/photos/${String(i).padStart(12, "0")}.jpg`,
    image_id: i,
    people: [{
      bbox: [x, 40.5, 120.25, 310.75],
      score: Math.round(((i % 997) / 997) * 1e6) / 1e6,
      keypoints,
    }],
  };
  return JSON.stringify(record) + "\n";
}

const started = performance.now();
const header = JSON.stringify({ posekit: { version: "0.1.0", cwd: "/data", flip: false } }) +
  "\n";
let bytes = 0;
const paths: string[] = [];
for (let p = 0; p < parts; p++) {
  const path = join(dir, `part-${String(p).padStart(3, "0")}.jsonl`);
  paths.push(path);
  const indices: number[] = [];
  for (let i = p; i < lines; i += parts) indices.push(i);
  if (p < unsorted) {
    // Shuffled, deterministically.
    let seed = 12345 + p;
    for (let i = indices.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const j = seed % (i + 1);
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let chunk = header;
  for (const i of indices) {
    chunk += line(i);
    if (chunk.length > 1 << 20) {
      const data = encoder.encode(chunk);
      bytes += data.length;
      await file.write(data);
      chunk = "";
    }
  }
  const data = encoder.encode(chunk);
  bytes += data.length;
  await file.write(data);
  file.close();
}
const generateSeconds = (performance.now() - started) / 1000;

const out = join(dir, "results.json");
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-read",
    "--allow-write",
    // A cap on V8's heap shows the memory is bounded, not merely lucky: past it the merge
    // would die of "out of memory" instead of finishing.
    ...(values.heap ? [`--v8-flags=--max-old-space-size=${values.heap}`] : []),
    merge,
    ...paths,
    "--out",
    out,
    "--quiet",
  ],
  stdin: "null",
  stdout: "null",
  stderr: "piped",
}).spawn();
let peakKiB = 0;
const poll = setInterval(() => {
  try {
    const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
  } catch {
    // Gone, or not Linux.
  }
}, 50);
const mergeStarted = performance.now();
const stderr = new Response(child.stderr).text();
const status = await child.status;
clearInterval(poll);
const mergeSeconds = (performance.now() - mergeStarted) / 1000;
if (!status.success) {
  console.error(`merge failed (exit ${status.code}):\n${await stderr}`);
  Deno.exit(1);
}
let outputLines = 0;
for await (const chunk of (await Deno.open(out)).readable) {
  for (const byte of chunk) if (byte === 10) outputLines++;
}
const report = {
  lines,
  parts,
  heapCapMiB: values.heap ? Number(values.heap) : null,
  unsortedParts: Math.min(unsorted, parts),
  inputMiB: Math.round(bytes / 1048576),
  generateSeconds: Math.round(generateSeconds * 10) / 10,
  mergeSeconds: Math.round(mergeSeconds * 10) / 10,
  linesPerSecond: Math.round(lines / mergeSeconds),
  peakRssMiB: Math.round(peakKiB / 1024),
  outputResults: outputLines - 2,
};
if (report.outputResults !== lines) {
  console.error(`merge wrote ${report.outputResults} results, expected ${lines}`);
  Deno.exit(1);
}
if (!values.keep && values.dir === undefined) await Deno.remove(dir, { recursive: true });
console.log(
  values.json ? JSON.stringify(report) : `merge: ${lines} lines in ${parts} parts ` +
    `(${report.unsortedParts} out of order), ${report.inputMiB} MiB: ${report.mergeSeconds} s ` +
    `(${report.linesPerSecond} lines/s), peak RSS ${report.peakRssMiB} MiB`,
);
