/**
 * The tracking metrics against TrackEval, the reference implementation (HOTA's authors'; the
 * MOT benchmarks score CLEAR MOT and IDF1 with it): 124 cases scored by TrackEval's own
 * `eval_sequence` (tests/fixtures/track/trackeval_reference.py) — random sequences with
 * similarities on both sides of every threshold, sequences shaped like tracking with id
 * switches, and the empty edge cases. Every count must be equal and every score equal to 1e-12.
 */

import { join } from "node:path";
import {
  clearMetrics,
  hotaMetrics,
  identityMetrics,
  type SimilarityFrame,
} from "../lib/track/metrics.ts";
import { assertAlmostEquals, assertEquals } from "./support/assert.ts";

interface Case {
  name: string;
  frames: { gtIds: number[]; trackerIds: number[]; similarity: number[] }[];
  expected: {
    clear: Record<string, number>;
    identity: Record<string, number>;
    hota: Record<string, number> & { hotaByAlpha: number[] };
  };
}

const FIXTURE = join(import.meta.dirname!, "fixtures", "track", "trackeval_cases.json");
const { cases } = JSON.parse(await Deno.readTextFile(FIXTURE)) as { cases: Case[] };

const COUNTS = new Set(["tp", "fn", "fp", "idsw", "frag", "mostlyTracked", "mostlyLost"]);

function compare(got: Record<string, unknown>, expected: Record<string, number>, what: string) {
  for (const [key, value] of Object.entries(expected)) {
    if (
      COUNTS.has(key) || key.startsWith("id") && key !== "idf1" && key !== "idp" && key !== "idr"
    ) {
      assertEquals(got[key], value, `${what} ${key}`);
    } else {
      assertAlmostEquals(got[key] as number, value, 1e-12, `${what} ${key}`);
    }
  }
}

Deno.test(`tracking metrics equal TrackEval's on ${cases.length} sequences`, () => {
  assertEquals(cases.length, 124);
  for (const { name, frames: raw, expected } of cases) {
    const frames: SimilarityFrame[] = raw.map((f) => ({
      gtIds: Int32Array.from(f.gtIds),
      trackerIds: Int32Array.from(f.trackerIds),
      similarity: Float64Array.from(f.similarity),
    }));
    const clear = clearMetrics(frames);
    compare({ ...clear }, expected.clear, `${name}: CLEAR`);
    compare({ ...identityMetrics(frames) }, expected.identity, `${name}: identity`);
    const { hotaByAlpha, ...hota } = expected.hota;
    const got = hotaMetrics(frames);
    compare({ ...got }, hota, `${name}: HOTA`);
    got.hotaByAlpha.forEach((v, a) =>
      assertAlmostEquals(v, hotaByAlpha[a], 1e-12, `${name}: HOTA at α ${got.alphas[a]}`)
    );
  }
});
