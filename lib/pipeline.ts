/**
 * The pose pipeline, per image: person boxes (detector, or given) → crops → keypoint model →
 * poses in image pixels; or, for end-to-end models, the whole image → poses. Loading lives
 * in `lib/models/load.ts`, crops in `lib/geometry/crops.ts`, each family's decoding in its adapter;
 * this file only orchestrates.
 */

import {
  type CropGeometry,
  cropGeometry,
  cropKeypointsToImage,
  cropsToTensor,
} from "./geometry/crops.ts";
import type {
  DecodeSettings,
  DetectorAdapter,
  EndToEndAdapter,
  ImageInputSpec,
  KeypointAdapter,
} from "./families/family.ts";
import type { ImageFrame } from "./geometry/frame.ts";
import { type LoadedModel, sliceBatch } from "./models/load.ts";
import { oksNms } from "./geometry/nms.ts";
import { DEFAULT_KEYPOINT_SCORE_THRESHOLD, rescorePose } from "./coco/pose_score.ts";
import { imageToTensor } from "./image/preprocess.ts";
import type { Runtime, RuntimeInfo } from "./runtime/runtime.ts";
import { float32Input, type ModelInputs } from "./runtime/session.ts";
import type { Box, ModelOutputs, Pose, RgbImage } from "./types.ts";
import type { CropExplanation } from "./explain/types.ts";

/** How a pipeline runs its models. Every field has a sensible default. */
export interface PipelineSettings {
  /** Flip test (default true; end-to-end models have none). */
  flip?: boolean;
  /** Detector person score threshold (default 0.3). */
  scoreThreshold?: number;
  /** Most people kept per image, best box scores first, given boxes too (default 20). */
  maxPeople?: number;
  /** Keypoints above this score count towards the person score (default 0.2). */
  keypointScoreThreshold?: number;
  /**
   * People scoring below this are dropped from the results (default 0: none). A person's
   * score is the box score × the mean of its confident keypoints, so this is not the
   * detector's threshold: boxes that pass it can still make phantom people.
   */
  minScore?: number;
  /** OKS-NMS threshold over the final poses (default 0.9; 1 or more disables it). */
  oksNmsThreshold?: number;
  /**
   * Person boxes per keypoint run of a model that takes a batch (bounds memory; default 16).
   * A model of batch 1 gets one box (and its mirrored crop) at a time.
   */
  cropChunk?: number;
}

/** Milliseconds spent per stage, summed over all images run so far. */
export interface StageTimings {
  /** The person detector: preprocessing, model run, decoding. */
  detect: number;
  /** Cropping people into the keypoint model's input. */
  crop: number;
  /** The keypoint (or end-to-end) model runs and their decoding. */
  keypoints: number;
  /** Mapping back to image pixels, rescoring and OKS-NMS. */
  post: number;
  /** The part of detect + keypoints spent inside the model runs themselves. */
  model: number;
}

/** What each stage took between two readings of `PosePipeline.timings`: `after − before`. */
export function stageTimingsSince(before: StageTimings, after: StageTimings): StageTimings {
  const since = { ...after };
  for (const key of Object.keys(since) as (keyof StageTimings)[]) since[key] -= before[key] ?? 0;
  return since;
}

/** What went wrong with parts of an image that did not cost it its results. */
export interface ImageWarnings {
  /** Boxes skipped because they cannot be cropped (no area, non-finite values). */
  skippedBoxes: number;
}

/**
 * How a pipeline shares one image's people with another worker (see `PosePool`): between
 * keypoint runs it asks `wanted`, and when that says yes it gives the later half of the people
 * not yet started to `give`, runs the rest, and puts the poses that come back in their place.
 * `PosePool` does this between its workers; in one process, share one `Runtime`.
 *
 * @example Two pipelines on one runtime, the second running half of the first's people
 * ```ts ignore
 * import { PosePipeline, readImageFile, Runtime } from "@posekit/posekit";
 *
 * const runtime = await Runtime.start({ backend: "wasm" });
 * const [owner, helper] = await Promise.all([
 *   PosePipeline.create({ runtime }),
 *   PosePipeline.create({ runtime, detector: false }),
 * ]);
 * const image = await readImageFile("group.jpg");
 * let asked = false;
 * const poses = await owner.run(image, "detector", {
 *   wanted: () => !asked && (asked = true),
 *   give: (boxes) => helper.keypointsFor(image, boxes),
 * });
 * console.log(poses.length); // the same poses as owner.run(image)
 * ```
 */
export interface KeypointHandOff {
  /** True when someone is free to take people of this image now (asked between runs). */
  wanted(): boolean;
  /**
   * Runs the keypoint stage for `boxes` elsewhere; resolves to one pose per box, in order,
   * before OKS-NMS (`PosePipeline.keypointsFor`). On rejection the pipeline runs them itself.
   */
  give(boxes: Box[]): Promise<Pose[]>;
}

/** Where the person boxes come from for one image. */
export type BoxSource = "detector" | Box[];

/** One person of an explained image: the pose, its crop, and what the model looked at there. */
export interface ExplainedPerson {
  /** The pose, as `run` returns it (image pixels). */
  pose: Pose;
  /** The crop it was found in (crop pixels → image pixels). */
  geometry: CropGeometry;
  /** The crop's size in pixels (the keypoint model's input). */
  cropSize: { width: number; height: number };
  /** The keypoint model's explanation of the crop, in crop pixels (its family's). */
  crop: CropExplanation;
}

/** An image's poses with their explanations (`PosePipeline.explain`). */
export interface ExplainedImage {
  /** The poses, the same as `run` gives. */
  poses: Pose[];
  /** One entry per pose, in the same order. */
  people: ExplainedPerson[];
  /** Why explanations are missing (one line each): an end-to-end model, a family without. */
  notes: string[];
}

/** The default person detector. */
export const DEFAULT_DETECTOR = "rtmdet_nano_person";
/** The default keypoint model. */
export const DEFAULT_POSE = "simplepose_nano_256x192";

/** The models of a pipeline (see `PosePipeline.fromModels`). */
export interface PipelineModels {
  /** The runtime the models were loaded on. */
  runtime: Runtime;
  /** The keypoint model, or an end-to-end model. */
  pose: LoadedModel;
  /** The person detector of a keypoint model; none when boxes always come from elsewhere. */
  detector?: LoadedModel;
}

/** Settings with every default filled in. */
type Settings = Required<PipelineSettings>;

/**
 * The whole top-down (or end-to-end) pose pipeline. Create with `PosePipeline.create`.
 *
 * @example In a page: models fetched by URL, poses for a canvas
 * ```ts ignore
 * import { loadModelFrom, PosePipeline, Runtime } from "@posekit/posekit/core";
 * import type { RuntimePlatform } from "@posekit/posekit/core";
 *
 * declare const platform: RuntimePlatform; // onnxruntime-web as the page loaded it (see core.ts)
 * const runtime = await Runtime.start({ platform });
 * const load = async (url: string) =>
 *   loadModelFrom({ path: url, bytes: await platform.readModel!(url) }, runtime);
 * const pipeline = PosePipeline.fromModels({
 *   runtime,
 *   detector: await load("/models/rtmdet_nano_person.onnx"),
 *   pose: await load("/models/simplepose_nano_256x192.onnx"),
 * });
 * // The canvas's RGBA pixels, alpha dropped: the RGB image the pipeline takes.
 * const canvas = document.querySelector("canvas")!;
 * const { width, height } = canvas;
 * const { data } = canvas.getContext("2d")!.getImageData(0, 0, width, height);
 * const rgb = new Uint8Array(width * height * 3);
 * for (let p = 0; p < width * height; p++) rgb.set(data.subarray(4 * p, 4 * p + 3), 3 * p);
 * const poses = await pipeline.run({ width, height, data: rgb });
 * console.log(poses.length, pipeline.timings); // people found; milliseconds per stage
 * ```
 */
export class PosePipeline {
  /** Milliseconds per stage, summed over every image so far. */
  readonly timings: StageTimings = { detect: 0, crop: 0, keypoints: 0, post: 0, model: 0 };
  /** Counts of skipped parts, summed over every image so far. */
  readonly warnings: ImageWarnings = { skippedBoxes: 0 };

  /** Use `PosePipeline.fromModels` (or Deno's `PosePipeline.create`). */
  protected constructor(
    /** The runtime the models run on. */
    readonly runtime: Runtime,
    readonly detector: LoadedModel<DetectorAdapter> | undefined,
    readonly pose: LoadedModel<KeypointAdapter | EndToEndAdapter>,
    protected readonly settings: Required<PipelineSettings>,
  ) {}

  /**
   * A pipeline from loaded models (`loadModelFrom`): a keypoint model with a person detector
   * (or none, when boxes always come from elsewhere), or an end-to-end model. Deno's
   * `PosePipeline.create` loads them by name.
   * @throws Error when the keypoint model is a detector, or the detector is not one
   */
  static fromModels(models: PipelineModels, settings: PipelineSettings = {}): PosePipeline {
    const { runtime, pose, detector } = PosePipeline.checkModels(models);
    return new PosePipeline(runtime, detector, pose, PosePipeline.settingsFrom(settings));
  }

  /** The models of `models`, checked for their tasks (see `fromModels`). */
  protected static checkModels(models: PipelineModels): {
    runtime: Runtime;
    pose: LoadedModel<KeypointAdapter | EndToEndAdapter>;
    detector: LoadedModel<DetectorAdapter> | undefined;
  } {
    const { pose, detector } = models;
    if (pose.adapter.task === "detector") {
      throw new Error(
        `model ${pose.path} is a person detector (${pose.manifest.family}); ` +
          `pass it with --detector, and a keypoint model with --pose`,
      );
    }
    if (detector && detector.adapter.task !== "detector") {
      throw new Error(
        `model ${detector.path} is not a person detector (family ${detector.manifest.family}); ` +
          `pass a detector with --detector`,
      );
    }
    return {
      runtime: models.runtime,
      pose: pose as LoadedModel<KeypointAdapter | EndToEndAdapter>,
      detector: pose.adapter.task === "keypoints"
        ? detector as LoadedModel<DetectorAdapter> | undefined
        : undefined,
    };
  }

  /** Settings with their defaults filled in. */
  protected static settingsFrom(options: PipelineSettings): Required<PipelineSettings> {
    const cropChunk = options.cropChunk ?? 16;
    return {
      flip: options.flip ?? true,
      scoreThreshold: options.scoreThreshold ?? 0.3,
      maxPeople: options.maxPeople ?? 20,
      keypointScoreThreshold: options.keypointScoreThreshold ?? DEFAULT_KEYPOINT_SCORE_THRESHOLD,
      oksNmsThreshold: options.oksNmsThreshold ?? 0.9,
      minScore: options.minScore ?? 0,
      cropChunk: Math.max(1, Math.floor(cropChunk)),
    };
  }

  /** What the runtime settled on. */
  get runtimeInfo(): RuntimeInfo {
    return this.runtime.info;
  }

  /** Sentences for the user from the runtime and the model loads (shown once). */
  get notes(): string[] {
    return [...this.runtime.notes, ...(this.detector?.notes ?? []), ...this.pose.notes];
  }

  /** True when the keypoint model needs person boxes (top-down), false for end-to-end models. */
  get needsBoxes(): boolean {
    return this.pose.adapter.task === "keypoints";
  }

  /** The thresholds whole-image decoders apply. */
  private get decodeSettings(): DecodeSettings {
    return {
      scoreThreshold: this.settings.scoreThreshold,
      keypointScoreThreshold: this.settings.keypointScoreThreshold,
    };
  }

  /** Runs a whole-image model; returns its outputs and the frame. */
  private async runWholeImage(
    model: LoadedModel<DetectorAdapter | EndToEndAdapter>,
    image: RgbImage,
  ): Promise<{ outputs: ModelOutputs; frame: ImageFrame }> {
    const spec: ImageInputSpec = model.adapter.input;
    const { data, dims, frame } = imageToTensor(image, spec);
    const inputs: ModelInputs = {
      [spec.name]: float32Input(data, dims),
      ...spec.extraInputs?.(frame, 1),
    };
    const start = performance.now();
    const outputs = await model.session.run(inputs);
    this.timings.model += performance.now() - start;
    return { outputs, frame };
  }

  /** The detector's person score threshold (`scoreThreshold` of the settings). */
  get scoreThreshold(): number {
    return this.settings.scoreThreshold;
  }

  /**
   * Person boxes from the detector, best first, at most `maxPeople`; scoring at least
   * `scoreThreshold` (default the pipeline's: a tracker asks for weaker ones too).
   */
  async detect(image: RgbImage, scoreThreshold = this.settings.scoreThreshold): Promise<Box[]> {
    if (!this.detector) throw new Error("this pipeline has no person detector (end-to-end model)");
    const start = performance.now();
    const { outputs, frame } = await this.runWholeImage(this.detector, image);
    const boxes = this.detector.adapter.decode(outputs, frame, {
      ...this.decodeSettings,
      scoreThreshold,
    });
    this.timings.detect += performance.now() - start;
    return boxes.slice(0, this.settings.maxPeople);
  }

  /**
   * Poses for an image; boxes come from the detector unless given. With `handOff`, part of
   * the image's people may be run elsewhere (another worker); the result is the same.
   */
  async run(
    image: RgbImage,
    boxes: BoxSource = "detector",
    handOff?: KeypointHandOff,
  ): Promise<Pose[]> {
    const adapter = this.pose.adapter;
    const poses = adapter.task === "end2end"
      ? await this.runEndToEnd(image, adapter)
      : await this.estimate(image, await this.boxesFrom(image, boxes), handOff);
    return this.keptByScore(poses);
  }

  /**
   * Poses for an image, as `run` gives them, with what the keypoint model looked at in each
   * person's crop (its family adapter's `explain`: confidence maps, attention rows, PRTR's
   * query readout). A keypoint model loaded with `explain: true` may have extra outputs (the
   * attention) for this. End-to-end models and families without explanations give the poses
   * and a note. `lib/explain/report.ts` turns the result into JSON and pictures.
   */
  async explain(image: RgbImage, boxes: BoxSource = "detector"): Promise<ExplainedImage> {
    const adapter = this.pose.adapter;
    const name = this.pose.manifest.name;
    if (adapter.task === "end2end") {
      return {
        poses: await this.run(image, boxes),
        people: [],
        notes: [`${name} is an end-to-end model: it has no person crops to explain`],
      };
    }
    const explained = new Map<Pose, ExplainedPerson>();
    const poses = this.keptByScore(
      await this.estimate(image, await this.boxesFrom(image, boxes), undefined, explained),
    );
    return {
      poses,
      people: poses.map((pose) => explained.get(pose)!).filter((person) => person),
      notes: adapter.explain
        ? []
        : [`${name}: family ${this.pose.manifest.family} has no explanations`],
    };
  }

  /** The person boxes of `boxes`: the detector's, or the given ones (best `maxPeople`). */
  private async boxesFrom(image: RgbImage, boxes: BoxSource): Promise<Box[]> {
    if (boxes === "detector") return await this.detect(image);
    // A score that is not finite cannot be ranked (Infinity would take the first place, NaN
    // breaks the sort) nor written (COCO results keep finite numbers only): such a box is
    // skipped and counted like one that cannot be cropped, before ranking, so that it takes
    // no place from a real one.
    const scored = boxes.filter((box) => Number.isFinite(box.score));
    this.warnings.skippedBoxes += boxes.length - scored.length;
    return bestBoxes(scored, this.settings.maxPeople);
  }

  /** The poses scoring at least `minScore`. */
  private keptByScore(poses: Pose[]): Pose[] {
    const minScore = this.settings.minScore;
    return minScore > 0 ? poses.filter((pose) => pose.score >= minScore) : poses;
  }

  /**
   * The keypoint stage alone for boxes another pipeline handed over (`KeypointHandOff.give`):
   * one pose per box, in box order, before OKS-NMS (the pipeline that owns the image applies
   * it to all its people).
   * @throws Error for an end-to-end model, or a box that cannot be cropped
   */
  async keypointsFor(image: RgbImage, boxes: readonly Box[]): Promise<Pose[]> {
    if (this.pose.adapter.task !== "keypoints") {
      throw new Error(`${this.pose.manifest.name} is an end-to-end model: it takes no boxes`);
    }
    const geometries = boxes.map((box) => {
      const g = cropGeometry(box, this.pose.adapter.input as KeypointAdapter["input"]);
      if (!g) throw new Error(`a handed-over box cannot be cropped: ${JSON.stringify(box)}`);
      return g;
    });
    return await this.keypointsOf(image, geometries);
  }

  /** Poses from an end-to-end model's run on the whole image. */
  private async runEndToEnd(image: RgbImage, adapter: EndToEndAdapter): Promise<Pose[]> {
    const start = performance.now();
    const { outputs, frame } = await this.runWholeImage(
      this.pose as LoadedModel<EndToEndAdapter>,
      image,
    );
    const inferred = performance.now();
    const poses = adapter.decode(outputs, frame, this.decodeSettings)
      .slice(0, this.settings.maxPeople);
    this.timings.keypoints += inferred - start;
    this.timings.post += performance.now() - inferred;
    return poses;
  }

  /**
   * Top-down keypoint stage for given boxes, then OKS-NMS. Between runs it offers the people
   * not yet started to `handOff` (the later half of them, whole runs only) and takes their
   * poses back in place, so that the result does not depend on who ran which person. With
   * `explained`, each pose's explanation is put there (see `keypointsOf`).
   */
  private async estimate(
    image: RgbImage,
    boxes: Box[],
    handOff?: KeypointHandOff,
    explained?: Map<Pose, ExplainedPerson>,
  ): Promise<Pose[]> {
    const adapter = this.pose.adapter as KeypointAdapter;
    const geometries: CropGeometry[] = [];
    for (const box of boxes) {
      const g = cropGeometry(box, adapter.input);
      if (g) geometries.push(g);
      else this.warnings.skippedBoxes++;
    }
    const unit = this.runSize;
    const handed: { from: number; given: CropGeometry[]; poses: Promise<Pose[]> }[] = [];
    let end = geometries.length;
    const poses: Pose[] = [];
    for (let start = 0; start < end; start += unit) {
      const runsLeft = Math.ceil((end - start) / unit);
      if (handOff && runsLeft >= 2 && handOff.wanted()) {
        const from = start + Math.ceil(runsLeft / 2) * unit;
        const given = geometries.slice(from, end);
        const back = handOff.give(given.map((g) => g.box));
        back.catch(() => {}); // handled below, once this side's own runs are done
        handed.push({ from, given, poses: back });
        end = from;
      }
      poses.push(
        ...await this.keypointsOf(
          image,
          geometries.slice(start, Math.min(end, start + unit)),
          explained,
        ),
      );
    }
    // Later hand-offs cover earlier people: put the parts back in box order. Should the
    // other side have failed (or answered for other people), this side runs them itself,
    // once its own runs are done.
    for (const part of handed.sort((a, b) => a.from - b.from)) {
      const ownRun = () => this.keypointsOf(image, part.given);
      poses.push(
        ...await part.poses.then(
          (got) => got.length === part.given.length ? got : ownRun(),
          ownRun,
        ),
      );
    }
    const t3 = performance.now();
    const kept = this.settings.oksNmsThreshold < 1 && poses.length > 1
      ? oksNms(
        poses.map((p, i) => ({
          keypoints: p.keypoints,
          score: p.score,
          area: geometries[i].region.width * geometries[i].region.height,
        })),
        this.settings.oksNmsThreshold,
      ).map((i) => poses[i])
      : poses;
    this.timings.post += performance.now() - t3;
    return kept;
  }

  /**
   * People per keypoint run: `cropChunk` for a model that takes a batch, else one (such a
   * model runs one crop at a time anyway, so one crop per tensor changes no result).
   */
  private get runSize(): number {
    return (this.pose as LoadedModel<KeypointAdapter>).dynamicBatch ? this.settings.cropChunk : 1;
  }

  /**
   * Crops, keypoint runs and decoding for `geometries`, `runSize` at a time; no NMS. With
   * `explained` (only then), the adapter's `explain` reads each crop's outputs too and the
   * result is put there under the pose.
   */
  private async keypointsOf(
    image: RgbImage,
    geometries: CropGeometry[],
    explained?: Map<Pose, ExplainedPerson>,
  ): Promise<Pose[]> {
    const adapter = this.pose.adapter as KeypointAdapter;
    const flip = this.settings.flip;
    const poses: Pose[] = [];
    for (let start = 0; start < geometries.length; start += this.runSize) {
      const chunk = geometries.slice(start, start + this.runSize);
      const t0 = performance.now();
      const tensor = cropsToTensor(image, chunk, adapter.input, flip);
      const t1 = performance.now();
      const items = await this.inferCrops(tensor, chunk.length * (flip ? 2 : 1));
      const t2 = performance.now();
      chunk.forEach((g, i) => {
        const at = flip ? 2 * i : i;
        const flipped = flip ? items[at + 1] : undefined;
        const decoded = adapter.decode(items[at], flipped);
        const crop = explained && adapter.explain?.(items[at], flipped, decoded.slice());
        const keypoints = cropKeypointsToImage(g, decoded);
        const pose = {
          box: g.box,
          keypoints,
          score: rescorePose(g.box.score, keypoints, this.settings.keypointScoreThreshold),
        };
        poses.push(pose);
        if (explained) {
          const cropSize = { width: adapter.input.width, height: adapter.input.height };
          explained.set(pose, { pose, geometry: g, cropSize, crop: crop || {} });
        }
      });
      this.timings.crop += t1 - t0;
      this.timings.keypoints += t2 - t1;
      this.timings.post += performance.now() - t2;
    }
    return poses;
  }

  /** Runs the keypoint model on `count` crops: one batched run when the model allows it. */
  private async inferCrops(tensor: Float32Array, count: number): Promise<ModelOutputs[]> {
    const { adapter, session, dynamicBatch } = this.pose as LoadedModel<KeypointAdapter>;
    const { name, width, height } = adapter.input;
    const itemSize = 3 * width * height;
    const start = performance.now();
    try {
      if (dynamicBatch) {
        const outputs = await session.run({
          [name]: float32Input(tensor, [count, 3, height, width]),
        });
        return Array.from({ length: count }, (_, i) => sliceBatch(outputs, i, count));
      }
      const items: ModelOutputs[] = [];
      for (let i = 0; i < count; i++) {
        const one = tensor.subarray(i * itemSize, (i + 1) * itemSize);
        items.push(await session.run({ [name]: float32Input(one, [1, 3, height, width]) }));
      }
      return items;
    } finally {
      this.timings.model += performance.now() - start;
    }
  }

  /** Frees both models. */
  async close(): Promise<void> {
    await this.detector?.session.release();
    await this.pose.session.release();
  }
}

/** At most `max` boxes, best scores first (a stable sort: ties keep their order). */
function bestBoxes(boxes: readonly Box[], max: number): Box[] {
  return [...boxes].sort((a, b) => b.score - a.score).slice(0, max);
}
