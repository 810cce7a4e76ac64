/**
 * Downloading model files into the cache, and sha256 checks of model files.
 *
 * A download goes to a temporary file in the cache folder and is renamed into place only
 * after its sha256 matched, so an interrupted or corrupt download never leaves a file that
 * looks like a model. For archives the model is extracted from the downloaded ZIP first.
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ModelManifest } from "../../models/manifest.ts";
import { extractZipEntry, findZipMember, readZipEntries, ZipError } from "../../bytes/zip.ts";

/** Called as bytes arrive; `total` is undefined when the server does not say. */
export type DownloadProgress = (received: number, total: number | undefined) => void;

export interface DownloadOptions {
  /** Replaces the global `fetch` (tests, proxies). */
  fetch?: typeof fetch;
  onProgress?: DownloadProgress;
}

/**
 * Lower-case hex sha256 of a file, read in 1 MiB chunks (a few milliseconds for the models
 * here, so nothing is remembered between calls).
 */
export async function sha256File(path: string): Promise<string> {
  const file = await Deno.open(path, { read: true });
  try {
    const hash = createHash("sha256");
    const buffer = new Uint8Array(1 << 20);
    while (true) {
      const count = await file.read(buffer);
      if (count === null) break;
      hash.update(buffer.subarray(0, count));
    }
    return hash.digest("hex");
  } finally {
    file.close();
  }
}

/** Lower-case hex sha256 of bytes in memory. */
export function sha256Bytes(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Downloads `url` into `path` while hashing it; returns the sha256 and the byte count.
 * HTTP errors and network failures throw an Error naming the URL.
 */
export async function downloadFile(
  url: string,
  path: string,
  options: DownloadOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    throw new Error(`cannot download ${url}: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(
      `cannot download ${url}: HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }`,
    );
  }
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader)
    ? Number(lengthHeader)
    : undefined;
  const hash = createHash("sha256");
  let received = 0;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    options.onProgress?.(0, total);
    for await (const chunk of response.body) {
      hash.update(chunk);
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      received += chunk.length;
      options.onProgress?.(received, total);
    }
  } catch (error) {
    throw new Error(
      `download of ${url} failed after ${received} bytes: ${(error as Error).message}`,
    );
  } finally {
    file.close();
  }
  if (total !== undefined && received !== total) {
    throw new Error(`download of ${url} is incomplete: got ${received} of ${total} bytes`);
  }
  return { sha256: hash.digest("hex"), bytes: received };
}

/**
 * Downloads the manifest's model (extracting it from its archive when `archive` is set) into
 * `cacheDir/<manifest.file>`, checks its sha256 and returns its path. On any failure nothing
 * is left in the cache.
 */
export async function downloadModel(
  manifest: ModelManifest,
  cacheDir: string,
  options: DownloadOptions = {},
): Promise<string> {
  const url = manifest.url;
  if (!url) throw new Error(`model "${manifest.name}" has no download URL`);
  try {
    await Deno.mkdir(cacheDir, { recursive: true });
  } catch (error) {
    throw new Error(
      `cannot create the model cache folder ${cacheDir}: ${(error as Error).message}. ` +
        `Set POSEKIT_CACHE to a writable folder.`,
    );
  }
  const target = join(cacheDir, manifest.file);
  // Unique per process and call: concurrent downloads never write the same temporary file.
  const tempBase = join(cacheDir, `.${manifest.file}.${crypto.randomUUID().slice(0, 8)}`);
  const downloadPath = `${tempBase}.download.tmp`;
  const extractPath = `${tempBase}.extract.tmp`;
  try {
    let downloaded: { sha256: string };
    try {
      downloaded = await downloadFile(url, downloadPath, options);
    } catch (error) {
      const inArchive = manifest.archive
        ? ` (it is ${manifest.archive.member} in the archive)`
        : "";
      throw new Error(
        `${(error as Error).message}. Check the connection (or proxy settings) and try again, ` +
          `or get ${manifest.file} yourself${inArchive} and pass its folder with --models.`,
      );
    }
    let sha256 = downloaded.sha256;
    let readyPath = downloadPath;
    if (manifest.archive) {
      const member = manifest.archive.member;
      const data = await extractMember(await Deno.readFile(downloadPath), member, url);
      await Deno.remove(downloadPath);
      sha256 = sha256Bytes(data);
      checkDownloadHash(manifest, sha256, `${url} (archive member ${member})`);
      await Deno.writeFile(extractPath, data);
      readyPath = extractPath;
    } else {
      checkDownloadHash(manifest, sha256, url);
    }
    // Same folder, so the rename is atomic: readers see no file or the whole, checked file.
    await Deno.rename(readyPath, target);
    return target;
  } finally {
    for (const path of [downloadPath, extractPath]) {
      await Deno.remove(path).catch(() => {});
    }
  }
}

async function extractMember(zip: Uint8Array, member: string, url: string): Promise<Uint8Array> {
  try {
    const entry = findZipMember(readZipEntries(zip), member);
    return await extractZipEntry(zip, entry);
  } catch (error) {
    if (error instanceof ZipError) {
      throw new Error(`cannot extract the model from ${url}: ${error.message}`);
    }
    throw error;
  }
}

function checkDownloadHash(manifest: ModelManifest, actual: string, what: string): void {
  if (manifest.sha256 && actual !== manifest.sha256) {
    throw new Error(
      `the download of model "${manifest.name}" from ${what} has sha256 ${actual}, but its ` +
        `manifest expects ${manifest.sha256}; nothing was saved. The file at that URL may have ` +
        `changed, or the download was corrupted: try again, or get the file another way and ` +
        `pass its folder with --models.`,
    );
  }
}
