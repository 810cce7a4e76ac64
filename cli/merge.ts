/**
 * `deno task merge A.jsonl B.jsonl … --out results.json`: joins the JSONL outputs of a
 * sharded (or resumed) predict run into one COCO keypoint results file, each image once.
 * Exit codes: 0 merged, 1 failed (unreadable or corrupt input, conflict, cannot write),
 * 2 usage error.
 */

import { resolve } from "node:path";
import { writeMergedResults } from "../lib/deno/merge_files.ts";
import type { MergeOrder } from "../lib/output/merge.ts";
import { parseCommandLine, UsageError } from "./args.ts";
import { prepareOutputFile } from "./output_paths.ts";
import { runCommand } from "./run_command.ts";
import { printErr } from "./progress.ts";

/** Help text of the merge command. */
export const MERGE_HELP = `Usage: deno task merge [options] <results.jsonl>...

Joins JSONL results (the shards of one job, or a resumed run) into one COCO keypoint
results array, each image once:
  [{"image_id", "category_id": 1, "keypoints", "score", "bbox", "file_name"}]
Video frames keep "frame" and "track_id".

An image found in two inputs with the same people is kept once, with a warning that counts
them by pair of files (the parts of one split never share an image); with different people
it is an error naming the image and both files. Inputs made with different models or options
(their header lines differ) are an error that says what differs. A torn last line (a run killed while writing
it) is reported and ignored: run predict again with --resume to redo that image.

Options:
  --out FILE            write the results here (atomically); default: stdout
  --order path|input    path: sorted by file path, then frame (default; the order of one
                        predict run over the same sorted inputs, e.g. a folder)
                        input: files in the order given, records in file order
  --tmp DIR             where to sort what does not fit in memory (default: TMPDIR); it
                        takes about as much room as the inputs, and only when they are big
  --quiet               no summary line
  -h, --help            this help

Exit codes: 0 merged; 1 failed (an unreadable or corrupt input, a conflict, cannot write);
2 usage error.`;

/** Runs merge on its arguments; returns the exit code. */
export function merge(args: string[]): Promise<number> {
  return runCommand("merge", () => runMerge(args));
}

async function runMerge(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    out: { type: "string" },
    order: { type: "string" },
    tmp: { type: "string" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(MERGE_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no JSONL files given");
  const order = (values.order as string | undefined) ?? "path";
  if (order !== "path" && order !== "input") {
    throw new UsageError(`invalid value for --order: "${order}" (path or input)`);
  }
  const out = values.out as string | undefined;
  if (out !== undefined) {
    if (positionals.some((input) => resolve(input) === resolve(out))) {
      throw new UsageError(`--out ${out} is also an input`);
    }
    if (/\.jsonl$/i.test(out)) {
      throw new UsageError(`--out ${out}: merge writes a COCO results array; name it .json`);
    }
    await prepareOutputFile(out, "--out");
  }

  const merged = await writeMergedResults(positionals, out, {
    order: order as MergeOrder,
    tempDir: values.tmp as string | undefined,
  });
  for (const torn of merged.torn) {
    printErr(
      `posekit: warning: ${torn.file}: line ${torn.line} is incomplete (${torn.bytes} ` +
        `bytes, a run killed while writing it); ignored, its image is missing\n`,
    );
  }
  for (const file of merged.unchecked) {
    printErr(
      `posekit: warning: ${file} has records without a settings header (written by an older ` +
        `posekit): its models and options could not be checked against the other inputs'\n`,
    );
  }
  // The parts of one split never share an image: a repeat is a part given twice, or parts of
  // two splits, worth knowing even though the results agree.
  for (const { files: [kept, again], count } of merged.duplicateFiles) {
    const what = `${count} image${count === 1 ? "" : "s"}/frames`;
    printErr(
      kept === again
        ? `posekit: warning: ${what} appear more than once in ${kept} with the same ` +
          `results; kept once\n`
        : `posekit: warning: ${what} of ${kept} are in ${again} too, with the same results; ` +
          `kept once (were parts of two splits, or one part twice, given?)\n`,
    );
  }
  if (values.quiet !== true) {
    printErr(
      `posekit: ${merged.records} images/frames, ${merged.people} ` +
        `${merged.people === 1 ? "person" : "people"} from ` +
        `${positionals.length} file${positionals.length === 1 ? "" : "s"}` +
        (merged.duplicates > 0 ? `, ${merged.duplicates} duplicates dropped` : "") +
        (out === undefined ? "" : ` → ${out}`) + "\n",
    );
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await merge(Deno.args));
}
