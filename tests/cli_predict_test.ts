/**
 * `posekit predict` end to end: the real command line in a separate process, on real COCO
 * images and the shared models. Each run loads two models (~1–2 s), so runs use 1–3 images.
 */

import { join, relative } from "node:path";
import { decodeImage, readImageFile } from "../lib/deno/image_file.ts";
import { encodeJpeg, encodePng } from "../lib/image/encode.ts";
import type { RgbImage } from "../lib/types.ts";
import { assert, assertEquals } from "./support/assert.ts";
import {
  CLI_MAIN,
  type CliRun,
  describeRun,
  hasStackTrace,
  nonEmptyLines,
  runCli,
  withTempDir,
} from "./support/cli.ts";
import { handMadeCmykJpeg } from "./support/hand_made_images.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";

const IMAGE_785 = ["coco", "val2017", "000000000785.jpg"];
const IMAGE_139 = ["coco", "val2017", "000000000139.jpg"];
const DETECTIONS = ["coco", "detections", "COCO_val2017_detections_AP_H_56_person.4img.json"];
const LEGACY_MODEL = ["models", "legacy", "simplepose_nano_256x192.spatial-bn.onnx"];
const ignore = ignoreWithoutShared("models", "simplepose_nano_256x192.onnx") ||
  ignoreWithoutShared(...IMAGE_785);

/** COCO nose and ankles (0-based keypoint indices). */
const NOSE = 0, LEFT_ANKLE = 15, RIGHT_ANKLE = 16;

/** Runs predict with the shared models on WASM (the same numbers on every machine). */
function predict(args: string[]): Promise<CliRun> {
  return runCli(["predict", "--models", requireShared("models"), "--backend", "wasm", ...args]);
}

interface Result {
  image_id: number;
  category_id: number;
  keypoints: number[];
  score: number;
  bbox: number[];
  file_name: string;
}

/** Parses COCO keypoint results and checks every entry has exactly the documented shape. */
function parseResults(text: string, context: string): Result[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message}):\n${context}`);
  }
  assert(Array.isArray(json), `results must be a JSON array:\n${context}`);
  for (const entry of json as Result[]) {
    assertEquals(
      Object.keys(entry).sort(),
      ["bbox", "category_id", "file_name", "image_id", "keypoints", "score"],
      "keys of a result",
    );
    assert(typeof entry.file_name === "string" && entry.file_name !== "", "file_name names it");
    assert(Number.isInteger(entry.image_id) && entry.image_id >= 0, "image_id: an integer id");
    assertEquals(entry.category_id, 1, "category_id is person");
    assertEquals(entry.keypoints.length, 17 * 3, "17 keypoints × (x, y, score)");
    assert(entry.keypoints.every(Number.isFinite), "keypoints are finite numbers");
    assert(Number.isFinite(entry.score) && entry.score >= 0 && entry.score <= 1, "score in [0,1]");
    assertEquals(entry.bbox.length, 4, "bbox is [x, y, width, height]");
    assert(entry.bbox.every(Number.isFinite), "bbox values are finite");
    assert(entry.bbox[2] > 0 && entry.bbox[3] > 0, "bbox has a positive size");
  }
  return json as Result[];
}

function keypoint(result: Result, index: number): { x: number; y: number; score: number } {
  const [x, y, score] = result.keypoints.slice(3 * index, 3 * index + 3);
  return { x, y, score };
}

/** The person with the largest box (image 785 shows one skier). */
function largestPerson(results: Result[], imageId: number): Result {
  const people = results.filter((r) => r.image_id === imageId);
  assert(people.length > 0, `no person found in image ${imageId}`);
  return people.reduce((a, b) => (a.bbox[2] * a.bbox[3] >= b.bbox[2] * b.bbox[3] ? a : b));
}

function assertCleanFailure(run: CliRun, code: number): void {
  assertEquals(run.code, code, `exit code\n${describeRun(run)}`);
  assert(!hasStackTrace(run.stderr), `no stack trace on stderr\n${describeRun(run)}`);
}

/** The APP1 Exif segment of a big-endian TIFF whose IFD0 holds only the Orientation tag. */
function exifOrientationSegment(orientation: number): Uint8Array {
  const tiff = [
    0x4d,
    0x4d,
    0x00,
    0x2a,
    0x00,
    0x00,
    0x00,
    0x08, // "MM", 42, IFD0 at offset 8
    0x00,
    0x01, // one entry
    0x01,
    0x12,
    0x00,
    0x03,
    0x00,
    0x00,
    0x00,
    0x01, // tag 0x0112 Orientation, SHORT, count 1
    0x00,
    orientation,
    0x00,
    0x00, // the value, left-aligned in 4 bytes
    0x00,
    0x00,
    0x00,
    0x00, // no next IFD
  ];
  const payload = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00, ...tiff]; // "Exif\0\0"
  const length = payload.length + 2;
  return Uint8Array.from([0xff, 0xe1, length >> 8, length & 0xff, ...payload]);
}

/** The JPEG with `segment` right after its SOI marker, where cameras put Exif. */
function insertAfterSoi(jpeg: Uint8Array, segment: Uint8Array): Uint8Array {
  const out = new Uint8Array(jpeg.length + segment.length);
  out.set(jpeg.subarray(0, 2));
  out.set(segment, 2);
  out.set(jpeg.subarray(2), 2 + segment.length);
  return out;
}

/** The image turned 90° counter-clockwise: output (x, y) is input (width − 1 − y, x). */
function rotateCounterClockwise(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < height; x++) {
      const from = (x * width + (width - 1 - y)) * 3;
      out.set(data.subarray(from, from + 3), (y * height + x) * 3);
    }
  }
  return { width: height, height: width, data: out };
}

Deno.test({
  name: "predict: bad files are reported one by one and never stop the batch",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const good = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), good);
      const text = join(dir, "notes.jpg");
      await Deno.writeTextFile(text, "meeting notes, not a photo\n");
      const truncated = join(dir, "truncated.jpg");
      const real = await Deno.readFile(requireShared(...IMAGE_139));
      await Deno.writeFile(truncated, real.subarray(0, real.length >> 1));
      // A real PNG whose compressed data is overwritten in the middle.
      const corrupt = join(dir, "corrupt.png");
      const png = encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(90) });
      png.fill(0xee, png.length >> 1, (png.length >> 1) + 16);
      await Deno.writeFile(corrupt, png);
      // Hidden entries are skipped when a folder is searched (as a shell's * does), so the
      // empty ".png" is named on the command line.
      const empty = join(dir, ".png");
      await Deno.writeFile(empty, new Uint8Array());
      // A named pipe: reading it would block forever (no writer ever comes).
      const pipe = join(dir, "stream.jpg");
      const mkfifo = await new Deno.Command("mkfifo", { args: [pipe] }).output();
      assertEquals(mkfifo.code, 0, "mkfifo");
      // Two JPEGs that decode, about which libjpeg itself prints to stderr when let: a CMYK
      // one ("Unsupported color conversion request") and one with junk bytes before its frame
      // header ("Corrupt JPEG data: 3 extraneous bytes before marker 0xc0").
      await Deno.writeFile(join(dir, "cmyk.jpg"), handMadeCmykJpeg());
      const small = encodeJpeg({ width: 16, height: 16, data: new Uint8Array(768).fill(99) }, 90);
      const sof = small.findIndex((b, i) => b === 0xff && small[i + 1] === 0xc0);
      await Deno.writeFile(
        join(dir, "junk.jpg"),
        Uint8Array.from([...small.subarray(0, sof), 1, 2, 3, ...small.subarray(sof)]),
      );
      const out = join(dir, "results.json");

      const run = await predict([dir, empty, "--out", out]);

      assertCleanFailure(run, 1);
      const results = parseResults(await Deno.readTextFile(out), describeRun(run));
      assert(results.length > 0, "the good image's people are written");
      assertEquals(new Set(results.map((r) => r.image_id)), new Set([785]));
      const errorLines = nonEmptyLines(run.stderr);
      for (
        const [path, reason] of [
          [text, /not a JPEG or PNG/i],
          [truncated, /truncated/i],
          [corrupt, /PNG/],
          [empty, /empty/i],
          [pipe, /not a regular file \(a named pipe\)/],
        ] as const
      ) {
        const line = errorLines.find((l) => l.includes(`${path}:`));
        assert(line, `stderr names ${path}\n${describeRun(run)}`);
        assert(reason.test(line.slice(line.indexOf(`${path}:`))), `reason for ${path}: ${line}`);
      }
      // Only posekit's own lines: no decoder chatter without a file name.
      for (const line of errorLines) {
        assert(line.startsWith("posekit: "), `a posekit line: ${line}\n${describeRun(run)}`);
      }
      assert(!/cmyk\.jpg|junk\.jpg/.test(run.stderr), `they decode fine\n${describeRun(run)}`);
      // 785, cmyk.jpg and junk.jpg ran; the 5 others failed.
      assert(/3 images, \d+ (people|person), 5 failed/.test(run.stderr), describeRun(run));
    }),
});

Deno.test({
  name: "predict: an empty folder is reported by name and exits 1",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const empty = join(dir, "no_images_here");
      await Deno.mkdir(empty);
      await Deno.writeTextFile(join(empty, "readme.txt"), "not an image");

      const run = await predict([empty]);

      assertCleanFailure(run, 1);
      assert(run.stderr.includes(empty), `stderr names the folder\n${describeRun(run)}`);
      assertEquals(parseResults(run.stdout, describeRun(run)), []);
    }),
});

Deno.test({
  name: "predict: a glob selects images, a missing path is reported, stdout holds only JSON",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.copyFile(requireShared(...IMAGE_785), join(dir, "000000000785.jpg"));
      // Not matched by *.jpg: would add people of another image if the glob were ignored.
      await Deno.copyFile(requireShared(...IMAGE_139), join(dir, "000000000139.jpeg"));
      const missing = join(dir, "no_such_photo.jpg");

      const run = await predict([join(dir, "*.jpg"), missing]);

      assertCleanFailure(run, 1);
      // JSON.parse of the whole of stdout: nothing else may be printed there.
      const results = parseResults(run.stdout, describeRun(run));
      assertEquals(new Set(results.map((r) => r.image_id)), new Set([785]));
      const line = nonEmptyLines(run.stderr).find((l) => l.includes(missing));
      assert(line && /no such file/i.test(line), `stderr reports ${missing}\n${describeRun(run)}`);
    }),
});

Deno.test({
  name:
    "predict: --out replaces an existing file by rename and cleans up killed runs' temporary files",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const input = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), input);
      const outDir = join(dir, "out");
      await Deno.mkdir(outDir);
      const out = join(outDir, "results.json");
      // Longer than the new results: a file rewritten in place would keep a tail of this.
      await Deno.writeTextFile(out, "x".repeat(1 << 20));
      // A temporary file left by a run killed before its rename (the writer's own pattern,
      // an hour old, its lock gone with its process).
      const killed = join(outDir, ".results.json.posekit-2147483647-0123456789abcdef.tmp");
      await Deno.writeTextFile(killed, "[");
      const hourAgo = new Date(Date.now() - 3600_000);
      await Deno.utime(killed, hourAgo, hourAgo);
      const before = await Deno.stat(out);

      const run = await predict([input, "--out", out]);

      assertCleanFailure(run, 0);
      assertEquals(run.stdout, "", "with --out nothing goes to stdout");
      const results = parseResults(await Deno.readTextFile(out), describeRun(run));
      assert(results.length > 0 && results.every((r) => r.image_id === 785), "results of 785");
      if (before.ino !== null) {
        assert((await Deno.stat(out)).ino !== before.ino, "a new file was renamed over the old");
      }
      const names = [];
      for await (const entry of Deno.readDir(outDir)) names.push(entry.name);
      // One file: no sidecar, and the killed run's temporary file is gone.
      assertEquals(names, ["results.json"], "files left beside --out");
    }),
});

Deno.test({
  name: "predict: an --out that cannot be written fails before any work, in one line",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.copyFile(requireShared(...IMAGE_785), join(dir, "000000000785.jpg"));
      // Tests run as root, whom chmod 555 does not stop; a regular file where a folder should
      // be stops everyone (ENOTDIR).
      const file = join(dir, "somefile");
      await Deno.writeTextFile(file, "a file, not a folder\n");
      const out = join(file, "results.json");

      // A model that does not exist either: had the models been loaded first, it would say so.
      const run = await predict([dir, "--out", out, "--pose", "/nonexistent_model.onnx"]);

      assertCleanFailure(run, 1);
      const lines = nonEmptyLines(run.stderr);
      assertEquals(lines.length, 1, `one line\n${describeRun(run)}`);
      assert(lines[0].includes(`--out ${out}`), `the message names --out\n${describeRun(run)}`);
      assert(lines[0].includes(`${file} is a file, not a folder`), lines[0]);
      assert(!/nonexistent_model/.test(run.stderr), "no model was looked for");
    }),
});

Deno.test({
  name: "predict: --out into folders that do not exist yet creates them",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const out = join(dir, "new", "deeper", "results.json");

      const run = await predict([requireShared(...IMAGE_785), "--out", out]);

      assertCleanFailure(run, 0);
      const results = parseResults(await Deno.readTextFile(out), describeRun(run));
      assertEquals(new Set(results.map((r) => r.image_id)), new Set([785]));
    }),
});

Deno.test({
  name: "predict: when no input can be read, an existing --out is left untouched",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const keep = join(dir, "keep.json");
      const earlier = '[{"image_id": 785, "note": "results of an earlier run"}]\n';
      await Deno.writeTextFile(keep, earlier);
      const notThere = join(dir, "nothere.jpg");
      const notAnImage = join(dir, "notes.jpg");
      await Deno.writeTextFile(notAnImage, "not a photo");

      for (const inputs of [[notThere], [notAnImage]]) {
        const run = await predict([...inputs, "--out", keep]);

        assertCleanFailure(run, 1);
        assert(run.stderr.includes(inputs[0]), `names ${inputs[0]}\n${describeRun(run)}`);
        assert(/--out .*was not written/.test(run.stderr), `says so\n${describeRun(run)}`);
        assertEquals(await Deno.readTextFile(keep), earlier, "keep.json is as it was");
      }
    }),
});

Deno.test({
  name: "predict: COCO names keep their id; other names a stable id; each result its file_name",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const skier = join(dir, "skier.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), skier);
      const coco = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), coco);
      const out = join(dir, "results.json");

      const first = await predict([coco, skier, "--out", out]);
      const second = await predict([skier]);

      assertCleanFailure(first, 0);
      assertCleanFailure(second, 0);
      const firstResults = parseResults(await Deno.readTextFile(out), describeRun(first));
      const ids = [...new Set(firstResults.map((r) => r.image_id))];
      assertEquals(ids.length, 2, "one id per image (both show the skier)");
      assert(ids.includes(785), "000000000785.jpg is image 785");
      const skierId = ids.find((id) => id !== 785)!;
      const secondIds = new Set(
        parseResults(second.stdout, describeRun(second)).map((r) => r.image_id),
      );
      assertEquals(secondIds, new Set([skierId]), "skier.jpg gets the same id on another run");

      // Each result names its file, in --out and on stdout; no sidecar beside --out.
      for (const result of firstResults) {
        assertEquals(result.file_name, result.image_id === 785 ? coco : skier, "file_name");
      }
      for (const result of parseResults(second.stdout, describeRun(second))) {
        assertEquals(result.file_name, skier, "file_name on stdout");
      }
      const names = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      assertEquals(names.sort(), ["000000000785.jpg", "results.json", "skier.jpg"]);
    }),
});

Deno.test({
  name: "predict: a model that cannot be found is named with where it was looked for",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const image = requireShared(...IMAGE_785);
      const byName = await predict(["--pose", "nonexistent_model", image]);
      // A bare name is looked up in the catalog before anything runs: a usage error that
      // says where the names are listed.
      assertCleanFailure(byName, 2);
      assert(byName.stderr.includes('unknown model "nonexistent_model"'), describeRun(byName));
      assert(byName.stderr.includes("deno task models"), describeRun(byName));

      const missingPath = join(dir, "none.onnx");
      const byPath = await predict(["--pose", missingPath, image]);
      assertCleanFailure(byPath, 1);
      assert(byPath.stderr.includes(missingPath), describeRun(byPath));
      assert(/not found/.test(byPath.stderr), describeRun(byPath));

      // A bare file name is also looked for in the model folders, which the message lists.
      const byFileName = await predict(["--pose", "none.onnx", image]);
      assertCleanFailure(byFileName, 1);
      assert(byFileName.stderr.includes("none.onnx"), describeRun(byFileName));
      assert(byFileName.stderr.includes(requireShared("models")), describeRun(byFileName));
    }),
});

Deno.test({
  name:
    "predict: a legacy model is repaired on load with a note; results equal the repaired file's",
  ignore: ignore || ignoreWithoutShared(...LEGACY_MODEL),
  fn: async () => {
    const legacy = await predict([
      "--pose",
      requireShared(...LEGACY_MODEL),
      requireShared(...IMAGE_785),
    ]);
    assertEquals(legacy.code, 0, describeRun(legacy));
    const note = nonEmptyLines(legacy.stderr).find((l) => l.includes("BatchNormalization")) ?? "";
    assert(
      note?.startsWith("posekit: simplepose_nano_256x192.spatial-bn.onnx"),
      describeRun(legacy),
    );
    assert(note.includes('"spatial"') && note.includes("58"), note);
    // The same model as its repaired file, which is what the default manifest accepts.
    const repaired = await predict([
      "--pose",
      requireShared("models", "simplepose_nano_256x192.onnx"),
      requireShared(...IMAGE_785),
    ]);
    assertEquals(repaired.code, 0, describeRun(repaired));
    const strip = (text: string) =>
      (JSON.parse(text) as { file_name?: string }[]).map(({ file_name: _, ...r }) => r);
    assertEquals(strip(legacy.stdout), strip(repaired.stdout), "identical results");
  },
});

Deno.test({
  name: "predict: an EXIF-rotated JPEG is turned upright before the people are found",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const original = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), original);
      const upright = await readImageFile(original);
      // Stored pixels: the upright image turned 90° counter-clockwise. Orientation 6 says
      // "turn 90° clockwise to display", which makes it upright again.
      const stored = rotateCounterClockwise(upright);
      const rotatedJpeg = insertAfterSoi(encodeJpeg(stored, 95), exifOrientationSegment(6));
      const rotated = join(dir, "phone_photo.jpg");
      await Deno.writeFile(rotated, rotatedJpeg);
      const displayed = await decodeImage(rotatedJpeg, rotated);
      assertEquals([displayed.width, displayed.height], [upright.width, upright.height]);

      const run = await predict([original, rotated]);

      assertCleanFailure(run, 0);
      const results = parseResults(run.stdout, describeRun(run));
      const rotatedId = results.find((r) => r.image_id !== 785)?.image_id;
      assert(rotatedId !== undefined, `people found in the rotated photo\n${describeRun(run)}`);
      const expected = largestPerson(results, 785);
      const actual = largestPerson(results, rotatedId);

      // Measured: re-encoding the pixels (and JPEG blocks falling differently after the
      // turn) moves keypoints by 1.2 px on average, 4.6 px at most — the heatmap's quarter-cell
      // refinement flipping side (a heatmap cell is ~6.7 image px here).
      const distances: number[] = [];
      for (let k = 0; k < 17; k++) {
        const a = keypoint(actual, k), e = keypoint(expected, k);
        if (a.score < 0.3 || e.score < 0.3) continue;
        distances.push(Math.hypot(a.x - e.x, a.y - e.y));
      }
      assert(distances.length >= 12, `most keypoints are confident in both (${distances.length})`);
      const mean = distances.reduce((s, d) => s + d, 0) / distances.length;
      const worst = Math.max(...distances);
      assert(mean <= 3, `mean keypoint distance ${mean.toFixed(2)} px`);
      assert(worst <= 8, `largest keypoint distance ${worst.toFixed(2)} px`);
      for (let i = 0; i < 4; i++) {
        assert(
          Math.abs(actual.bbox[i] - expected.bbox[i]) <= 8,
          `bbox ${actual.bbox} vs ${expected.bbox}`,
        );
      }
      const nose = keypoint(actual, NOSE);
      for (const ankle of [LEFT_ANKLE, RIGHT_ANKLE]) {
        assert(
          nose.y < keypoint(actual, ankle).y - 100,
          "upright: the nose is far above the ankles",
        );
      }
    }),
});

Deno.test({
  name: "predict: --draw writes a decodable JPEG per image, at the image's size",
  ignore: ignore || ignoreWithoutShared(...IMAGE_139),
  fn: () =>
    withTempDir(async (dir) => {
      const jpegInput = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), jpegInput);
      const pngInput = join(dir, "living_room.png");
      const pngImage = await readImageFile(requireShared(...IMAGE_139));
      await Deno.writeFile(pngInput, encodePng(pngImage));
      const drawDir = join(dir, "drawn");

      const run = await predict([jpegInput, pngInput, "--draw", drawDir]);

      assertCleanFailure(run, 0);
      const names = [];
      for await (const entry of Deno.readDir(drawDir)) names.push(entry.name);
      assertEquals(names.sort(), ["000000000785.jpg", "living_room.jpg"]);
      for (
        const [name, input] of [["000000000785.jpg", jpegInput], ["living_room.jpg", pngInput]]
      ) {
        const bytes = await Deno.readFile(join(drawDir, name));
        assertEquals([bytes[0], bytes[1]], [0xff, 0xd8], `${name} is a JPEG`);
        const drawn = await decodeImage(bytes, name);
        const source = await readImageFile(input);
        assertEquals([drawn.width, drawn.height], [source.width, source.height], name);
      }
    }),
});

Deno.test({
  name: "predict: --draw keeps one drawing per image when two inputs share a name",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      for (const folder of ["monday", "tuesday"]) {
        await Deno.mkdir(join(dir, folder));
        await Deno.copyFile(requireShared(...IMAGE_785), join(dir, folder, "skier.jpg"));
      }
      const drawDir = join(dir, "drawn");

      const run = await predict([join(dir, "monday"), join(dir, "tuesday"), "--draw", drawDir]);

      assertCleanFailure(run, 0);
      const names = [];
      for await (const entry of Deno.readDir(drawDir)) names.push(entry.name);
      assertEquals(names.length, 2, `two drawings: ${names}`);
    }),
});

Deno.test({
  name: "predict: --draw into the inputs' folder is refused before any work; the images stay",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const image = join(dir, "skier.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), image);
      const before = await Deno.readFile(image);
      const out = join(dir, "out", "run.jsonl");
      const run = await predict([image, "--draw", dir, "--out", out]);
      assertCleanFailure(run, 2);
      assert(
        run.stderr.includes(
          `--draw ${dir} holds the input ${image}, which its drawing would replace`,
        ),
        describeRun(run),
      );
      assertEquals(await Deno.readFile(image), before, "the input is untouched");
      assertEquals(await Deno.stat(out).then(() => true, () => false), false, "no results file");
    }),
});

Deno.test({
  name: "predict: a resumed run draws each image under the name the first run gave it",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      // monday/skier.jpg is drawn as skier.jpg, tuesday's as skier-2.jpg; a run resumed after
      // monday's must still draw tuesday's as skier-2.jpg, never over monday's drawing.
      const inputs = ["monday", "tuesday"].map((folder) => join(dir, folder, "skier.jpg"));
      for (const input of inputs) {
        await Deno.mkdir(join(input, ".."));
        await Deno.copyFile(requireShared(...IMAGE_785), input);
      }
      const drawDir = join(dir, "drawn"), out = join(dir, "run.jsonl");
      assertCleanFailure(await predict([...inputs, "--out", out, "--draw", drawDir]), 0);
      const lines = (await Deno.readTextFile(out)).split("\n").filter(Boolean);
      await Deno.writeTextFile(out, lines.slice(0, 2).join("\n") + "\n"); // header, monday
      await Deno.writeFile(join(drawDir, "skier.jpg"), Uint8Array.of(1, 2, 3)); // monday's, marked
      const resumed = await predict([...inputs, "--out", out, "--draw", drawDir, "--resume"]);
      assertCleanFailure(resumed, 0);
      assertEquals([...await Deno.readFile(join(drawDir, "skier.jpg"))], [1, 2, 3]);
      const redrawn = await Deno.readFile(join(drawDir, "skier-2.jpg"));
      assertEquals([redrawn[0], redrawn[1]], [0xff, 0xd8]);
    }),
});

Deno.test({
  name: "predict: a resumed run keeps its images' ids and gives an added same-named image another",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      // tuesday/skier.jpg alone first; then monday/skier.jpg, which sorts first, is added and
      // the run resumed: tuesday's record keeps its id, monday's gets another, merge takes both.
      const [monday, tuesday] = ["monday", "tuesday"].map((d) => join(dir, d, "skier.jpg"));
      for (const input of [monday, tuesday]) {
        await Deno.mkdir(join(input, ".."));
        await Deno.copyFile(requireShared(...IMAGE_785), input);
      }
      const out = join(dir, "run.jsonl");
      assertCleanFailure(await predict([tuesday, "--out", out]), 0);
      assertCleanFailure(await predict([monday, tuesday, "--out", out, "--resume"]), 0);
      const records = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l))
        .filter((r) => r.file !== undefined);
      const idOf = (path: string) => records.find((r) => r.file === path)?.image_id;
      assertEquals(records.length, 2);
      assert(idOf(monday) !== undefined && idOf(tuesday) !== undefined, JSON.stringify(records));
      assert(idOf(monday) !== idOf(tuesday), `two ids: ${idOf(monday)}, ${idOf(tuesday)}`);
      const merged = await runCli(["merge", out, "--out", join(dir, "all.json")]);
      assertCleanFailure(merged, 0);
    }),
});

Deno.test("predict: --out naming the --boxes file is refused; the boxes stay", () =>
  withTempDir(async (dir) => {
    const boxes = join(dir, "boxes.json");
    const contents = '[{"image_id": 785, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}]';
    await Deno.writeTextFile(boxes, contents);
    const run = await runCli(["predict", join(dir, "a.jpg"), "--boxes", boxes, "--out", boxes]);
    assertCleanFailure(run, 2);
    assert(run.stderr.includes(`--out ${boxes} is the --boxes file`), describeRun(run));
    assertEquals(await Deno.readTextFile(boxes), contents);
  }));

Deno.test({
  name: "predict: --boxes takes people from a detection file instead of the detector",
  ignore: ignore || ignoreWithoutShared(...DETECTIONS),
  fn: () =>
    withTempDir(async (dir) => {
      const image = join(dir, "000000000785.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), image);
      const boxThreshold = 0.05;
      const detections = JSON.parse(await Deno.readTextFile(requireShared(...DETECTIONS))) as {
        image_id: number;
        bbox: number[];
        score: number;
      }[];
      const boxes785 = detections.filter((d) => d.image_id === 785 && d.score >= boxThreshold);
      assert(boxes785.length >= 2, "the file has several boxes for 785 above the threshold");

      const run = await predict([
        image,
        "--boxes",
        requireShared(...DETECTIONS),
        "--box-thr",
        String(boxThreshold),
      ]);

      assertCleanFailure(run, 0);
      const results = parseResults(run.stdout, describeRun(run));
      assert(results.length > 0, `people found\n${describeRun(run)}`);
      for (const result of results) {
        // Results round coordinates to 3 decimals.
        const match = boxes785.find((d) =>
          d.bbox.every((v, i) => Math.abs(v - result.bbox[i]) < 2e-3)
        );
        assert(
          match,
          `bbox ${result.bbox} is one of the file's boxes for 785 above ${boxThreshold}`,
        );
      }
    }),
});

Deno.test({
  name: "predict: --no-flip, --dark and --threads 1 run",
  ignore,
  fn: async () => {
    const run = await predict([
      "--no-flip",
      "--dark",
      "--threads",
      "1",
      requireShared(...IMAGE_785),
    ]);

    assertCleanFailure(run, 0);
    const results = parseResults(run.stdout, describeRun(run));
    assertEquals(new Set(results.map((r) => r.image_id)), new Set([785]));
    assert(/1 thread\b/.test(run.stderr), `the summary says 1 thread\n${describeRun(run)}`);
  },
});

Deno.test({
  name: "predict: bad option values exit 2 with a one-line message naming the option",
  ignore,
  fn: async () => {
    const image = requireShared(...IMAGE_785);
    for (
      const [args, named] of [
        [["--threads", "0"], "--threads"],
        [["--det-thr", "2"], "--det-thr"],
        [["--backend", "foo"], "--backend"],
        [["--max-people", "-1"], "--max-people"],
        [["--no-such-option"], "--no-such-option"],
      ] as [string[], string][]
    ) {
      const run = await runCli(["predict", ...args, image]);
      assertCleanFailure(run, 2);
      const lines = nonEmptyLines(run.stderr);
      assertEquals(lines.length, 1, `one line for ${args.join(" ")}\n${describeRun(run)}`);
      assert(lines[0].includes(named), `names ${named}: ${lines[0]}`);
      assertEquals(run.stdout, "");
    }
  },
});

Deno.test({
  name: "predict: a drawing that cannot be written is its own counted error; results are kept",
  ignore: ignore || ignoreWithoutShared(...IMAGE_139),
  fn: () =>
    withTempDir(async (dir) => {
      const skier = join(dir, "000000000785.jpg");
      const room = join(dir, "000000000139.jpg");
      await Deno.copyFile(requireShared(...IMAGE_785), skier);
      await Deno.copyFile(requireShared(...IMAGE_139), room);
      const drawDir = join(dir, "drawn");
      await Deno.mkdir(drawDir);
      // A folder where the skier's drawing should go: writing it fails even for root.
      await Deno.mkdir(join(drawDir, "000000000785.jpg"));
      const out = join(dir, "results.json");

      const run = await predict([skier, room, "--draw", drawDir, "--out", out]);

      assertCleanFailure(run, 1);
      const results = parseResults(await Deno.readTextFile(out), describeRun(run));
      assertEquals(new Set(results.map((r) => r.image_id)), new Set([785, 139]), "both kept");
      const line = nonEmptyLines(run.stderr).find((l) => l.includes("cannot write the drawing"));
      assert(line?.startsWith(`posekit: ${skier}: `), `names the image\n${describeRun(run)}`);
      assert(
        /2 images, \d+ (people|person), 0 failed, 1 drawing failed/.test(run.stderr),
        `the summary counts it apart\n${describeRun(run)}`,
      );
      assert((await Deno.stat(join(drawDir, "000000000139.jpg"))).isFile, "the other drawing");
    }),
});

Deno.test({
  name: "predict: --max-pixels refuses a larger image by name, the others run",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const small = join(dir, "small.png");
      await Deno.writeFile(small, encodePng({ width: 20, height: 10, data: new Uint8Array(600) }));
      // 785 is 640 × 425 = 272,000 pixels.
      const run = await predict([requireShared(...IMAGE_785), small, "--max-pixels", "200000"]);

      assertCleanFailure(run, 1);
      const line = nonEmptyLines(run.stderr).find((l) => l.includes("000000000785.jpg"));
      assert(
        line?.endsWith("640×425 = 272000 pixels is above the limit of 200000 (--max-pixels)"),
        `the reason\n${describeRun(run)}`,
      );
      assert(/1 image, \d+ (people|person), 1 failed/.test(run.stderr), describeRun(run));
      assertEquals(parseResults(run.stdout, describeRun(run)), [], "the small image has nobody");
    }),
});

Deno.test({
  name: "predict: - reads one image from stdin, and an http URL is fetched",
  ignore,
  fn: async () => {
    const bytes = await Deno.readFile(requireShared(...IMAGE_785));
    const stop = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen: () => {} },
      (request) =>
        new URL(request.url).pathname === "/photos/000000000785.jpg"
          ? new Response(bytes)
          : new Response("no", { status: 404, statusText: "Not Found" }),
    );
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const url = `${base}/photos/000000000785.jpg`;
      const missing = `${base}/photos/missing.jpg`;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          CLI_MAIN,
          "predict",
          "--models",
          requireShared("models"),
          "--backend",
          "wasm",
          "-",
          url,
          missing,
        ],
        env: { NO_COLOR: "1" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(bytes);
      await writer.close();
      const output = await child.output();
      const decoder = new TextDecoder();
      const run = {
        code: output.code,
        stdout: decoder.decode(output.stdout),
        stderr: decoder.decode(output.stderr),
      };

      assertCleanFailure(run, 1);
      const results = parseResults(run.stdout, describeRun(run));
      const fromStdin = results.filter((r) => r.file_name === "-");
      const fromUrl = results.filter((r) => r.file_name === url);
      assert(fromStdin.length > 0 && fromUrl.length > 0, `people in both\n${describeRun(run)}`);
      // The same bytes: the same people.
      assertEquals(fromStdin.map((r) => r.keypoints), fromUrl.map((r) => r.keypoints));
      assertEquals(new Set(fromUrl.map((r) => r.image_id)), new Set([785]), "id from the URL");
      const line = nonEmptyLines(run.stderr).find((l) => l.includes(missing));
      assert(line?.endsWith("HTTP 404 Not Found"), `the failed URL\n${describeRun(run)}`);
    } finally {
      stop.abort();
      await server.finished;
    }
  },
});

Deno.test({
  name: "predict: a mistyped option gets a did-you-mean; --version; --help lists --max-pixels",
  fn: async () => {
    const typo = await runCli(["predict", "--no-flp", "x.jpg"]);
    assertCleanFailure(typo, 2);
    assertEquals(
      nonEmptyLines(typo.stderr),
      [
        'posekit: unknown option "--no-flp" (did you mean --no-flip?) ' +
        '(see "deno task predict --help")',
      ],
    );
    const limit = await runCli(["predict", "--max-pixels", "abc", "x.jpg"]);
    assertCleanFailure(limit, 2);
    assertEquals(nonEmptyLines(limit.stderr).length, 1, describeRun(limit));
    assert(limit.stderr.includes('invalid value for --max-pixels: "abc"'), describeRun(limit));
    const native = await runCli(["predict", "--backend", "native", "--help"]);
    assertCleanFailure(native, 0);
    for (const option of ["--max-pixels", "--out", "--draw", "native"]) {
      assert(native.stdout.includes(option), `help lists ${option}`);
    }
    const deno = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    for (const args of [["--version"], ["predict", "--version"], ["eval", "--version"]]) {
      const version = await runCli(args);
      assertCleanFailure(version, 0);
      assertEquals(version.stdout, `posekit ${deno.version}\n`, args.join(" "));
    }
  },
});

Deno.test({
  name: "predict --resume: by absolute path nothing is redone; other models or options are refused",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const photos = join(dir, "photos");
      await Deno.mkdir(photos);
      await Deno.copyFile(requireShared(...IMAGE_785), join(photos, "000000000785.jpg"));
      const out = join(dir, "r.jsonl");
      // The folder named relative to this process's folder, as a user in it would.
      const first = await predict([relative(Deno.cwd(), photos), "--out", out, "--quiet"]);
      assertCleanFailure(first, 0);
      const text = await Deno.readTextFile(out);
      const [header, record] = text.trimEnd().split("\n").map((line) => JSON.parse(line));
      assertEquals(header.posekit.pose, "simplepose_nano_256x192");
      assertEquals([header.posekit.flip, header.posekit.cwd], [true, Deno.cwd()]);
      assertEquals(record.file, relative(Deno.cwd(), join(photos, "000000000785.jpg")));

      // The same folder by its absolute path: the image is done, nothing is appended.
      const again = await predict([photos, "--out", out, "--resume", "--quiet"]);
      assertCleanFailure(again, 0);
      assertEquals(await Deno.readTextFile(out), text, "nothing redone");

      // Another keypoint model and no flip test: one line saying what differs, exit 2.
      const other = await predict([
        photos,
        "--out",
        out,
        "--resume",
        "--no-flip",
        "--pose",
        "pp_tinypose_256x192",
      ]);
      assertCleanFailure(other, 2);
      const lines = nonEmptyLines(other.stderr);
      assertEquals(lines.length, 1, describeRun(other));
      for (
        const says of [
          `cannot --resume ${out}`,
          "flip true there vs false now",
          'pose "simplepose_nano_256x192" there vs "pp_tinypose_256x192" now',
        ]
      ) assert(lines[0].includes(says), describeRun(other));
      assertEquals(await Deno.readTextFile(out), text, "the file is left as it was");
    }),
});

Deno.test({
  name: "predict: a .jsonl --out that holds results needs --resume or --overwrite (exit 2)",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const out = join(dir, "done.jsonl");
      const finished = '{"file":"a.jpg","image_id":1,"people":[]}\n'.repeat(20);
      await Deno.writeTextFile(out, finished);
      const run = await predict([requireShared(...IMAGE_785), "--out", out]);
      assertCleanFailure(run, 2);
      const lines = nonEmptyLines(run.stderr);
      assertEquals(lines.length, 1, describeRun(run));
      assert(lines[0].includes(`--out ${out} already holds results`), describeRun(run));
      assert(lines[0].includes("--resume") && lines[0].includes("--overwrite"), lines[0]);
      assertEquals(await Deno.readTextFile(out), finished, "the finished work is kept");
      const both = await predict([
        requireShared(...IMAGE_785),
        "--out",
        out,
        "--resume",
        "--overwrite",
      ]);
      assertCleanFailure(both, 2);
      assertEquals(await Deno.readTextFile(out), finished);
    }),
});

Deno.test({
  name: "predict: a symbolic link --out is refused, its target untouched; a locked .jsonl too",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const target = join(dir, "precious.jsonl");
      const precious = '{"file":"a.jpg","image_id":1,"people":[]}\n';
      await Deno.writeTextFile(target, precious);
      const link = join(dir, "out.jsonl");
      await Deno.symlink(target, link);
      for (const flag of ["--resume", "--overwrite"]) {
        const run = await predict([requireShared(...IMAGE_785), "--out", link, flag]);
        assertCleanFailure(run, 1);
        const lines = nonEmptyLines(run.stderr);
        assertEquals(lines.length, 1, describeRun(run));
        assert(lines[0].includes(`cannot write --out ${link}: it is a symbolic link`), lines[0]);
        assertEquals(await Deno.readTextFile(target), precious, "the link's target is untouched");
      }

      // Another run holds the file's lock (as a running predict does): refused at once.
      const holder = await Deno.open(target, { read: true, write: true });
      try {
        assert(await holder.tryLock(true), "this test holds the lock");
        const run = await predict([requireShared(...IMAGE_785), "--out", target, "--resume"]);
        assertCleanFailure(run, 1);
        const lines = nonEmptyLines(run.stderr);
        assertEquals(lines.length, 1, describeRun(run));
        assert(lines[0].includes(`${target} is being written by another run`), lines[0]);
        assertEquals(await Deno.readTextFile(target), precious);
      } finally {
        holder.close();
      }
    }),
});

Deno.test({
  name: "predict: a drawing that cannot be written is named whole in its error line",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      await Deno.copyFile(requireShared(...IMAGE_785), join(dir, "000000000785.jpg"));
      // A folder where the drawing goes: the rename fails.
      await Deno.mkdir(join(dir, "out", "000000000785.jpg"), { recursive: true });
      // Run inside dir: the image is named 000000000785.jpg, the drawing out/000000000785.jpg,
      // and the message about the drawing must keep its whole path.
      const run = await runCli([
        "predict",
        "--models",
        requireShared("models"),
        "--backend",
        "wasm",
        "--no-flip",
        "--quiet",
        "000000000785.jpg",
        "--draw",
        "out",
        "--out",
        "r.json",
      ], { cwd: dir });
      assertCleanFailure(run, 1);
      const line = nonEmptyLines(run.stderr).find((l) => l.includes("drawing"));
      assert(
        line?.startsWith(
          "posekit: 000000000785.jpg: cannot write the drawing out/000000000785.jpg: ",
        ),
        describeRun(run),
      );
    }),
});
