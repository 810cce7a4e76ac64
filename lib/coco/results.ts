/**
 * COCO keypoint results: the JSON that pycocotools' `COCO.loadRes` and posekit's own evaluator
 * read, plus the image ids that go with it.
 *
 * Image ids: a COCO-style file name (digits only, e.g. `000000000785.jpg`) is its own id, so
 * results on COCO images can be evaluated directly. Other names get a stable id hashed from
 * the base name; each result also carries its image's `file_name` (pycocotools ignores extra
 * keys), so that an id is never the only link back to the file.
 */

import { baseName as basename, extName as extname } from "../util/paths.ts";
import type { Pose } from "../types.ts";

/** One person in COCO's keypoint results format. */
export interface CocoKeypointResult {
  /** The image's id. */
  image_id: number;
  /** Always 1 (person). */
  category_id: number;
  /** x, y, score per keypoint, in image pixels. */
  keypoints: number[];
  /** Person score. */
  score: number;
  /** Person box as [x, y, width, height]. */
  bbox: [number, number, number, number];
  /** The image as the inputs named it (a path, `-` for stdin, or a URL), when known. */
  file_name?: string;
}

/** Coordinates keep 3 decimals (1/1000 px), far below what OKS can tell apart. */
const COORDINATE_DECIMALS = 3;
/** Scores keep 6 decimals, enough to keep the ranking that AP depends on. */
const SCORE_DECIMALS = 6;

function round(value: number, decimals: number): number {
  if (!Number.isFinite(value)) return 0;
  const factor = 10 ** decimals;
  const rounded = Math.round(value * factor) / factor;
  return Object.is(rounded, -0) ? 0 : rounded;
}

/**
 * The COCO results of one image: one entry per pose with every keypoint (K × 3 values, so 51
 * for COCO's 17 keypoints), the pose score and its box, and `file_name` when `fileName` is
 * given. Coordinates are rounded to 3 decimals and scores to 6; non-finite numbers become 0
 * so that the JSON stays valid.
 *
 * @example A pose as COCO results
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Pose, toCocoResults } from "@posekit/posekit";
 *
 * const pose: Pose = {
 *   box: { x1: 10, y1: 20, x2: 50, y2: 100, score: 0.9 },
 *   keypoints: new Float32Array(17 * 3).fill(0.25),
 *   score: 0.8765432,
 * };
 * const [result] = toCocoResults(785, [pose], "skier.jpg");
 * assert.equal(result.image_id, 785);
 * assert.equal(result.category_id, 1);
 * assert.deepEqual(result.bbox, [10, 20, 40, 80]); // x, y, width, height
 * assert.equal(result.keypoints.length, 51);
 * assert.equal(result.score, 0.876543); // 6 decimals
 * assert.equal(result.file_name, "skier.jpg");
 * ```
 */
export function toCocoResults(
  imageId: number,
  poses: readonly Pose[],
  fileName?: string,
): CocoKeypointResult[] {
  return poses.map((pose) => {
    const keypoints: number[] = [];
    for (let i = 0; i + 2 < pose.keypoints.length; i += 3) {
      keypoints.push(
        round(pose.keypoints[i], COORDINATE_DECIMALS),
        round(pose.keypoints[i + 1], COORDINATE_DECIMALS),
        round(pose.keypoints[i + 2], SCORE_DECIMALS),
      );
    }
    const { x1, y1, x2, y2 } = pose.box;
    return {
      image_id: imageId,
      category_id: 1,
      keypoints,
      score: round(pose.score, SCORE_DECIMALS),
      bbox: [
        round(x1, COORDINATE_DECIMALS),
        round(y1, COORDINATE_DECIMALS),
        round(x2 - x1, COORDINATE_DECIMALS),
        round(y2 - y1, COORDINATE_DECIMALS),
      ],
      ...(fileName === undefined ? {} : { file_name: fileName }),
    };
  });
}

/**
 * Hashed ids live in [2^30, 2^31): above every COCO id (< 10^6) and every number-named file
 * that keeps its own id, and still a positive 32-bit integer for any consumer.
 */
const HASHED_ID_BASE = 2 ** 30;

/**
 * The COCO image id in a file name that is only digits before its extension
 * (`000000000785.jpg` → 785), or undefined. Numbers from 2^30 up (e.g. timestamps) do not
 * count: they would overlap hashed ids.
 *
 * @example COCO file names
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageIdFromFileName } from "@posekit/posekit";
 *
 * assert.equal(imageIdFromFileName("000000000785.jpg"), 785);
 * assert.equal(imageIdFromFileName("coco/val2017/000000000785.jpg"), 785); // folders do not count
 * assert.equal(imageIdFromFileName("skier.jpg"), undefined); // not only digits
 * assert.equal(imageIdFromFileName("1700000000.jpg"), undefined); // a timestamp, ≥ 2^30
 * ```
 */
export function imageIdFromFileName(path: string): number | undefined {
  const name = basename(path);
  const stem = name.slice(0, name.length - extname(name).length);
  if (!/^\d+$/.test(stem)) return undefined;
  const id = Number(stem);
  return id < HASHED_ID_BASE ? id : undefined;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The id hashed from a name: FNV-1a of the name, folded into [2^30, 2^31). */
function hashedId(name: string): number {
  return HASHED_ID_BASE + (fnv1a(name) % HASHED_ID_BASE);
}

/**
 * The image id of a path on its own: the number in a COCO-style name, else a hash of the base
 * name (FNV-1a, in [2^30, 2^31)) that is the same on every run and machine. Within one run use
 * `ImageIdRegistry`, which also resolves collisions.
 *
 * @example COCO names keep their number, other names get a hash
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageIdForPath } from "@posekit/posekit";
 *
 * assert.equal(imageIdForPath("coco/val2017/000000000785.jpg"), 785);
 * assert.equal(imageIdForPath("https://example.com/000000000785.jpg?w=640"), 785); // URL: its name
 * const id = imageIdForPath("photos/skier.jpg");
 * assert.ok(id >= 2 ** 30 && id < 2 ** 31); // above every COCO id
 * assert.equal(imageIdForPath("other/skier.jpg"), id); // only the base name is hashed
 * ```
 */
export function imageIdForPath(path: string): number {
  // A URL's name is the last part of its path (no query string).
  const name = /^https?:\/\//i.test(path) ? basename(new URL(path).pathname) || path : path;
  return imageIdFromFileName(name) ?? hashedId(basename(name));
}

/**
 * Hands out the image ids of one run. Each path gets `imageIdForPath(path)` unless another
 * path already holds that id (two files with the same base name in different folders, or a
 * hash collision); then it gets the hash of `"<base name>#1"`, `"#2"`, … — the first free one.
 * The result depends only on the paths and their order, so the same inputs give the same ids.
 */
export class ImageIdRegistry {
  private readonly pathById = new Map<number, string>();
  private readonly idByPath = new Map<string, number>();
  private selfEvident = true;

  /**
   * Gives `path` the id `id` (an earlier run's, kept by a resumed one) before other paths are
   * asked for: they then get other ids. An id already handed out is refused.
   */
  reserve(path: string, id: number): void {
    const holder = this.pathById.get(id);
    if (holder !== undefined && holder !== path) {
      throw new Error(`image id ${id} is reserved for ${holder} and ${path}`);
    }
    if (id !== imageIdFromFileName(path)) this.selfEvident = false;
    this.pathById.set(id, path);
    this.idByPath.set(path, id);
  }

  /** The id of `path` (the same id when asked again for the same path). */
  idFor(path: string): number {
    const known = this.idByPath.get(path);
    if (known !== undefined) return known;
    const name = basename(path);
    let id = imageIdForPath(path);
    if (this.pathById.has(id) || id !== imageIdFromFileName(path)) this.selfEvident = false;
    for (let attempt = 1; this.pathById.has(id); attempt++) id = hashedId(`${name}#${attempt}`);
    this.pathById.set(id, path);
    this.idByPath.set(path, id);
    return id;
  }

  /**
   * True when some id cannot be read off its file name (a non-COCO name or a resolved
   * collision), so results need the id → path mapping to be understood.
   */
  get needsMapping(): boolean {
    return !this.selfEvident;
  }

  /** Every id handed out so far → its path, in the order they were handed out. */
  mapping(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [id, path] of this.pathById) result[String(id)] = path;
    return result;
  }
}

/**
 * Results as JSON text: an array with one result per line (valid JSON that `json.load` and
 * pycocotools read, and that diffs and greps well). Ends with a newline.
 *
 * @example One result per line
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CocoKeypointResult, formatResultsJson } from "@posekit/posekit";
 *
 * // One keypoint per result, to keep it short (COCO results have 17).
 * const a: CocoKeypointResult = {
 *   image_id: 785, category_id: 1, keypoints: [10, 20, 0.9], score: 0.9, bbox: [5, 5, 10, 30],
 * };
 * const b: CocoKeypointResult = { ...a, image_id: 786, score: 0.8 };
 * const text = formatResultsJson([a, b]);
 * assert.deepEqual(text.split("\n"), ["[", `${JSON.stringify(a)},`, JSON.stringify(b), "]", ""]);
 * assert.deepEqual(JSON.parse(text), [a, b]); // plain JSON
 * assert.equal(formatResultsJson([]), "[]\n");
 * ```
 */
export function formatResultsJson(results: readonly CocoKeypointResult[]): string {
  if (results.length === 0) return "[]\n";
  return `[\n${results.map((r) => JSON.stringify(r)).join(",\n")}\n]\n`;
}

/** An image of a run and the id its results get. */
export interface ImageIdAssignment {
  path: string;
  imageId: number;
}

/**
 * Ids for the images of one run, in order (see `ImageIdRegistry` for the rules); `reserved`
 * ids (path → id: an earlier run's, resumed) are kept, and no other path gets one of them.
 */
export function assignImageIds(
  paths: readonly string[],
  reserved: ReadonlyMap<string, number> = new Map(),
): ImageIdAssignment[] {
  const registry = new ImageIdRegistry();
  for (const path of paths) {
    const id = reserved.get(path);
    if (id !== undefined) registry.reserve(path, id);
  }
  return paths.map((path) => ({ path, imageId: registry.idFor(path) }));
}
