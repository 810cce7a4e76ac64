/**
 * From what the user typed (`--model yolox_nano`, `--model my.json`, `--model ./net.onnx`) to a
 * checked model file on disk and its manifest.
 *
 * Model files are looked up, in order, in the `--models` folders, in `$POSEKIT_MODELS` (one
 * folder or a list separated like PATH), and in the per-user cache (`$POSEKIT_CACHE`, else
 * `$XDG_CACHE_HOME/posekit/models`, else `~/.cache/posekit/models`; on Windows
 * `%LOCALAPPDATA%\posekit\models`). The first file found is used and must match the manifest's
 * sha256. A model found nowhere is downloaded into the cache when its manifest has a URL.
 */

import { basename, delimiter, dirname, extname, isAbsolute, join, resolve } from "node:path";
import type { ModelManifest } from "../../models/manifest.ts";
import {
  findManifest,
  listManifests,
  nearestNames,
  validateManifest,
} from "../../models/catalog.ts";
import { downloadModel, type DownloadProgress, sha256File } from "./download.ts";

/** Environment variables as read by the resolver. */
export type Environment = Record<string, string | undefined>;

/** Where `resolveModel` looks for model files and how it downloads. */
export interface ResolveOptions {
  /** `--models DIR` folders, searched first, in order. */
  modelDirs?: string[];
  /** Environment to read POSEKIT_MODELS, POSEKIT_CACHE, XDG_CACHE_HOME, HOME, LOCALAPPDATA
   * from; default: the process environment. */
  env?: Environment;
  /** The cache folder, instead of the one the environment gives. */
  cacheDir?: string;
  /** Download progress in bytes (`total` undefined when unknown). */
  onProgress?: DownloadProgress;
  /** Replaces the global `fetch` for downloads. */
  fetch?: typeof fetch;
  /** Milliseconds a download may go without progress (default `DEFAULT_DOWNLOAD_IDLE_MS`). */
  downloadIdleTimeoutMs?: number;
  /** The least average download speed in bytes per second (default
   * `DEFAULT_MIN_DOWNLOAD_BYTES_PER_SECOND`). */
  minDownloadBytesPerSecond?: number;
  /** The most bytes a download, or a model inflated from an archive, may have (default
   * `DEFAULT_MAX_DOWNLOAD_BYTES`). */
  maxDownloadBytes?: number;
  /** Operating system that decides the default cache folder; default `Deno.build.os`. */
  os?: string;
}

/** A model file found (or downloaded) and checked. */
export interface ResolvedModel {
  /** The model's manifest; undefined for a bare .onnx file (infer it from the model). */
  manifest: ModelManifest | undefined;
  /** Path of the checked model file. */
  path: string;
  /** True when the file was downloaded by this call. */
  downloaded: boolean;
}

/** A folder searched for model files, and why it is searched (for messages). */
export interface ModelDir {
  dir: string;
  origin: "--models" | "POSEKIT_MODELS" | "cache" | "manifest folder";
}

function readEnvironment(options: ResolveOptions): (name: string) => string | undefined {
  if (options.env) {
    const env = options.env;
    return (name) => env[name] || undefined;
  }
  return (name) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined; // no --allow-env: behave as if unset
    }
  };
}

/**
 * The per-user model cache folder: `$POSEKIT_CACHE`, else `$XDG_CACHE_HOME/posekit/models`,
 * else `~/.cache/posekit/models` (Windows: `%LOCALAPPDATA%\posekit\models`). Undefined when
 * the environment names no home folder at all.
 */
export function defaultCacheDir(
  env: Environment = {},
  os: string = Deno.build.os,
): string | undefined {
  const get = (name: string) => env[name] || undefined;
  const explicit = get("POSEKIT_CACHE");
  if (explicit) return resolve(explicit);
  if (os === "windows") {
    const localAppData = get("LOCALAPPDATA") ??
      (get("USERPROFILE") ? join(get("USERPROFILE")!, "AppData", "Local") : undefined);
    return localAppData ? join(localAppData, "posekit", "models") : undefined;
  }
  const xdg = get("XDG_CACHE_HOME");
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg && isAbsolute(xdg)) return join(xdg, "posekit", "models");
  const home = get("HOME");
  return home ? join(home, ".cache", "posekit", "models") : undefined;
}

/** The folders searched for model files, in order (without duplicates). */
export function modelSearchDirs(options: ResolveOptions = {}): ModelDir[] {
  const getEnv = readEnvironment(options);
  const dirs: ModelDir[] = [];
  const add = (dir: string, origin: ModelDir["origin"]) => {
    const absolute = resolve(dir);
    if (!dirs.some((d) => d.dir === absolute)) dirs.push({ dir: absolute, origin });
  };
  for (const dir of options.modelDirs ?? []) add(dir, "--models");
  for (const dir of (getEnv("POSEKIT_MODELS") ?? "").split(delimiter)) {
    if (dir) add(dir, "POSEKIT_MODELS");
  }
  const cache = cacheDirOf(options);
  if (cache) add(cache, "cache");
  return dirs;
}

function cacheDirOf(options: ResolveOptions): string | undefined {
  if (options.cacheDir) return resolve(options.cacheDir);
  const getEnv = readEnvironment(options);
  const env: Environment = {};
  for (const name of ["POSEKIT_CACHE", "XDG_CACHE_HOME", "HOME", "LOCALAPPDATA", "USERPROFILE"]) {
    env[name] = getEnv(name);
  }
  return defaultCacheDir(env, options.os ?? Deno.build.os);
}

/** Reads and validates a manifest file; errors name the file. */
export async function readManifestFile(path: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`cannot read model manifest ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`model manifest ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return validateManifest(json, path);
}

/**
 * Checks a model file against its manifest's sha256 (when it has one); throws an Error naming
 * the file, both hashes and the fix.
 */
export async function verifyModelFile(path: string, manifest: ModelManifest): Promise<void> {
  if (!manifest.sha256) return;
  const actual = await sha256File(path);
  if (actual === manifest.sha256 || manifest.acceptedSha256?.includes(actual)) return;
  throw new Error(
    `model file ${path} does not match manifest "${manifest.name}": its sha256 is ${actual}, ` +
      `expected ${manifest.sha256}. It is corrupt, incomplete or another model. ` +
      (manifest.url
        ? `Delete it and run again to download it anew, or replace it with the right file.`
        : `Delete it and put the right file there (see models/README.md for how to get it).`),
  );
}

/**
 * Finds (and if needed downloads) the model that `spec` names and checks it:
 * - a catalog name such as "rtmdet_nano_person";
 * - a path to a manifest .json file (its model is looked up beside it first);
 * - a path to an .onnx file (a bare file name is also looked up in the model folders). Its
 *   manifest is `<same name>.json` beside it if present, else the catalog manifest whose
 *   `file` is that name and whose sha256 matches; otherwise undefined, and the caller infers
 *   the family from the model itself.
 *
 * @example Find (or download) a catalog model
 * ```ts ignore
 * import { resolveModel } from "@posekit/posekit";
 *
 * // ./models first, then $POSEKIT_MODELS, then the cache, where a missing file is downloaded.
 * const { path, manifest, downloaded } = await resolveModel("rtmdet_nano_person", {
 *   modelDirs: ["./models"],
 *   onProgress: (received, total) => console.error(`${received} of ${total ?? "?"} bytes`),
 * });
 * console.log(path, manifest?.family, downloaded ? "(downloaded now)" : "");
 * ```
 */
export async function resolveModel(
  spec: string,
  options: ResolveOptions = {},
): Promise<ResolvedModel> {
  const extension = extname(spec).toLowerCase();
  if (extension === ".json") {
    const manifest = await readManifestFile(spec);
    const manifestDir: ModelDir = { dir: resolve(dirname(spec)), origin: "manifest folder" };
    return await locateModel(manifest, [manifestDir, ...modelSearchDirs(options)], options);
  }
  if (extension === ".onnx") return await resolveOnnxPath(spec, options);

  const manifest = findManifest(spec);
  if (!manifest) {
    if (/[/\\]/.test(spec) || await isFile(spec)) {
      throw new Error(
        `cannot use model "${spec}": a model path must end with .onnx, a manifest with .json`,
      );
    }
    const names = listManifests().map((m) => m.name);
    const near = nearestNames(spec, names);
    throw new Error(
      `unknown model "${spec}"` +
        (near.length
          ? ` (did you mean ${near.join(" or ")}?)`
          : `; known models: ${names.join(", ")}`) +
        `. Or give the path of an .onnx file or of a manifest .json file ` +
        `(deno task models lists them).`,
    );
  }
  return await locateModel(manifest, modelSearchDirs(options), options);
}

async function resolveOnnxPath(spec: string, options: ResolveOptions): Promise<ResolvedModel> {
  let path: string | undefined = (await isFile(spec)) ? resolve(spec) : undefined;
  const bareName = !/[/\\]/.test(spec);
  const dirs = modelSearchDirs(options);
  if (!path && bareName) {
    for (const { dir } of dirs) {
      if (await isFile(join(dir, spec))) {
        path = join(dir, spec);
        break;
      }
    }
  }
  if (!path) {
    throw new Error(
      `model file ${spec} not found` +
        (bareName ? ` (also looked in:\n${formatDirs(dirs)})` : "") +
        `. Check the path, or pass the folder that holds it with --models.`,
    );
  }

  const fileName = basename(path);
  const siblingPath = join(dirname(path), `${fileName.slice(0, -extname(fileName).length)}.json`);
  if (await isFile(siblingPath)) {
    const manifest = await readManifestFile(siblingPath);
    await verifyModelFile(path, manifest);
    return { manifest, path, downloaded: false };
  }
  // Same name as a catalog model: use its manifest only if it is that very file (a retrained
  // or re-exported model with the same name must not get the wrong preprocessing).
  const known = listManifests().find((m) => m.file === fileName);
  if (known) {
    const actual = known.sha256 ? await sha256File(path) : undefined;
    if (!actual || actual === known.sha256 || known.acceptedSha256?.includes(actual)) {
      return { manifest: known, path, downloaded: false };
    }
  }
  return { manifest: undefined, path, downloaded: false };
}

async function locateModel(
  manifest: ModelManifest,
  dirs: ModelDir[],
  options: ResolveOptions,
): Promise<ResolvedModel> {
  for (const { dir } of dirs) {
    const path = join(dir, manifest.file);
    if (await isFile(path)) {
      await verifyModelFile(path, manifest);
      return { manifest, path, downloaded: false };
    }
  }
  const cacheDir = cacheDirOf(options);
  if (manifest.url && cacheDir) {
    const path = await downloadModel(manifest, cacheDir, {
      fetch: options.fetch,
      onProgress: options.onProgress,
      idleTimeoutMs: options.downloadIdleTimeoutMs,
      minBytesPerSecond: options.minDownloadBytesPerSecond,
      maxBytes: options.maxDownloadBytes,
    });
    return { manifest, path, downloaded: true };
  }
  const fixes = [
    `pass --models DIR with a folder that holds ${manifest.file}`,
    `set POSEKIT_MODELS to such a folder`,
    manifest.url
      ? `set POSEKIT_CACHE (no cache folder is known, so it cannot be downloaded)`
      : `see models/README.md for how to get or export it`,
  ];
  throw new Error(
    `model "${manifest.name}" needs the file ${manifest.file}, which was not found in:\n` +
      formatDirs(dirs) + "\n" +
      (manifest.url ? "" : `It has no download URL.\n`) +
      (manifest.source && !manifest.url ? `Source: ${manifest.source}\n` : "") +
      `To fix: ${fixes.join("; or ")}.`,
  );
}

function formatDirs(dirs: ModelDir[]): string {
  if (dirs.length === 0) return "  (no folders: no --models, POSEKIT_MODELS or cache folder)";
  return dirs.map(({ dir, origin }, i) => `  ${i + 1}. ${dir} (${origin})`).join("\n");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
