/**
 * Files written whole or not at all: a temporary file beside the target, renamed over it, and
 * the sweeping of temporary files that killed runs left behind. COCO results go through here.
 *
 * Temporary files, and which ones a later run may delete: a writer writes
 * `.<name>.posekit-<pid>-<16 hex>.tmp` beside its target and renames it over the target when done.
 * A run killed before its rename leaves that file behind, and the next run tidies it up, but only
 * when it is provably a posekit temporary file that no live writer holds:
 * - the name: posekit's marker and a 64-bit random token (files of other programs, and those
 *   of posekit versions before this scheme, are never touched);
 * - the lock: every writer holds an exclusive lock (`Deno.FsFile.lock`, flock on Unix) on its
 *   temporary file from just after creating it until after its rename or removal. The kernel
 *   drops a lock when its process dies, so a file that can be locked has no live writer, in
 *   this process, another one, or another container on the same host; unlike a pid (pids are
 *   reused, and /proc may be unreadable or show another pid namespace) or an age (a writer
 *   may be slow), this cannot be wrong about a live writer;
 * - a minimum age of one minute: covers the instant between a writer creating its file and
 *   locking it.
 * Where the file system cannot lock (`tryLock` fails), nothing is deleted.
 */

import { basename, dirname, join } from "node:path";
import { type CocoKeypointResult, formatResultsJson } from "../coco/results.ts";

/** The marker in posekit's temporary file names. */
const TEMPORARY_MARKER = "posekit";

/** Temporary files younger than this are never deleted (see the module comment). */
const MIN_AGE_MS = 60 * 1000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pattern of the temporary files of target `name` (any target when undefined). */
function temporaryFilePattern(name?: string): RegExp {
  const target = name === undefined ? ".+" : escapeRegExp(name);
  return new RegExp(`^\\.${target}\\.${TEMPORARY_MARKER}-\\d+-[0-9a-f]{16}\\.tmp$`);
}

/**
 * A fresh temporary path beside `path` (same folder, so that a rename replaces `path`
 * atomically): `.<name>.posekit-<pid>-<16 hex digits>.tmp`. The marker and the random token
 * make it posekit's (see the module comment for when such files are deleted); the pid only tells a
 * person which process wrote it. Its writer must lock it (`createTemporaryFile` does).
 */
export function temporaryPathFor(path: string): string {
  const token = [...crypto.getRandomValues(new Uint8Array(8))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return join(dirname(path), `.${basename(path)}.${TEMPORARY_MARKER}-${Deno.pid}-${token}.tmp`);
}

/**
 * Creates a fresh temporary file beside `path` and locks it (exclusively) for as long as the
 * returned handle stays open: keep it open until the file is renamed or removed, so that no
 * other run takes it for abandoned. Where the file system cannot lock, the file is still
 * created; no run then deletes it.
 */
export async function createTemporaryFile(
  path: string,
): Promise<{ path: string; file: Deno.FsFile }> {
  const temporary = temporaryPathFor(path);
  const file = await Deno.open(temporary, { write: true, createNew: true });
  await file.tryLock(true).catch(() => false);
  return { path: temporary, file };
}

/**
 * Removes, in `folder`, posekit's temporary files (any target) that killed runs left behind
 * (drawings, videos): see the module comment. Returns the paths removed.
 */
export function removeStaleTemporaryFilesIn(folder: string): Promise<string[]> {
  return removeStale(folder, temporaryFilePattern());
}

/**
 * Removes the temporary files that writers of `path` left beside it in runs that were killed
 * before their rename: only posekit's, unlocked and at least a minute old (see the module
 * comment). Returns the paths removed. Errors are ignored: this is tidying, not the work.
 */
export function removeStaleTemporaryFiles(path: string): Promise<string[]> {
  return removeStale(dirname(path), temporaryFilePattern(basename(path)));
}

/** Removes the files of `folder` whose names match `pattern` and that are provably stale. */
async function removeStale(folder: string, pattern: RegExp): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (!entry.isFile || !pattern.test(entry.name)) continue;
      const stale = join(folder, entry.name);
      if (await removeIfAbandoned(stale)) removed.push(stale);
    }
  } catch {
    // An unreadable folder: the write itself will say so.
  }
  return removed;
}

/**
 * Deletes `path` when it is at least `MIN_AGE_MS` old and no one holds its lock; the lock is
 * held while deleting, so a writer cannot start on it meanwhile. True when deleted.
 */
async function removeIfAbandoned(path: string): Promise<boolean> {
  const info = await Deno.lstat(path).catch(() => undefined);
  if (!info?.isFile || !info.mtime || Date.now() - info.mtime.getTime() < MIN_AGE_MS) {
    return false;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return false;
  }
  try {
    if (!await file.tryLock(true).catch(() => false)) return false;
    await Deno.remove(path);
    return true;
  } catch {
    return false;
  } finally {
    file.close();
  }
}

/**
 * Writes `contents` to `path` atomically: into a locked temporary file in the same folder,
 * then renamed over `path` (the lock held until then), so a reader never sees half a file and
 * an interrupted run leaves the previous file intact. Abandoned temporary files of earlier,
 * killed runs are removed first.
 */
export async function writeFileAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  await removeStaleTemporaryFiles(path);
  const { path: temporary, file } = await createTemporaryFile(path);
  try {
    const bytes = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
    await writeAll(file, bytes);
    // On disk before the rename: after a crash, the old file or the whole new one, never an
    // empty one (a file system may commit the rename before the data).
    await file.syncData();
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  } finally {
    file.close();
  }
}

/**
 * Writes several files as one: every file's contents go to its temporary file first, and
 * only when all are written are they renamed into place, so a failure leaves the earlier set
 * whole (a report folder never mixes two runs' files).
 */
export async function writeFilesAtomic(
  files: readonly (readonly [string, string | Uint8Array])[],
): Promise<void> {
  const written: { temporary: string; path: string }[] = [];
  try {
    for (const [path, contents] of files) {
      await removeStaleTemporaryFiles(path);
      const { path: temporary, file } = await createTemporaryFile(path);
      written.push({ temporary, path });
      try {
        const bytes = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
        await writeAll(file, bytes);
        await file.syncData(); // see writeFileAtomic
      } finally {
        file.close();
      }
    }
    for (const { temporary, path } of written) await Deno.rename(temporary, path);
  } catch (error) {
    for (const { temporary } of written) await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Writes COCO results to `path` (a JSON array, see `formatResultsJson`), atomically. One file
 * holds everything: each result names its image (`file_name`), so no sidecar can disagree.
 *
 * @example Pipeline results as a COCO results file
 * ```ts ignore
 * import {
 *   type CocoKeypointResult,
 *   imageIdForPath,
 *   PosePipeline,
 *   readImageFile,
 *   toCocoResults,
 *   writeResultsAtomic,
 * } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create();
 * const results: CocoKeypointResult[] = [];
 * try {
 *   for (const file of ["000000000785.jpg", "000000000872.jpg"]) {
 *     const poses = await pipeline.run(await readImageFile(file));
 *     results.push(...toCocoResults(imageIdForPath(file), poses, file));
 *   }
 * } finally {
 *   await pipeline.close();
 * }
 * await writeResultsAtomic("results.json", results); // a kill now leaves the old file whole
 * ```
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

/** Writes all of `bytes` (a `write` call may take fewer). */
export async function writeAll(
  writer: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await writer.write(bytes.subarray(offset));
  }
}
