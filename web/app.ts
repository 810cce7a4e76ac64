/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The posekit page: images, a video file or the camera through posekit's own pipeline,
 * drawing and tracker, on onnxruntime-web in the browser. Served by `deno task serve`.
 *
 * Automation contract (see the README, "In the browser"): `#images` takes files, `#camera` toggles the
 * camera, `document.body.dataset.status` is loading | ready | running | done | error, and
 * `window.posekit` holds `results`, `jsonl`, `frames`, `lastFrame` and `runtime`.
 */

import {
  type BackendChoice,
  type CocoKeypointResult,
  drawPoses,
  type FramePoses,
  framePoses,
  jsonlRecordForImage,
  type Pose,
  type RgbImage,
  type StageTimings,
  toCocoResults,
  type VideoFrame,
} from "../core.ts";
import { formatResultsJson, ImageIdRegistry } from "../lib/coco/results.ts";
import { formatJsonlLine, type JsonlRecord, jsonlRecordForFrame } from "../lib/output/jsonl.ts";
import { RecentRecords } from "../lib/output/recent_records.ts";
import { fetchBytes } from "./platform.ts";
import { toImageData } from "./image_data.ts";
import { PipelineWorker, remotePipeline } from "./pipeline_client.ts";
import type { PipelineAnswers, ServedModel } from "./pipeline_protocol.ts";

/** What the server offers: models and sample images. */
interface Catalog {
  models: ServedModel[];
  samples: { name: string; url: string }[];
}

/** The page's state for scripts and tests (the automation contract). */
interface PageApi {
  /** COCO keypoint results of the last run of chosen images. */
  results: CocoKeypointResult[];
  /** Camera or video frames processed so far. */
  frames: number;
  /** The JSON Lines records of the last run (what "results.jsonl" downloads). */
  jsonl: JsonlRecord[];
  /** The last frame's people. */
  lastFrame?: {
    frame: number;
    people: { track_id?: number; bbox: number[]; score: number; keypoints: number[] }[];
  };
  /** What actually runs. */
  runtime?: { backend: string; threads: number; adapter?: string; notes: string[] };
  /** Errors shown on the page, one per bad file or failed step. */
  errors: string[];
  /** The last run of images: how many ran and the seconds they took (decoding included). */
  lastRun?: { images: number; seconds: number };
}

declare global {
  var posekit: PageApi;
}

const api: PageApi = { results: [], frames: 0, jsonl: [], errors: [] };
globalThis.posekit = api;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;
const query = new URLSearchParams(location.search);
/**
 * Decoding and the models run in a worker, so that a large photo or a slow model never
 * freezes the page; it holds one onnxruntime-web build for the page's life (see platform.ts).
 */
const worker = new PipelineWorker(new URL("./pipeline_worker.js", import.meta.url));

function setStatus(status: "loading" | "ready" | "running" | "done" | "error"): void {
  document.body.dataset.status = status;
  $("#status").textContent = status;
}

function showError(message: string): void {
  api.errors.push(message);
  const item = document.createElement("li");
  item.textContent = message;
  $("#errors").append(item);
}

/** The worker's runtime, started once (a change of backend or threads reloads the page). */
let runtimeStarted: Promise<void> | undefined;

let catalog: Catalog = { models: [], samples: [] };

function selected(id: string): string {
  return ($(`#${id}`) as HTMLSelectElement | HTMLInputElement).value;
}

/** Starts the worker's runtime once, and shows what runs. */
function startRuntime(): Promise<void> {
  runtimeStarted ??= (async () => {
    const backend = (query.get("backend") ?? "auto") as BackendChoice;
    const threads = Number(selected("threads")) || undefined;
    const runtime = await worker.ask({ type: "start", backend, threads }).catch((error) => {
      throw new Error(`cannot start onnxruntime-web: ${(error as Error).message}`);
    });
    api.runtime = runtime;
    $("#runtime").textContent = `${runtime.backend}` +
      (runtime.adapter ? ` on ${runtime.adapter}` : "") +
      `, ${runtime.threads} thread${runtime.threads === 1 ? "" : "s"}` +
      (runtime.notes.length ? ` — ${runtime.notes.join("; ")}` : "");
  })();
  return runtimeStarted;
}

function served(name: string): ServedModel {
  const model = catalog.models.find((m) => m.name === name);
  if (!model) throw new Error(`model "${name}" is not served (see deno task serve --models)`);
  return model;
}

/**
 * The worker's pipeline for the chosen models and settings (models stay loaded there): its key,
 * which a run sends with each request, so that it keeps its models while another run starts.
 */
async function currentPipeline(): Promise<PipelineAnswers["pipeline"]> {
  await startRuntime();
  const pose = served(selected("pose"));
  const detector = pose.manifest.task === "keypoints" ? served(selected("detector")) : undefined;
  return await worker.ask({
    type: "pipeline",
    pose,
    detector,
    scoreThreshold: Number(selected("score")),
  });
}

function keypointThreshold(): number {
  return Number(selected("keypoint"));
}

function paint(canvas: HTMLCanvasElement, image: RgbImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext("2d")!.putImageData(toImageData(image), 0, 0);
}

/** The gallery's longest side: a full-size canvas a photo (125 MB for 12 MP) crashed the tab. */
const THUMBNAIL_SIDE = 960;

function stageLine(stages: StageTimings, ms: number): string {
  const stage = (k: keyof StageTimings) => `${k} ${stages[k].toFixed(0)}`;
  return `${ms.toFixed(0)} ms (${
    (["detect", "crop", "keypoints", "post"] as const).map(stage).join(", ")
  } ms)`;
}

/** Counts runs of images: a run stops once a newer one starts (the two never mix). */
let imageRuns = 0;

/** Runs chosen or dropped files, reading each when its turn comes. */
function runFiles(files: File[]): void {
  runImages(files.map((f, i) => ({
    name: f.name,
    // Two files of one name (two folders dropped together) are two images with two ids.
    path: f.webkitRelativePath || `${i}/${f.name}`,
    bytes: async () => new Uint8Array(await f.arrayBuffer()),
  })));
}

/** Runs images, in order; a bad file is one error and the next still runs. */
async function runImages(
  files: { name: string; path?: string; bytes: () => Promise<Uint8Array> }[],
) {
  const run = ++imageRuns;
  const current = () => run === imageRuns;
  setStatus("running");
  const gallery = $("#gallery");
  gallery.replaceChildren();
  const results: CocoKeypointResult[] = [];
  const lines: JsonlRecord[] = [];
  api.jsonl = lines;
  let pipeline: string;
  try {
    pipeline = (await currentPipeline()).key;
  } catch (error) {
    showError((error as Error).message);
    setStatus("error");
    return;
  }
  const ids = new ImageIdRegistry();
  const started = performance.now();
  let done = 0;
  for (const file of files) {
    if (!current()) return;
    const imageId = ids.idFor(file.path ?? file.name);
    try {
      const t0 = performance.now();
      const bytes = await file.bytes();
      // Decoded, run, drawn and scaled in the worker: the page gets the poses and a thumbnail.
      const { poses, drawn, stages } = await worker.ask({
        type: "image",
        pipeline,
        bytes,
        name: file.name,
        keypointThreshold: keypointThreshold(),
        side: THUMBNAIL_SIDE,
      }, [bytes.buffer]);
      if (!current()) {
        drawn.close();
        return; // a newer run has the gallery now
      }
      const ms = performance.now() - t0;
      results.push(...toCocoResults(imageId, poses, file.name));
      lines.push(jsonlRecordForImage(file.name, imageId, poses));
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      try {
        canvas.width = drawn.width;
        canvas.height = drawn.height;
        canvas.getContext("2d")!.drawImage(drawn, 0, 0);
      } finally {
        drawn.close();
      }
      const caption = document.createElement("figcaption");
      caption.textContent = `${file.name}: ${poses.length} ${
        poses.length === 1 ? "person" : "people"
      }, ${stageLine(stages, ms)}`;
      figure.append(canvas, caption);
      gallery.append(figure);
      done++;
    } catch (error) {
      if (!current()) return;
      showError(`${file.name}: ${(error as Error).message.replace(`${file.name}: `, "")}`);
    }
  }
  if (!current()) return;
  const seconds = (performance.now() - started) / 1000;
  api.lastRun = { images: done, seconds };
  $("#speed").textContent = `${done} image${done === 1 ? "" : "s"} in ${seconds.toFixed(2)} s ` +
    `(${(done / seconds).toFixed(2)} images/s)`;
  api.results = results;
  setStatus("done");
}

/**
 * The media time of the next frame the browser presents (`requestVideoFrameCallback`), or
 * undefined at the next animation frame where that is missing, when the video ends first, or
 * after 250 ms without a frame (a paused video, a stopped camera: the caller looks again
 * whether it is to go on).
 */
function nextPresentedFrame(video: HTMLVideoElement): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), 250);
    const done = (time?: number) => {
      clearTimeout(timer);
      video.removeEventListener("ended", stopped);
      video.removeEventListener("error", stopped);
      resolve(time);
    };
    const stopped = () => done(undefined);
    video.addEventListener("ended", stopped);
    video.addEventListener("error", stopped);
    if ("requestVideoFrameCallback" in video) {
      video.requestVideoFrameCallback((_now, metadata) => done(metadata.mediaTime));
    } else requestAnimationFrame(() => done(undefined));
  });
}

/**
 * Every frame a video presents, not only those the pipeline takes: the last one's media time
 * and clock time, the largest gap between two, and the clock time the video ended (nothing
 * where `requestVideoFrameCallback` is missing). `stop` ends the watch.
 */
function watchPresentedFrames(video: HTMLVideoElement) {
  const seen = {
    last: undefined as number | undefined,
    lastAt: 0,
    largestGap: 0,
    endedAt: undefined as number | undefined,
    stop: () => {},
  };
  if (!("requestVideoFrameCallback" in video)) return seen;
  const presented = (_now: number, metadata: { mediaTime: number }) => {
    if (seen.last !== undefined) {
      seen.largestGap = Math.max(seen.largestGap, metadata.mediaTime - seen.last);
    }
    seen.last = metadata.mediaTime;
    seen.lastAt = performance.now();
    handle = video.requestVideoFrameCallback(presented);
  };
  const ended = () => seen.endedAt = performance.now();
  let handle = video.requestVideoFrameCallback(presented);
  video.addEventListener("ended", ended);
  seen.stop = () => {
    video.cancelVideoFrameCallback(handle);
    video.removeEventListener("ended", ended);
  };
  return seen;
}

/**
 * Frames of a playing <video> (a file or the camera), as RGB images, until `stop()`: each
 * presented frame at most once, with the video's own time (`mediaTime`). The browser plays in
 * real time, so the frames a slower model cannot take are skipped; `index` counts the frames
 * taken. Throws when the browser cannot decode the video further, and at the end of a file
 * whose pictures stop well before its stated duration: Chromium plays a truncated WebM to that
 * duration without an error, showing its last picture.
 */
async function* videoFrames(video: HTMLVideoElement, running: () => boolean) {
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true })!;
  const start = performance.now();
  const presented = watchPresentedFrames(video);
  try {
    yield* framesUntilEnd(video, running, canvas, context, start);
    const { duration } = video;
    const last = presented.last;
    // The last picture is shown for one frame's time. Media time left after it beyond a second
    // (and twice the largest gap seen while playing) is either more of another track (audio
    // longer than the video: played in real time) or the data running out (Chromium jumps to
    // the stated end at once): the clock between the last picture and the end tells them apart.
    if (video.ended && Number.isFinite(duration) && last !== undefined) {
      const left = duration - last;
      const played = ((presented.endedAt ?? performance.now()) - presented.lastAt) / 1000 *
        video.playbackRate;
      if (left > Math.max(1, 2 * presented.largestGap) && played < left / 2) {
        throw new Error(
          `its pictures end at ${last.toFixed(2)} s of its ${duration.toFixed(2)} s ` +
            `(a truncated file?); the frames before are in the results`,
        );
      }
    }
  } finally {
    presented.stop();
  }
}

async function* framesUntilEnd(
  video: HTMLVideoElement,
  running: () => boolean,
  canvas: HTMLCanvasElement,
  context: CanvasRenderingContext2D,
  start: number,
) {
  let lastTime: number | undefined;
  for (let index = 0; running() && !video.ended; index++) {
    const mediaTime = await nextPresentedFrame(video);
    if (video.error) {
      throw new Error(
        `the browser cannot decode it past ${video.currentTime.toFixed(2)} s ` +
          `(${video.error.message || `media error ${video.error.code}`}); ` +
          `the frames before are in the results`,
      );
    }
    if (video.readyState < 2 || video.videoWidth === 0 || !running() || video.ended) {
      index--;
      continue;
    }
    // No new picture within the wait (a paused video): nothing new to find. Without
    // requestVideoFrameCallback, the picture of the moment, timed by the clock.
    const time = "requestVideoFrameCallback" in video
      ? mediaTime
      : (performance.now() - start) / 1000;
    if (time === undefined || time === lastTime) {
      index--;
      continue;
    }
    lastTime = time;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const data = new Uint8Array(canvas.width * canvas.height * 3);
    for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
      data[o] = rgba[i];
      data[o + 1] = rgba[i + 1];
      data[o + 2] = rgba[i + 2];
    }
    const frame: VideoFrame = {
      index,
      time,
      image: { width: canvas.width, height: canvas.height, data },
    };
    yield frame;
  }
}

/** A pose mirrored left–right in an image `width` wide (for the camera's mirror view). */
function mirrored(pose: Pose, width: number): Pose {
  const keypoints = Float32Array.from(pose.keypoints);
  for (let k = 0; k < keypoints.length; k += 3) keypoints[k] = width - keypoints[k];
  const { x1, x2 } = pose.box;
  return { ...pose, keypoints, box: { ...pose.box, x1: width - x2, x2: width - x1 } };
}

function mirrorImage(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + width - 1 - x) * 3;
      data[to] = image.data[from];
      data[to + 1] = image.data[from + 1];
      data[to + 2] = image.data[from + 2];
    }
  }
  return { width, height, data };
}

/** The stream running now: how to stop it, and its end (a new stream waits for it). */
let stream: { stop(): void; ended: Promise<void> } | undefined;

/** Stops the running stream, if any, and waits until it has ended. */
async function stopRunningStream(): Promise<void> {
  const running = stream;
  running?.stop();
  await running?.ended;
}

/** Runs a video element's frames through the pipeline and tracker, drawing each. */
async function runStream(video: HTMLVideoElement, source: string, mirror: boolean) {
  await stopRunningStream();
  let running = true;
  const { promise: ended, resolve: end } = Promise.withResolvers<void>();
  const mine = { stop: () => running = false, ended };
  stream = mine;
  setStatus("running");
  api.frames = 0;
  // This stream's records: an earlier stream's last frames never land among them. A camera
  // has no end: past the budget the oldest frames go (the speed line says how many).
  const lines = new RecentRecords();
  api.jsonl = lines.records;
  const view = $("#view") as HTMLCanvasElement;
  view.hidden = false;
  try {
    const pipeline = remotePipeline(worker, await currentPipeline());
    const frames = videoFrames(video, () => running);
    const smooth = ($("#smooth") as HTMLInputElement).checked;
    let last = performance.now();
    let fps = 0;
    for await (const { frame, poses } of framePoses(pipeline, frames, source, { smooth })) {
      show(frame, poses, view, mirror);
      const now = performance.now();
      fps = fps === 0 ? 1000 / (now - last) : 0.9 * fps + 100 / (now - last);
      last = now;
      $("#speed").textContent = `${api.frames} frames, ${fps.toFixed(1)} frames/s` +
        (lines.dropped > 0
          ? `; results.jsonl holds the last ${lines.records.length} (memory kept bounded)`
          : "");
      // As the CLI writes a video's frames: the frame number is the image id.
      lines.push(
        jsonlRecordForFrame(
          source,
          frame.index,
          frame.index,
          frame.time,
          poses,
          poses.map((p) => p.trackId),
        ),
      );
    }
    setStatus("done");
  } catch (error) {
    showError(`${source}: ${(error as Error).message}`);
    setStatus("error");
  } finally {
    if (stream === mine) stream = undefined;
    end();
  }
}

function show(
  frame: VideoFrame,
  poses: FramePoses["poses"],
  view: HTMLCanvasElement,
  mirror: boolean,
): void {
  const width = frame.image.width;
  const label = (pose: Pose) => {
    const id = (pose as FramePoses["poses"][number]).trackId;
    return id === undefined ? undefined : `#${id}`;
  };
  const drawn = mirror
    ? drawPoses(mirrorImage(frame.image), poses.map((p) => mirrored(p, width)), {
      label,
      keypointThreshold: keypointThreshold(),
    })
    : drawPoses(frame.image, poses, { label, keypointThreshold: keypointThreshold() });
  paint(view, drawn);
  api.frames++;
  api.lastFrame = {
    frame: frame.index,
    people: poses.map((p) => ({
      track_id: p.trackId,
      bbox: [p.box.x1, p.box.y1, p.box.x2 - p.box.x1, p.box.y2 - p.box.y1],
      score: p.score,
      keypoints: [...p.keypoints],
    })),
  };
}

async function toggleCamera(): Promise<void> {
  const button = $("#camera") as HTMLButtonElement;
  const video = $("#camera-video") as HTMLVideoElement;
  if (video.srcObject) {
    await stopRunningStream();
    return;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    await video.play();
    button.textContent = "Stop camera";
    await runStream(video, "camera", true);
  } catch (error) {
    showError(`camera: ${(error as Error).message}`);
    setStatus("error");
  } finally {
    // Whatever ended the stream (the button, an error, a failed model), the camera goes off.
    (video.srcObject as MediaStream | null)?.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
    button.textContent = "Camera";
  }
}

async function playVideoFile(file: File): Promise<void> {
  await stopRunningStream();
  const video = $("#file-video") as HTMLVideoElement;
  // The last file's URL holds its whole blob in memory until revoked.
  if (video.src.startsWith("blob:")) URL.revokeObjectURL(video.src);
  video.src = URL.createObjectURL(file);
  video.muted = true;
  try {
    await video.play();
  } catch (error) {
    URL.revokeObjectURL(video.src);
    showError(`${file.name}: not a video the browser can play (${(error as Error).message})`);
    return;
  }
  await runStream(video, file.name, false);
}

function download(name: string, text: string, type: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

function fillSelect(id: string, names: string[], wanted: string | null, fallback: string) {
  const select = $(`#${id}`) as HTMLSelectElement;
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  const pick = [wanted, fallback].find((n) => n && names.includes(n));
  if (pick) select.value = pick;
}

/** Reloads the page with `name` set in its query (onnxruntime-web's build and threads are per page). */
function reloadWith(name: string, value: string): void {
  const params = new URLSearchParams(location.search);
  params.set(name, value);
  for (const id of ["detector", "pose"]) params.set(id, selected(id));
  location.search = params.toString();
}

async function start(): Promise<void> {
  setStatus("loading");
  try {
    catalog = await (await fetch("/api/models.json")).json() as Catalog;
  } catch (error) {
    showError(`cannot list the served models: ${(error as Error).message}`);
    setStatus("error");
    return;
  }
  const names = (task: string[]) =>
    catalog.models.filter((m) => task.includes(m.task)).map((m) => m.name);
  fillSelect("detector", names(["detector"]), query.get("detector"), "rtmdet_nano_person");
  fillSelect("pose", names(["keypoints", "end2end"]), query.get("pose"), "simplepose_nano_256x192");
  ($("#backend") as HTMLSelectElement).value = query.get("backend") ?? "auto";
  ($("#threads") as HTMLInputElement).value = query.get("threads") ??
    String(navigator.hardwareConcurrency ?? 1);
  const samples = $("#sample") as HTMLButtonElement;
  samples.disabled = catalog.samples.length === 0;

  $("#images").addEventListener("change", () => {
    runFiles([...($("#images") as HTMLInputElement).files ?? []]);
  });
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => event.preventDefault());
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    runFiles([...(event as DragEvent).dataTransfer?.files ?? []]);
  });
  samples.addEventListener("click", () => {
    const sample = catalog.samples[0];
    runImages([{ name: sample.name, bytes: () => fetchBytes(sample.url) }]);
  });
  $("#video").addEventListener("change", () => {
    const file = ($("#video") as HTMLInputElement).files?.[0];
    if (file) playVideoFile(file);
  });
  $("#camera").addEventListener("click", toggleCamera);
  $("#backend").addEventListener("change", () => reloadWith("backend", selected("backend")));
  $("#threads").addEventListener("change", () => reloadWith("threads", selected("threads")));
  $("#download-json").addEventListener("click", () => {
    download("results.json", formatResultsJson(api.results), "application/json");
  });
  $("#download-jsonl").addEventListener("click", () => {
    download("results.jsonl", api.jsonl.map(formatJsonlLine).join(""), "application/jsonl");
  });
  try {
    await currentPipeline();
    setStatus("ready");
  } catch (error) {
    showError((error as Error).message);
    setStatus("error");
  }
}

start();
