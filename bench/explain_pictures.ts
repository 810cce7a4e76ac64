/**
 * Makes the `--explain` pictures of docs/ (README, docs/explain.md):
 *
 * - `docs/explain_pp_tinypose_785.jpg`: PP-TinyPose 256×192's heatmaps for the skier of COCO
 *   image 785 (shared/; its ground-truth box);
 * - `docs/explain_transpose_attention.jpg`: the attention of the TransPose-shaped test model
 *   (`buildTransPoseModel`, tests/support/synthetic_models.ts), whose rows are known in closed
 *   form: each keypoint's token looks 2 tokens right and 3 up (head 0) and everywhere a little
 *   (head 1);
 * - `docs/explain_prtr_queries.jpg`: the synthetic PRTR model's query readout, with 5
 *   intermediate decoder layers.
 *
 * `deno run -A bench/explain_pictures.ts [OUT_DIR]` (default docs/).
 */

import { join } from "node:path";
import { ExplainWriter } from "../lib/deno/explain_files.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { Runtime } from "../lib/deno/runtime.ts";
import { loadModelFrom, type ModelSource } from "../lib/models/load.ts";
import type { ModelManifest } from "../lib/models/manifest.ts";
import { PosePipeline } from "../lib/pipeline.ts";
import type { Box, RgbImage } from "../lib/types.ts";
import {
  buildPrtrKeypointModel,
  buildTransPoseModel,
  createImage,
  drawSyntheticPerson,
} from "../tests/support/synthetic_models.ts";
import { FIGURE } from "../tests/support/poses.ts";

const out = Deno.args[0] ?? new URL("../docs/", import.meta.url).pathname;
const SHARED = new URL("../../shared/", import.meta.url).pathname;
const runtime = await Runtime.start({ backend: "wasm", threads: 1 });

/** Explains `image` in `boxes` with the model and moves its first person's `kind` picture. */
async function picture(
  source: ModelSource & { manifest: ModelManifest },
  image: RgbImage,
  boxes: Box[],
  kind: string,
  name: string,
): Promise<void> {
  const pose = await loadModelFrom(source, runtime, { explain: true });
  const pipeline = PosePipeline.fromModels({ runtime, pose });
  const dir = await Deno.makeTempDir();
  try {
    const writer = await ExplainWriter.open(dir, source.manifest);
    await writer.write("image.png", image, await pipeline.explain(image, boxes));
    await Deno.copyFile(join(dir, `image.person0.${kind}.jpg`), join(out, name));
    console.log(join(out, name), writer.notes);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await pipeline.close();
  }
}

/** A synthetic picture of one person in `body`, and its box. */
function scene(width: number, height: number, body: [number, number, number, number]) {
  const image = createImage(width, height, [0, 0, 60]);
  const [x0, y0, w, h] = body;
  drawSyntheticPerson(image, {
    body,
    keypoints: FIGURE.map(([fx, fy]) => [Math.round(x0 + fx * w), Math.round(y0 + fy * h)]),
  });
  return { image, box: { x1: x0, y1: y0, x2: x0 + w, y2: y0 + h, score: 1 } };
}

// PP-TinyPose on the skier.
const tinyPath = `${SHARED}models/pp_tinypose_256x192.onnx`;
const skier = `${SHARED}coco/val2017/000000000785.jpg`;
await picture(
  {
    bytes: await Deno.readFile(tinyPath),
    path: tinyPath,
    manifest: JSON.parse(
      await Deno.readTextFile(new URL("../models/pp_tinypose_256x192.json", import.meta.url)),
    ),
  },
  await decodeImage(await Deno.readFile(skier), skier),
  [{ x1: 280.79, y1: 44.73, x2: 499.49, y2: 391.41, score: 1 }],
  "maps",
  "explain_pp_tinypose_785.jpg",
);

// The TransPose-shaped model.
const transpose = buildTransPoseModel();
const person = scene(384, 512, [80, 60, 220, 420]);
await picture(
  { ...transpose, path: transpose.manifest.file },
  person.image,
  [person.box],
  "attention",
  "explain_transpose_attention.jpg",
);

// The PRTR model with decoder-layer paths.
const prtr = buildPrtrKeypointModel({ auxLayers: 5 });
const prtrPerson = scene(320, 420, [60, 40, 200, 340]);
await picture(
  { ...prtr, path: prtr.manifest.file },
  prtrPerson.image,
  [prtrPerson.box],
  "queries",
  "explain_prtr_queries.jpg",
);
