/**
 * A process for the kill tests of the JSONL writer: writes `count` records to `path` with
 * `JsonlWriter`, one every `delayMs`, and prints each record's index on stdout once its write
 * has resolved, so that the test knows which records must survive a SIGKILL.
 *
 *   deno run --allow-read --allow-write jsonl_writer_child.ts PATH COUNT DELAY_MS [--append]
 *
 * With `--append` it resumes: it reads the file with `readJsonlProgress` (cutting a torn last
 * line off) and writes only the records whose key is not there yet.
 */

import { type JsonlRecord, recordKey } from "../../lib/output/jsonl.ts";
import { JsonlWriter, readJsonlProgress } from "../../lib/deno/jsonl_file.ts";

/** Record number `i` of a child run: 12 people of 17 keypoints (about 6 KB per line). */
export function childRecord(i: number): JsonlRecord {
  const people = Array.from({ length: 12 }, (_, p) => ({
    bbox: [i, p, 100 + p, 200 + i] as [number, number, number, number],
    score: 0.5,
    keypoints: Array.from({ length: 51 }, (_, k) => i * 1000 + p * 100 + k + 0.125),
  }));
  return { file: `images/${String(i).padStart(6, "0")}.jpg`, image_id: i, people };
}

async function main(args: string[]): Promise<void> {
  const [path, countText, delayText, mode] = args;
  const count = Number(countText);
  const delayMs = Number(delayText);
  const append = mode === "--append";
  const done = append ? (await readJsonlProgress(path)).done : new Set<string>();
  const writer = await JsonlWriter.open(path, { append });
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const record = childRecord(i);
    if (done.has(recordKey(record, Deno.cwd()))) continue;
    await writer.write(record);
    await Deno.stdout.write(encoder.encode(`${i}\n`));
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  await writer.close();
}

if (import.meta.main) await main(Deno.args);
