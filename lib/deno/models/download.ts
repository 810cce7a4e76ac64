/**
 * Downloading model files into the cache, and sha256 checks of model files.
 *
 * A download goes to a temporary file in the cache folder and is renamed into place only
 * after its sha256 matched, so an interrupted or corrupt download never leaves a file that
 * looks like a model. For archives the model is extracted from the downloaded ZIP first,
 * after the archive's own sha256 matched when the manifest gives it. A download has an idle
 * timeout and a size limit, and so has the model inflated from an archive.
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ModelManifest } from "../../models/manifest.ts";
import { findZipMember, readZipEntries, zipEntryChunks } from "../../bytes/zip.ts";
import { createTemporaryFile, removeStaleTemporaryFiles, writeAll } from "../files.ts";

/** Called as bytes arrive; `total` is undefined when the server does not say. */
export type DownloadProgress = (received: number, total: number | undefined) => void;

/**
 * How long a download may go without progress by default: 30 seconds to connect and get the
 * headers, then 30 seconds between two pieces of the body.
 */
export const DEFAULT_DOWNLOAD_IDLE_MS = 30_000;

/**
 * The slowest a download may be on average by default, once the idle timeout has passed:
 * 8 KiB/s. A server that sends a byte now and then never trips the idle timeout, and would
 * otherwise hold the download for days.
 */
export const DEFAULT_MIN_DOWNLOAD_BYTES_PER_SECOND = 8 * 1024;

/**
 * The most bytes a download (and a model taken out of an archive) may have by default:
 * 2 GiB, the most a protobuf, and so an .onnx model, can be.
 */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 2 ** 31;

export interface DownloadOptions {
  /** Replaces the global `fetch` (tests, proxies). */
  fetch?: typeof fetch;
  onProgress?: DownloadProgress;
  /**
   * Milliseconds a download may go without progress (connecting and waiting for the headers,
   * then between two pieces of the body); default `DEFAULT_DOWNLOAD_IDLE_MS`. A server that
   * accepts and never answers would otherwise hang the download until the process is killed.
   */
  idleTimeoutMs?: number;
  /**
   * The least average speed, in bytes per second, from the end of the first idle timeout on;
   * default `DEFAULT_MIN_DOWNLOAD_BYTES_PER_SECOND`.
   */
  minBytesPerSecond?: number;
  /** The most bytes the download, and the model inside an archive, may have; default
   * `DEFAULT_MAX_DOWNLOAD_BYTES`. */
  maxBytes?: number;
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
 * HTTP errors, network failures, a server silent for `idleTimeoutMs`, one slower than
 * `minBytesPerSecond` on average and an answer over `maxBytes` throw an Error naming the URL.
 */
export async function downloadFile(
  url: string,
  path: string,
  options: DownloadOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  const idle = new IdleTimeout(options.idleTimeoutMs ?? DEFAULT_DOWNLOAD_IDLE_MS);
  try {
    const response = await openDownload(url, options.fetch ?? globalThis.fetch, idle);
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader !== null && /^\d+$/.test(lengthHeader)
      ? Number(lengthHeader)
      : undefined;
    if (total !== undefined && total > maxBytes) {
      await response.body!.cancel().catch(() => {});
      throw new Error(
        `cannot download ${url}: it announces ${total} bytes, more than ${limitText(maxBytes)}`,
      );
    }
    const received = await saveBody(url, response.body!, path, {
      idle,
      maxBytes,
      minBytesPerSecond: options.minBytesPerSecond ?? DEFAULT_MIN_DOWNLOAD_BYTES_PER_SECOND,
      onProgress: (received) => options.onProgress?.(received, total),
    });
    if (total !== undefined && received.bytes !== total) {
      throw new Error(`download of ${url} is incomplete: got ${received.bytes} of ${total} bytes`);
    }
    return received;
  } finally {
    idle.clear();
  }
}

/** The response to `url` with a body, within the idle timeout; errors name the URL. */
async function openDownload(
  url: string,
  fetchImpl: typeof fetch,
  idle: IdleTimeout,
): Promise<Response> {
  let response: Response;
  try {
    response = await idle.race(fetchImpl(url, { signal: idle.signal }));
  } catch (error) {
    if (idle.expired) throw new Error(`cannot download ${url}: ${idle.describe("answer")}`);
    throw new Error(`cannot download ${url}: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new Error(
      `cannot download ${url}: HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }`,
    );
  }
  return response;
}

/** What `saveBody` refuses, and whom it tells of progress. */
interface SaveLimits {
  idle: IdleTimeout;
  maxBytes: number;
  minBytesPerSecond: number;
  onProgress: (received: number) => void;
}

/**
 * Writes `body` into `path` while hashing it, refusing more than `maxBytes`, a pause longer
 * than the idle timeout and, once that long has passed, an average under `minBytesPerSecond`;
 * returns the sha256 and the byte count.
 */
async function saveBody(
  url: string,
  body: ReadableStream<Uint8Array>,
  path: string,
  { idle, maxBytes, minBytesPerSecond, onProgress }: SaveLimits,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  const started = performance.now();
  let received = 0;
  const reader = body.getReader();
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    onProgress(0);
    while (true) {
      idle.restart();
      const { done, value } = await idle.race(reader.read());
      if (done) break;
      received += value.length;
      if (received > maxBytes) {
        throw new Error(`it is larger than ${limitText(maxBytes)}`);
      }
      const seconds = (performance.now() - started) / 1000;
      if (seconds * 1000 > idle.ms && received < minBytesPerSecond * seconds) {
        throw new Error(
          `slower than ${minBytesPerSecond} bytes/s on average (${received} bytes in ` +
            `${seconds.toFixed(1)} s): the server is throttled or stalling; try again later`,
        );
      }
      hash.update(value);
      await writeAll(file, value);
      onProgress(received);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    const why = idle.expired ? idle.describe("more data") : (error as Error).message;
    throw new Error(`download of ${url} failed after ${received} bytes: ${why}`);
  } finally {
    reader.releaseLock();
    file.close();
  }
  return { sha256: hash.digest("hex"), bytes: received };
}

/** "the limit of N bytes (N MiB)". */
function limitText(maxBytes: number): string {
  const mib = maxBytes / 2 ** 20;
  return `the limit of ${maxBytes} bytes${mib >= 1 ? ` (${+mib.toFixed(1)} MiB)` : ""}`;
}

/**
 * An abort signal that fires after `ms` without a `restart`, and a `race` that rejects when it
 * fires: a `fetch` replacement that ignores the signal cannot hang the download either.
 */
class IdleTimeout {
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expire!: (error: Error) => void;
  readonly #expired: Promise<never>;

  constructor(readonly ms: number) {
    this.#expired = new Promise<never>((_, reject) => this.#expire = reject);
    this.#expired.catch(() => {}); // observed through `race`
    this.restart();
  }

  /** Aborted when the time ran out. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the time ran out. */
  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Starts the wait anew (progress was made). */
  restart(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const error = new Error("timed out");
      this.#controller.abort(error);
      this.#expire(error);
    }, this.ms);
  }

  /** `promise`, or a rejection when the time runs out first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#expired]);
  }

  /** Stops the timer (the download ended). */
  clear(): void {
    clearTimeout(this.#timer);
  }

  /** "no `what` within N s (timeout)". */
  describe(what: string): string {
    return `no ${what} within ${this.ms / 1000} s (timeout)`;
  }
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
  // posekit's temporary files beside the target, locked while this download lives: a killed
  // download's (up to the size cap) are swept by the next one, a running one's never.
  await removeStaleTemporaryFiles(target);
  const download = await createTemporaryFile(target);
  const extract = await createTemporaryFile(target);
  const downloadPath = download.path;
  const extractPath = extract.path;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    download.file.close();
    extract.file.close();
  };
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
    let readyPath = downloadPath;
    if (manifest.archive) {
      // The archive's own hash first: a tampered archive is never inflated.
      checkArchiveHash(manifest, downloaded.sha256, url);
      const member = manifest.archive.member;
      const zip = await Deno.readFile(downloadPath);
      await Deno.remove(downloadPath);
      const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
      const sha256 = await extractMember(zip, member, url, extractPath, maxBytes);
      checkDownloadHash(manifest, sha256, `${url} (archive member ${member})`);
      readyPath = extractPath;
    } else {
      checkDownloadHash(manifest, downloaded.sha256, url);
    }
    // Same folder, so the rename is atomic: readers see no file or the whole, checked file,
    // once its data is on disk (see writeFileAtomic). The locks go first (Windows renames no
    // open file).
    await (manifest.archive ? extract : download).file.syncData();
    release();
    await Deno.rename(readyPath, target);
    return target;
  } finally {
    release();
    for (const path of [downloadPath, extractPath]) {
      await Deno.remove(path).catch(() => {});
    }
  }
}

/**
 * Writes `member` of the archive `zip` into `path`, inflating and hashing it piece by piece
 * (a model of hundreds of MB is never held twice), and returns its sha256. A member larger
 * than `maxBytes`, or announcing so, is refused; errors name the archive's URL.
 */
async function extractMember(
  zip: Uint8Array,
  member: string,
  url: string,
  path: string,
  maxBytes: number,
): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const entry = findZipMember(readZipEntries(zip), member);
    for await (const chunk of zipEntryChunks(zip, entry, { maxBytes })) {
      hash.update(chunk);
      await writeAll(file, chunk);
    }
  } catch (error) {
    // ZipErrors, and anything else (a full disk, say), named by the archive's URL.
    throw new Error(`cannot extract the model from ${url}: ${(error as Error).message}`);
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/**
 * Checks the downloaded archive against the manifest's `archive.sha256`, when it gives one,
 * before anything is inflated.
 */
function checkArchiveHash(manifest: ModelManifest, actual: string, url: string): void {
  const expected = manifest.archive?.sha256;
  if (expected && actual !== expected) {
    throw new Error(
      `the archive of model "${manifest.name}" downloaded from ${url} has sha256 ${actual}, ` +
        `but its manifest expects ${expected}; it was not opened and nothing was saved. The ` +
        `file at that URL may have changed, or the download was corrupted: try again, or get ` +
        `the model another way and pass its folder with --models.`,
    );
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
