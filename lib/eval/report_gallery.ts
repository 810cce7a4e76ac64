/**
 * The report's gallery: which images are worst, and each drawn with its diagnosis — result
 * keypoints coloured by class and joined to their own ground-truth keypoint, ringed where ks
 * is 0.85 and 0.5, missed people's keypoints crossed, unmatched results in grey.
 */

import type { RgbImage } from "../types.ts";
import { drawLine, fillCircle, type Rgb, strokeCircle } from "../image/draw.ts";
import { resizeRgbLikeOpenCv } from "../image/preprocess.ts";
import { ERROR_CLASSES, GOOD_SIMILARITY, similarityRadius, WRONG_SIMILARITY } from "./diagnosis.ts";
import type { EvalReport, ImageDiagnosis } from "./report.ts";

/** Class colours as RGB (the page's `CLASS_COLORS`). */
const CLASS_RGB: readonly Rgb[] = [
  [46, 157, 72], // good
  [224, 164, 0], // jitter
  [142, 68, 173], // inversion
  [31, 119, 208], // swap
  [216, 58, 46], // miss
];
const WHITE: Rgb = [255, 255, 255], BLACK: Rgb = [0, 0, 0], GREY: Rgb = [150, 150, 150];

/**
 * The `count` worst images: those with missed people first, then by lowest mean OKS of their
 * matches (none counts as 0), then most missed people, then image id. Images with neither
 * people nor results are left out.
 */
export function worstImages(report: EvalReport, count = 20): ImageDiagnosis[] {
  const missed = (row: ImageDiagnosis) => row.people - row.matched;
  return report.perImage
    .filter((row) => row.people > 0 || row.results > 0)
    .sort((a, b) =>
      Number(missed(b) > 0) - Number(missed(a) > 0) ||
      Math.max(0, a.meanOks) - Math.max(0, b.meanOks) ||
      missed(b) - missed(a) ||
      a.imageId - b.imageId
    )
    .slice(0, count);
}

/** Caption lines of one image of the gallery. */
export function galleryCaption(row: ImageDiagnosis, fileName: string): string {
  const classes = ERROR_CLASSES.map((c, i) => `${c} ${row.classes[i]}`).join(" · ");
  const plural = (count: number, one: string, many: string) =>
    `${count} ${count === 1 ? one : many}`;
  return `image ${row.imageId} · ${fileName}\n` +
    `${plural(row.people, "person", "people")}, ${plural(row.results, "result", "results")}, ` +
    `${row.matched} matched, ` +
    `${row.people - row.matched} missed, mean OKS ${
      row.meanOks === -1 ? "–" : row.meanOks.toFixed(3)
    }\n${classes}`;
}

/**
 * `image` (the picture of `imageId`) scaled so that its longer side is at most `maxSide`, with
 * the diagnosis of that image drawn on it.
 */
export function drawDiagnosis(
  image: RgbImage,
  report: EvalReport,
  imageId: number,
  maxSide = 640,
): RgbImage {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const out: RgbImage = scale < 1
    ? { width, height, data: resizeRgbLikeOpenCv(image, width, height) }
    : { width: image.width, height: image.height, data: image.data.slice() };
  const s = out.width / image.width;
  // Pixel centres map as the resize maps them.
  const X = (x: number) => (x + 0.5) * s - 0.5, Y = (y: number) => (y + 0.5) * s - 0.5;
  const { cells, selection, diagnosis, layout } = report;
  const numImages = cells.imageIds.length;
  const m = cells.imageIds.indexOf(imageId);
  if (m < 0) return out;
  const set = selection.set;
  const stride = 3 * layout.names.length;
  const dot = Math.max(2.5, Math.min(out.width, out.height) / 110);
  const results: number[] = [];
  for (let r = 0; r < set.cell.length; r++) if (set.cell[r] % numImages === m) results.push(r);

  // Missed people: countable annotations no result matched.
  const matched = new Set(results.map((r) => diagnosis.match[r]));
  cells.annotations.forEach((ann, a) => {
    if (cells.gtCell[a] < 0 || cells.gtCell[a] % numImages !== m) return;
    if (cells.ignored[a] || matched.has(a)) return;
    for (let i = 0; i < layout.names.length; i++) {
      if (!(ann.keypoints[3 * i + 2] > 0)) continue;
      const x = X(ann.keypoints[3 * i]), y = Y(ann.keypoints[3 * i + 1]), d = dot * 1.2;
      for (const [w, color] of [[3.5, BLACK], [1.5, WHITE]] as const) {
        drawLine(out, x - d, y - d, x + d, y + d, w, color);
        drawLine(out, x - d, y + d, x + d, y - d, w, color);
      }
    }
  });
  // Unmatched results.
  for (const r of results) {
    if (diagnosis.match[r] >= 0) continue;
    for (let i = 0; i < layout.names.length; i++) {
      const p = r * stride + 3 * i;
      fillCircle(out, X(set.keypoints[p]), Y(set.keypoints[p + 1]), dot * 0.7, GREY);
    }
  }
  // Classified keypoints: rings, then lines, then dots, so the dots stay on top.
  const mine: number[] = [];
  for (let k = 0; k < diagnosis.count; k++) {
    if (set.cell[diagnosis.result[k]] % numImages === m) mine.push(k);
  }
  const where = (k: number) => {
    const ann = cells.annotations[diagnosis.annotation[k]];
    const i = diagnosis.keypoint[k], p = diagnosis.result[k] * stride + 3 * i;
    return {
      qx: X(ann.keypoints[3 * i]),
      qy: Y(ann.keypoints[3 * i + 1]),
      px: X(set.keypoints[p]),
      py: Y(set.keypoints[p + 1]),
      sigma: layout.sigmas[i],
      area: ann.area,
    };
  };
  for (const k of mine) {
    const { qx, qy, sigma, area } = where(k);
    for (const ks of [GOOD_SIMILARITY, WRONG_SIMILARITY]) {
      const radius = similarityRadius(sigma, area, ks) * s;
      strokeCircle(out, qx, qy, radius, 2.4, BLACK, 0.3);
      strokeCircle(out, qx, qy, radius, 1, WHITE, 0.75);
    }
  }
  for (const k of mine) {
    const { qx, qy, px, py } = where(k);
    drawLine(out, qx, qy, px, py, 2.6, BLACK);
    drawLine(out, qx, qy, px, py, 1.2, WHITE);
  }
  for (const k of mine) {
    const { px, py } = where(k);
    fillCircle(out, px, py, dot + 1, BLACK);
    fillCircle(out, px, py, dot, CLASS_RGB[diagnosis.errorClass[k]]);
  }
  return out;
}
