/**
 * `deno task merge A.jsonl B.jsonl … --out results.json`: joins the JSONL outputs of a
 * sharded (or resumed) predict run into one COCO keypoint results file, each image once.
 * Exit codes: 0 merged, 1 failed (unreadable or corrupt input, conflict, cannot write),
 * 2 usage error.
 */

import { dirname, resolve } from "node:path";
import { writeResults } from "../lib/coco_results.ts";
import { mergeJsonlFiles, type MergeOrder } from "../lib/output/merge.ts";
import { parseCommandLine, UsageError } from "./args.ts";
import { printErr } from "./progress.ts";

/** Help text of the merge command. */
export const MERGE_HELP = `Usage: deno task merge [options] <results.jsonl>...

Joins JSONL results (the shards of one job, or a resumed run) into one COCO keypoint
results array, each image once:
  [{"image_id", "category_id": 1, "keypoints", "score", "bbox", "file_name"}]
Video frames keep "frame" and "track_id".

An image found in two inputs with the same people is kept once; with different people it
is an error naming the image and both files. A torn last line (a run killed while writing
it) is reported and ignored: run predict again with --resume to redo that image.

Options:
  --out FILE            write the results here (atomically); default: stdout
  --order path|input    path: sorted by file path, then frame (default; the order of one
                        predict run over the same sorted inputs, e.g. a folder)
                        input: files in the order given, records in file order
  --quiet               no summary line
  -h, --help            this help`;

const COMMAND = "deno task merge";

/** Runs merge on its arguments; returns the exit code. */
export async function merge(args: string[]): Promise<number> {
  try {
    return await runMerge(args);
  } catch (error) {
    if (error instanceof UsageError) {
      printErr(`${COMMAND}: ${error.message} (see "${COMMAND} --help")\n`);
      return 2;
    }
    if (debugEnabled()) console.error(error);
    else printErr(`${COMMAND}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/**
 * POSEKIT_DEBUG=1 shows stack traces. The merge task runs without --allow-env, so the
 * variable is read only where that is allowed (asking would prompt on a terminal).
 */
function debugEnabled(): boolean {
  const permission = Deno.permissions.querySync({ name: "env", variable: "POSEKIT_DEBUG" });
  return permission.state === "granted" && Boolean(Deno.env.get("POSEKIT_DEBUG"));
}

async function runMerge(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    out: { type: "string" },
    order: { type: "string" },
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
    await checkOutputPath(out);
  }

  const merged = await mergeJsonlFiles(positionals, order as MergeOrder);
  for (const torn of merged.torn) {
    printErr(
      `${COMMAND}: warning: ${torn.file}: line ${torn.line} is incomplete (${torn.bytes} ` +
        `bytes, a run killed while writing it); ignored, its image is missing\n`,
    );
  }
  await writeResults(out, merged.results);
  if (values.quiet !== true) {
    printErr(
      `${COMMAND}: ${merged.records} images/frames, ${merged.results.length} people from ` +
        `${positionals.length} file${positionals.length === 1 ? "" : "s"}` +
        (merged.duplicates > 0 ? `, ${merged.duplicates} duplicates dropped` : "") +
        (out === undefined ? "" : ` → ${out}`) + "\n",
    );
  }
  return 0;
}

/**
 * Fails early, naming --out, when the output's folder is missing or the path is a folder.
 * (cli/common.ts has the same check, but importing it loads the whole pipeline.)
 */
async function checkOutputPath(path: string): Promise<void> {
  const folder = dirname(resolve(path));
  const isFolder = async (p: string) => {
    try {
      return (await Deno.stat(p)).isDirectory;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new Error(`cannot access ${p}: ${(error as Error).message}`);
    }
  };
  const folderKind = await isFolder(folder);
  if (folderKind !== true) {
    throw new Error(
      `cannot write --out ${path}: ${
        folderKind === false ? `${folder} is not a folder` : `the folder ${folder} does not exist`
      }`,
    );
  }
  if (await isFolder(path)) throw new Error(`cannot write --out ${path}: it is a folder`);
}

if (import.meta.main) {
  Deno.exit(await merge(Deno.args));
}
