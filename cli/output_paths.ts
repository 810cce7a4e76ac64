/** Output paths checked before any work, so that a run is never lost at its end. */

import { dirname, extname, join, resolve } from "node:path";
import { UsageError } from "./args.ts";
import {
  removeStaleTemporaryFiles,
  removeStaleTemporaryFilesIn,
  temporaryPathFor,
} from "../lib/deno/files.ts";

/**
 * Makes sure, before any work is done, that `path` can take an output file, so that a typo
 * or a read-only folder does not throw away a whole run's results at the end: missing parent
 * folders are created, `path` must not be a folder, and a probe file is written and removed
 * in its folder. Temporary files left beside `path` by killed runs are removed.
 *
 * A symbolic link is refused: a `.jsonl` output is written in place and would write through
 * the link into its target (another run's results, or any file), while a `.json` one is
 * renamed over the link and would replace it; refusing both is one rule the user can see,
 * rather than two behaviours they would have to know.
 * @throws Error, one line naming the option, the path, the reason and what to do
 */
export async function prepareOutputFile(path: string, option: string): Promise<void> {
  const problem = (reason: string) =>
    new Error(`cannot write ${option} ${path}: ${reason}; choose another ${option}`);
  const link = await Deno.lstat(path).then((info) => info.isSymlink, () => false);
  if (link) {
    const target = await Deno.readLink(path).catch(() => "?");
    throw problem(
      `it is a symbolic link (to ${target}), and posekit does not write through links: ` +
        `give the target's own path`,
    );
  }
  if (await pathKind(path) === "directory") throw problem("it is a folder");
  await makeFolder(dirname(resolve(path)), problem);
  await probeWrite(temporaryPathFor(resolve(path)), problem);
  await removeStaleTemporaryFiles(resolve(path));
}

/**
 * Makes sure that `path` is a folder that can be written, creating it (and its parents) when
 * missing; a probe file is written and removed, and temporary files of killed runs are removed.
 * @throws Error, one line naming the option, the path, the reason and what to do
 */
export async function prepareOutputFolder(path: string, option: string): Promise<void> {
  const problem = (reason: string) =>
    new Error(`cannot write into ${option} ${path}: ${reason}; choose another ${option}`);
  await makeFolder(resolve(path), problem);
  await probeWrite(temporaryPathFor(join(resolve(path), "probe")), problem);
  // Drawings and videos of killed runs left their temporary files here.
  await removeStaleTemporaryFilesIn(resolve(path));
}

/** Creates `folder` and its parents; the error says which part of the path is in the way. */
async function makeFolder(folder: string, problem: (reason: string) => Error): Promise<void> {
  try {
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    // The nearest existing part of the path says why (a file where a folder should be).
    let existing = folder;
    while (await pathKind(existing).catch(() => undefined) === undefined) {
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
    if (await pathKind(existing).catch(() => undefined) === "other") {
      throw problem(`${existing} is a file, not a folder`);
    }
    throw problem(`cannot create the folder ${folder} (${describeWriteError(error)})`);
  }
  if (await pathKind(folder) !== "directory") throw problem(`${folder} is not a folder`);
}

async function probeWrite(probe: string, problem: (reason: string) => Error): Promise<void> {
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
  } catch (error) {
    throw problem(`the folder ${dirname(probe)} cannot be written (${describeWriteError(error)})`);
  }
  await Deno.remove(probe).catch(() => {});
}

function describeWriteError(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is a file";
  const message = (error as Error).message;
  if (/read-only file system/i.test(message)) return "read-only file system";
  return message.replace(/\s*\n\s*/g, " ");
}

async function pathKind(path: string): Promise<"directory" | "other" | undefined> {
  try {
    return (await Deno.stat(path)).isDirectory ? "directory" : "other";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) return undefined;
    throw new Error(`cannot access ${path}: ${(error as Error).message}`);
  }
}

/** What `--out` writes, from its extension. */
export type OutputFormat = "json" | "jsonl" | "csv";

/**
 * The format of `--out` from its extension (stdout: JSON); any other extension is a usage
 * error rather than JSON under a misleading name.
 */
export function outputFormat(out: string | undefined): OutputFormat {
  if (out === undefined) return "json";
  const extension = extname(out).toLowerCase().slice(1);
  if (extension === "json" || extension === "jsonl" || extension === "csv") return extension;
  throw new UsageError(
    `--out ${out}: unknown extension "${extname(out)}"; use .json (COCO results), .jsonl ` +
      `(a line per image as it finishes) or .csv (a row per person)`,
  );
}
