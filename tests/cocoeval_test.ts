/**
 * The COCO keypoint evaluator against pycocotools.
 *
 * Where the expected values come from:
 * - tests/fixtures/eval/cases.json: hand-made and generated cases (inputs, ten stats, printed
 *   summary), all computed by pycocotools' own COCOeval(iouType="keypoints") with
 *   tests/fixtures/eval/generate.py. pycocotools was the PyPI wheel 2.0.11, unmodified, under
 *   numpy 2.4.6 / Python 3.11: it runs on numpy 2 as is, so no compatibility fix and no
 *   `pycocotools.mask` stub were needed (the header of generate.py says how it was run). Each
 *   case's "expectedFrom" says how pycocotools was called ("empty_results": loadRes([]) fails on
 *   anns[0], so pycocotools got a hand-built empty result set).
 * - tests/fixtures/eval/dev_perturbed.json: pycocotools' stats on the shared dev annotations,
 *   against themselves and against a perturbed copy built by `devPerturbedResults` below (the
 *   same closed formula as generate.py's dev_perturbed_results).
 * - Thresholds: numpy's own np.linspace values, stored in cases.json.
 * - The remaining expectations are derived by hand in each test (OKS formula, precision steps,
 *   Python's '{:0.3f}' formatting as printed by Python 3.11) or by an independent route
 *   (per-image AP = the full evaluation restricted to that image).
 */

import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./support/assert.ts";
import {
  AREA_RANGES,
  evaluateKeypoints,
  type GroundTruthAnnotation,
  IOU_THRESHOLDS,
  type KeypointResult,
  MAX_EVALUATION_CELLS,
  objectKeypointSimilarity,
  pairwiseSum,
  RECALL_THRESHOLDS,
  STAT_NAMES,
  statsToArray,
} from "../lib/eval/cocoeval.ts";
import { type CocoGroundTruth, parseGroundTruth, parseResults } from "../lib/eval/coco_json.ts";
import {
  formatFixed3,
  formatKeypointTable,
  formatSummary,
  formatTable,
} from "../lib/eval/summary.ts";
import { COCO_KEYPOINT_SIGMAS } from "../lib/coco/keypoints.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";

interface FixtureCase {
  name: string;
  description: string;
  expectedFrom: string;
  stats: number[];
  summary: string;
  groundTruth: unknown;
  results: unknown[];
}

const fixtureDir = new URL("./fixtures/eval/", import.meta.url);
const fixture = JSON.parse(Deno.readTextFileSync(new URL("cases.json", fixtureDir))) as {
  iouThrs: number[];
  recThrs: number[];
  cases: FixtureCase[];
};

/** pycocotools' stats must come out exact; 1e-12 leaves room for a last-bit exp difference. */
const TOLERANCE = 1e-12;

function evaluateCase(c: FixtureCase) {
  const gt = parseGroundTruth(c.groundTruth, `${c.name} ground truth`);
  const { results } = parseResults(c.results, `${c.name} results`, gt);
  return { gt, results, evaluation: evaluateKeypoints(gt, results, { perImage: true }) };
}

Deno.test("thresholds are numpy's linspace values bit for bit", () => {
  assertEquals(Array.from(IOU_THRESHOLDS), fixture.iouThrs);
  assertEquals(Array.from(RECALL_THRESHOLDS), fixture.recThrs);
  // pycocotools selects AP50 and AP75 by float equality, so both must be present exactly.
  assert(IOU_THRESHOLDS.includes(0.5) && IOU_THRESHOLDS.includes(0.75));
});

for (const c of fixture.cases) {
  Deno.test(`stats equal pycocotools: ${c.name} — ${c.description.split("\n")[0]}`, () => {
    const { evaluation } = evaluateCase(c);
    const stats = statsToArray(evaluation.stats);
    for (let i = 0; i < STAT_NAMES.length; i++) {
      assertAlmostEquals(stats[i], c.stats[i], TOLERANCE, `${STAT_NAMES[i]} of ${c.name}`);
    }
    // pycocotools' printed summary (its stdout ends with a newline; ours does not).
    assertEquals(formatSummary(evaluation.stats), c.summary.replace(/\n$/, ""));
  });
}

Deno.test("the fixture cases cover what they claim", () => {
  const byName = new Map(fixture.cases.map((c) => [c.name, c]));
  const results = (name: string) => byName.get(name)!.results as { image_id: number }[];
  const gt = (name: string) =>
    byName.get(name)!.groundTruth as {
      images: { id: number }[];
      annotations: { image_id: number; iscrowd: number; num_keypoints: number; area: number }[];
    };
  // More than 20 results on one image.
  assert(results("over_20_results").filter((r) => r.image_id === 7).length > 20);
  // Results on a listed image without annotations.
  const basic = gt("basic");
  assert(results("basic").some((r) => !basic.annotations.some((a) => a.image_id === r.image_id)));
  assert(gt("crowd").annotations.some((a) => a.iscrowd === 1));
  assert(gt("no_keypoint_annotations").annotations.some((a) => a.num_keypoints === 0));
  const areas = gt("area_boundaries").annotations.map((a) => a.area);
  for (const bound of [32 ** 2, 96 ** 2, 1e10]) assert(areas.includes(bound));
  assertEquals(results("empty_results").length, 0);
  // Every stat is -1 somewhere, 0 somewhere and strictly between 0 and 1 somewhere.
  for (let i = 0; i < STAT_NAMES.length; i++) {
    assert(fixture.cases.some((c) => c.stats[i] === -1), STAT_NAMES[i]);
    assert(fixture.cases.some((c) => c.stats[i] > 0 && c.stats[i] < 1), STAT_NAMES[i]);
  }
});

// ------------------------------------------------------------------------------------- OKS

/** A person whose 17 keypoints are all labelled, spread over a 100 × 200 box at (10, 20). */
function annotation(fields: Partial<GroundTruthAnnotation> = {}): GroundTruthAnnotation {
  const keypoints = new Float64Array(51);
  for (let k = 0; k < 17; k++) {
    keypoints[3 * k] = 10 + 5 * k;
    keypoints[3 * k + 1] = 20 + 10 * k;
    keypoints[3 * k + 2] = 2;
  }
  return {
    id: 1,
    imageId: 1,
    categoryId: 1,
    keypoints,
    numKeypoints: 17,
    area: 12000,
    bbox: [10, 20, 100, 200],
    iscrowd: false,
    ...fields,
  };
}

function resultFrom(gt: GroundTruthAnnotation, score: number, move?: (k: number) => number[]) {
  const keypoints = new Float64Array(51);
  for (let k = 0; k < 17; k++) {
    const [dx, dy] = move?.(k) ?? [0, 0];
    keypoints[3 * k] = gt.keypoints[3 * k] + dx;
    keypoints[3 * k + 1] = gt.keypoints[3 * k + 1] + dy;
    keypoints[3 * k + 2] = 1;
  }
  return { imageId: gt.imageId, categoryId: gt.categoryId, keypoints, score };
}

Deno.test("OKS over labelled keypoints follows exp(-d² / (2 area (2σ)²))", () => {
  const gt = annotation();
  // Keypoint 2 is unlabelled, so only 16 keypoints count; keypoint 0 is off by a 3-4-5 triangle.
  gt.keypoints[3 * 2 + 2] = 0;
  const result = resultFrom(gt, 1, (k) => (k === 0 ? [3, 4] : k === 2 ? [500, 500] : [0, 0]));
  const sigma0 = 0.026;
  const expected = (Math.exp(-25 / (2 * 12000 * (2 * sigma0) ** 2)) + 15) / 16;
  assertAlmostEquals(objectKeypointSimilarity(result.keypoints, gt), expected, 1e-15);
  assertEquals(objectKeypointSimilarity(resultFrom(gt, 1).keypoints, gt), 1);
});

Deno.test("OKS without labelled keypoints measures distance to the box grown by its size", () => {
  const gt = annotation({ numKeypoints: 0 });
  for (let k = 0; k < 17; k++) gt.keypoints[3 * k + 2] = 0;
  // The box [10, 20, 100, 200] grows to x in [-90, 210], y in [-180, 420].
  const inside = new Float64Array(51).fill(0);
  for (let k = 0; k < 17; k++) [inside[3 * k], inside[3 * k + 1]] = [-90 + 17 * k, 420 - k];
  assertEquals(objectKeypointSimilarity(inside, gt), 1);
  // Keypoint 5 sits 6 right of and 8 below the grown box: distance 10.
  const outside = Float64Array.from(inside);
  [outside[15], outside[16]] = [216, 428];
  const sigma5 = 0.079;
  const expected = (16 + Math.exp(-100 / (2 * 12000 * (2 * sigma5) ** 2))) / 17;
  assertAlmostEquals(objectKeypointSimilarity(outside, gt), expected, 1e-15);
});

Deno.test("pairwiseSum adds like numpy: in order below 8 values, exactly for integers", () => {
  assertEquals(pairwiseSum([0.1, 0.2, 0.3]), (0.1 + 0.2) + 0.3);
  // Integers below 2^53 add exactly in any order, so every block size gives the plain total.
  for (const n of [0, 1, 7, 8, 9, 16, 127, 128, 129, 300, 1010]) {
    const values = Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    assertEquals(pairwiseSum(values), values.reduce((a, b) => a + b, 0), `n = ${n}`);
  }
  // Eight accumulators: 1e16 + 1 + 1 … loses the ones in order, keeps them in blocks.
  const values = [1e16, 1, 1, 1, 1, 1, 1, 1, -1e16, 1, 1, 1, 1, 1, 1, 1];
  assertEquals(pairwiseSum(values), (((1e16 - 1e16) + 2) + (2 + 2)) + ((2 + 2) + (2 + 2)));
});

// ------------------------------------------------------------------------------- matching

Deno.test("a single image's precision steps give the AP derived by hand", () => {
  const gtA = annotation({ id: 1 });
  const gtB = annotation({
    id: 2,
    keypoints: annotation().keypoints.map((v, i) => (i % 3 === 0 ? v + 300 : v)),
  });
  const gt = { imageIds: [1], categoryIds: [1], annotations: [gtA, gtB] };
  // A false positive far away scores higher than an exact match of A; B is never found.
  const falsePositive = resultFrom(gtA, 0.9, () => [1000, 1000]);
  const { stats, perImage } = evaluateKeypoints(gt, [falsePositive, resultFrom(gtA, 0.8)], {
    perImage: true,
  });
  // At every threshold: recall [0, 1/2], precision [0, 1/2] → made monotone [1/2, 1/2]; recall
  // points 0.00..0.50 (51 of 101) sample 1/2, the rest 0.
  const ap = (51 * 0.5) / 101;
  assertAlmostEquals(stats.AP, ap, 1e-15);
  assertAlmostEquals(stats.AP50, ap, 1e-15);
  assertEquals(stats.AR, 0.5);
  // The false positive's keypoint extent is 80 × 160 = 12800 px² (large), the people's area
  // 12000 is large too: no medium ground truth, so the medium stats are undefined.
  assertEquals([stats.APm, stats.ARm], [-1, -1]);
  assertEquals(perImage?.[0], {
    imageId: 1,
    groundTruth: 2,
    results: 2,
    matched50: 1,
    matched75: 1,
    meanOks: 1,
    AP: stats.AP,
  });
});

Deno.test("crowd ground truth absorbs any number of results; ignored ground truth comes last", () => {
  const crowd = annotation({ id: 5, iscrowd: true, numKeypoints: 0 });
  crowd.keypoints.fill(0);
  const person = annotation({ id: 6 });
  const gt = { imageIds: [1], categoryIds: [1], annotations: [crowd, person] };
  // Three results inside the crowd's grown box (OKS 1 with it): the exact one prefers the person
  // although the crowd comes first in the file; the other two land on the crowd and are ignored.
  const exact = resultFrom(person, 0.5);
  const inCrowd = (score: number) => resultFrom(person, score, () => [40, 0]);
  const { stats } = evaluateKeypoints(gt, [inCrowd(0.9), exact, inCrowd(0.8)]);
  // Precision is tp / (tp + fp + ε) with ε = 2^-52 (np.spacing(1)): 1 / (1 + ε) for one match.
  assertAlmostEquals(stats.AP, 1 / (1 + 2 ** -52), 1e-15);
  assertEquals(stats.AR, 1);
  // Were the crowd results false positives, precision would fall to 1/3 before the match.
  const noCrowd = { ...gt, annotations: [person] };
  assertAlmostEquals(
    evaluateKeypoints(noCrowd, [inCrowd(0.9), exact, inCrowd(0.8)]).stats.AP,
    1 / 3,
    1e-15,
  );
});

Deno.test("only the 20 best results of an image count; ties keep file order", () => {
  const person = annotation();
  const gt = { imageIds: [1], categoryIds: [1], annotations: [person] };
  const far = (score: number) => resultFrom(person, score, () => [2000, 2000]);
  const misses = Array.from({ length: 19 }, () => far(0.9));
  // The match ties with a miss at rank 20: file order decides whether it is evaluated.
  const first = evaluateKeypoints(gt, [...misses, resultFrom(person, 0.5), far(0.5)]);
  const second = evaluateKeypoints(gt, [...misses, far(0.5), resultFrom(person, 0.5)]);
  // Found at rank 20 of 20: precision 1/20 up to recall 1 at every threshold.
  assertAlmostEquals(first.stats.AP, 1 / 20, 1e-15);
  assertEquals(first.stats.AR, 1);
  assertEquals([second.stats.AP, second.stats.AR], [0, 0]);
  assertEquals(second.warnings.length, 1);
  assert(second.warnings[0].includes("more than 20 results"));
});

Deno.test("per-image AP equals the full evaluation restricted to that image", () => {
  for (const name of ["generated_seed1", "crowd", "equal_scores"]) {
    const c = fixture.cases.find((c) => c.name === name)!;
    const { gt, results, evaluation } = evaluateCase(c);
    for (const row of evaluation.perImage!) {
      const alone = evaluateKeypoints(
        { ...gt, imageIds: [row.imageId] },
        results.filter((r) => r.imageId === row.imageId),
      );
      assertEquals(row.AP, alone.stats.AP, `${name} image ${row.imageId}`);
    }
  }
});

Deno.test("per-keypoint breakdown: mean OKS term and error over √area of matched pairs", () => {
  const person = annotation({ area: 10000 });
  const gt = { imageIds: [1], categoryIds: [1], annotations: [person] };
  // Keypoint 9 is 6 px off for one result; the other result misses completely (unmatched).
  const result = resultFrom(person, 0.9, (k) => (k === 9 ? [0, 6] : [0, 0]));
  const { perKeypoint } = evaluateKeypoints(gt, [result, resultFrom(person, 0.1, () => [900, 0])]);
  const wrist = perKeypoint![9];
  assertEquals([wrist.name, wrist.count], ["left_wrist", 1]);
  assertAlmostEquals(
    wrist.meanSimilarity,
    Math.exp(-36 / (2 * 10000 * (2 * COCO_KEYPOINT_SIGMAS[9]) ** 2)),
    1e-15,
  );
  assertAlmostEquals(wrist.meanNormalizedError, 6 / 100, 1e-15);
  assertEquals(perKeypoint![0], {
    index: 0,
    name: "nose",
    count: 1,
    meanSimilarity: 1,
    meanNormalizedError: 0,
  });
  const table = formatKeypointTable(perKeypoint!).split("\n");
  assert(table[1].startsWith("left_wrist"), "the worst keypoint comes first");
  assert(table.at(-1)!.startsWith("count: labelled keypoints"), "the columns are explained");
});

Deno.test("per-keypoint breakdown counts pairs matched at OKS 0.50, not above", () => {
  // Two labelled keypoints: the first exact, the second off so that its OKS term is 0.05, so
  // the OKS is (1 + 0.05) / 2 = 0.525: matched at 0.50 only.
  const person = annotation({ area: 10000, numKeypoints: 2 });
  for (let k = 2; k < 17; k++) person.keypoints[3 * k + 2] = 0;
  const offset = Math.sqrt(-Math.log(0.05) * 2 * 10000 * (2 * COCO_KEYPOINT_SIGMAS[1]) ** 2);
  const result = resultFrom(person, 0.9, (k) => (k === 1 ? [offset, 0] : [0, 0]));
  assertAlmostEquals(objectKeypointSimilarity(result.keypoints, person), 0.525, 1e-12);
  const gt = { imageIds: [1], categoryIds: [1], annotations: [person] };
  const { perKeypoint, stats } = evaluateKeypoints(gt, [result]);
  assertEquals([stats.AR50, stats.AR75], [1, 0]);
  assertEquals(perKeypoint!.map((k) => k.count), [1, 1, ...new Array(15).fill(0)]);
  assertAlmostEquals(perKeypoint![1].meanSimilarity, 0.05, 1e-12);
  assertEquals(perKeypoint![2].meanSimilarity, -1);
});

Deno.test("image ids may come in any order: evaluation follows ascending ids", () => {
  // In "equal_scores", equal scores on different images are ordered by image id.
  const c = fixture.cases.find((c) => c.name === "equal_scores")!;
  const { gt, results, evaluation } = evaluateCase(c);
  const shuffled = { ...gt, imageIds: [...gt.imageIds].reverse() };
  assertEquals(evaluateKeypoints(shuffled, results).stats, evaluation.stats);
});

// ------------------------------------------------------------------------------- formatting

Deno.test("3-decimal formatting rounds exact ties to even like Python", () => {
  // Python 3.11: '{:0.3f}'.format(x) for each x below.
  assertEquals(formatFixed3(0.0625), "0.062");
  assertEquals(formatFixed3(0.1875), "0.188");
  assertEquals(formatFixed3(0.5625), "0.562");
  assertEquals(formatFixed3(0.9375), "0.938");
  assertEquals(formatFixed3(-0.0625), "-0.062");
  assertEquals(formatFixed3(0.2345), "0.234");
  assertEquals(formatFixed3(1 / 3), "0.333");
  assertEquals(formatFixed3(-1), "-1.000");
});

Deno.test("summary and table layouts", () => {
  const stats = {
    AP: 0.5524,
    AP50: 0.8,
    AP75: 0.6,
    APm: 0.5,
    APl: 0.6,
    AR: 0.0625,
    AR50: 1,
    AR75: 0.7,
    ARm: -1,
    ARl: 0.65,
  };
  const lines = formatSummary(stats).split("\n");
  assertEquals(lines.length, 10);
  assertEquals(
    lines[0],
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.552",
  );
  assertEquals(
    lines[8],
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = -1.000",
  );
  assertEquals(formatTable(stats).split("\n"), [
    "   AP   AP50   AP75    APm    APl     AR   AR50   AR75    ARm    ARl",
    "0.552  0.800  0.600  0.500  0.600  0.062  1.000  0.700      -  0.650",
  ]);
});

// ------------------------------------------------------------------------------- parsing

const tinyGroundTruth = {
  images: [{ id: 2, file_name: "000000000002.jpg", width: 640, height: 480 }, { id: 1 }],
  categories: [{ id: 1, name: "person" }],
  annotations: [{
    id: 7,
    image_id: 1,
    category_id: 1,
    keypoints: Array.from({ length: 51 }, (_, i) => (i % 3 === 2 ? 2 : 10 + i)),
    num_keypoints: 17,
    area: 5000,
    bbox: [10, 10, 60, 100],
    iscrowd: 0,
  }],
};

function tinyResult(fields: Record<string, unknown> = {}) {
  return {
    image_id: 1,
    category_id: 1,
    keypoints: Array.from({ length: 51 }, (_, i) => 10 + i),
    score: 0.9,
    ...fields,
  };
}

Deno.test("ground-truth errors name the file and the entry", () => {
  const gt = parseGroundTruth(tinyGroundTruth, "gt.json");
  assertEquals(gt.imageIds, [1, 2]);
  assertEquals(gt.images, [{ id: 2, fileName: "000000000002.jpg", width: 640, height: 480 }, {
    id: 1,
  }]);
  assertEquals(gt.annotations[0].bbox, [10, 10, 60, 100]);
  assertThrows(() => parseGroundTruth([], "gt.json"), Error, "gt.json: not a COCO keypoint");
  assertThrows(
    () => parseGroundTruth({ ...tinyGroundTruth, images: undefined }, "gt.json"),
    Error,
    `"images" must be an array`,
  );
  const ann = tinyGroundTruth.annotations[0];
  assertThrows(
    () => parseGroundTruth({ ...tinyGroundTruth, annotations: [ann, ann] }, "gt.json"),
    Error,
    "gt.json: annotations[1].id 7 is already the id of annotations[0]",
  );
  assertThrows(
    () =>
      parseGroundTruth(
        { ...tinyGroundTruth, annotations: [{ ...ann, keypoints: ann.keypoints.slice(3) }] },
        "gt.json",
      ),
    Error,
    "gt.json: annotations[0].keypoints has 48 numbers; expected 51",
  );
  // Annotations pycocotools never evaluates are left out with a warning.
  const stray = parseGroundTruth(
    { ...tinyGroundTruth, annotations: [ann, { ...ann, id: 8, image_id: 99 }] },
    "gt.json",
  );
  assertEquals(stray.annotations.length, 1);
  assert(stray.warnings[0].includes("unlisted image ids 99"));
  // Ids beyond 2^53: JSON.parse reads 9007199254740993 and …992 as one number, where Python
  // (pycocotools) keeps two images; refused rather than merged.
  const huge = JSON.parse(
    JSON.stringify(tinyGroundTruth).replace('"id":2,', '"id":9007199254740993,'),
  );
  assertThrows(
    () => parseGroundTruth(huge, "gt.json"),
    Error,
    "gt.json: images[0].id is 9007199254740992, beyond 2^53",
  );
  // iscrowd 0.5: pycocotools ignores it as a crowd (truthy) but matches it as none (int 0).
  assertThrows(
    () => parseGroundTruth({ ...tinyGroundTruth, annotations: [{ ...ann, iscrowd: 0.5 }] }, "g"),
    Error,
    "g: annotations[0].iscrowd must be a whole number (0 or 1) or true/false, got 0.5",
  );
  // More (category, image) pairs than evaluated: the counts, not a failed allocation.
  const grid = {
    images: Array.from({ length: 10_000 }, (_, i) => ({ id: i + 1 })),
    categories: Array.from({ length: 4_000 }, (_, i) => ({ id: i + 1 })),
    annotations: [],
  };
  assertThrows(
    () => parseGroundTruth(grid, "gt.json"),
    Error,
    `gt.json: 4000 categories × 10000 images are 40000000 (category, image) pairs to evaluate, ` +
      `more than the ${MAX_EVALUATION_CELLS} posekit evaluates`,
  );
});

Deno.test("result errors name the file, the entry and the offending ids", () => {
  const gt = parseGroundTruth(tinyGroundTruth, "gt.json");
  assertThrows(() => parseResults({ annotations: [] }, "res.json", gt), Error, "ground-truth file");
  assertThrows(
    () => parseResults([tinyResult(), tinyResult({ keypoints: [1, 2, 3] })], "res.json", gt),
    Error,
    "res.json: results[1].keypoints has 3 numbers; expected 51 (17 keypoints × x, y, score)",
  );
  // JSON numbers too large for a double parse to Infinity.
  const infinite = JSON.parse(
    `[{"image_id":1,"category_id":1,"score":0.5,"keypoints":[1e999${",0".repeat(50)}]}]`,
  );
  assertThrows(
    () => parseResults(infinite, "res.json", gt),
    Error,
    "res.json: results[0].keypoints[0] must be a finite number, got Infinity",
  );
  assertThrows(
    () => parseResults([tinyResult({ score: "0.9" })], "res.json", gt),
    Error,
    `results[0].score must be a finite number, got the string "0.9"`,
  );
  assertThrows(
    () => parseResults([tinyResult({ score: undefined })], "res.json", gt),
    Error,
    "results[0].score must be a finite number, got missing",
  );
  assertThrows(
    () =>
      parseResults(
        [tinyResult(), tinyResult({ image_id: 12 }), tinyResult({ image_id: 5 })],
        "res.json",
        gt,
      ),
    Error,
    "res.json: results refer to 2 image id(s) absent from the ground truth gt.json: 5, 12",
  );
  assertThrows(
    () => parseResults([tinyResult({ bbox: [0, 0, 5, 5] }), tinyResult()], "res.json", gt),
    Error,
    `results[1] has no "bbox" while results[0] has one`,
  );
});

Deno.test("result areas: keypoint extent, or bbox when the first result has one", () => {
  const gt = parseGroundTruth(tinyGroundTruth, "gt.json");
  // x values 10, 13, …, 58 and y values 11, 14, …, 59: extent 48 × 48.
  const plain = parseResults([tinyResult({ bbox: [] })], "res.json", gt);
  assertEquals(plain.results[0].area, 48 * 48);
  assertEquals(plain.warnings, []);
  const boxed = parseResults([tinyResult({ bbox: [0, 0, 5, 7] })], "res.json", gt);
  assertEquals(boxed.results[0].area, 35);
  assertEquals(boxed.warnings, []);
  assertEquals(parseResults([], "res.json", gt).warnings, ["res.json: there are no results"]);
});

Deno.test("evaluateKeypoints rejects results on unknown images", () => {
  const gt = { imageIds: [1], categoryIds: [1], annotations: [annotation()] };
  const result: KeypointResult = { ...resultFrom(annotation(), 1), imageId: 3 };
  assertThrows(() => evaluateKeypoints(gt, [result]), Error, "absent from the ground truth: 3");
  assertEquals(AREA_RANGES.map((r) => r.label), ["all", "medium", "large"]);
});

// ------------------------------------------------------------------------------- shared dev set

/** Results from the dev annotations by generate.py's closed formula (dev_perturbed_results). */
function devPerturbedResults(gt: CocoGroundTruth): KeypointResult[] {
  const results: KeypointResult[] = [];
  let a = -1;
  for (const ann of gt.annotations) {
    if (ann.numKeypoints <= 0) continue;
    a++;
    const [bx, by, bw, bh] = ann.bbox;
    const keypoints: number[] = [];
    for (let k = 0; k < 17; k++) {
      const [x, y, v] = ann.keypoints.subarray(3 * k, 3 * k + 3);
      if (v > 0) {
        keypoints.push(
          x + (((7 * a + 3 * k) % 11) - 5) * 1.5,
          y + (((5 * a + 11 * k) % 13) - 6) * 1.25,
          1,
        );
      } else {
        keypoints.push(bx + bw / 2, by + bh / 2, 1);
      }
    }
    const base = { imageId: ann.imageId, categoryId: 1 };
    if (a % 7 !== 3) results.push({ ...base, keypoints, score: 0.5 + ((37 * a) % 50) / 100 });
    if (a % 5 === 0) {
      const shifted = keypoints.map((v, i) => (i % 3 === 0 ? v + bw * 0.3 : v));
      results.push({ ...base, keypoints: shifted, score: 0.35 });
    }
  }
  return results;
}

Deno.test({
  name: "shared dev annotations: AP 1 against themselves, pycocotools' stats when perturbed",
  ignore: ignoreWithoutShared(...DEV_ANNOTATIONS),
  fn() {
    const path = requireShared(...DEV_ANNOTATIONS);
    const gt = parseGroundTruth(JSON.parse(Deno.readTextFileSync(path)), path);
    const expected = JSON.parse(Deno.readTextFileSync(new URL("dev_perturbed.json", fixtureDir)));
    // Every annotation with keypoints as a result with score 1, through the JSON path.
    const selfJson = gt.annotations.filter((a) => a.numKeypoints > 0).map((a) => ({
      image_id: a.imageId,
      category_id: a.categoryId,
      keypoints: Array.from(a.keypoints),
      score: 1,
    }));
    const self = evaluateKeypoints(gt, parseResults(selfJson, "self", gt).results);
    assertEquals(self.stats.AP, 1);
    assertEquals(statsToArray(self.stats), expected.selfStats);

    const perturbed = evaluateKeypoints(gt, devPerturbedResults(gt));
    const stats = statsToArray(perturbed.stats);
    for (let i = 0; i < STAT_NAMES.length; i++) {
      assertAlmostEquals(stats[i], expected.perturbedStats[i], TOLERANCE, STAT_NAMES[i]);
    }
    assertEquals(formatSummary(perturbed.stats), expected.perturbedSummary.replace(/\n$/, ""));
  },
});
