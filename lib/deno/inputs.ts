/**
 * Turning command-line inputs into a list of image files: files, directories (recursively) and
 * globs (`*`, `?`, `[abc]`, `**`), expanded by us so that quoted patterns work on every shell;
 * `-` (one image on stdin) and `http(s)://` URLs. `read_input.ts` reads their bytes.
 */

import { join, resolve, sep } from "node:path";
import { isCameraDevice, isStreamUrl, isVideoPath } from "./video/probe.ts";

/** The input that stands for one image read from standard input. */
export const STDIN_INPUT = "-";

/** True for `http://` and `https://` inputs. */
export function isUrlInput(input: string): boolean {
  return /^https?:\/\//i.test(input);
}

/** An input that yielded no files, and why. */
export interface InputError {
  /** The input as given. */
  path: string;
  /** Why it yielded no files. */
  reason: string;
}

/** The files that inputs expand to, and the inputs that gave none. */
export interface ExpandedInputs {
  /** Image files in input order; directory and glob contents sorted; no duplicates. */
  files: string[];
  /** One entry per input that yielded nothing; the others still run. */
  errors: InputError[];
}

/** True for names ending in .jpg, .jpeg or .png (any case). */
export function isImageFileName(name: string): boolean {
  return /\.(jpe?g|png)$/i.test(name);
}

/** True for the image and video file names that folders and globs yield. */
export function isMediaFileName(name: string): boolean {
  return isImageFileName(name) || isVideoPath(name);
}

/**
 * True when an input is read as a video (frames through ffmpeg): a video file name, an
 * rtsp/rtmp/tcp/udp/srt stream, an http(s) URL whose path has a video extension, or a Linux
 * camera device (`/dev/video0`).
 */
export function isVideoInput(input: string): boolean {
  if (/^(rtsps?|rtmps?|tcp|udp|srt):\/\//i.test(input)) return true;
  if (isUrlInput(input)) {
    try {
      return isVideoPath(new URL(input).pathname);
    } catch {
      return false;
    }
  }
  return isVideoPath(input) || isCameraDevice(input);
}

/** True when `path` contains glob syntax (`*`, `?` or `[`). */
export function hasGlobSyntax(path: string): boolean {
  return /[*?[]/.test(path);
}

/**
 * Expands inputs into image files. Each input is
 * - `-`: one image read from stdin (listed once however often it is given);
 * - an `http(s)://`, `rtsp://` or `rtmp://` URL, or a camera device `/dev/videoN`: kept as
 *   it is (images through `readInput`, videos through ffmpeg);
 * - an existing regular file: kept whatever its extension (decoding then says what is wrong);
 * - an existing directory: all .jpg/.jpeg/.png and video files below it (any case, hidden entries
 *   skipped, symlinks followed once), sorted; none → the error "no JPEG or PNG images in …";
 * - a glob: the JPEG and PNG files whose paths match, sorted (like a shell, `*` and `?` do not
 *   match a leading dot and `**` spans any number of directories); none → an error;
 * - anything else: an error ("no such file or directory").
 * Only regular files are images: a named pipe, socket or device, given or met in a folder or
 * glob under an image name, is an error entry (reading one could block forever).
 * A file reached twice (same absolute path) is listed once, where it first appears.
 *
 * @example Files, folders and globs
 * ```ts ignore
 * import { expandInputs } from "@posekit/posekit";
 *
 * const { files, errors } = await expandInputs(["photos/", "extra/*.jpg", "one.png"]);
 * for (const { path, reason } of errors) console.error(`${path}: ${reason}`);
 * console.log(files); // image files, folders walked recursively, no duplicates
 * ```
 */
export async function expandInputs(args: readonly string[]): Promise<ExpandedInputs> {
  const files: string[] = [];
  const errors: InputError[] = [];
  const seen = new Set<string>();
  const add = (file: string) => {
    const key = resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    files.push(file);
  };

  for (const arg of args) {
    // Stdin, URLs and camera devices are read as they are (a device is no regular file).
    if (arg === STDIN_INPUT || isStreamUrl(arg) || isCameraDevice(arg)) {
      if (!seen.has(arg)) files.push(arg);
      seen.add(arg);
      continue;
    }
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(arg);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || !hasGlobSyntax(arg)) {
        errors.push({ path: arg, reason: describeStatError(error) });
        continue;
      }
    }
    if (info?.isDirectory) {
      const found = await imagesBelow(arg, errors);
      if (found.length === 0) {
        errors.push({ path: arg, reason: `no JPEG or PNG images or videos in ${arg}` });
      }
      found.forEach(add);
    } else if (info?.isFile) {
      add(arg);
    } else if (info) {
      errors.push({ path: arg, reason: notRegularFile(info) });
    } else {
      const found = (await expandGlob(arg, errors)).filter(isMediaFileName);
      if (found.length === 0) {
        errors.push({ path: arg, reason: `no JPEG, PNG or video files match ${arg}` });
      }
      found.forEach(add);
    }
  }
  return { files, errors };
}

/** Why a path that exists is not read as an image: it is no regular file. */
export function notRegularFile(info: Deno.FileInfo): string {
  const kind = info.isFifo
    ? "a named pipe"
    : info.isSocket
    ? "a socket"
    : info.isCharDevice || info.isBlockDevice
    ? "a device"
    : "not a file or folder";
  return `not a regular file (${kind}); only regular files are read as images`;
}

/** Why a path cannot be looked at, in plain words. */
export function describeStatError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return (error as Error).message;
}

/** Sorts by UTF-16 code units, so the order does not depend on the locale. */
function sortPaths(paths: string[]): string[] {
  return paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Image files below `dir` (recursively), sorted. Unreadable subdirectories are reported in
 * `errors` and skipped.
 */
async function imagesBelow(dir: string, errors: InputError[]): Promise<string[]> {
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (current: string): Promise<void> => {
    // Following symlinks can loop; each real directory is read once.
    let real: string;
    try {
      real = await Deno.realPath(current);
    } catch (error) {
      errors.push({ path: current, reason: describeStatError(error) });
      return;
    }
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readDirectory(current, errors);
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(current, entry.name);
      const kind = await entryKind(path, entry);
      if (kind === "directory") await walk(path);
      else if (!isMediaFileName(entry.name)) continue;
      else if (kind === "file") found.push(path);
      else errors.push({ path, reason: kind.reason });
    }
  };
  await walk(dir);
  return sortPaths(found);
}

async function readDirectory(dir: string, errors?: InputError[]): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch (error) {
    errors?.push({ path: dir, reason: `cannot read directory: ${describeStatError(error)}` });
  }
  return entries;
}

/**
 * File or directory, following a symlink; for anything else (a pipe, socket or device, a
 * broken link), why it is no image.
 */
async function entryKind(
  path: string,
  entry: Deno.DirEntry,
): Promise<"file" | "directory" | { reason: string }> {
  if (entry.isFile) return "file";
  if (entry.isDirectory) return "directory";
  try {
    const target = await Deno.stat(path);
    return target.isDirectory ? "directory" : target.isFile ? "file" : {
      reason: notRegularFile(target),
    };
  } catch (error) {
    const what = entry.isSymlink ? "a symbolic link whose target cannot be read" : "cannot read it";
    return { reason: `${what}: ${describeStatError(error)}` };
  }
}

/**
 * The regular expression for one path segment of a glob: `*` any run of characters, `?` one
 * character, `[abc]`/`[a-z]` a set, `[!abc]`/`[^abc]` its complement; everything else literal
 * (an unclosed `[` too). Wildcards do not match a leading dot.
 */
export function globSegmentToRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i];
    if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else if (char === "[") {
      const close = segment.indexOf("]", i + 2);
      if (close === -1) {
        source += "\\[";
        continue;
      }
      let set = segment.slice(i + 1, close);
      const negated = set.startsWith("!") || set.startsWith("^");
      if (negated) set = set.slice(1);
      source += `[${negated ? "^" : ""}${set.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  // Like a shell: a name starting with "." is matched only by a pattern starting with ".".
  const hiddenGuard = segment.startsWith(".") ? "" : "(?!\\.)";
  return new RegExp(`^${hiddenGuard}${source}$`);
}

/**
 * Regular files whose paths match `pattern`, sorted. Matching paths that are neither files nor
 * folders (pipes, sockets, devices) with an image name go to `errors` when it is given.
 */
export async function expandGlob(pattern: string, errors?: InputError[]): Promise<string[]> {
  const separator = sep === "\\" ? /[\\/]+/ : /\/+/;
  const segments = pattern.split(separator);
  // The literal leading segments are the directory the search starts from ("" = the working
  // directory; an absolute pattern starts with an empty segment, so "/" when that is all).
  let start = 0;
  while (start < segments.length - 1 && !hasGlobSyntax(segments[start])) start++;
  const prefix = segments.slice(0, start);
  const base = prefix.length === 0 ? "" : prefix.join("/") || "/";
  const found = new Set<string>();
  const others: string[] = [];
  await matchSegments(base, segments.slice(start), found, new Set(), others);
  for (const path of sortPaths(others)) {
    if (!isMediaFileName(path)) continue;
    errors?.push({ path, reason: notRegularFile(await Deno.stat(path)) });
  }
  return sortPaths([...found]);
}

/** Adds to `found` the files below `dir` that match the remaining glob segments. */
async function matchSegments(
  dir: string,
  segments: string[],
  found: Set<string>,
  visited: Set<string>,
  others: string[],
): Promise<void> {
  if (segments.length === 0) return;
  const [segment, ...rest] = segments;
  const readFrom = dir === "" ? "." : dir;
  if (segment === "**" && rest.length === 0) {
    // A trailing "**" means every file below.
    await matchSegments(dir, ["**", "*"], found, visited, others);
    return;
  }
  if (segment === "**") {
    // "**" matches zero directories (try the rest here) or one more (descend, keep "**").
    let real: string;
    try {
      real = await Deno.realPath(readFrom);
    } catch {
      return;
    }
    const key = `${real}\0${rest.join("/")}`;
    if (visited.has(key)) return;
    visited.add(key);
    await matchSegments(dir, rest, found, visited, others);
    for (const entry of await readDirectory(readFrom)) {
      if (entry.name.startsWith(".")) continue;
      const path = dir === "" ? entry.name : join(dir, entry.name);
      if (await entryKind(path, entry) === "directory") {
        await matchSegments(path, segments, found, visited, others);
      }
    }
    return;
  }
  if (!hasGlobSyntax(segment)) {
    // A literal segment: no need to list the directory.
    const path = dir === "" ? segment : join(dir, segment);
    await matchEntryAt(path, rest, found, visited, others);
    return;
  }
  const matcher = globSegmentToRegExp(segment);
  for (const entry of await readDirectory(readFrom)) {
    if (!matcher.test(entry.name)) continue;
    const path = dir === "" ? entry.name : join(dir, entry.name);
    await matchEntryAt(path, rest, found, visited, others);
  }
}

/** `path` matched a segment: a file ends the pattern, a directory continues it. */
async function matchEntryAt(
  path: string,
  rest: string[],
  found: Set<string>,
  visited: Set<string>,
  others: string[],
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return;
  }
  if (rest.length === 0) {
    if (info.isFile) found.add(path);
    else if (!info.isDirectory) others.push(path);
  } else if (info.isDirectory) {
    await matchSegments(path, rest, found, visited, others);
  }
}
