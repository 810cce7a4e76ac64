/**
 * The `eval --report` page: one self-contained HTML file (inline CSS and SVG, images as data:
 * URLs), readable offline and printable, with no script. Everything on it comes from an
 * `EvalReport`; the charts are drawn by `lib/plot/svg.ts`.
 */

import { AREA_RANGES, IOU_THRESHOLDS, RECALL_THRESHOLDS, STAT_NAMES } from "./cocoeval.ts";
import { ERROR_CLASSES, type ErrorClass } from "./diagnosis.ts";
import {
  CUMULATIVE_STEPS,
  type CumulativeStep,
  type EvalReport,
  FIX_ORDER,
  type SliceKind,
  SLICES,
} from "./report.ts";
import { barChart, escapeXml, lineChart, type LineSeries, scatterChart } from "../plot/svg.ts";

/** Colours of the keypoint classes, on the page and in the gallery. */
export const CLASS_COLORS: Readonly<Record<ErrorClass, string>> = {
  good: "#2e9d48",
  jitter: "#e0a400",
  inversion: "#8e44ad",
  swap: "#1f77d0",
  miss: "#d83a2e",
};

/** Colours of the cumulative steps (and of the original). */
const STEP_COLORS: Readonly<Record<"original" | CumulativeStep, string>> = {
  original: "#333333",
  miss: CLASS_COLORS.miss,
  swap: CLASS_COLORS.swap,
  inversion: CLASS_COLORS.inversion,
  jitter: CLASS_COLORS.jitter,
  background: "#8d5a2b",
  score: "#13948f",
  missed_people: "#8a8a8a",
};

const STEP_NAMES: Readonly<Record<"original" | CumulativeStep, string>> = {
  original: "original",
  miss: "miss",
  swap: "swap",
  inversion: "inversion",
  jitter: "jitter",
  background: "background",
  score: "score",
  missed_people: "missed people",
};

/** What the ten stats mean, for the table. */
const STAT_MEANINGS: Readonly<Record<string, string>> = {
  AP: "AP at OKS .50:.95, all areas",
  AP50: "AP at OKS .50",
  AP75: "AP at OKS .75",
  APm: "AP, medium people (area 32²–96²)",
  APl: "AP, large people (area > 96²)",
  AR: "AR at OKS .50:.95, all areas",
  AR50: "AR at OKS .50",
  AR75: "AR at OKS .75",
  ARm: "AR, medium people",
  ARl: "AR, large people",
};

/** One picture of the gallery. */
export interface GalleryItem {
  /** The image id. */
  imageId: number;
  /** Its file name. */
  fileName: string;
  /** `src` of the picture: a data: URL (or a path beside the page). */
  src: string;
  /** Pixel size of the picture. */
  width: number;
  /** Pixel size of the picture. */
  height: number;
  /** Lines under it. */
  caption: string;
}

/** What the page shows besides the report. */
export interface ReportPage {
  /** The report. */
  report: EvalReport;
  /** Ground-truth file, as given. */
  groundTruth: string;
  /** Results file (or how the results were made), as given. */
  results: string;
  /** The `--compare` file, when given. */
  compare?: string;
  /** The gallery of worst images (with `--images`). */
  gallery?: GalleryItem[];
  /** A line above the gallery, or where it would be. */
  galleryNote?: string;
  /** posekit's version, for the footer. */
  version?: string;
}

const f3 = (v: number | null | undefined) =>
  v === null || v === undefined || v === -1 ? "–" : v.toFixed(3);
const signed = (v: number) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`;
const percent = (v: number) => `${Math.round(v * 100)}%`;

/** The [T][R] precision of one threshold index, or the mean over thresholds (t = -1). */
function precisionCurve(precision: Float64Array, t: number): Float64Array {
  const numThr = IOU_THRESHOLDS.length, numRec = RECALL_THRESHOLDS.length;
  return Float64Array.from({ length: numRec }, (_, r) => {
    if (t >= 0) return precision[t * numRec + r] > -1 ? precision[t * numRec + r] : NaN;
    let sum = 0, count = 0;
    for (let u = 0; u < numThr; u++) {
      const v = precision[u * numRec + r];
      if (v > -1) [sum, count] = [sum + v, count + 1];
    }
    return count ? sum / count : NaN;
  });
}

/** Mean of the finite values (the area under a sampled PR curve, as COCO averages it). */
function meanFinite(values: Float64Array): number {
  let sum = 0, count = 0;
  for (const v of values) if (Number.isFinite(v)) [sum, count] = [sum + v, count + 1];
  return count ? sum / count : -1;
}

function statsTable(report: EvalReport): string {
  const stats = report.evaluation.stats;
  const intervals = report.intervals?.stats;
  const rows = STAT_NAMES.map((name) => {
    const ci = intervals?.[name];
    return `<tr><th>${name}</th><td class="num">${f3(stats[name])}</td>` +
      `<td class="num">${ci ? `${f3(ci[0])} – ${f3(ci[1])}` : "–"}</td>` +
      `<td>${escapeXml(STAT_MEANINGS[name])}</td></tr>`;
  }).join("");
  const boot = report.intervals
    ? `95% intervals: bootstrap over images, ${report.intervals.resamples} resamples ` +
      `(seed ${report.intervals.seed}).`
    : "No bootstrap.";
  return `<table class="stats"><thead><tr><th>stat</th><th>value</th><th>95% interval</th>` +
    `<th>meaning</th></tr></thead><tbody>${rows}</tbody></table><p class="note">${boot}</p>`;
}

function compareBlock(page: ReportPage): string {
  const c = page.report.compare;
  if (!c) return "";
  const ci = c.ci95 ? `${signed(c.ci95[0])} to ${signed(c.ci95[1])}` : "undefined";
  const verdict = c.ci95 && (c.ci95[0] > 0 || c.ci95[1] < 0)
    ? "The interval excludes 0: the difference is more than resampling noise."
    : "The interval includes 0: these images cannot tell the two apart.";
  return `<div class="card"><h3>Compared with ${escapeXml(page.compare ?? "other results")}</h3>` +
    `<p>AP ${f3(page.report.evaluation.stats.AP)} vs ${f3(c.other.AP)}: difference ` +
    `<b>${signed(c.difference)}</b>, 95% interval ${ci} (paired bootstrap, same images ` +
    `drawn for both). ${verdict}</p></div>`;
}

function costCharts(report: EvalReport): string {
  const { apFixed } = report;
  const original = apFixed.original;
  if (original === -1) {
    return `<p class="note">No person counts (every annotation is a crowd or has no keypoints), ` +
      `so there is no AP to explain.</p>`;
  }
  const alone = barChart(
    [{
      label: "AP gain",
      color: "#4a6fa5",
      values: FIX_ORDER.map((name) => (apFixed[name] === -1 ? null : apFixed[name] - original)),
    }],
    {
      title: "AP gained by fixing one error type alone",
      x: { label: "AP gain (fixed − original)", min: 0 },
      y: { label: "" },
      height: 230,
      legend: "none",
    },
    {
      categories: FIX_ORDER.map((name) => name),
      horizontal: true,
      valueLabel: (_, __, v) => signed(v),
    },
  );
  const labels = ["original", ...CUMULATIVE_STEPS.map((s) => `+ ${STEP_NAMES[s]}`)];
  // A step that leaves no person (missed people removes them all) has no AP: shown as 0.
  const aps = [original, ...CUMULATIVE_STEPS.map((s) => Math.max(0, apFixed.cumulative[s]))];
  const cumulative = barChart(
    [
      {
        label: "AP before the step",
        color: "#b9c3cf",
        values: aps.map((_, i) => (i ? aps[i - 1] : aps[0])),
      },
      {
        label: "gained by the step",
        color: "#e4572e",
        values: aps.map((ap, i) => (i ? ap - aps[i - 1] : 0)),
      },
    ],
    {
      title: "AP after each fix, cumulatively",
      x: { label: "AP (.50:.95)", min: 0, max: 1 },
      y: { label: "" },
      height: 330,
      legend: "below",
    },
    {
      categories: labels,
      horizontal: true,
      stacked: true,
      valueLabel: (c) => (c ? `${f3(aps[c])} (${signed(aps[c] - aps[c - 1])})` : f3(aps[0])),
    },
  );
  return `<div class="charts">${alone}${cumulative}</div>`;
}

function stepCurves(report: EvalReport): string {
  const charts = [
    { t: IOU_THRESHOLDS.indexOf(0.5), name: "OKS .50" },
    { t: IOU_THRESHOLDS.indexOf(0.75), name: "OKS .75" },
    { t: -1, name: "OKS .50:.95 (mean)" },
  ].map(({ t, name }) => {
    const series: LineSeries[] = report.stepPrecision.map(({ step, precision }) => {
      const y = precisionCurve(precision, t);
      return {
        label: `${STEP_NAMES[step]} ${f3(meanFinite(y))}`,
        color: STEP_COLORS[step],
        x: RECALL_THRESHOLDS,
        y,
        width: step === "original" ? 2.5 : 1.8,
        dash: step === "original" ? undefined : undefined,
      };
    });
    return lineChart(series, {
      title: `PR, errors fixed in turn: ${name}`,
      x: { label: "recall", min: 0, max: 1 },
      y: { label: "precision", min: 0, max: 1 },
      width: 400,
      height: 440,
      legend: "below",
    });
  });
  return `<div class="charts">${charts.join("")}</div>`;
}

function keypointMix(report: EvalReport): string {
  const names = Object.keys(report.errorsPerKeypoint);
  const totals = names.map((name) =>
    ERROR_CLASSES.reduce((sum, c) => sum + report.errorsPerKeypoint[name][c], 0)
  );
  const all = ERROR_CLASSES.reduce((sum, c) => sum + report.errors[c], 0);
  const categories = ["all keypoints", ...names];
  const series = ERROR_CLASSES.map((c) => ({
    label: c,
    color: CLASS_COLORS[c],
    values: categories.map((_, i) => {
      const total = i === 0 ? all : totals[i - 1];
      const count = i === 0 ? report.errors[c] : report.errorsPerKeypoint[names[i - 1]][c];
      return total ? count / total : null;
    }),
  }));
  return barChart(series, {
    title: "Error mix per keypoint (labelled keypoints of matched people)",
    x: { label: "share of the keypoint's labels", min: 0, max: 1, format: percent },
    y: { label: "" },
    width: 640,
    height: 80 + 19 * categories.length,
    legend: "below",
  }, {
    categories: categories.map((name, i) => `${name} (${i === 0 ? all : totals[i - 1]})`),
    horizontal: true,
    stacked: true,
    emptyLabel: "no labels",
  });
}

function sliceCharts(report: EvalReport): string {
  const titles: Record<SliceKind, [string, string]> = {
    keypoints: ["AP by labelled keypoints", "labelled keypoints per person"],
    overlap: ["AP by overlap", "other people whose box IoU exceeds 0.1"],
    area: ["AP by area", "annotation area (pixels, as side²)"],
  };
  return `<div class="charts">${
    (Object.keys(SLICES) as SliceKind[]).map((kind) =>
      barChart(
        [{
          label: "AP",
          color: "#4a6fa5",
          values: SLICES[kind].map(({ label }) => report.slices[kind][label]),
        }],
        {
          title: titles[kind][0],
          x: { label: titles[kind][1] },
          y: { label: "AP (.50:.95)", min: 0, max: 1 },
          width: 400,
          height: 290,
          legend: "none",
        },
        {
          categories: SLICES[kind].map(({ label }) =>
            `${label}\nn=${report.sliceSizes[kind][label]}`
          ),
          valueLabel: (_, __, v) => f3(v),
          emptyLabel: "empty",
        },
      )
    ).join("")
  }</div>`;
}

function thresholdCurves(report: EvalReport): string {
  const precision = report.evaluation.precision;
  const numRec = RECALL_THRESHOLDS.length, numCats = report.evaluation.categoryIds.length;
  const numAreas = AREA_RANGES.length;
  const charts = AREA_RANGES.map((range, a) => {
    const series: LineSeries[] = Array.from(IOU_THRESHOLDS, (thr, t) => {
      const y = Float64Array.from({ length: numRec }, (_, r) => {
        let sum = 0, count = 0;
        for (let k = 0; k < numCats; k++) {
          const v = precision[((t * numRec + r) * numCats + k) * numAreas + a];
          if (v > -1) [sum, count] = [sum + v, count + 1];
        }
        return count ? sum / count : NaN;
      });
      const hue = 220 - (t / (IOU_THRESHOLDS.length - 1)) * 220;
      return {
        label: `OKS .${thr.toFixed(2).slice(2)}: ${f3(meanFinite(y))}`,
        color: `hsl(${hue.toFixed(0)},70%,42%)`,
        x: RECALL_THRESHOLDS,
        y,
        width: 1.6,
      };
    });
    return lineChart(series, {
      title: `PR per OKS threshold: ${range.label} people`,
      x: { label: "recall", min: 0, max: 1 },
      y: { label: "precision", min: 0, max: 1 },
      width: 400,
      height: 460,
      legend: "below",
    });
  });
  return `<div class="charts">${charts.join("")}</div>`;
}

function scoreCharts(report: EvalReport): string {
  const curve = report.scoreCurve;
  let threshold: string;
  if (curve.threshold.length === 0) {
    threshold = `<p class="note">No result counts at OKS .50, so there is no curve.</p>`;
  } else {
    // At most ~1,000 points per line: every k-th threshold, and the best one.
    const step = Math.max(1, Math.ceil(curve.threshold.length / 1000));
    const keep = curve.threshold.map((_, i) => i).filter((i) =>
      i % step === 0 || i === curve.best || i === curve.threshold.length - 1
    );
    const x = keep.map((i) => curve.threshold[i]);
    const b = curve.best;
    threshold = lineChart(
      [
        { label: "precision", color: "#1f77d0", x, y: keep.map((i) => curve.precision[i]) },
        { label: "recall", color: "#d83a2e", x, y: keep.map((i) => curve.recall[i]) },
        { label: "F1", color: "#2e9d48", x, y: keep.map((i) => curve.f1[i]), width: 2.5 },
      ],
      {
        title: "Keeping results above a score threshold (OKS .50)",
        x: { label: "score threshold (results scoring at least this are kept)" },
        y: { label: "precision, recall, F1", min: 0, max: 1 },
        legendWidth: 90,
      },
      [{
        x: curve.threshold[b],
        y: curve.f1[b],
        label: `best F1 ${curve.f1[b].toFixed(3)} at ${formatScore(curve.threshold[b])}`,
        color: "#2e9d48",
      }],
    );
  }
  const { score, oks, truePositive } = report.scatter;
  const step = Math.max(1, Math.ceil(score.length / 4000));
  const pick = (tp: number) => {
    const x: number[] = [], y: number[] = [];
    for (let i = 0; i < score.length; i += step) {
      if (truePositive[i] !== tp) continue;
      x.push(Number.isFinite(oks[i]) ? oks[i] : 0);
      y.push(score[i]);
    }
    return { x, y };
  };
  const scatter = scatterChart(
    [
      { label: "true positive at .50", color: "#2e9d48", ...pick(1) },
      { label: "other results", color: "#d83a2e", ...pick(0) },
    ],
    {
      title: `Score against OKS${step > 1 ? ` (every ${step}th result)` : ""}`,
      x: { label: "best OKS with a person of the image", min: 0, max: 1 },
      y: { label: "result score" },
      legend: "below",
    },
  );
  return `<div class="charts">${threshold}${scatter}</div>`;
}

function formatScore(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

function counts(report: EvalReport): string {
  const people = report.perImage.reduce((sum, r) => sum + r.people, 0);
  const results = report.perImage.reduce((sum, r) => sum + r.results, 0);
  const matched = report.perImage.reduce((sum, r) => sum + r.matched, 0);
  const keypoints = ERROR_CLASSES.reduce((sum, c) => sum + report.errors[c], 0);
  const chips = ERROR_CLASSES.map((c) =>
    `<span class="chip" style="background:${CLASS_COLORS[c]}">${c} ${report.errors[c]}</span>`
  ).join(" ");
  return `<p>${report.perImage.length} images, ${people} people, ${results} results taking ` +
    `part (each image's 20 best), ${matched} of them matched to a person at OKS 0.1; ` +
    `${keypoints} labelled keypoints of matched people classified: ${chips}</p>`;
}

function gallery(page: ReportPage): string {
  const note = page.galleryNote ? `<p class="note">${escapeXml(page.galleryNote)}</p>` : "";
  if (!page.gallery?.length) return note;
  const legend = ERROR_CLASSES.map((c) =>
    `<span class="chip" style="background:${CLASS_COLORS[c]}">${c}</span>`
  ).join(" ");
  const items = page.gallery.map((item) =>
    `<figure><img src="${escapeXml(item.src)}" width="${item.width}" height="${item.height}" ` +
    `alt="image ${item.imageId}"><figcaption>${
      escapeXml(item.caption).replaceAll("\n", "<br>")
    }</figcaption></figure>`
  ).join("");
  return `${note}<p class="note">Result keypoints coloured by class ${legend}; a thin line ` +
    `joins each to its own ground-truth keypoint, ringed at ks 0.85 (inner) and 0.5 (outer). ` +
    `White crosses: ground-truth keypoints of missed people. Grey dots: results matched to ` +
    `no one.</p><div class="gallery">${items}</div>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;
  color:#1d1d1d;background:#f4f5f7;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid
  #d5d8dd;padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}
.meta{color:#555;font-size:13px;word-break:break-all}
.note{color:#555;font-size:13px;margin:6px 0}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px;margin:10px 0}
.charts{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.charts svg{background:#fff;border:1px solid #dde1e6;border-radius:6px}
table.stats{border-collapse:collapse;background:#fff;font-size:14px}
table.stats th,table.stats td{border:1px solid #dde1e6;padding:4px 10px;text-align:left}
table.stats td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.chip{display:inline-block;color:#fff;border-radius:9px;padding:0 8px;font-size:12px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px;
  align-items:start}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:6px}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#333;margin-top:4px}
dl{font-size:13px}dt{font-weight:600;margin-top:6px}dd{margin-left:16px}
@media print{body{background:#fff}.charts svg,figure,.card{break-inside:avoid}}
`;

const DEFINITIONS = `<dl>
<dt>Which results</dt><dd>Each image's 20 highest-scored results take part in every step,
as in COCOeval.</dd>
<dt>Keypoint classes</dt><dd>Results are matched to people as COCOeval matches them, at OKS
0.1. For each labelled keypoint of a matched person, ks = exp(−d² / (2·area·(2σ)²)) is taken
against the person's own keypoint, its mirror (left ↔ right) and both keypoints of every other
person in the image; the best candidate decides: <b>good</b> own keypoint, ks ≥ 0.85;
<b>jitter</b> own keypoint, 0.5 ≤ ks &lt; 0.85; <b>inversion</b> the mirror keypoint, ks ≥ 0.5;
<b>swap</b> someone else's keypoint, ks ≥ 0.5; <b>miss</b> ks &lt; 0.5 everywhere.</dd>
<dt>Fixing</dt><dd>A fixed keypoint moves onto the ks = 0.875 circle around its own
ground-truth keypoint (keypoints already inside stay), and the standard AP is recomputed.</dd>
<dt>Background, score, missed people</dt><dd>On top of all four fixes: results reaching no
person at OKS 0.1 are removed; then every result scores its best OKS; then people no result
reaches at OKS 0.1 are removed from the ground truth.</dd>
<dt>Slices</dt><dd>AP with the people outside the slice ignored (as COCOeval ignores areas
outside a range); results matched to them are ignored, unmatched results stay false
positives.</dd>
</dl>`;

/**
 * The whole page.
 *
 * @example A page from a report
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildEvalReport, parseGroundTruth, renderReportHtml } from "@posekit/posekit";
 *
 * const keypoints = Array.from({ length: 17 }, (_, k) => [100 + 4 * k, 50 + 10 * k, 2]).flat();
 * const gt = parseGroundTruth({
 *   images: [{ id: 1 }],
 *   categories: [{ id: 1 }],
 *   annotations: [{
 *     id: 1, image_id: 1, category_id: 1, keypoints, num_keypoints: 17,
 *     area: 10240, bbox: [100, 50, 64, 160],
 *   }],
 * }, "gt.json");
 * // The result is the ground truth itself.
 * const results = [{ imageId: 1, categoryId: 1, keypoints, score: 0.9 }];
 * const report = buildEvalReport(gt, results, { bootstrap: false });
 *
 * const html = renderReportHtml({ report, groundTruth: "gt.json", results: "results.json" });
 * assert.ok(html.startsWith("<!DOCTYPE html>"));
 * assert.ok(html.includes("<title>posekit eval report — AP 1.000</title>")); // AP 1: exact result
 * assert.ok(!html.includes("<script")); // one offline file, no script
 * ```
 */
export function renderReportHtml(page: ReportPage): string {
  const { report } = page;
  const title = `posekit eval report — AP ${f3(report.evaluation.stats.AP)}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeXml(title)}</h1>
<p class="meta">ground truth: ${escapeXml(page.groundTruth)}<br>results: ${
    escapeXml(page.results)
  }${page.compare ? `<br>compared with: ${escapeXml(page.compare)}` : ""}</p>
${counts(report)}
<h2>The ten numbers</h2>
${statsTable(report)}
${compareBlock(page)}
<h2>What each error costs</h2>
<p class="note">AP after fixing each kind of keypoint error alone, and after fixing them one
after the other, then removing background results, scoring each result by its best OKS, and
removing the people no result reaches.</p>
${costCharts(report)}
${stepCurves(report)}
<h2>Which keypoints go wrong</h2>
${keypointMix(report)}
<h2>Slices</h2>
<p class="note">AP on people of one kind (n: people in the slice); the others are ignored.</p>
${sliceCharts(report)}
<h2>Precision–recall from COCOeval</h2>
${thresholdCurves(report)}
<h2>Scores</h2>
${scoreCharts(report)}
<h2>Worst images</h2>
${gallery(page)}
<h2>Definitions</h2>
${DEFINITIONS}
<p class="note">Made by posekit${
    page.version ? ` ${escapeXml(page.version)}` : ""
  } eval --report.</p>
</main></body></html>
`;
}
