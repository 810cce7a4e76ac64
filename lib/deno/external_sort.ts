/**
 * Sorting more items than memory holds: items are buffered up to a budget, each full buffer is
 * sorted and written to a temporary file as one line per item (a run), and the runs are read
 * back together, a batch at a time, merged through a heap. Memory is the buffer plus one read
 * batch per run merged at once (at most `FAN_IN` runs: more are first merged into longer runs),
 * whatever the number of items. `merge` uses it to join millions of result lines from many
 * shards in bounded memory.
 */

import { join } from "node:path";

/** How one kind of item is ordered and written as a line. */
export interface SortCodec<T> {
  /** A total order (ties only between items that may come out in either order). */
  compare(a: T, b: T): number;
  /** The item as one line, without "\n" (it must hold none). */
  encode(item: T): string;
  /** The item back from its line. */
  decode(line: string): T;
  /** About how many bytes the item takes in memory (its strings plus the object). */
  size(item: T): number;
}

/** A folder for run files, or a function that gives it (and may make it on first use). */
export type RunFolder = string | (() => string);

function folderPath(folder: RunFolder): string {
  return typeof folder === "string" ? folder : folder();
}

/** Items in sorted order, a batch at a time; read once. */
export type SortedRun<T> = AsyncIterable<T[]>;

/** Runs merged at once; more are first merged into longer runs (open files, read buffers). */
export const FAN_IN = 64;

/** Bytes read from a run file at a time. */
const READ_BYTES = 256 * 1024;

/** Items per batch handed on by `mergeRuns`. */
const BATCH = 4096;

/** The default memory budget of a sorter's buffer. */
export const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * Reads a text file as lines (without their "\n"), a batch at a time: every line that ends in
 * "\n", then what follows the last one when it is not empty. Holds one read buffer and the
 * line being read.
 */
export async function* readLines(path: string): AsyncGenerator<string[]> {
  const file = await Deno.open(path, { read: true });
  try {
    const decoder = new TextDecoder("utf-8");
    const buffer = new Uint8Array(READ_BYTES);
    let rest = "";
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      const text = rest + decoder.decode(buffer.subarray(0, n), { stream: true });
      const lines = text.split("\n");
      rest = lines.pop()!;
      if (lines.length > 0) yield lines;
    }
    rest += decoder.decode();
    if (rest !== "") yield [rest];
  } finally {
    file.close();
  }
}

/**
 * Collects items, sorts them, and gives them back in order as runs: the last buffer in memory,
 * the earlier ones from the temporary files they were spilled to (in `folder`, which the caller
 * creates and removes). `add` is synchronous (spilling writes synchronously), so it can be
 * called from a synchronous callback such as `scanJsonl`'s.
 */
export class ExternalSorter<T> {
  private buffer: T[] = [];
  private bufferBytes = 0;
  private readonly files: string[] = [];
  private finished = false;

  constructor(
    private readonly codec: SortCodec<T>,
    private readonly folder: RunFolder,
    private readonly budget: number = DEFAULT_BUFFER_BYTES,
    private readonly name = "run",
  ) {}

  /** Adds an item; when the buffer is over budget, it is sorted and written to a run file. */
  add(item: T): void {
    if (this.finished) throw new Error("ExternalSorter: add after runs()");
    this.buffer.push(item);
    this.bufferBytes += this.codec.size(item);
    if (this.bufferBytes >= this.budget) this.spill();
  }

  /** Run files written so far. */
  get spilledFiles(): number {
    return this.files.length;
  }

  private spill(): void {
    this.buffer.sort((a, b) => this.codec.compare(a, b));
    const path = join(folderPath(this.folder), `${this.name}-${this.files.length}.txt`);
    writeLinesSync(path, this.buffer, this.codec);
    this.files.push(path);
    this.buffer = [];
    this.bufferBytes = 0;
  }

  /** The sorted runs: one per spilled file, and the buffer's items (sorted) last. */
  runs(): SortedRun<T>[] {
    this.finished = true;
    const runs = this.files.map((path) => fileRun(path, this.codec));
    if (this.buffer.length > 0) {
      const items = this.buffer.sort((a, b) => this.codec.compare(a, b));
      this.buffer = [];
      runs.push(memoryRun(items));
    }
    return runs;
  }
}

/** Writes items as lines, in pieces (never one string of the whole buffer). */
function writeLinesSync<T>(path: string, items: T[], codec: SortCodec<T>): void {
  const file = Deno.openSync(path, { write: true, createNew: true });
  try {
    const encoder = new TextEncoder();
    let piece: string[] = [];
    let length = 0;
    const flush = () => {
      const bytes = encoder.encode(piece.join(""));
      for (let offset = 0; offset < bytes.length;) {
        offset += file.writeSync(bytes.subarray(offset));
      }
      piece = [];
      length = 0;
    };
    for (const item of items) {
      const line = codec.encode(item) + "\n";
      piece.push(line);
      length += line.length;
      if (length >= READ_BYTES) flush();
    }
    flush();
  } finally {
    file.close();
  }
}

/** A run read back from its file, which is removed once read (disk is given back early). */
async function* fileRun<T>(path: string, codec: SortCodec<T>): AsyncGenerator<T[]> {
  try {
    for await (const lines of readLines(path)) yield lines.map((line) => codec.decode(line));
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/** A run of items already in memory, in batches (handed out, then let go). */
async function* memoryRun<T>(items: T[]): AsyncGenerator<T[]> {
  for (let start = 0; start < items.length; start += BATCH) {
    yield items.slice(start, start + BATCH);
  }
  items.length = 0;
}

interface Cursor<T> {
  iterator: AsyncIterator<T[]>;
  batch: T[];
  index: number;
}

/** Moves `cursor` to its next item; false when its run is done. */
async function advance<T>(cursor: Cursor<T>): Promise<boolean> {
  cursor.index++;
  while (cursor.index >= cursor.batch.length) {
    const next = await cursor.iterator.next();
    if (next.done) return false;
    cursor.batch = next.value;
    cursor.index = 0;
  }
  return true;
}

/**
 * Merges sorted runs into one sorted stream, a batch at a time. Equal items come out in the
 * order of their runs. At most `FAN_IN` runs are read at once: with more, groups of them are
 * first merged into run files in `folder` (which needs `codec`).
 */
export async function* mergeRuns<T>(
  runs: SortedRun<T>[],
  codec: SortCodec<T>,
  folder: RunFolder,
): AsyncGenerator<T[]> {
  // Names of this merge's files: other merges may write into the same folder.
  const token = crypto.randomUUID().slice(0, 8);
  let level = 0;
  while (runs.length > FAN_IN) {
    const merged: SortedRun<T>[] = [];
    for (let start = 0; start < runs.length; start += FAN_IN) {
      const group = runs.slice(start, start + FAN_IN);
      if (group.length === 1) {
        merged.push(group[0]);
        continue;
      }
      const path = join(folderPath(folder), `merge-${token}-${level}-${start / FAN_IN}.txt`);
      const file = await Deno.open(path, { write: true, createNew: true });
      try {
        const encoder = new TextEncoder();
        for await (const batch of heapMerge(group, codec.compare)) {
          const bytes = encoder.encode(batch.map((item) => codec.encode(item) + "\n").join(""));
          for (let offset = 0; offset < bytes.length;) {
            offset += await file.write(bytes.subarray(offset));
          }
        }
      } finally {
        file.close();
      }
      merged.push(fileRun(path, codec));
    }
    runs = merged;
    level++;
  }
  yield* heapMerge(runs, codec.compare);
}

/** The k-way merge itself: a binary heap of the runs' current items. */
async function* heapMerge<T>(
  runs: SortedRun<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T[]> {
  const heap: Cursor<T>[] = [];
  const order = new Map<Cursor<T>, number>();
  const less = (a: Cursor<T>, b: Cursor<T>) => {
    const c = compare(a.batch[a.index], b.batch[b.index]);
    return c < 0 || (c === 0 && order.get(a)! < order.get(b)!);
  };
  const siftUp = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const siftDown = (i: number) => {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && less(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && less(heap[right], heap[smallest])) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
      i = smallest;
    }
  };
  const cursors: Cursor<T>[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      const cursor: Cursor<T> = {
        iterator: run[Symbol.asyncIterator](),
        batch: [],
        index: -1,
      };
      cursors.push(cursor);
      order.set(cursor, i);
      if (await advance(cursor)) {
        heap.push(cursor);
        siftUp(heap.length - 1);
      }
    }
    let out: T[] = [];
    while (heap.length > 0) {
      const top = heap[0];
      out.push(top.batch[top.index]);
      if (out.length >= BATCH) {
        yield out;
        out = [];
      }
      if (await advance(top)) siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(0);
        }
      }
    }
    if (out.length > 0) yield out;
  } finally {
    // A merge stopped early (an error downstream) closes its runs' files.
    await Promise.all(cursors.map((cursor) => cursor.iterator.return?.()));
  }
}
