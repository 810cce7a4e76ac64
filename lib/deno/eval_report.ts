/**
 * Writing `eval --report DIR`: report.html, summary.json and per_image.csv, each computed in
 * full before anything is written, then written atomically (a reader never sees half a file,
 * and a failed run leaves the previous report whole). With an images folder, the gallery's
 * pictures are read, drawn and inlined as JPEG data: URLs, so the page stays one file.
 */

import { isAbsolute, join, normalize } from "node:path";
import type { CocoGroundTruth } from "../eval/coco_json.ts";
import type { KeypointEvaluation, KeypointResult } from "../eval/cocoeval.ts";
import { buildEvalReport, type EvalReport, perImageCsv, reportSummary } from "../eval/report.ts";
import { type GalleryItem, renderReportHtml } from "../eval/report_html.ts";
import { drawDiagnosis, galleryCaption, worstImages } from "../eval/report_gallery.ts";
import { encodeJpeg } from "../image/encode.ts";
import { encodeBase64 } from "../bytes/base64.ts";
import { readImageFile } from "./image_file.ts";
import { writeFilesAtomic } from "./files.ts";

/** What `writeEvalReport` needs. */
export interface EvalReportFiles {
  /** The folder to write into (already there and writable: the CLI checks it first). */
  dir: string;
  /** The ground truth, as eval parsed it. */
  gt: CocoGroundTruth;
  /** The results, as eval parsed them. */
  results: KeypointResult[];
  /** eval's evaluation of them. */
  evaluation: KeypointEvaluation;
  /** How the ground truth and results are named on the page. */
  labels: { groundTruth: string; results: string; compare?: string };
  /** Results to compare with (`--compare`). */
  compare?: KeypointResult[];
  /** The images folder (`--images`): the gallery's pictures come from there. */
  imagesDir?: string;
  /** Gallery size (default 20). */
  galleryCount?: number;
  /** posekit's version, for the page's footer. */
  version?: string;
}

/** Paths written, the report, and notes for people (gallery images that could not be read). */
export interface WrittenReport {
  report: EvalReport;
  files: string[];
  warnings: string[];
}

/** Builds the report, its page and files, and writes them into `options.dir`. */
export async function writeEvalReport(options: EvalReportFiles): Promise<WrittenReport> {
  const { gt, dir } = options;
  const report = buildEvalReport(gt, options.results, {
    evaluation: options.evaluation,
    compare: options.compare,
  });
  const fileNames = new Map(
    gt.images.map((
      image,
    ) => [image.id, image.fileName ?? `${String(image.id).padStart(12, "0")}.jpg`]),
  );
  const warnings: string[] = [];
  let gallery: GalleryItem[] | undefined;
  let galleryNote: string | undefined;
  if (options.imagesDir) {
    gallery = [];
    for (const row of worstImages(report, options.galleryCount ?? 20)) {
      const fileName = fileNames.get(row.imageId)!;
      // eval already refused names that leave the folder; a gallery never reads outside it.
      if (isAbsolute(fileName) || normalize(fileName).startsWith("..")) continue;
      const path = join(options.imagesDir, fileName);
      try {
        const drawn = drawDiagnosis(await readImageFile(path), report, row.imageId);
        gallery.push({
          imageId: row.imageId,
          fileName,
          src: `data:image/jpeg;base64,${encodeBase64(encodeJpeg(drawn, 85))}`,
          width: drawn.width,
          height: drawn.height,
          caption: galleryCaption(row, fileName),
        });
      } catch (error) {
        warnings.push(`the report's gallery leaves out ${path}: ${(error as Error).message}`);
      }
    }
    galleryNote = `The ${gallery.length} worst images: those with missed people first, then ` +
      `the lowest mean OKS of their matches.`;
  } else {
    galleryNote = "With --images, the worst images are shown here with their keypoints.";
  }
  const html = renderReportHtml({
    report,
    groundTruth: options.labels.groundTruth,
    results: options.labels.results,
    compare: options.labels.compare,
    gallery,
    galleryNote,
    version: options.version,
  });
  const summary = JSON.stringify(reportSummary(report), null, 1) + "\n";
  const csv = perImageCsv(report, fileNames);
  // Everything is computed: now write the three as one set (see `writeFilesAtomic`).
  const files: [string, string][] = [
    [join(dir, "summary.json"), summary],
    [join(dir, "per_image.csv"), csv],
    [join(dir, "report.html"), html],
  ];
  await writeFilesAtomic(files);
  return { report, files: files.map(([path]) => path), warnings };
}
