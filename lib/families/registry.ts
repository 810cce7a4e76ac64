/**
 * Family name → adapter factory. Adding a family: one file in this folder and one line here.
 */

import type { ModelFamily, ModelManifest } from "../manifest.ts";
import type { ModelAdapter } from "./adapter.ts";
import { createDetrAdapter } from "./detr.ts";
import { createHeatmapAdapter } from "./heatmap.ts";
import { createPrtrAdapter } from "./prtr.ts";
import { createPrtrSequentialAdapter } from "./prtr_sequential.ts";
import { createRtmdetAdapter } from "./rtmdet.ts";
import { createSimccAdapter } from "./simcc.ts";
import { createYoloxAdapter } from "./yolox.ts";

/** Options that apply across families (each family reads what concerns it). */
export interface AdapterOptions {
  /** Heatmap models: DARK sub-pixel refinement instead of the quarter-pixel offset. */
  dark?: boolean;
}

const FACTORIES: Record<
  ModelFamily,
  (manifest: ModelManifest, options: AdapterOptions) => ModelAdapter
> = {
  rtmdet: createRtmdetAdapter,
  yolox: createYoloxAdapter,
  detr: createDetrAdapter,
  heatmap: (manifest, options) =>
    createHeatmapAdapter(manifest, { dark: options.dark || undefined }),
  simcc: createSimccAdapter,
  prtr: createPrtrAdapter,
  "prtr-sequential": createPrtrSequentialAdapter,
};

/** The families posekit knows. */
export const FAMILIES: readonly ModelFamily[] = Object.keys(FACTORIES) as ModelFamily[];

/** Builds the adapter for a manifest; errors name the model file and the unknown family. */
export function createAdapter(manifest: ModelManifest, options: AdapterOptions = {}): ModelAdapter {
  const factory = FACTORIES[manifest.family];
  if (!factory) {
    throw new Error(
      `model ${manifest.file}: unknown family "${manifest.family}" (known: ${FAMILIES.join(", ")})`,
    );
  }
  return factory(manifest, options);
}
