/**
 * The top-down pipeline: image → person boxes → crops → keypoint model → poses in image
 * pixels. Model families plug in through adapters (`lib/families/`); this file never looks
 * at a family's outputs itself.
 */

import { basename } from "node:path";
import {
  boxToCropRegion,
  imageToCropTransform,
  invertAffine,
  transformKeypoints,
} from "./affine.ts";
import type {
  DetectorAdapter,
  EndToEndAdapter,
  KeypointAdapter,
  ModelAdapter,
} from "./families/adapter.ts";
import { inferManifest } from "./families/infer.ts";
import { type AdapterOptions, createAdapter } from "./families/registry.ts";
import type { ModelManifest } from "./manifest.ts";
import { resolveModel } from "./models/resolve.ts";
import { oksNms } from "./nms.ts";
import { decodeImage } from "./image.ts";
import { imageToTensor, warpCropToTensor } from "./preprocess.ts";
import {
  type BackendChoice,
  initRuntime,
  ModelSession,
  runtimeInfo,
  withSymbolicBatch,
} from "./runtime.ts";
import type { Box, ModelOutputs, Pose, RgbImage } from "./types.ts";

/** How to build a pipeline. Every field has a sensible default. */
export interface PipelineOptions {
  /**
   * Person detector: manifest name, manifest .json path or .onnx path; `false` when boxes
   * always come from elsewhere (a box file, ground truth), so no detector is loaded.
   */
  detector?: string | false;
  /** Keypoint model (or an end-to-end model): manifest name, .json path or .onnx path. */
  pose?: string;
  /** Directories searched first for model files (`--models`). */
  modelDirs?: string[];
  /** WASM threads (default: CPU cores). */
  threads?: number;
  /** Execution backend: "auto" (default) picks WebGPU on a hardware GPU, else WASM. */
  backend?: BackendChoice;
  /** Flip test (default true). */
  flip?: boolean;
  /** DARK refinement for heatmap models (default false). */
  dark?: boolean;
  /** Detector person score threshold (default 0.3). */
  scoreThreshold?: number;
  /** Most people kept per image, best detector scores first (default 20). */
  maxPeople?: number;
  /** Keypoints above this score count towards the person score (default 0.2). */
  keypointScoreThreshold?: number;
  /** OKS-NMS threshold over the final poses (default 0.9; 1 or more disables it). */
  oksNmsThreshold?: number;
  /** Download progress for models fetched on first use. */
  onDownloadProgress?: (model: string, received: number, total: number | undefined) => void;
}

/** Milliseconds spent per stage, summed over all images run so far. */
export interface StageTimings {
  detect: number;
  crop: number;
  keypoints: number;
  post: number;
}

/** A loaded model with its adapter. */
export interface LoadedModel<A extends ModelAdapter = ModelAdapter> {
  manifest: ModelManifest;
  path: string;
  session: ModelSession;
  adapter: A;
}

export const DEFAULT_DETECTOR = "rtmdet_nano_person";
export const DEFAULT_POSE = "simplepose_nano_256x192";

/**
 * Resolves, loads and checks one model: the file is found (or downloaded), onnxruntime loads
 * it, the adapter is built from its manifest (or a manifest inferred from the graph), and one
 * run on a blank input proves that onnxruntime can execute it.
 */
export async function loadModel(
  spec: string,
  options: Pick<PipelineOptions, "modelDirs" | "onDownloadProgress"> & AdapterOptions = {},
): Promise<LoadedModel> {
  const resolved = await resolveModel(spec, {
    modelDirs: options.modelDirs,
    onProgress: options.onDownloadProgress
      ? (received, total) => options.onDownloadProgress!(spec, received, total)
      : undefined,
  });
  const session = await ModelSession.load(resolved.path, resolved.path);
  const manifest = resolved.manifest ??
    inferManifest(basename(resolved.path), session.inputs, session.outputs);
  const adapter = createAdapter(manifest, options);
  await smokeTest(session, adapter);
  const loaded = { manifest, path: resolved.path, session, adapter };
  return runtimeInfo()?.backend === "webgpu" ? await withBatchedCrops(loaded) : loaded;
}

/**
 * On the GPU, one run per crop wastes most of each run on launch and transfer overhead. Many
 * keypoint models declare a fixed batch of 1 yet treat batch items independently: such a
 * model is reloaded with a symbolic batch, and kept that way only when a batch of two random
 * crops gives what two single runs give.
 */
async function withBatchedCrops(model: LoadedModel): Promise<LoadedModel> {
  const { adapter, session } = model;
  if (adapter.task !== "keypoints" || adapter.dynamicBatch) return model;
  const original = await Deno.readFile(model.path);
  const bytes = withSymbolicBatch(original);
  if (bytes === original) return model; // no batch fixed at 1: nothing to relax
  let batched: ModelSession | undefined;
  try {
    batched = await ModelSession.load(bytes, model.path);
    const dims = [1, 3, adapter.inputHeight, adapter.inputWidth];
    const size = dims[1] * dims[2] * dims[3];
    const pair = Float32Array.from({ length: 2 * size }, (_, i) => Math.sin(i * 12.9898) * 2);
    const together = await batched.run(adapter.inputName, pair, [2, ...dims.slice(1)]);
    for (let i = 0; i < 2; i++) {
      const alone = await session.run(
        adapter.inputName,
        pair.subarray(i * size, (i + 1) * size),
        dims,
      );
      const part = sliceBatch(together, i);
      for (const [name, tensor] of Object.entries(alone)) {
        const other = part[name]?.data;
        if (!other || other.length !== tensor.data.length) throw new Error("shapes differ");
        for (let k = 0; k < other.length; k++) {
          if (Math.abs(other[k] - tensor.data[k]) > 1e-3 * (1 + Math.abs(tensor.data[k]))) {
            throw new Error("batched outputs differ");
          }
        }
      }
    }
  } catch {
    await batched?.release();
    return model;
  }
  await session.release();
  return { ...model, session: batched, adapter: { ...adapter, dynamicBatch: true } };
}

/** One run on zeros, so that a model onnxruntime cannot execute fails at load time. */
async function smokeTest(session: ModelSession, adapter: ModelAdapter): Promise<void> {
  const input = session.inputs.find((i) => i.name === inputNameOf(adapter)) ?? session.inputs[0];
  const dims = input.shape.map((d, i) => {
    if (typeof d === "number" && d > 0) return d;
    if (i === 0) return 1;
    if (i === 1) return 3;
    if (adapter.task === "keypoints") return i === 2 ? adapter.inputHeight : adapter.inputWidth;
    const r = adapter.input.resize;
    return r.kind === "letterbox" ? (i === 2 ? r.height : r.width) : 64;
  });
  // A failure already names the model file and carries onnxruntime's reason (ModelSession.run).
  await session.run(input.name, new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
}

function inputNameOf(adapter: ModelAdapter): string {
  return adapter.task === "keypoints" ? adapter.inputName : adapter.input.inputName;
}

/** Views of batch item `index` of every output (dims with batch 1; no copy). */
export function sliceBatch(outputs: ModelOutputs, index: number): ModelOutputs {
  const item: ModelOutputs = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    const batch = tensor.dims[0] ?? 1;
    const size = tensor.data.length / Math.max(batch, 1);
    item[name] = {
      data: tensor.data.subarray(index * size, (index + 1) * size),
      dims: [1, ...tensor.dims.slice(1)],
    };
  }
  return item;
}

/** Where the person boxes come from for one image. */
export type BoxSource = "detector" | Box[];

/** The whole top-down (or end-to-end) pose pipeline. Create with `PosePipeline.create`. */
export class PosePipeline {
  readonly timings: StageTimings = { detect: 0, crop: 0, keypoints: 0, post: 0 };

  private constructor(
    readonly detector: LoadedModel<DetectorAdapter> | undefined,
    readonly pose: LoadedModel<KeypointAdapter | EndToEndAdapter>,
    private readonly settings: Required<
      Pick<
        PipelineOptions,
        "flip" | "scoreThreshold" | "maxPeople" | "keypointScoreThreshold" | "oksNmsThreshold"
      >
    >,
  ) {}

  /** Loads the models named in `options` (defaults: RTMDet-nano + SimplePose-nano). */
  static async create(options: PipelineOptions = {}): Promise<PosePipeline> {
    await initRuntime({ threads: options.threads, backend: options.backend });
    const pose = await loadModel(options.pose ?? DEFAULT_POSE, options);
    if (pose.adapter.task === "detector") {
      throw new Error(
        `model ${pose.path} is a person detector (${pose.manifest.family}); ` +
          `pass it with --detector, and a keypoint model with --pose`,
      );
    }
    let detector: LoadedModel<DetectorAdapter> | undefined;
    if (pose.adapter.task === "keypoints" && options.detector !== false) {
      const loaded = await loadModel(options.detector ?? DEFAULT_DETECTOR, options);
      if (loaded.adapter.task !== "detector") {
        throw new Error(
          `model ${loaded.path} is not a person detector (family ${loaded.manifest.family}); ` +
            `pass a detector with --detector`,
        );
      }
      detector = loaded as LoadedModel<DetectorAdapter>;
    }
    return new PosePipeline(detector, pose as LoadedModel<KeypointAdapter | EndToEndAdapter>, {
      flip: options.flip ?? true,
      scoreThreshold: options.scoreThreshold ?? 0.3,
      maxPeople: options.maxPeople ?? 20,
      keypointScoreThreshold: options.keypointScoreThreshold ?? 0.2,
      oksNmsThreshold: options.oksNmsThreshold ?? 0.9,
    });
  }

  /** True when the keypoint model needs person boxes (top-down), false for end-to-end models. */
  get needsBoxes(): boolean {
    return this.pose.adapter.task === "keypoints";
  }

  /** Person boxes from the detector, best first, at most `maxPeople`. */
  async detect(image: RgbImage): Promise<Box[]> {
    if (!this.detector) throw new Error("this pipeline has no person detector (end-to-end model)");
    const start = performance.now();
    const { adapter, session } = this.detector;
    const { data, dims, frame } = imageToTensor(image, adapter.input);
    const outputs = await session.run(adapter.input.inputName, data, dims);
    const boxes = adapter.decode(outputs, frame, { scoreThreshold: this.settings.scoreThreshold });
    this.timings.detect += performance.now() - start;
    return boxes.slice(0, this.settings.maxPeople);
  }

  /** Poses for an image; boxes come from the detector unless given. */
  async run(image: RgbImage, boxes: BoxSource = "detector"): Promise<Pose[]> {
    const adapter = this.pose.adapter;
    if (adapter.task === "end2end") return await this.runEndToEnd(image, adapter);
    const people = boxes === "detector" ? await this.detect(image) : boxes;
    return await this.estimate(image, people, adapter);
  }

  private async runEndToEnd(image: RgbImage, adapter: EndToEndAdapter): Promise<Pose[]> {
    const start = performance.now();
    const { data, dims, frame } = imageToTensor(image, adapter.input);
    const outputs = await this.pose.session.run(adapter.input.inputName, data, dims);
    const inferred = performance.now();
    const poses = adapter.decode(outputs, frame, { scoreThreshold: this.settings.scoreThreshold })
      .slice(0, this.settings.maxPeople);
    this.timings.keypoints += inferred - start;
    this.timings.post += performance.now() - inferred;
    return poses;
  }

  /**
   * Poses for an encoded JPEG or PNG image (EXIF orientation applied); `source` names the
   * image in error messages.
   */
  async runBytes(
    bytes: Uint8Array,
    boxes: BoxSource = "detector",
    source = "image",
  ): Promise<Pose[]> {
    return await this.run(await decodeImage(bytes, source), boxes);
  }

  /** Top-down keypoint stage for given boxes. */
  private async estimate(image: RgbImage, boxes: Box[], adapter: KeypointAdapter): Promise<Pose[]> {
    if (boxes.length === 0) return [];
    const t0 = performance.now();
    const W = adapter.inputWidth, H = adapter.inputHeight;
    const itemSize = 3 * W * H;
    const flip = this.settings.flip;
    const perBox = flip ? 2 : 1;
    const regions = boxes.map((box) => boxToCropRegion(box, W / H, adapter.padding));
    const cropToImage = regions.map((r) => invertAffine(imageToCropTransform(r, W, H)));
    // Crop i at batch index i·perBox; its mirrored copy right after it.
    const input = new Float32Array(boxes.length * perBox * itemSize);
    for (let i = 0; i < boxes.length; i++) {
      const at = i * perBox * itemSize;
      warpCropToTensor(image, cropToImage[i], W, H, adapter.normalization, input, at);
      if (flip) {
        warpCropToTensor(
          image,
          cropToImage[i],
          W,
          H,
          adapter.normalization,
          input,
          at + itemSize,
          true,
        );
      }
    }
    const t1 = performance.now();
    const items = await this.inferCrops(input, boxes.length * perBox, itemSize);
    const t2 = performance.now();

    const poses: Pose[] = [];
    for (let i = 0; i < boxes.length; i++) {
      const keypoints = adapter.decode(items[i * perBox], flip ? items[i * perBox + 1] : undefined);
      transformKeypoints(cropToImage[i], keypoints);
      poses.push({
        box: boxes[i],
        keypoints,
        score: boxes[i].score * meanConfidentScore(keypoints, this.settings.keypointScoreThreshold),
      });
    }
    const kept = this.settings.oksNmsThreshold < 1
      ? oksNms(
        poses.map((p, i) => ({
          keypoints: p.keypoints,
          score: p.score,
          area: regions[i].width * regions[i].height,
        })),
        this.settings.oksNmsThreshold,
      ).map((i) => poses[i])
      : poses;
    const t3 = performance.now();
    this.timings.crop += t1 - t0;
    this.timings.keypoints += t2 - t1;
    this.timings.post += t3 - t2;
    return kept;
  }

  /** Runs the keypoint model on `count` crops: one batched run when the model allows it. */
  private async inferCrops(
    input: Float32Array,
    count: number,
    itemSize: number,
  ): Promise<ModelOutputs[]> {
    const { adapter, session } = this.pose as LoadedModel<KeypointAdapter>;
    const dims = (n: number) => [n, 3, adapter.inputHeight, adapter.inputWidth];
    if (adapter.dynamicBatch) {
      const outputs = await session.run(adapter.inputName, input, dims(count));
      return Array.from({ length: count }, (_, i) => sliceBatch(outputs, i));
    }
    const items: ModelOutputs[] = [];
    for (let i = 0; i < count; i++) {
      const one = input.subarray(i * itemSize, (i + 1) * itemSize);
      items.push(await session.run(adapter.inputName, one, dims(1)));
    }
    return items;
  }

  /** Frees both models. */
  async close(): Promise<void> {
    await this.detector?.session.release();
    await this.pose.session.release();
  }
}

/** Mean of the keypoint scores above `threshold` (0 when none is), as in HRNet's rescoring. */
export function meanConfidentScore(keypoints: Float32Array, threshold: number): number {
  let sum = 0, count = 0;
  for (let i = 2; i < keypoints.length; i += 3) {
    if (keypoints[i] > threshold) {
      sum += keypoints[i];
      count++;
    }
  }
  return count ? sum / count : 0;
}
