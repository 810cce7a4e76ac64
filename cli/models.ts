/** `deno task models`: the model catalog as a table (or JSON), with where each file is. */

import { catalogAvailability } from "../lib/deno/models/availability.ts";
import { parseCommandLine } from "./args.ts";
import { runCommand } from "./run_command.ts";

/** Help text of `deno task models`. */
export const MODELS_HELP = `Usage: deno task models [--models DIR]... [--json]

Lists the known models: name, task, family, input size, published accuracy, license, file
size, and whether the file is here (which folder) or would be downloaded on first use.

  --models DIR   also look for model files here (repeatable), as predict does
  --json         print JSON instead of a table`;

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
  const table = [
    ["name", "task", "family", "input (W×H)", "accuracy", "license", "size", "file"],
    ...rows.map((r) => [
      r.name,
      r.task,
      r.family,
      r.inputSize,
      r.accuracy ?? "—",
      r.license ?? "—",
      r.bytes === undefined ? "—" : `${(r.bytes / 1048576).toFixed(1)} MiB`,
      r.status === "present"
        ? `here: ${r.foundIn}`
        : r.status === "download"
        ? "downloaded on first use"
        : "missing (no download; see models/README.md)",
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const [i, row] of table.entries()) {
    console.log(row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await runCommand("models", () => models(Deno.args)));
}
