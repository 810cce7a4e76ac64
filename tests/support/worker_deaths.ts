/**
 * What tests/support/dying_pose_worker.ts (a pose worker that stops on purpose) understands,
 * for the pool's tests: the markers that make it stop, and the record it leaves when it does.
 * Kept apart from the worker module itself, which starts a pose worker when imported.
 */

import { join } from "node:path";

/**
 * An image whose file name starts with one of these stops the worker, with an uncaught error,
 * right after:
 * - `DIE_ON_JOB`: the worker is sent that image (it dies holding it, and whatever it held);
 * - `DIE_ON_PART`: the worker is sent people of that image handed off by another worker;
 * - `DIE_AFTER_HAND_OFF`: the worker hands people of that image off to another worker.
 */
export const DIE_ON_JOB = "die-on-job";
export const DIE_ON_PART = "die-on-part";
export const DIE_AFTER_HAND_OFF = "die-after-hand-off";

/** Where a dying worker records its death: this file, beside the image (its folder must exist). */
export const DEATHS_FILE = "deaths.jsonl";

/** One worker's death, as recorded (one JSON line each). */
export interface Death {
  /** The marker that stopped it. */
  marker: string;
  /** The worker's name (`pose worker N`). */
  worker: string;
  /** The marked image. */
  image: string;
  /**
   * The images this worker held as it stopped (received, neither answered nor given back),
   * or whose people it held.
   */
  held: string[];
}

/** The deaths recorded in `dir`, in order (none: an empty list). */
export function readDeaths(dir: string): Death[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(dir, DEATHS_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return text.split("\n").filter((line) => line).map((line) => JSON.parse(line) as Death);
}
