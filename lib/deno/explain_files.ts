/**
 * `--explain DIR`: what the keypoint model looked at, written per image as
 * `DIR/<image stem>.explain.json` and pictures (`<stem>.person<i>.maps.jpg`,
 * `.attention.jpg`, `.queries.jpg`), and, for PRTR runs, `DIR/queries.json` and
 * `DIR/queries.png` (the query × keypoint-class table over the run) at the end. The records
 * are `lib/explain/report.ts`'s, the pictures `lib/explain/pictures.ts`'s.
 *
 * @example Explain one image
 * ```ts ignore
 * import { ExplainWriter, PosePipeline, readImageFile } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create({ pose: "pp_tinypose_256x192", explain: true });
 * const writer = await ExplainWriter.open("explained/", pipeline.pose.manifest);
 * const image = await readImageFile("skier.jpg");
 * await writer.write("skier.jpg", image, await pipeline.explain(image));
 * await writer.finish(); // queries.json for PRTR models
 * ```
 */

import { basename, join } from "node:path";
import { COCO_KEYPOINT_NAMES } from "../coco/keypoints.ts";
import { encodeJpeg, encodePng } from "../image/encode.ts";
import type { ModelManifest } from "../models/manifest.ts";
import type { ExplainedImage } from "../pipeline.ts";
import type { RgbImage } from "../types.ts";
import {
  attentionPicture,
  confidenceMapPicture,
  type PictureOptions,
  queryPicture,
  queryTablePicture,
} from "../explain/pictures.ts";
import { DEFAULT_DEPENDENCY_DELTA, explainRecord, QueryTable } from "../explain/report.ts";
import { writeFileAtomic } from "./files.ts";

/** Options of `ExplainWriter.open`. */
export interface ExplainWriterOptions {
  /** δ of the dependency areas: attention ≥ δ × the row's maximum (default 0.5). */
  delta?: number;
  /** JPEG quality of the pictures (default 92). */
  quality?: number;
}

/**
 * Writes explanations into one folder over a run.
 *
 * @example A run of PRTR images, with its query table at the end
 * ```ts ignore
 * import { ExplainWriter, PosePipeline, readImageFile } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create({ pose: "prtr_res50_384x288", explain: true });
 * const writer = await ExplainWriter.open("explained/", pipeline.pose.manifest, { delta: 0.3 });
 * try {
 *   for (const file of ["a.jpg", "b.jpg"]) {
 *     const image = await readImageFile(file);
 *     const written = await writer.write(file, image, await pipeline.explain(image));
 *     console.log(written); // a.explain.json, a.person0.maps.jpg, ...
 *   }
 *   console.log(await writer.finish(), writer.notes); // queries.json, queries.png; why not
 * } finally {
 *   await pipeline.close();
 * }
 * ```
 */
export class ExplainWriter {
  /** One-line notes met so far (each once), for the user. */
  readonly notes: string[] = [];
  #table?: QueryTable;
  readonly #stems = new Set<string>();
  readonly #pictures: PictureOptions;

  private constructor(
    /** The folder written into. */
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly options: ExplainWriterOptions,
  ) {
    this.#pictures = {
      keypointNames: this.keypointNames,
      skeleton: manifest.skeleton,
      delta: options.delta ?? DEFAULT_DEPENDENCY_DELTA,
    };
  }

  /** A writer into `dir` (created with its parents) for the keypoint model of `manifest`. */
  static async open(
    dir: string,
    manifest: ModelManifest,
    options: ExplainWriterOptions = {},
  ): Promise<ExplainWriter> {
    const delta = options.delta ?? DEFAULT_DEPENDENCY_DELTA;
    if (!(delta > 0 && delta <= 1)) throw new RangeError(`δ must be in (0, 1], got ${delta}`);
    await Deno.mkdir(dir, { recursive: true });
    return new ExplainWriter(dir, manifest, options);
  }

  /** The model's keypoint names (COCO's for 17 unnamed keypoints). */
  get keypointNames(): readonly string[] {
    return this.manifest.keypoints ?? COCO_KEYPOINT_NAMES;
  }

  /**
   * Writes one image's explanation record and pictures; returns the paths written. `path`
   * names the image in the record and gives the files their stem (`<stem>-2` and so on when
   * an earlier image of the run had the same one).
   */
  async write(path: string, image: RgbImage, explained: ExplainedImage): Promise<string[]> {
    for (
      const note of [
        ...explained.notes,
        ...explained.people.flatMap((p) => p.crop.notes ?? []),
      ]
    ) {
      if (!this.notes.includes(note)) this.notes.push(note);
    }
    const stem = this.#stemOf(path);
    const delta = this.#pictures.delta;
    const written: string[] = [];
    const record = explainRecord(path, explained, this.keypointNames, delta);
    const jsonPath = join(this.dir, `${stem}.explain.json`);
    await writeFileAtomic(jsonPath, JSON.stringify(record, null, 1) + "\n");
    written.push(jsonPath);
    const quality = this.options.quality ?? 92;
    for (const [index, person] of explained.people.entries()) {
      const queries = person.crop.queries;
      if (queries) {
        this.#table ??= new QueryTable(queries.numQueries, this.keypointNames);
        this.#table.add(queries);
      }
      const pictures: [string, RgbImage | undefined][] = [
        ["maps", confidenceMapPicture(image, person, index, this.#pictures)],
        ["attention", attentionPicture(image, person, index, this.#pictures)],
        ["queries", queryPicture(image, person, index, this.#pictures)],
      ];
      for (const [kind, picture] of pictures) {
        if (!picture) continue;
        const file = join(this.dir, `${stem}.person${index}.${kind}.jpg`);
        await writeFileAtomic(file, encodeJpeg(picture, quality));
        written.push(file);
      }
    }
    return written;
  }

  /**
   * Writes `queries.json` and `queries.png` when the run had PRTR readouts; returns the
   * paths written (none otherwise).
   */
  async finish(): Promise<string[]> {
    if (!this.#table) return [];
    const record = this.#table.toRecord();
    const json = join(this.dir, "queries.json"), png = join(this.dir, "queries.png");
    await writeFileAtomic(json, JSON.stringify(record) + "\n");
    await writeFileAtomic(png, encodePng(queryTablePicture(record, this.#table.people)));
    return [json, png];
  }

  /** `path`'s stem, unique in this run. */
  #stemOf(path: string): string {
    const name = path === "-" ? "stdin" : basename(path.replace(/[?#].*$/, "")) || "image";
    const stem = name.replace(/\.[^.]*$/, "") || name;
    let unique = stem;
    for (let n = 2; this.#stems.has(unique.toLowerCase()); n++) unique = `${stem}-${n}`;
    this.#stems.add(unique.toLowerCase());
    return unique;
  }
}
