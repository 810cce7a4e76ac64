/**
 * Files written whole or not at all: a temporary file beside the target, renamed over it, and
 * the sweeping of temporary files that killed runs left behind. COCO results go through here.
 */

import { basename, dirname, join } from "node:path";
import { type CocoKeypointResult, formatResultsJson } from "../coco/results.ts";

/** The pattern of `writeFileAtomic`'s temporary files: `.<name>.<pid>.<8 hex>.tmp`. */
function temporaryFilePattern(path: string): RegExp {
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${name}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
}

/**
 * A fresh temporary path beside `path` (same folder, so that a rename replaces `path`
 * atomically): `.<name>.<pid>.<8 hex digits>.tmp`. The pid lets a later run tell a file left
 * by a killed run from one a running process is still writing.
 */
export function temporaryPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
}

/**
 * A writer writes its temporary file in one go and renames it at once, so a file untouched
 * for this long was left by a killed run, whatever its pid says.
 */
const ABANDONED_AFTER_MS = 10 * 60 * 1000;

/**
 * A temporary file's writer may still run: its process exists, or (where /proc cannot be
 * read: macOS, Windows, or Deno without --allow-all) the file was modified recently.
 */
function mayStillBeWriting(pid: number, modified: Date | null): boolean {
  if (pid === Deno.pid) return true;
  if (modified && Date.now() - modified.getTime() > ABANDONED_AFTER_MS) return false;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return true;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes, in `folder`, every temporary file of the writers' pattern (`.<name>.<pid>.<8 hex>.tmp`)
 * that a killed run left behind (drawings, videos). Returns the paths removed.
 */
export function removeStaleTemporaryFilesIn(folder: string): Promise<string[]> {
  return removeStale(folder, /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/);
}

/**
 * Removes the temporary files that `writeFileAtomic` left beside `path` in runs that were
 * killed before their rename (their process is gone). Returns the paths removed. Files of
 * processes still running are kept, and errors are ignored: this is tidying, not the work.
 */
export function removeStaleTemporaryFiles(path: string): Promise<string[]> {
  return removeStale(dirname(path), temporaryFilePattern(path));
}

/** Removes the files of `folder` whose names match `pattern` (group 1: the pid) and are stale. */
async function removeStale(folder: string, pattern: RegExp): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      const match = entry.isFile ? pattern.exec(entry.name) : null;
      if (!match) continue;
      const stale = join(folder, entry.name);
      const info = await Deno.stat(stale).catch(() => undefined);
      if (!info || mayStillBeWriting(Number(match[1]), info.mtime)) continue;
      await Deno.remove(stale).then(() => removed.push(stale), () => {});
    }
  } catch {
    // An unreadable folder: the write itself will say so.
  }
  return removed;
}

/**
 * Writes `contents` to `path` atomically: into a temporary file in the same folder, then
 * renamed over `path`, so a reader never sees half a file and an interrupted run leaves the
 * previous file intact. Temporary files of earlier, killed runs are removed first.
 */
export async function writeFileAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  await removeStaleTemporaryFiles(path);
  const temporary = temporaryPathFor(path);
  try {
    if (typeof contents === "string") await Deno.writeTextFile(temporary, contents);
    else await Deno.writeFile(temporary, contents);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Writes COCO results to `path` (a JSON array, see `formatResultsJson`), atomically. One file
 * holds everything: each result names its image (`file_name`), so no sidecar can disagree.
 */
export async function writeResultsAtomic(
  path: string,
  results: readonly CocoKeypointResult[],
): Promise<void> {
  await writeFileAtomic(path, formatResultsJson(results));
}

/** Writes results to `out` atomically (see `writeResultsAtomic`), or to stdout without `out`. */
export async function writeResults(
  out: string | undefined,
  results: readonly CocoKeypointResult[],
): Promise<void> {
  if (out === undefined) {
    await writeAll(Deno.stdout, new TextEncoder().encode(formatResultsJson(results)));
    return;
  }
  await writeResultsAtomic(out, results);
}

async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let offset = 0; offset < bytes.length;) {
    offset += await writer.write(bytes.subarray(offset));
  }
}
