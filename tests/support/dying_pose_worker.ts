/**
 * A pose worker that stops on purpose, for the pool's tests: `PoolOptions.workerModule` (the
 * pool's test hook) points here. It is the real worker (lib/deno/workers/pose_worker.ts, which
 * serves as soon as it is imported) plus a watch over its messages: when one concerns an image
 * whose file name starts with a marker of tests/support/worker_deaths.ts, the worker records
 * its death there (`Death`, in `DEATHS_FILE` beside the image) and throws an uncaught error,
 * as a bug or a WebAssembly abort outside a job's `try` would: the pool sees its `onerror`.
 * The error is thrown in a microtask, so that nothing more of the worker runs after the message
 * (an uncaught error ends a Deno worker at once).
 *
 * Only for a Worker: imported elsewhere, the real worker would serve the importing thread.
 */

import "../../lib/deno/workers/pose_worker.ts";
import type { FromWorker, ToWorker } from "../../lib/deno/workers/pose_worker.ts";
import { basename, dirname, join } from "node:path";
import {
  type Death,
  DEATHS_FILE,
  DIE_AFTER_HAND_OFF,
  DIE_ON_JOB,
  DIE_ON_PART,
} from "./worker_deaths.ts";

interface Scope {
  name: string;
  postMessage(message: FromWorker, transfer: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<ToWorker>) => void): void;
}

const scope = self as unknown as Scope;
/** What this worker holds, by job id or part key: the image's path. */
const held = new Map<string, string>();
const jobPaths = new Map<number, string>();

function marked(path: string, marker: string): boolean {
  return basename(path).startsWith(marker);
}

function die(marker: string, image: string): void {
  const death: Death = { marker, worker: scope.name, image, held: [...held.values()] };
  Deno.writeTextFileSync(join(dirname(image), DEATHS_FILE), JSON.stringify(death) + "\n", {
    append: true,
  });
  queueMicrotask(() => {
    throw new Error(`${marker}: stopping on purpose at ${image}`);
  });
}

// The real worker posts through `self.postMessage` each time: what it says is seen here.
const post = scope.postMessage.bind(scope);
scope.postMessage = (message, transfer) => {
  post(message, transfer);
  if (message.type === "result" || message.type === "cancelled") held.delete(`job ${message.id}`);
  if (message.type === "partResult") held.delete(`part ${message.key}`);
  const path = message.type === "handOff" ? jobPaths.get(message.id) : undefined;
  if (path !== undefined && marked(path, DIE_AFTER_HAND_OFF)) die(DIE_AFTER_HAND_OFF, path);
};

// Listeners run in the order added: the real worker has queued the message's job or part.
scope.addEventListener("message", (event) => {
  const message = event.data;
  if (message.type === "job") {
    jobPaths.set(message.id, message.path);
    held.set(`job ${message.id}`, message.path);
    if (marked(message.path, DIE_ON_JOB)) die(DIE_ON_JOB, message.path);
  } else if (message.type === "part") {
    held.set(`part ${message.key}`, message.source);
    if (marked(message.source, DIE_ON_PART)) die(DIE_ON_PART, message.source);
  }
});
