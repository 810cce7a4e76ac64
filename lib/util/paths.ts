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
