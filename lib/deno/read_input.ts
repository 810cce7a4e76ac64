/**
 * Reading one input's bytes with a size limit: a file, standard input (`-`) or an
 * `http(s)://` URL (with a timeout).
 */

import { ByteAccumulator } from "../bytes/accumulator.ts";
import { describeStatError, isUrlInput, notRegularFile, STDIN_INPUT } from "./inputs.ts";

/** The most bytes read from stdin or a URL by default: 256 MiB (a 100-megapixel PNG fits). */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * The largest file read by default: 1 GiB, above any image within the default pixel limit
 * (100 megapixels of 16-bit RGBA, uncompressed, is 800 MB), so that a huge or sparse file
 * named `.jpg` is refused from its size rather than read into memory.
 */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** How long a URL may take, headers and body, by default: 30 seconds. */
export const DEFAULT_URL_TIMEOUT_MS = 30_000;

/**
 * A URL or stdin that could not be read, and why.
 *
 * @example Skipping an input that cannot be read
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputReadError, readInput } from "@posekit/posekit";
 *
 * const stdin = ReadableStream.from([new Uint8Array(4)]);
 * try {
 *   await readInput("-", { stdin, maxBytes: 2 });
 *   assert.fail("4 bytes are over the limit");
 * } catch (error) {
 *   if (!(error instanceof InputReadError)) throw error; // a bug: not the input's fault
 *   assert.equal(error.input, "-"); // as given: a path, `-` or a URL
 *   assert.equal(error.reason, "stdin is larger than the limit of 2 bytes");
 *   assert.equal(error.message, `${error.input}: ${error.reason}`);
 * }
 * ```
 */
export class InputReadError extends Error {
  /** The error for `input`, with `reason`. */
  constructor(
    /** The input as given (a path, `-` or a URL). */
    readonly input: string,
    /** Why, without the input. */
    readonly reason: string,
  ) {
    super(`${input}: ${reason}`);
    this.name = "InputReadError";
  }
}

/** Options of `readInput`. */
export interface ReadInputOptions {
  /** The most bytes read from stdin or a URL (default `DEFAULT_MAX_INPUT_BYTES`). */
  maxBytes?: number;
  /** The largest file read (default `DEFAULT_MAX_FILE_BYTES`). */
  maxFileBytes?: number;
  /** Milliseconds a URL may take, headers and body (default `DEFAULT_URL_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Where `-` reads from (default: the process's stdin). */
  stdin?: ReadableStream<Uint8Array>;
}

/**
 * The bytes of one input from `expandInputs`: a file (up to `maxFileBytes`), `-` (all of
 * stdin, up to `maxBytes`) or a URL (fetched, redirects followed, up to `maxBytes` and within
 * `timeoutMs`). A file must (still) be a regular file.
 * @throws InputReadError naming the input and the reason
 *
 * @example stdin with a size limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputReadError, readInput } from "@posekit/posekit";
 *
 * const bytes = new Uint8Array([0xff, 0xd8, 0xff]);
 * const stdin = () => ReadableStream.from([bytes]);
 * assert.deepEqual(await readInput("-", { stdin: stdin() }), bytes);
 * await assert.rejects(readInput("-", { stdin: stdin(), maxBytes: 2 }), InputReadError);
 * ```
 */
export async function readInput(
  input: string,
  options: ReadInputOptions = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_INPUT_BYTES;
  if (input === STDIN_INPUT) {
    return await readLimited(options.stdin ?? Deno.stdin.readable, maxBytes, input, "stdin");
  }
  if (isUrlInput(input)) return await fetchLimited(input, maxBytes, options);
  try {
    const info = await Deno.stat(input);
    if (!info.isFile) throw new InputReadError(input, notRegularFile(info));
    const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (info.size > maxFileBytes) {
      throw new InputReadError(
        input,
        tooLarge(`the file (${info.size} bytes) is larger`, maxFileBytes),
      );
    }
    const bytes = await Deno.readFile(input);
    // A file that grew after stat is refused too.
    if (bytes.length > maxFileBytes) {
      throw new InputReadError(input, tooLarge("the file is larger", maxFileBytes));
    }
    return bytes;
  } catch (error) {
    if (error instanceof InputReadError) throw error;
    throw new InputReadError(input, describeStatError(error));
  }
}

async function fetchLimited(
  url: string,
  maxBytes: number,
  options: ReadInputOptions,
): Promise<Uint8Array> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_URL_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () =>
    new InputReadError(url, `no complete answer within ${timeoutMs / 1000} s (timeout)`);
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    if (signal.aborted) throw timedOut();
    throw new InputReadError(url, `cannot fetch: ${(error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new InputReadError(url, `HTTP ${response.status} ${response.statusText}`.trim());
  }
  const declared = Number(response.headers.get("content-length"));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new InputReadError(url, tooLarge(`the answer (${declared} bytes) is larger`, maxBytes));
  }
  try {
    return await readLimited(response.body, maxBytes, url, "the answer");
  } catch (error) {
    if (signal.aborted) throw timedOut();
    throw error;
  }
}

/** "`what` than the limit of N bytes (N MiB)". */
function tooLarge(what: string, maxBytes: number): string {
  const mib = maxBytes / 1048576;
  return `${what} than the limit of ${maxBytes} bytes${
    mib >= 1 ? ` (${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB)` : ""
  }`;
}

/**
 * All bytes of `stream`, refusing more than `maxBytes` (and cancelling the rest). Each chunk is
 * copied into one compact buffer as it arrives (`ByteAccumulator`): memory stays within twice
 * the bytes read, however small the chunks (for a compressed answer, the decoded bytes are
 * counted, so a gzip bomb stops at the limit).
 */
async function readLimited(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  input: string,
  what: string,
): Promise<Uint8Array> {
  const bytes = new ByteAccumulator(maxBytes);
  if (!stream) return bytes.bytes();
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!bytes.fits(value.length)) {
        await reader.cancel();
        throw new InputReadError(input, tooLarge(`${what} is larger`, maxBytes));
      }
      bytes.append(value);
    }
  } catch (error) {
    if (error instanceof InputReadError) throw error;
    throw new InputReadError(input, `cannot read ${what}: ${(error as Error).message}`);
  } finally {
    reader.releaseLock();
  }
  return bytes.bytes();
}
