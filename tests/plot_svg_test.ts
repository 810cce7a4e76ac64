/** The SVG charts of lib/plot/svg.ts: round ticks, escaped text, well-formed markup. */

import { assert, assertEquals } from "./support/assert.ts";
import {
  barChart,
  escapeXml,
  formatTick,
  lineChart,
  niceTicks,
  scatterChart,
} from "../lib/plot/svg.ts";

/** Every tag closed in order (a small check that a string is well-formed XML). */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (close) assertEquals(stack.pop(), name, `</${name}> closes what was opened`);
    else stack.push(name);
  }
  assertEquals(stack, [], "everything closed");
  assert(!/&(?!amp;|lt;|gt;|quot;|#39;)/.test(svg), "no bare ampersand");
}

Deno.test("niceTicks: steps of 1, 2, 2.5 or 5 × 10^n covering the range", () => {
  assertEquals(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(0, 0.098, 5), [0, 0.02, 0.04, 0.06, 0.08, 0.1]);
  assertEquals(niceTicks(0.3, 0.99, 5), [0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(-3, 7, 5), [-4, -2, 0, 2, 4, 6, 8]);
  assertEquals(niceTicks(2, 2), [2]);
  assertEquals([0, 0.1, 0.025, 12.5, 1500].map(formatTick), ["0", "0.1", "0.025", "12.5", "1500"]);
});

Deno.test("charts: titles and labels escaped, markup well-formed, empty bars said so", () => {
  const title = `A & B <"quoted">`;
  assertEquals(escapeXml(title), "A &amp; B &lt;&quot;quoted&quot;&gt;");
  const line = lineChart(
    [
      { label: "a<b", color: "#123", x: [0, 0.5, 1], y: [1, NaN, 0.5] },
      { label: "c", color: "#456", x: [0, 1], y: [0, 1], dash: "4 3" },
    ],
    { title, x: { label: "recall" }, y: { label: "precision", min: 0, max: 1 } },
    [{ x: 0.5, y: 0.5, label: "best & mark", color: "#000" }],
  );
  assertWellFormed(line);
  assert(line.includes("A &amp; B") && line.includes("a&lt;b") && line.includes("best &amp; mark"));
  // NaN breaks the first line: its two points left of the gap cannot make a polyline alone.
  assertEquals((line.match(/<polyline/g) ?? []).length, 1);
  const bars = barChart(
    [{ label: "AP", color: "#4a6fa5", values: [0.5, null, 0.25] }],
    { title: "slices", x: { label: "kind" }, y: { label: "AP", min: 0, max: 1 }, legend: "none" },
    {
      categories: ["one\nn=3", "two\nn=0", "three"],
      emptyLabel: "empty",
      valueLabel: (_, __, v) => `${v}`,
    },
  );
  assertWellFormed(bars);
  assertEquals((bars.match(/<rect [^>]*fill="#4a6fa5"/g) ?? []).length, 2);
  assert(bars.includes(">empty<") && bars.includes(">n=3</tspan>"));
  const stacked = barChart(
    [
      { label: "good", color: "#0a0", values: [0.7, 0.9] },
      { label: "miss", color: "#a00", values: [0.3, 0.1] },
    ],
    { title: "mix", x: { label: "share", min: 0, max: 1 }, y: { label: "" }, legend: "below" },
    { categories: ["nose", "left_eye"], horizontal: true, stacked: true },
  );
  assertWellFormed(stacked);
  assert(stacked.includes(">good<") && stacked.includes(">left_eye<"));
  const scatter = scatterChart(
    [{ label: "tp", color: "#0a0", x: [0.1, 0.9, -Infinity], y: [0.2, 0.8, 0.5] }],
    { title: "scatter", x: { label: "OKS", min: 0, max: 1 }, y: { label: "score" } },
  );
  assertWellFormed(scatter);
  assertEquals((scatter.match(/<circle/g) ?? []).length, 2, "non-finite points left out");
});
