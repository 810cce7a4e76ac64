/**
 * Checks parsed COCO JSON values (ground-truth keypoint annotations, keypoint results) and turns
 * them into the evaluator's typed structures. Every error names the file and the entry.
 *
 * Where pycocotools accepts something odd, these functions accept it the same way so the numbers
 * stay identical (e.g. a result's area comes from its bbox when the first result has one); where
 * pycocotools would crash or silently count something twice, they throw a clear error instead.
 */

import {
  checkEvaluationSize,
  type GroundTruthAnnotation,
  type GroundTruthSet,
  keypointExtentArea,
  type KeypointResult,
  listIds,
} from "./cocoeval.ts";

/** Keypoints per person in COCO files. */
const NUM_KEYPOINTS = 17;
const KEYPOINT_VALUES = NUM_KEYPOINTS * 3;

/** An image listed in a ground-truth file. */
export interface CocoImage {
  /** Image id. */
  id: number;
  /** `file_name`, when the file gives one. */
  fileName?: string;
  /** Width in pixels, when the file gives it. */
  width?: number;
  /** Height in pixels, when the file gives it. */
  height?: number;
}

/** A checked COCO keypoint ground-truth file. */
export interface CocoGroundTruth extends GroundTruthSet {
  /** Where it came from (a file path), for messages. */
  source: string;
  /** The listed images in file order (first listing of an id only). */
  images: CocoImage[];
  /** All listed image ids, sorted, unique (annotated or not: all are evaluated). */
  imageIds: number[];
  /** Category ids, sorted, unique. */
  categoryIds: number[];
  /** Annotations on listed images and categories, in file order. */
  annotations: GroundTruthAnnotation[];
  /** Notes for people (annotations that pycocotools would not evaluate, …). */
  warnings: string[];
}

/** Checked keypoint results, ready for `evaluateKeypoints`. */
export interface ParsedResults {
  /** The results, in file order. */
  results: KeypointResult[];
  /** Notes for people (an empty results file, …). */
  warnings: string[];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (typeof value === "number") return `${value}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : `${typeof value === "object" ? "an object" : value}`;
}

/** A finite number, or an Error naming `where`. */
function finite(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`${where} must be a finite number, got ${describe(value)}`);
  }
  return value;
}

/**
 * An id: a finite number within ±2^53. Beyond, JSON parsers in JavaScript round the digits
 * (9007199254740993 reads as …992), so two images could become one; Python reads them exactly.
 */
function identifier(value: unknown, where: string): number {
  const id = finite(value, where);
  if (Math.abs(id) > Number.MAX_SAFE_INTEGER) {
    throw new Error(
      `${where} is ${value}, beyond 2^53, where JSON numbers lose digits in JavaScript (two ` +
        `ids could read as one): renumber the ids`,
    );
  }
  return id;
}

/** An array of exactly `length` finite numbers as a Float64Array. */
function numbers(value: unknown, length: number, where: string, what: string): Float64Array {
  if (!Array.isArray(value)) {
    throw new Error(
      `${where} must be an array of ${length} numbers (${what}), got ${describe(value)}`,
    );
  }
  if (value.length !== length) {
    throw new Error(`${where} has ${value.length} numbers; expected ${length} (${what})`);
  }
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = finite(value[i], `${where}[${i}]`);
  return out;
}

function arrayField(json: JsonObject, key: string, source: string): unknown[] {
  const value = json[key];
  if (!Array.isArray(value)) {
    throw new Error(
      `${source}: not a COCO keypoint ground-truth file: "${key}" must be an array, got ` +
        describe(value),
    );
  }
  return value;
}

/**
 * Checks a parsed COCO person-keypoints ground-truth file (`images`, `annotations`,
 * `categories`) and returns it typed. Throws an Error naming `source` and the offending entry.
 *
 * As pycocotools: an annotation's `ignore` field is not read (crowd and `num_keypoints == 0`
 * decide), `iscrowd` defaults to 0, annotations on unlisted images or categories are left out
 * (with a warning). Duplicate annotation ids are an error (pycocotools would silently evaluate
 * one of them twice).
 *
 * @example A one-image ground truth
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGroundTruth } from "@posekit/posekit";
 *
 * const keypoints = [50, 40, 2, ...new Array(48).fill(0)]; // 17 × 3 values: only the nose labelled
 * const person = { category_id: 1, keypoints, num_keypoints: 1, area: 1200 };
 * const gt = parseGroundTruth({
 *   images: [{ id: 785, file_name: "000000000785.jpg", width: 640, height: 425 }],
 *   categories: [{ id: 1, name: "person" }],
 *   annotations: [
 *     { id: 1, image_id: 785, bbox: [35, 20, 30, 40], ...person },
 *     { id: 2, image_id: 9, bbox: [35, 20, 30, 40], ...person }, // image 9 is not listed
 *   ],
 * }, "gt.json");
 * assert.deepEqual(gt.imageIds, [785]);
 * assert.equal(gt.images[0].fileName, "000000000785.jpg");
 * assert.equal(gt.annotations.length, 1); // the one on image 9 is left out, as in pycocotools,
 * assert.equal(gt.warnings.length, 1); // with a warning
 * assert.equal(gt.annotations[0].iscrowd, false); // iscrowd defaults to 0
 * // A results file (an array) is refused, with a hint.
 * assert.throws(() => parseGroundTruth([], "results.json"), /is it a results file\?/);
 * ```
 */
export function parseGroundTruth(json: unknown, source: string): CocoGroundTruth {
  if (!isObject(json)) {
    throw new Error(
      `${source}: not a COCO keypoint ground-truth file (expected an object with "images", ` +
        `"annotations" and "categories", got ${describe(json)})` +
        (Array.isArray(json) ? "; is it a results file?" : ""),
    );
  }
  const images = arrayField(json, "images", source);
  const annotations = arrayField(json, "annotations", source);
  const categories = arrayField(json, "categories", source);
  const warnings: string[] = [];

  const imageIds = new Set<number>();
  const imageList: CocoImage[] = [];
  images.forEach((image, i) => {
    const where = `${source}: images[${i}]`;
    if (!isObject(image)) throw new Error(`${where} must be an object, got ${describe(image)}`);
    const id = identifier(image.id, `${where}.id`);
    if (imageIds.has(id)) return;
    imageIds.add(id);
    const entry: CocoImage = { id };
    if (image.file_name !== undefined) {
      if (typeof image.file_name !== "string") {
        throw new Error(`${where}.file_name must be a string, got ${describe(image.file_name)}`);
      }
      entry.fileName = image.file_name;
    }
    if (image.width !== undefined) entry.width = finite(image.width, `${where}.width`);
    if (image.height !== undefined) entry.height = finite(image.height, `${where}.height`);
    imageList.push(entry);
  });
  if (imageIds.size < images.length) {
    warnings.push(`${source}: ${images.length - imageIds.size} image id(s) are listed twice`);
  }
  const categoryIds = new Set<number>();
  categories.forEach((category, i) => {
    if (!isObject(category)) throw new Error(`${source}: categories[${i}] must be an object`);
    categoryIds.add(identifier(category.id, `${source}: categories[${i}].id`));
  });

  const parsed: GroundTruthAnnotation[] = [];
  const seenIds = new Map<number, number>();
  const strayImages = new Set<number>();
  const strayCategories = new Set<number>();
  let strayCount = 0;
  annotations.forEach((ann, i) => {
    const where = `${source}: annotations[${i}]`;
    if (!isObject(ann)) throw new Error(`${where} must be an object, got ${describe(ann)}`);
    const id = identifier(ann.id, `${where}.id`);
    const earlier = seenIds.get(id);
    if (earlier !== undefined) {
      throw new Error(`${where}.id ${id} is already the id of annotations[${earlier}]`);
    }
    seenIds.set(id, i);
    const iscrowd = ann.iscrowd ?? 0;
    if (typeof iscrowd !== "boolean" && !Number.isInteger(finite(iscrowd, `${where}.iscrowd`))) {
      // pycocotools would take 0.5 as a crowd to ignore (truthy) but not to match (int() is 0).
      throw new Error(
        `${where}.iscrowd must be a whole number (0 or 1) or true/false, got ${iscrowd}`,
      );
    }
    const bbox = numbers(ann.bbox, 4, `${where}.bbox`, "x, y, width, height");
    const annotation: GroundTruthAnnotation = {
      id,
      imageId: identifier(ann.image_id, `${where}.image_id`),
      categoryId: identifier(ann.category_id, `${where}.category_id`),
      keypoints: numbers(
        ann.keypoints,
        KEYPOINT_VALUES,
        `${where}.keypoints`,
        `${NUM_KEYPOINTS} keypoints × x, y, visibility`,
      ),
      numKeypoints: finite(ann.num_keypoints, `${where}.num_keypoints`),
      area: finite(ann.area, `${where}.area`),
      bbox: [bbox[0], bbox[1], bbox[2], bbox[3]],
      iscrowd: Boolean(iscrowd),
    };
    const knownImage = imageIds.has(annotation.imageId);
    const knownCategory = categoryIds.has(annotation.categoryId);
    if (!knownImage) strayImages.add(annotation.imageId);
    if (!knownCategory) strayCategories.add(annotation.categoryId);
    if (knownImage && knownCategory) parsed.push(annotation);
    else strayCount++;
  });
  if (strayCount > 0) {
    const reasons = [
      strayImages.size ? `unlisted image ids ${listIds(strayImages)}` : "",
      strayCategories.size ? `unlisted category ids ${listIds(strayCategories)}` : "",
    ].filter(Boolean).join("; ");
    warnings.push(
      `${source}: ${strayCount} annotation(s) are not evaluated, as in pycocotools (${reasons})`,
    );
  }
  checkEvaluationSize(categoryIds.size, imageIds.size, source);
  return {
    source,
    images: imageList,
    imageIds: [...imageIds].sort((a, b) => a - b),
    categoryIds: [...categoryIds].sort((a, b) => a - b),
    annotations: parsed,
    warnings,
  };
}

/**
 * Checks a parsed COCO keypoint results file (an array of `{image_id, category_id, keypoints,
 * score}`) against the ground truth and returns it typed. Throws an Error naming `source` and
 * the entry for: not an array, a missing or non-finite number (JSON's 1e999 is Infinity), a
 * keypoint count other than 17 × 3, and results on images absent from the ground truth (all
 * such ids listed).
 *
 * Areas follow pycocotools' loadRes: the keypoints' extent, unless the first result carries a
 * non-empty `bbox`, in which case every result's area is its bbox width × height (every
 * result then needs a bbox). Only the medium/large ranges depend on it, never AP over all areas.
 *
 * @example Results checked against the ground truth
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGroundTruth, parseResults } from "@posekit/posekit";
 *
 * const gt = parseGroundTruth(
 *   { images: [{ id: 1 }], categories: [{ id: 1 }], annotations: [] },
 *   "gt.json",
 * );
 * const keypoints = new Array(17 * 3).fill(0);
 * const result = { image_id: 1, category_id: 1, keypoints, score: 0.9, bbox: [10, 20, 30, 40] };
 * const { results, warnings } = parseResults([result], "results.json", gt);
 * assert.equal(results[0].imageId, 1);
 * assert.equal(results[0].area, 1200); // results[0] has a bbox: every area is its w × h, 30 × 40
 * assert.deepEqual(warnings, []);
 * // A result on an image that the ground truth does not list is an error.
 * assert.throws(
 *   () => parseResults([{ ...result, image_id: 2 }], "results.json", gt),
 *   /absent from the ground truth/,
 * );
 * ```
 */
export function parseResults(json: unknown, source: string, gt: CocoGroundTruth): ParsedResults {
  if (!Array.isArray(json)) {
    throw new Error(
      `${source}: keypoint results must be a JSON array of ` +
        `{image_id, category_id, keypoints, score} objects, got ${describe(json)}` +
        (isObject(json) && "annotations" in json ? " (is it a ground-truth file?)" : ""),
    );
  }
  const warnings: string[] = [];
  if (json.length === 0) warnings.push(`${source}: there are no results`);
  const first = json[0];
  const areaFromBbox = isObject(first) && Array.isArray(first.bbox) && first.bbox.length > 0;
  if (isObject(first) && !areaFromBbox && "segmentation" in first) {
    throw new Error(
      `${source}: results[0] has a "segmentation" but no "bbox": pycocotools would evaluate ` +
        `mask areas, which posekit does not support for keypoint results`,
    );
  }

  const knownImages = new Set(gt.imageIds);
  const unknownImages = new Set<number>();
  const results: KeypointResult[] = json.map((entry, i): KeypointResult => {
    const where = `${source}: results[${i}]`;
    if (!isObject(entry)) throw new Error(`${where} must be an object, got ${describe(entry)}`);
    const imageId = identifier(entry.image_id, `${where}.image_id`);
    if (!knownImages.has(imageId)) unknownImages.add(imageId);
    const keypoints = numbers(
      entry.keypoints,
      KEYPOINT_VALUES,
      `${where}.keypoints`,
      `${NUM_KEYPOINTS} keypoints × x, y, score`,
    );
    let area: number;
    if (areaFromBbox) {
      if (entry.bbox === undefined) {
        throw new Error(
          `${where} has no "bbox" while results[0] has one: pycocotools takes every result's ` +
            `area from its bbox then, so give all results a bbox or none`,
        );
      }
      const bbox = numbers(entry.bbox, 4, `${where}.bbox`, "x, y, width, height");
      area = bbox[2] * bbox[3];
    } else {
      area = keypointExtentArea(keypoints);
    }
    return {
      imageId,
      categoryId: identifier(entry.category_id, `${where}.category_id`),
      keypoints,
      score: finite(entry.score, `${where}.score`),
      area,
    };
  });
  if (unknownImages.size > 0) {
    throw new Error(
      `${source}: results refer to ${unknownImages.size} image id(s) absent from the ground ` +
        `truth ${gt.source}: ${listIds(unknownImages)} (pycocotools: "Results do not ` +
        `correspond to current coco set")`,
    );
  }
  return { results, warnings };
}
