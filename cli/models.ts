/** `deno task models`: the model catalog as a table (or JSON), with where each file is. */

import { catalogAvailability, type ModelAvailability } from "../lib/deno/models/availability.ts";
import { parseCommandLine } from "./args.ts";
import { runCommand } from "./run_command.ts";

/** Help text of `deno task models`. */
export const MODELS_HELP = `Usage: deno task models [--models DIR]... [--json]

Lists the known models by task, the best published COCO AP first: name, input size, AP, file
size, and whether the file is here (which folder) or would be downloaded on first use. --json
adds the family, the accuracy's source and the license.

  --models DIR   also look for model files here (repeatable), as predict does
  --json         print JSON instead of a table`;

/** The first AP figure of a manifest's accuracy text ("COCO val2017 AP 68.8 …" → 68.8). */
export function accuracyAp(accuracy: string | undefined): number | undefined {
  const match = accuracy?.match(/\bAP\s+(\d+(?:\.\d+)?)/);
  return match ? Number(match[1]) : undefined;
}

const GROUPS: readonly { task: ModelAvailability["task"]; title: string }[] = [
  { task: "detector", title: "Person detectors (--detector)" },
  { task: "keypoints", title: "Keypoint models (--pose)" },
  { task: "end2end", title: "One-stage models (--pose, no detector)" },
];

/**
 * The catalog as lines of at most 100 columns: one group per task, the best published AP
 * first (models without one last), and where each file is. `--json` has every field.
 */
export function modelTable(rows: readonly ModelAvailability[]): string[] {
  const lines: string[] = [];
  const where = (r: ModelAvailability) =>
    r.status === "present"
      ? `here: ${r.foundIn}`
      : r.status === "download"
      ? "downloaded on first use"
      : "missing (see models/README.md)";
  for (const { task, title } of GROUPS) {
    const group = rows.filter((r) => r.task === task)
      .toSorted((a, b) => (accuracyAp(b.accuracy) ?? -1) - (accuracyAp(a.accuracy) ?? -1));
    if (group.length === 0) continue;
    const table = [
      ["name", "input", "AP", "size", "file"],
      ...group.map((r) => [
        r.name,
        r.inputSize,
        accuracyAp(r.accuracy)?.toFixed(1) ?? "—",
        r.bytes === undefined ? "—" : `${(r.bytes / 1048576).toFixed(1)} MiB`,
        where(r),
      ]),
    ];
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    if (lines.length) lines.push("");
    lines.push(title);
    for (const [i, row] of table.entries()) {
      const line = row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd();
      lines.push(line.length > 100 ? line.slice(0, 99) + "…" : line);
      if (i === 0) lines.push(widths.map((w) => "-".repeat(w)).join("  ").slice(0, 100));
    }
  }
  lines.push("", "AP: COCO val2017 as published (box AP for detectors); --json gives the sources.");
  return lines;
}

/** Runs the models command; returns the exit code. */
export async function models(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, {
    models: { type: "string", multiple: true },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(MODELS_HELP);
    return 0;
  }
  const rows = await catalogAvailability({ modelDirs: values.models as string[] | undefined });
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const line of modelTable(rows)) console.log(line);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await runCommand("models", () => models(Deno.args)));
}
