/**
 * File-name helpers that work on both separators, for messages and image ids: the portable
 * core names files without `node:path` (which a page does not have).
 */

/**
 * The last segment of a path or URL path (`a/b/c.jpg` → `c.jpg`, `C:\\x\\y.png` → `y.png`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseName } from "./paths.ts";
 *
 * assert.equal(baseName("photos/2024/c.jpg"), "c.jpg");
 * assert.equal(baseName("C:\\x\\y.png"), "y.png");
 * assert.equal(baseName("dir/"), "dir");
 * ```
 */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  return trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\")) + 1);
}

/** The extension of a path's last segment with its dot (`a.b.jpg` → `.jpg`), or "". */
export function extName(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot) : "";
}

/** A Windows path: a drive (`C:\`, `C:/`) or a UNC share (`\\server\share`). */
function isWindowsPath(path: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(path) || /^\\\\/.test(path);
}

/**
 * `path` made absolute against the folder `base` (itself absolute) and normalised lexically:
 * `.` and `..` segments and repeated separators are resolved without touching the file system,
 * so that the same file named `photos/a.jpg` from `/data` and `/data/./photos/a.jpg` gives the
 * same string, on any machine (a merge may run where the files are not). Symbolic links are
 * not followed. Windows paths (a drive or a UNC share in `base` or `path`) take `\` and `/` as
 * separators and come out with `\`; POSIX paths only `/` (a `\` is part of a POSIX file name).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolvePath } from "./paths.ts";
 *
 * assert.equal(resolvePath("/data", "photos/../a.jpg"), "/data/a.jpg");
 * assert.equal(resolvePath("/data", "/tmp//b.jpg"), "/tmp/b.jpg");
 * assert.equal(resolvePath("C:\\work", "x/y.jpg"), "C:\\work\\x\\y.jpg");
 * ```
 */
export function resolvePath(base: string, path: string): string {
  const windows = isWindowsPath(path) || isWindowsPath(base);
  const absolute = windows ? isWindowsPath(path) : path.startsWith("/");
  const joined = absolute ? path : `${base}${windows ? "\\" : "/"}${path}`;
  const separator = windows ? /[\\/]+/ : /\/+/;
  let root: string;
  let rest: string;
  if (windows) {
    const unc = /^\\\\[^\\/]+[\\/][^\\/]+/.exec(joined.replaceAll("/", "\\"));
    root = unc ? unc[0] : joined.slice(0, 2).toUpperCase();
    rest = joined.slice(root.length);
  } else {
    root = "";
    rest = joined;
  }
  const segments: string[] = [];
  for (const segment of rest.split(separator)) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const join = windows ? "\\" : "/";
  return `${root}${join}${segments.join(join)}`;
}
