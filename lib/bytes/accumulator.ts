/**
 * Collecting the chunks of a stream into one compact buffer.
 *
 * Why not keep the chunks and join them at the end: a stream's chunks are often small views
 * of much larger buffers (Deno's fetch hands out views of 64 KiB buffers, even for one byte,
 * and a gzip answer decodes into 4 KiB views of 64 KiB buffers), so keeping them keeps the
 * large buffers alive: a 30 kB body sent one byte per TCP segment held about 1 GB. Copying
 * each chunk into one buffer that grows geometrically keeps at most twice the bytes read.
 */

/**
 * Bytes appended chunk by chunk into one buffer that doubles when full (never past
 * `maxBytes`), so its capacity stays at most twice its length and no chunk is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteAccumulator } from "./accumulator.ts";
 *
 * const bytes = new ByteAccumulator(8);
 * bytes.append(Uint8Array.of(1, 2, 3));
 * assert.equal(bytes.fits(6), false); // 3 + 6 > 8: the caller stops reading
 * assert.deepEqual([...bytes.bytes()], [1, 2, 3]);
 * ```
 */
export class ByteAccumulator {
  #buffer = new Uint8Array(0);
  #length = 0;

  /** An empty accumulator that will hold at most `maxBytes` bytes. */
  constructor(
    /** The most bytes it accepts; its capacity never exceeds this either. */
    readonly maxBytes: number = Number.MAX_SAFE_INTEGER,
  ) {}

  /** Bytes appended so far. */
  get length(): number {
    return this.#length;
  }

  /** Bytes allocated: at most `2 × length` and at most `maxBytes`. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /** True when `count` more bytes stay within `maxBytes`. */
  fits(count: number): boolean {
    return this.#length + count <= this.maxBytes;
  }

  /**
   * Copies `chunk` in (the chunk itself is not kept).
   * @throws RangeError when it would exceed `maxBytes` (check `fits` first)
   */
  append(chunk: Uint8Array): void {
    if (!this.fits(chunk.length)) {
      throw new RangeError(`more than ${this.maxBytes} bytes`);
    }
    const needed = this.#length + chunk.length;
    if (needed > this.#buffer.length) this.#grow(needed);
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
  }

  /** The bytes appended so far (a view of the buffer, valid until the next `append`). */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Doubles the capacity (at least to `needed`, at most to `maxBytes`). */
  #grow(needed: number): void {
    const capacity = Math.max(needed, Math.min(2 * this.#buffer.length, this.maxBytes));
    const buffer = new Uint8Array(capacity);
    buffer.set(this.bytes());
    this.#buffer = buffer;
  }
}
