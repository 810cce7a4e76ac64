/**
 * Family name → adapter factory. Adding a family: one file in this folder and one line here.
 */

import type { ModelFamily, ModelManifest } from "../manifest.ts";
import type { ModelAdapter } from "./adapter.ts";

/** Options that apply across families (each family reads what concerns it). */
export interface AdapterOptions {
  /** Heatmap models: DARK sub-pixel refinement instead of the quarter-pixel offset. */
  dark?: boolean;
}

type Factory = (manifest: ModelManifest, options: AdapterOptions) => ModelAdapter;

const FACTORIES: Partial<Record<ModelFamily, Factory>> = {};

/** Registers a family's factory (used by this module's own imports below). */
export function registerFamily(family: ModelFamily, factory: Factory): void {
  FACTORIES[family] = factory;
}

/** Builds the adapter for a manifest; errors name the model file and the unknown family. */
export function createAdapter(manifest: ModelManifest, options: AdapterOptions = {}): ModelAdapter {
  const factory = FACTORIES[manifest.family];
  if (!factory) {
    throw new Error(
      `model ${manifest.file}: unknown family "${manifest.family}" ` +
        `(known: ${Object.keys(FACTORIES).join(", ")})`,
    );
  }
  return factory(manifest, options);
}
