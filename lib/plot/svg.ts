/**
 * Small SVG charts — lines, bars (grouped, stacked, horizontal) and scatter — as strings, for
 * pages that must read offline with nothing to load: no script, no font, no stylesheet beyond
 * what each chart carries. Every chart has a title, labelled axes with round ticks, and a
 * legend when it has more than one series; sizes are in a viewBox, so a page can scale them.
 */

/** An axis: its label, range and tick format. */
export interface Axis {
  /** Axis title. */
  label: string;
  /** Least value shown; default from the data (0 for bars). */
  min?: number;
  /** Greatest value shown; default from the data. */
  max?: number;
  /** Tick label; default a short decimal. */
  format?: (value: number) => string;
}

/** Title, size and axes shared by every chart. */
export interface ChartFrame {
  /** Title above the plot. */
  title: string;
  /** viewBox width (default 560). */
  width?: number;
  /** viewBox height (default 360). */
  height?: number;
  /** Horizontal axis. */
  x: Axis;
  /** Vertical axis. */
  y: Axis;
  /** Legend position: right of the plot (default) or below it. */
  legend?: "right" | "below" | "none";
  /** Legend column width when on the right (default 150). */
  legendWidth?: number;
}

/** One line of a line chart. */
export interface LineSeries {
  /** Legend text. */
  label: string;
  /** CSS colour. */
  color: string;
  /** x values. */
  x: ArrayLike<number>;
  /** y values (non-finite ones break the line). */
  y: ArrayLike<number>;
  /** SVG dash pattern, e.g. "4 3". */
  dash?: string;
  /** Stroke width (default 2). */
  width?: number;
}

/** A point to point out: a dot, a dotted guide down to the x axis, and a label. */
export interface Mark {
  /** Position. */
  x: number;
  /** Position. */
  y: number;
  /** Text beside the dot. */
  label: string;
  /** CSS colour. */
  color: string;
}

/** One series of a bar chart: a value per category. */
export interface BarSeries {
  /** Legend text. */
  label: string;
  /** CSS colour. */
  color: string;
  /** A value per category; null draws nothing (and "empty" when `emptyLabel` is set). */
  values: readonly (number | null)[];
}

/** One set of points of a scatter chart. */
export interface PointSeries {
  /** Legend text. */
  label: string;
  /** CSS colour. */
  color: string;
  /** x values. */
  x: ArrayLike<number>;
  /** y values. */
  y: ArrayLike<number>;
}

/** Text made safe for SVG/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * About `count` round ticks (steps of 1, 2 or 5 × 10^n) covering [min, max], as a person
 * would mark an axis.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { niceTicks } from "./svg.ts";
 *
 * assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
 * assert.deepEqual(niceTicks(0, 37, 4), [0, 10, 20, 30, 40]);
 * ```
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(min / step + 1e-9), last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** A tick label: up to 3 significant decimals, no trailing zeros. */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

const FONT = "font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif";
const n = (v: number) => String(Math.round(v * 100) / 100);

interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

function open(frame: ChartFrame, width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" height="${height}" role="img" aria-label="${escapeXml(frame.title)}" ` +
    `style="${FONT};font-size:12px;max-width:100%;height:auto">` +
    `<title>${escapeXml(frame.title)}</title>` +
    `<rect width="${width}" height="${height}" fill="#fff"/>` +
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">` +
    `${escapeXml(frame.title)}</text>`;
}

function legendBlock(
  items: readonly { label: string; color: string; dash?: string; kind?: "line" | "box" }[],
  x: number,
  y: number,
  below: boolean,
  maxWidth: number,
): string {
  let out = "";
  let cx = x, cy = y;
  for (const item of items) {
    const width = 30 + item.label.length * 7.2;
    if (below && cx > x && cx + width > x + maxWidth) [cx, cy] = [x, cy + 16];
    const swatch = item.kind === "line"
      ? `<line x1="${n(cx)}" y1="${n(cy - 4)}" x2="${n(cx + 16)}" y2="${n(cy - 4)}" ` +
        `stroke="${item.color}" stroke-width="3"${
          item.dash ? ` stroke-dasharray="${item.dash}"` : ""
        }/>`
      : `<rect x="${n(cx + 3)}" y="${n(cy - 10)}" width="11" height="11" fill="${item.color}"/>`;
    out += swatch + `<text x="${n(cx + 21)}" y="${n(cy)}">${escapeXml(item.label)}</text>`;
    if (below) cx += width;
    else cy += 17;
  }
  return out;
}

/** The plot area, scales, grid, ticks and axis titles. */
function axes(
  frame: ChartFrame,
  width: number,
  height: number,
  xRange: [number, number],
  yRange: [number, number],
  legendRows: number,
  xTicks: number[] | null,
  yTicks: number[] | null = null,
  rightPad = 0,
  bottomPad = 0,
): { svg: string; plot: Plot } {
  const legend = frame.legend ?? "right";
  const right = (legend === "right" ? (frame.legendWidth ?? 150) + 12 : 16) + rightPad;
  const bottom = 46 + bottomPad + (legend === "below" ? 16 * legendRows + 6 : 0);
  const plot = { left: 58, top: 32, width: 0, height: 0 } as Plot;
  plot.width = width - plot.left - right;
  plot.height = height - plot.top - bottom;
  const [x0, x1] = xRange, [y0, y1] = yRange;
  plot.sx = (v) => plot.left + ((v - x0) / (x1 - x0 || 1)) * plot.width;
  plot.sy = (v) => plot.top + plot.height - ((v - y0) / (y1 - y0 || 1)) * plot.height;
  const fx = frame.x.format ?? formatTick, fy = frame.y.format ?? formatTick;
  let svg = "";
  for (
    const t of (yTicks ?? niceTicks(y0, y1, 5)).filter((t) => t >= y0 - 1e-9 && t <= y1 + 1e-9)
  ) {
    const y = n(plot.sy(t));
    svg += `<line x1="${plot.left}" y1="${y}" x2="${n(plot.left + plot.width)}" y2="${y}" ` +
      `stroke="#e3e3e3"/>` +
      `<text x="${plot.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">` +
      `${escapeXml(fy(t))}</text>`;
  }
  for (
    const t of (xTicks ?? niceTicks(x0, x1, 6)).filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9)
  ) {
    const x = n(plot.sx(t));
    svg += `<line x1="${x}" y1="${plot.top}" x2="${x}" y2="${n(plot.top + plot.height)}" ` +
      `stroke="#eeeeee"/>` +
      `<text x="${x}" y="${n(plot.top + plot.height + 15)}" text-anchor="middle">` +
      `${escapeXml(fx(t))}</text>`;
  }
  svg += `<rect x="${plot.left}" y="${plot.top}" width="${n(plot.width)}" ` +
    `height="${n(plot.height)}" fill="none" stroke="#777"/>`;
  svg += `<text x="${n(plot.left + plot.width / 2)}" ` +
    `y="${n(plot.top + plot.height + 34 + bottomPad)}" ` +
    `text-anchor="middle" font-size="13">${escapeXml(frame.x.label)}</text>`;
  const cy = plot.top + plot.height / 2;
  svg += `<text x="16" y="${n(cy)}" text-anchor="middle" font-size="13" ` +
    `transform="rotate(-90 16 ${n(cy)})">${escapeXml(frame.y.label)}</text>`;
  return { svg, plot };
}

function legendRowsBelow(labels: readonly string[], width: number): number {
  let rows = 1, x = 0;
  for (const label of labels) {
    const w = 30 + label.length * 7.2;
    if (x > 0 && x + w > width - 70) [rows, x] = [rows + 1, 0];
    x += w;
  }
  return labels.length ? rows : 0;
}

function range(values: Iterable<number>, axis: Axis, zero: boolean): [number, number] {
  let lo = zero ? 0 : Infinity, hi = zero ? 0 : -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (hi === lo) hi = lo + 1;
  return [axis.min ?? lo, axis.max ?? hi];
}

function rowsOf(items: readonly { label: string }[], width: number): number {
  return legendRowsBelow(items.map((i) => i.label), width);
}

function finish(
  svg: string,
  frame: ChartFrame,
  plot: Plot,
  width: number,
  items: Parameters<typeof legendBlock>[0],
  height = frame.height ?? 360,
): string {
  const legend = frame.legend ?? "right";
  if (legend === "right" && items.length > 0) {
    svg += legendBlock(items, plot.left + plot.width + 12, plot.top + 10, false, 0);
  } else if (legend === "below" && items.length > 0) {
    svg += legendBlock(items, plot.left, height + 8 - 16 * rowsOf(items, width), true, width - 70);
  }
  return svg + "</svg>";
}

/**
 * A line chart: one polyline per series (a non-finite y breaks it), optional marked points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineChart } from "./svg.ts";
 *
 * const svg = lineChart([{ label: "AP", color: "#333", x: [0, 1], y: [1, 0] }], {
 *   title: "Precision", x: { label: "recall" }, y: { label: "precision" },
 * });
 * assert.ok(svg.startsWith("<svg") && svg.includes("<polyline"));
 * ```
 */
export function lineChart(
  series: readonly LineSeries[],
  frame: ChartFrame,
  marks: readonly Mark[] = [],
): string {
  const start = xyChartStart(series, frame);
  const { plot, width } = start;
  let svg = start.svg;
  svg += `<g fill="none" stroke-linejoin="round" stroke-linecap="round">`;
  for (const s of series) {
    let points: string[] = [];
    const flush = () => {
      if (points.length > 1) {
        svg += `<polyline points="${points.join(" ")}" stroke="${s.color}" ` +
          `stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`;
      }
      points = [];
    };
    for (let i = 0; i < s.x.length; i++) {
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) {
        points.push(`${n(plot.sx(s.x[i]))},${n(plot.sy(s.y[i]))}`);
      } else flush();
    }
    flush();
  }
  svg += "</g>";
  for (const mark of marks) {
    const x = n(plot.sx(mark.x)), y = n(plot.sy(mark.y));
    const onLeft = plot.sx(mark.x) > plot.left + plot.width * 0.6;
    svg += `<line x1="${x}" y1="${y}" x2="${x}" y2="${n(plot.top + plot.height)}" ` +
      `stroke="${mark.color}" stroke-dasharray="2 3"/>` +
      `<circle cx="${x}" cy="${y}" r="4.5" fill="${mark.color}" stroke="#fff"/>` +
      `<text x="${n(plot.sx(mark.x) + (onLeft ? -8 : 8))}" y="${n(plot.sy(mark.y) - 8)}" ` +
      `text-anchor="${onLeft ? "end" : "start"}" font-weight="600">${escapeXml(mark.label)}</text>`;
  }
  return finish(
    svg,
    frame,
    plot,
    width,
    series.map((s) => ({ label: s.label, color: s.color, dash: s.dash, kind: "line" as const })),
  );
}

/** Options of `barChart` beyond the frame (whose x axis names the categories). */
export interface BarOptions {
  /** Category names, in order (top to bottom when horizontal). */
  categories: readonly string[];
  /** Stack the series instead of placing them side by side. */
  stacked?: boolean;
  /** Bars along x (categories down the y axis). */
  horizontal?: boolean;
  /** Text at the end of each bar (or stack), e.g. its value; undefined for none. */
  valueLabel?: (category: number, series: number, value: number) => string | undefined;
  /** Text for a category whose values are all null (e.g. "empty"). */
  emptyLabel?: string;
}

/**
 * A bar chart: grouped or stacked, vertical or horizontal. The value axis is the frame's y
 * axis for vertical bars and x axis for horizontal ones; the other axis names the categories.
 */
export function barChart(series: readonly BarSeries[], frame: ChartFrame, options: BarOptions) {
  const width = frame.width ?? 560, height = frame.height ?? 360;
  const { categories, stacked = false, horizontal = false } = options;
  const totals = categories.map((_, c) =>
    stacked
      ? series.reduce((sum, s) => sum + Math.max(0, s.values[c] ?? 0), 0)
      : Math.max(0, ...series.map((s) => s.values[c] ?? 0))
  );
  const negatives = series.flatMap((s) => s.values.filter((v): v is number => v !== null && v < 0));
  const valueAxis = horizontal ? frame.x : frame.y;
  const valueRange = range([...totals, ...negatives], valueAxis, true);
  const rows = frame.legend === "below" ? legendRowsBelow(series.map((s) => s.label), width) : 0;
  // Category axis: positions 0..C, labels drawn here (not as numeric ticks).
  const categoryAxis: Axis = { label: (horizontal ? frame.y : frame.x).label, format: () => "" };
  const f: ChartFrame = horizontal
    ? { ...frame, y: categoryAxis, x: valueAxis }
    : { ...frame, x: categoryAxis, y: valueAxis };
  const longest = Math.max(0, ...categories.map((c) => c.length));
  // Room right of horizontal bars for their value labels; below vertical ones for 2-line names.
  let labelRoom = 0;
  if (horizontal && options.valueLabel) {
    categories.forEach((_, c) =>
      series.forEach((s, k) => {
        const v = s.values[c];
        const text = v === null || v === undefined ? undefined : options.valueLabel!(c, k, v);
        if (text !== undefined) labelRoom = Math.max(labelRoom, text.length * 6.6 + 8);
      })
    );
  }
  const lines = Math.max(1, ...categories.map((c) => c.split("\n").length));
  const { svg: grid0, plot } = horizontal
    ? axesWithLeft(f, width, height, valueRange, [0, categories.length], rows, longest, labelRoom)
    : axes(
      f,
      width,
      height,
      [0, categories.length],
      valueRange,
      rows,
      [],
      null,
      0,
      14 * (lines - 1),
    );
  let svg = open(frame, width, height) + grid0;
  const band = horizontal ? plot.height / categories.length : plot.width / categories.length;
  const groups = stacked ? 1 : series.length;
  const thickness = (band * 0.7) / groups;
  const format = valueAxis.format ?? formatTick;
  categories.forEach((name, c) => {
    // Category label.
    if (horizontal) {
      const y = plot.top + band * (c + 0.5);
      svg += `<text x="${plot.left - 6}" y="${n(y)}" text-anchor="end" ` +
        `dominant-baseline="middle">${escapeXml(name)}</text>`;
    } else {
      const x = plot.left + band * (c + 0.5);
      svg += `<text x="${n(x)}" y="${n(plot.top + plot.height + 15)}" text-anchor="middle">` +
        name.split("\n").map((line, i) =>
          `<tspan x="${n(x)}" dy="${i ? 14 : 0}">${escapeXml(line)}</tspan>`
        ).join("") + `</text>`;
    }
    if (options.emptyLabel && series.every((s) => s.values[c] === null)) {
      const [x, y] = horizontal
        ? [plot.sx(valueRange[0]) + 6, plot.top + band * (c + 0.5)]
        : [plot.left + band * (c + 0.5), plot.sy(valueRange[0]) - 8];
      svg += `<text x="${n(x)}" y="${n(y)}" text-anchor="${horizontal ? "start" : "middle"}" ` +
        `dominant-baseline="middle" fill="#888" font-style="italic">` +
        `${escapeXml(options.emptyLabel)}</text>`;
      return;
    }
    let base = 0;
    series.forEach((s, k) => {
      const value = s.values[c];
      if (value === null || value === undefined) return;
      const from = stacked ? base : 0, to = stacked ? base + value : value;
      if (stacked) base = to;
      const slot = stacked ? 0 : k;
      const offset = band * 0.15 + slot * thickness;
      let rect: [number, number, number, number];
      if (horizontal) {
        const y = plot.top + band * c + offset;
        const xa = plot.sx(Math.min(from, to)), xb = plot.sx(Math.max(from, to));
        rect = [xa, y, xb - xa, thickness];
      } else {
        const x = plot.left + band * c + offset;
        const ya = plot.sy(Math.max(from, to)), yb = plot.sy(Math.min(from, to));
        rect = [x, ya, thickness, yb - ya];
      }
      svg += `<rect x="${n(rect[0])}" y="${n(rect[1])}" width="${n(rect[2])}" ` +
        `height="${n(rect[3])}" fill="${s.color}"><title>${escapeXml(name)} · ` +
        `${escapeXml(s.label)}: ${escapeXml(format(value))}</title></rect>`;
      const label = options.valueLabel?.(c, k, value);
      if (label !== undefined && (!stacked || k === series.length - 1)) {
        const end = stacked ? base : value;
        svg += horizontal
          ? `<text x="${n(plot.sx(end) + 4)}" y="${n(rect[1] + rect[3] / 2)}" ` +
            `dominant-baseline="middle">${escapeXml(label)}</text>`
          : `<text x="${n(rect[0] + rect[2] / 2)}" y="${n(plot.sy(end) - 4)}" ` +
            `text-anchor="middle">${escapeXml(label)}</text>`;
      }
    });
  });
  const items = series.length > 1 || frame.legend === "below"
    ? series.map((s) => ({ label: s.label, color: s.color }))
    : [];
  return finish(svg, frame, plot, width, items);
}

/** `axes` for horizontal bars: the left margin fits the category names. */
function axesWithLeft(
  frame: ChartFrame,
  width: number,
  height: number,
  xRange: [number, number],
  yRange: [number, number],
  rows: number,
  longest: number,
  rightPad: number,
) {
  const shift = Math.max(0, longest * 6.6 + 14 - 58);
  const { svg, plot } = axes(
    { ...frame, y: { ...frame.y, label: "" } },
    width - shift,
    height,
    xRange,
    yRange,
    rows,
    null,
    [],
    rightPad,
  );
  const moved = `<g transform="translate(${n(shift)} 0)">${svg}</g>`;
  const sx = plot.sx;
  return {
    svg: moved,
    plot: { ...plot, left: plot.left + shift, sx: (v: number) => sx(v) + shift },
  };
}

/** The opening, axes and grid of a chart of x–y series, and the plot area to draw them in. */
function xyChartStart(
  series: readonly { label: string; x: ArrayLike<number>; y: ArrayLike<number> }[],
  frame: ChartFrame,
) {
  const width = frame.width ?? 560, height = frame.height ?? 360;
  const xs = series.flatMap((s) => Array.from(s.x)), ys = series.flatMap((s) => Array.from(s.y));
  const rows = frame.legend === "below" ? legendRowsBelow(series.map((s) => s.label), width) : 0;
  const { svg: grid, plot } = axes(
    frame,
    width,
    height,
    range(xs, frame.x, false),
    range(ys, frame.y, false),
    rows,
    null,
  );
  return { svg: open(frame, width, height) + grid, plot, width, height };
}

/** A scatter chart: small translucent dots, one colour per series. */
export function scatterChart(series: readonly PointSeries[], frame: ChartFrame): string {
  const start = xyChartStart(series, frame);
  const { plot, width } = start;
  let svg = start.svg;
  for (const s of series) {
    svg += `<g fill="${s.color}" fill-opacity="0.45">`;
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      svg += `<circle cx="${n(plot.sx(s.x[i]))}" cy="${n(plot.sy(s.y[i]))}" r="2.2"/>`;
    }
    svg += "</g>";
  }
  return finish(svg, frame, plot, width, series.map((s) => ({ label: s.label, color: s.color })));
}
