/// <reference lib="webworker" />
/**
 * The page's pipeline worker: onnxruntime-web, the models, the image decoder and the pose
 * pipeline live here, so that decoding a large photo or running a slow model never freezes the
 * page (a 100-megapixel image held the page's thread for seconds). The page sends requests
 * (`pipeline_protocol.ts`) and draws what comes back.
 */

import {
  drawPoses,
  ImageDecoder,
  type LoadedModel,
  loadModelFrom,
  PosePipeline,
  Runtime,
} from "../core.ts";
import { browserCodecWasm, browserPlatform, fetchBytes, loadOrt, ortBuildFor } from "./platform.ts";
import { toImageData } from "./image_data.ts";
import { stageTimingsSince } from "../lib/pipeline.ts";
import type {
  FromPipelineWorker,
  PipelineAnswers,
  PipelineRequest,
  ServedModel,
  ToPipelineWorker,
} from "./pipeline_protocol.ts";

const decoder = new ImageDecoder(browserCodecWasm());
/** The runtime, started by the first request (one onnxruntime-web build per worker). */
let runtime: Promise<Runtime> | undefined;
/** Models loaded, by name: they stay loaded when the page changes its choice and back. */
const models = new Map<string, Promise<LoadedModel>>();
/** Pipelines by key (models and threshold): a run names its own, whatever another run chose. */
const pipelines = new Map<string, PosePipeline>();

function started(): Promise<Runtime> {
  if (!runtime) throw new Error("the pipeline worker was not started");
  return runtime;
}

function model(loaded: Runtime, served: ServedModel): Promise<LoadedModel> {
  let loading = models.get(served.name);
  if (!loading) {
    loading = fetchBytes(served.url).then((bytes) =>
      loadModelFrom({ bytes, path: served.url, manifest: served.manifest }, loaded)
    );
    // A model that failed to load is tried again on the next ask.
    loading.catch(() => models.delete(served.name));
    models.set(served.name, loading);
  }
  return loading;
}

function pipelineFor(key: string): PosePipeline {
  const pipeline = pipelines.get(key);
  if (!pipeline) throw new Error(`no pipeline "${key}" in the worker`);
  return pipeline;
}

async function answer(
  request: PipelineRequest,
): Promise<PipelineAnswers[PipelineRequest["type"]]> {
  switch (request.type) {
    case "start": {
      runtime ??= (async () => {
        const build = await ortBuildFor(request.backend);
        const platform = browserPlatform(await loadOrt(build), build === "webgpu");
        return await Runtime.start({
          platform,
          backend: request.backend,
          threads: request.threads,
        });
      })();
      const loaded = await runtime;
      return { ...loaded.info, notes: [...loaded.notes] };
    }
    case "pipeline": {
      const loaded = await started();
      const pose = await model(loaded, request.pose);
      const detector = pose.manifest.task === "keypoints" && request.detector
        ? await model(loaded, request.detector)
        : undefined;
      const key = JSON.stringify([
        pose.manifest.name,
        detector?.manifest.name,
        request.scoreThreshold,
      ]);
      let pipeline = pipelines.get(key);
      if (!pipeline) {
        pipeline = PosePipeline.fromModels({ runtime: loaded, pose, detector }, {
          scoreThreshold: request.scoreThreshold,
        });
        pipelines.set(key, pipeline);
      }
      return { key, scoreThreshold: pipeline.scoreThreshold, needsBoxes: pipeline.needsBoxes };
    }
    case "image": {
      const running = pipelineFor(request.pipeline);
      const image = await decoder.decode(request.bytes, request.name);
      const before = { ...running.timings };
      const poses = await running.run(image);
      const stages = stageTimingsSince(before, running.timings);
      const drawn = drawPoses(image, poses, { keypointThreshold: request.keypointThreshold });
      const scale = Math.min(1, request.side / Math.max(image.width, image.height));
      const bitmap = await createImageBitmap(toImageData(drawn), {
        resizeWidth: Math.max(1, Math.round(image.width * scale)),
        resizeHeight: Math.max(1, Math.round(image.height * scale)),
        resizeQuality: "high",
      });
      return { poses, drawn: bitmap, width: image.width, height: image.height, stages };
    }
    case "detect":
      return await pipelineFor(request.pipeline).detect(request.image, request.scoreThreshold);
    case "run":
      return await pipelineFor(request.pipeline).run(request.image, request.boxes);
    case "keypointsFor":
      return await pipelineFor(request.pipeline).keypointsFor(request.image, request.boxes);
  }
}

/** Requests are answered one at a time, in order: onnxruntime-web runs one model at a time. */
let queue: Promise<void> = Promise.resolve();

/** Answers one request; whatever goes wrong, the page gets an answer (never a hang). */
async function reply(id: number, request: PipelineRequest): Promise<void> {
  try {
    const value = await answer(request);
    const transfer = request.type === "image" ? [(value as PipelineAnswers["image"]).drawn] : [];
    self.postMessage({ id, ok: true, value } satisfies FromPipelineWorker, transfer);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    self.postMessage({ id, ok: false, error: message } satisfies FromPipelineWorker);
  }
}

self.onmessage = (event: MessageEvent<ToPipelineWorker>) => {
  const { id, ...request } = event.data;
  queue = queue.then(() => reply(id, request)).catch(() => {});
};
