/** The types a batch's parts share: its items, options, result and context. */

import type { BoxesByImage } from "../lib/coco/boxes.ts";
import type { ReadInputOptions } from "../lib/deno/read_input.ts";
import type { ExplainWriter } from "../lib/deno/explain_files.ts";
import type { PosePipeline } from "../lib/deno/pipeline.ts";
import type { PosePool } from "../lib/deno/workers/pool.ts";
import type { DecodeOptions } from "../lib/image/decode.ts";
import type { JsonlRecord } from "../lib/output/jsonl.ts";
import { cocoResultsFromRecords, type MergedResult } from "../lib/output/merge.ts";
import type { OneEuroOptions } from "../lib/track/one_euro.ts";
import type { ProgressBar } from "./progress.ts";

/** One input to process and the id its results get. */
export interface BatchItem {
  /** A file, `-` (stdin), a URL or a camera device. */
  path: string;
  imageId: number;
  /** The `file_name` its results carry (default: `path`). */
  fileName?: string;
}

/** Where records go: a JSON Lines writer, or a collector for one COCO results file. */
export interface RecordSink {
  write(record: JsonlRecord): Promise<void>;
}

/** A sink that keeps the COCO results of every record, for one file written at the end. */
export class CocoCollector implements RecordSink {
  /** The results so far, in record order. */
  readonly results: MergedResult[] = [];
  write(record: JsonlRecord): Promise<void> {
    this.results.push(...cocoResultsFromRecords([record]));
    return Promise.resolve();
  }
}

/** How drawings look (`--kpt-thr`, `--radius`, `--thickness`, `--no-boxes`, `--labels`). */
export interface DrawStyle {
  keypointThreshold?: number;
  keypointRadius?: number;
  lineWidth?: number;
  boxes?: boolean;
  labels?: boolean;
}

/** Video settings (`--every`, `--no-track`, `--smooth`, `--det-every`). */
export interface VideoSettings {
  every?: number;
  track?: boolean;
  smooth?: boolean | OneEuroOptions;
  detectEvery?: number;
  /** Live sources: the newest frame each time, the others dropped and counted (`--live`). */
  live?: boolean;
}

/** How `processInputs` runs. */
export interface BatchOptions {
  /** Where each image's (or frame's) record goes, in input order. */
  sink: RecordSink;
  /** Boxes per image id instead of the detector. */
  boxes?: BoxesByImage;
  /** Folder for drawn images (`<name>.jpg`) and videos (`<name>.mp4`); it must exist. */
  drawDir?: string;
  draw?: DrawStyle;
  video?: VideoSettings;
  /** Record keys already done (`--resume`): those images and frames are skipped. */
  done?: ReadonlySet<string>;
  /**
   * The folder inputs are resolved against when looked up in `done` (`recordKey(input,
   * keyBase)`): the keys of `done` are normalised paths, so relative and absolute names of
   * one image match.
   */
  keyBase?: string;
  /** Run images in this worker pool; videos still run in this process. */
  pool?: PosePool;
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** Decoding options (the pixel limit). */
  decode?: DecodeOptions;
  /** Reading options (size limit and timeout of stdin and URLs). */
  read?: ReadInputOptions;
  /**
   * `--explain`: what the keypoint model looked at, per still image, into this folder (δ of
   * the dependency areas). Runs in this process: the pipeline must be loaded with `explain`.
   */
  explain?: { dir: string; delta?: number };
}

/** What a batch did. */
export interface BatchResult {
  /** Still images done. */
  images: number;
  /** Videos read (fully or until an error) and frames done. */
  videos: number;
  frames: number;
  /** Frames of live sources decoded but not processed (`--live`). */
  droppedFrames: number;
  people: number;
  /** Inputs skipped because `--resume` found them done. */
  skipped: number;
  /** Person boxes skipped because they cannot be cropped (no area, not finite). */
  skippedBoxes: number;
  /** Inputs that could not be read, decoded or run (a video may fail after some frames). */
  failures: { path: string; reason: string }[];
  /** Drawings that could not be written: their results are kept. */
  drawFailures: { path: string; reason: string }[];
  /** Milliseconds spent decoding still images. */
  decodeMs: number;
  wallMs: number;
}

/** What the parts of one batch share. */
export interface BatchContext {
  options: BatchOptions;
  result: BatchResult;
  bar: ProgressBar;
  report: (list: { path: string; reason: string }[], path: string, error: unknown) => void;
  /** Each input's drawing file name under `--draw` (see `planDrawings`); empty without it. */
  drawingNames: Map<string, string>;
  pipeline: () => Promise<PosePipeline>;
  warnedBoxes?: boolean;
  /** The `--explain` writer, opened with the first explained image. */
  explainer?: Promise<ExplainWriter>;
}
