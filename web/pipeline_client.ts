/**
 * The page's side of its pipeline worker (`pipeline_worker.ts`): requests as promises, and a
 * `FramePipeline` whose steps run there, for `framePoses`.
 */

import type { Box, BoxSource, FramePipeline, Pose, RgbImage } from "../core.ts";
import type { FromPipelineWorker, PipelineAnswers, PipelineRequest } from "./pipeline_protocol.ts";

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

/** The pipeline worker, asked by promise; a worker that stopped fails every ask after. */
export class PipelineWorker {
  #worker: Worker;
  #next = 1;
  #pending = new Map<number, Pending>();
  #failure: Error | undefined;

  /** Starts the worker module at `url`. */
  constructor(url: URL) {
    this.#worker = new Worker(url, { type: "module", name: "posekit pipeline" });
    this.#worker.onmessage = (event: MessageEvent<FromPipelineWorker>) => {
      const message = event.data;
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(message.error));
    };
    // A worker script that cannot load gives a plain Event (no message); an error it did not
    // catch, an ErrorEvent. Either way its answers may never come: the page reloads to recover.
    this.#worker.onerror = (event: Event) => {
      event.preventDefault();
      const message = (event as ErrorEvent).message;
      this.#fail(
        new Error(
          message
            ? `the page's pipeline worker stopped: ${message}`
            : "the page's pipeline worker could not start (see the browser's console)",
        ),
      );
    };
    this.#worker.onmessageerror = () => {
      this.#fail(new Error("the page's pipeline worker sent an answer that cannot be read"));
    };
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
  }

  /** Sends `request` (handing over `transfer`) and resolves to its answer. */
  ask<T extends PipelineRequest["type"]>(
    request: Extract<PipelineRequest, { type: T }>,
    transfer: Transferable[] = [],
  ): Promise<PipelineAnswers[T]> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.#worker.postMessage({ ...request, id }, transfer);
      } catch (error) {
        this.#pending.delete(id);
        reject(error);
      }
    });
  }
}

/** A pipeline of the worker's, as `framePoses` uses one (each frame is copied to the worker). */
export function remotePipeline(
  worker: PipelineWorker,
  settings: PipelineAnswers["pipeline"],
): FramePipeline {
  const { key: pipeline, scoreThreshold, needsBoxes } = settings;
  return {
    scoreThreshold,
    needsBoxes,
    detect: (image: RgbImage, threshold = scoreThreshold): Promise<Box[]> =>
      worker.ask({ type: "detect", pipeline, image, scoreThreshold: threshold }),
    run: (image: RgbImage, boxes: BoxSource = "detector"): Promise<Pose[]> =>
      worker.ask({ type: "run", pipeline, image, boxes }),
    keypointsFor: (image: RgbImage, boxes: readonly Box[]): Promise<Pose[]> =>
      worker.ask({ type: "keypointsFor", pipeline, image, boxes: [...boxes] }),
  };
}
