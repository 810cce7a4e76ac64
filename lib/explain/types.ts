/**
 * What a keypoint model looked at, per person crop, as its family's adapter reads it from the
 * model outputs (`KeypointAdapter.explain`): confidence maps, self-attention rows, or PRTR's
 * query readout. Everything here is in crop input pixels (pixel p at coordinate p); the
 * pipeline keeps the crop geometry beside it, and `lib/explain/report.ts` maps it into the
 * image.
 */

import type { Affine } from "../geometry/affine.ts";
import type { ModelManifest } from "../models/manifest.ts";

/** One confidence map per keypoint: heatmaps, or the outer products of SimCC vectors. */
export interface ConfidenceMaps {
  /** K, one map per keypoint. */
  numKeypoints: number;
  /** Map width in map pixels. */
  width: number;
  /** Map height in map pixels. */
  height: number;
  /** K × height × width values, map after map, row-major; larger is more confident. */
  data: Float32Array;
  /** Map pixel → crop input pixel (both "pixel p at coordinate p"). */
  mapToCrop: Affine;
}

/**
 * Each keypoint's self-attention row (TransPose's dependency): the attention of the token
 * that holds the keypoint over all tokens, the tokens being the attention's length laid over
 * the crop as a grid of `stride`-pixel cells.
 */
export interface KeypointAttention {
  /** Token grid width: gridWidth × gridHeight = N, the attention's length. */
  gridWidth: number;
  /** Token grid height. */
  gridHeight: number;
  /** Crop pixels per token along each axis (the model's feature stride). */
  stride: number;
  /** Attention heads averaged into each row. */
  heads: number;
  /** The token (row-major index) holding each keypoint. */
  tokens: Int32Array;
  /** K × N attention values of those tokens' rows, averaged over heads (each row sums to 1). */
  rows: Float32Array;
}

/** How PRTR's Hungarian readout used the queries of one crop. */
export interface QueryReadout {
  /** Q, the queries. */
  numQueries: number;
  /** The query the matching gave each keypoint type (J values, 0-based). */
  queryOfKeypoint: Int32Array;
  /**
   * Q × (J + 1) class probabilities of each query: the softmax over all its logits, the J
   * keypoint types in keypoint order, then background.
   */
  classProbabilities: Float32Array;
  /**
   * Where each keypoint's query was after each decoder layer, when the export returns the
   * intermediate layers' coordinates: J × points × 2 crop pixels, the intermediate layers in
   * order, then the final prediction.
   */
  paths?: { points: number; data: Float32Array };
}

/** What one crop's outputs say about where the model looked. */
export interface CropExplanation {
  /** Confidence maps (heatmap and SimCC families). */
  maps?: ConfidenceMaps;
  /** Self-attention rows (models whose attention was exposed at load). */
  attention?: KeypointAttention;
  /** PRTR's query readout. */
  queries?: QueryReadout;
  /** Why something is missing (one line each), for the user. */
  notes?: string[];
}

/** A model prepared for explanations by its family (`FamilyDescriptor.explain.prepareGraph`). */
export interface ExplainGraph {
  /** The model to load: the original, or one with extra outputs. */
  bytes: Uint8Array;
  /** The manifest to build the adapter from (mapping the extra outputs to roles). */
  manifest: ModelManifest;
  /** One line each for the user: what was found, or why an explanation will be missing. */
  notes: string[];
}
