/**
 * The newest JSON Lines records of a stream with no end (a camera), within a budget: a page
 * left filming for hours must not hold every frame it ever saw.
 */

import type { JsonlRecord } from "./jsonl.ts";

/**
 * People (and empty frames) a stream's records hold by default: about 100 MB of memory (50 MB as
 * JSON Lines), half an hour of five people at 10 frames a second.
 */
export const DEFAULT_MAX_STREAM_PEOPLE = 100_000;

/**
 * The newest records of a stream: past `maxPeople` people (a frame with nobody counts as one),
 * the oldest frames are dropped, and `dropped` counts them.
 */
export class RecentRecords {
  /** The records held, oldest first: the same array throughout (callers may hold it). */
  readonly records: JsonlRecord[] = [];
  /** Records dropped so far to stay within the budget. */
  dropped = 0;
  #held = 0;

  /** A buffer that holds up to `maxPeople` people (at least one frame is always held). */
  constructor(readonly maxPeople: number = DEFAULT_MAX_STREAM_PEOPLE) {
    if (!(Number.isInteger(maxPeople) && maxPeople >= 1)) {
      throw new RangeError(`maxPeople must be a whole number ≥ 1, got ${maxPeople}`);
    }
  }

  /** Adds the newest frame's record, dropping the oldest ones past the budget. */
  push(record: JsonlRecord): void {
    this.records.push(record);
    this.#held += weight(record);
    let drop = 0;
    while (this.#held > this.maxPeople && drop < this.records.length - 1) {
      this.#held -= weight(this.records[drop++]);
    }
    if (drop > 0) {
      this.records.splice(0, drop);
      this.dropped += drop;
    }
  }
}

function weight(record: JsonlRecord): number {
  return Math.max(1, record.people.length);
}
