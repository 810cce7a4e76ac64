/**
 * Merging JSONL shards into COCO keypoint results: shards give what one run gives, each image
 * once, conflicts named, torn lines ignored with a warning, video frames kept apart; and the
 * `deno task merge` command line with its exit codes.
 */

import { join } from "node:path";
import { formatResultsJson, toCocoResults } from "../lib/coco/results.ts";
import {
  formatJsonlHeader,
  formatJsonlLine,
  type JsonlHeader,
  type JsonlRecord,
  jsonlRecordForFrame,
  jsonlRecordForImage,
} from "../lib/output/jsonl.ts";
import { MergeConflictError } from "../lib/output/merge.ts";
import { mergeJsonlFiles } from "../lib/deno/merge_files.ts";
import { selectShard } from "../lib/output/shard.ts";
import type { Pose } from "../lib/types.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { REPO_DIR, runDeno, withTempDir } from "./support/cli.ts";
import { seededRandom } from "../lib/math/random.ts";

function pose(x: number, score: number): Pose {
  return {
    box: { x1: x, y1: 0, x2: x + 10, y2: 20, score: 0.9 },
    keypoints: Float32Array.from([x + 1, 2, 0.5, x + 3, 4, 0.75]),
    score,
  };
}

/** Five images of a folder: ids, and 0, 1 or 2 people each. */
const IMAGES = [
  { file: "photos/000000000785.jpg", imageId: 785, poses: [pose(1, 0.5), pose(2, 0.25)] },
  { file: "photos/beach.jpg", imageId: 1375279876, poses: [pose(3, 0.75)] },
  { file: "photos/empty.png", imageId: 1100000000, poses: [] },
  { file: "photos/000000000139.jpg", imageId: 139, poses: [pose(4, 0.125)] },
  { file: "photos/Zebra.jpg", imageId: 1200000000, poses: [pose(5, 0.5), pose(6, 0.5)] },
];

function recordOf(image: (typeof IMAGES)[number]): JsonlRecord {
  return jsonlRecordForImage(image.file, image.imageId, image.poses);
}

async function writeJsonl(path: string, records: JsonlRecord[], tail = ""): Promise<void> {
  await Deno.writeTextFile(path, records.map(formatJsonlLine).join("") + tail);
}

/**
 * What one `predict --out x.json` gives over these images in path order: `toCocoResults` per
 * image, in input order (cli/batch.ts), with each result naming its file.
 */
function oneRunResults(images: typeof IMAGES) {
  const sorted = [...images].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return sorted.flatMap((image) =>
    toCocoResults(image.imageId, image.poses).map((result) => ({
      ...result,
      file_name: image.file,
    }))
  );
}

Deno.test("two shards merged give the results of one run over all images", async () => {
  await withTempDir(async (dir) => {
    const shard0 = selectShard(IMAGES, 0, 2, (image) => image.file);
    const shard1 = selectShard(IMAGES, 1, 2, (image) => image.file);
    await writeJsonl(join(dir, "s0.jsonl"), shard0.map(recordOf));
    await writeJsonl(join(dir, "s1.jsonl"), shard1.map(recordOf));
    const expected = oneRunResults(IMAGES);
    // By hand, in UTF-16 code units digits < upper case < lower case: 000000000139,
    // 000000000785 (two people), Zebra (two), beach, empty (no people).
    assertEquals(expected.map((r) => r.image_id), [
      139,
      785,
      785,
      1200000000,
      1200000000,
      1375279876,
    ]);
    // Whatever order the shard files are given in.
    for (const files of [["s0.jsonl", "s1.jsonl"], ["s1.jsonl", "s0.jsonl"]]) {
      const merged = await mergeJsonlFiles(files.map((f) => join(dir, f)));
      assertEquals(merged.results, expected);
      assertEquals(merged.records, 5);
      assertEquals(merged.duplicates, 0);
      assertEquals(merged.torn, []);
    }
  });
});

Deno.test("--order input keeps the records as read: files in the given order, lines in theirs", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[1]), recordOf(IMAGES[0])]);
    await writeJsonl(join(dir, "b.jsonl"), [recordOf(IMAGES[3])]);
    const merged = await mergeJsonlFiles([join(dir, "b.jsonl"), join(dir, "a.jsonl")], "input");
    assertEquals(merged.results.map((r) => r.image_id), [139, 1375279876, 785, 785]);
  });
});

Deno.test("the same image twice with the same people is kept once", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[0]), recordOf(IMAGES[1])]);
    await writeJsonl(join(dir, "b.jsonl"), [recordOf(IMAGES[1])]);
    const merged = await mergeJsonlFiles([join(dir, "a.jsonl"), join(dir, "b.jsonl")]);
    assertEquals(merged.duplicates, 1);
    assertEquals(merged.results, oneRunResults([IMAGES[0], IMAGES[1]]));
  });
});

Deno.test("the same image with different people is an error naming the image and both files", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    await writeJsonl(a, [recordOf(IMAGES[0]), recordOf(IMAGES[1])]);
    await writeJsonl(b, [jsonlRecordForImage(IMAGES[1].file, IMAGES[1].imageId, [pose(9, 0.5)])]);
    const error = await assertRejects(() => mergeJsonlFiles([a, b]), MergeConflictError);
    assertEquals(
      error.message,
      `image photos/beach.jpg has different people in ${a} line 2 and ${b} line 1`,
    );
  });
});

Deno.test("two images with one image id are an error (evaluation could not tell them apart)", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    await writeJsonl(a, [jsonlRecordForImage("x/beach.jpg", 1375279876, [])]);
    await writeJsonl(b, [jsonlRecordForImage("y/beach.jpg", 1375279876, [])]);
    const error = await assertRejects(() => mergeJsonlFiles([a, b]), MergeConflictError);
    assert(error.message.includes("image id 1375279876 is given to two images"), error.message);
    assert(error.message.includes("x/beach.jpg") && error.message.includes("y/beach.jpg"));
  });
});

Deno.test("a torn last line is reported and ignored; the input file is left as it is", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const torn = formatJsonlLine(recordOf(IMAGES[1])).slice(0, 30);
    await writeJsonl(path, [recordOf(IMAGES[0])], torn);
    const before = await Deno.readTextFile(path);
    const merged = await mergeJsonlFiles([path]);
    assertEquals(merged.torn, [{ file: path, line: 2, bytes: 30 }]);
    assertEquals(merged.results, oneRunResults([IMAGES[0]]));
    assertEquals(await Deno.readTextFile(path), before);
  });
});

Deno.test("video frames keep frame and track id, sorted by frame number", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "video.jsonl");
    const frame = (file: string, i: number) =>
      jsonlRecordForFrame(file, i, i, i / 25, [pose(i, 0.5)], [7]);
    // Frames 10 and 2 of b.mp4: numeric order, 2 first (not "10" < "2").
    await writeJsonl(path, [frame("b.mp4", 10), frame("b.mp4", 2)]);
    const merged = await mergeJsonlFiles([path]);
    assertEquals(
      merged.results.map((r) => [r.file_name, r.frame, r.image_id, r.track_id]),
      [["b.mp4", 2, 2, 7], ["b.mp4", 10, 10, 7]],
    );
  });
});

Deno.test("two videos' frames of one number share an image id: an error, not one image", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "video.jsonl");
    const frame = (file: string, i: number) =>
      jsonlRecordForFrame(file, i, i, i / 25, [pose(i, 0.5)], [7]);
    await writeJsonl(path, [frame("b.mp4", 2), frame("a.mp4", 2)]);
    const error = await assertRejects(() => mergeJsonlFiles([path]), MergeConflictError);
    assert(error.message.includes("image id 2 is given to two images"), error.message);
    assert(error.message.includes("holds one video"), error.message);
  });
});

/** A predict run's header, run in the folder `cwd`. */
function header(cwd: string, changes: Partial<JsonlHeader> = {}): JsonlHeader {
  return { version: "0.1.0", cwd, pose: "simplepose_nano_256x192", flip: true, ...changes };
}

Deno.test("inputs made with other models or options are refused, saying what differs", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    await writeJsonl(a, [recordOf(IMAGES[0])]);
    await Deno.writeTextFile(a, formatJsonlHeader(header(dir)) + await Deno.readTextFile(a));
    const other = header(dir, { pose: "pp_tinypose_256x192", flip: false });
    await Deno.writeTextFile(b, formatJsonlHeader(other) + formatJsonlLine(recordOf(IMAGES[1])));
    const error = await assertRejects(() => mergeJsonlFiles([a, b]), MergeConflictError);
    for (
      const says of [
        `${b} line 1 and ${a} line 1 hold results made with different settings`,
        `flip false in ${b} vs true in ${a}`,
        `pose "pp_tinypose_256x192" in ${b} vs "simplepose_nano_256x192" in ${a}`,
      ]
    ) assert(error.message.includes(says), error.message);
    // Another version or folder is the same job.
    await Deno.writeTextFile(
      b,
      formatJsonlHeader(header("/elsewhere", { version: "9.9.9" })) +
        formatJsonlLine(recordOf(IMAGES[1])),
    );
    assertEquals((await mergeJsonlFiles([a, b])).records, 2);
  });
});

Deno.test("one image named relatively in one shard and absolutely in another is one image", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    const beach = recordOf(IMAGES[1]); // photos/beach.jpg, relative to /data
    await Deno.writeTextFile(a, formatJsonlHeader(header("/data")) + formatJsonlLine(beach));
    await Deno.writeTextFile(
      b,
      formatJsonlHeader(header("/data/photos/sub")) +
        formatJsonlLine({ ...beach, file: "/data/photos/beach.jpg" }) +
        formatJsonlLine({ ...beach, file: "../beach.jpg" }),
    );
    const merged = await mergeJsonlFiles([a, b]);
    assertEquals([merged.records, merged.duplicates], [1, 2]);
    assertEquals(merged.results.map((r) => r.file_name), ["photos/beach.jpg"]);
    // Different people for it: a conflict, whatever the path looks like.
    await Deno.writeTextFile(
      b,
      formatJsonlHeader(header("/data")) +
        formatJsonlLine({ ...beach, file: "/data/photos/./beach.jpg", people: [] }),
    );
    await assertRejects(() => mergeJsonlFiles([a, b]), MergeConflictError, "different people");
  });
});

Deno.test("files without a header merge as before; beside headed ones they are listed", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    await writeJsonl(a, [recordOf(IMAGES[0])]);
    await writeJsonl(b, [recordOf(IMAGES[1])]);
    assertEquals((await mergeJsonlFiles([a, b])).unchecked, []);
    await Deno.writeTextFile(
      b,
      formatJsonlHeader(header(dir)) + formatJsonlLine(recordOf(IMAGES[1])),
    );
    const merged = await mergeJsonlFiles([a, b]);
    assertEquals([merged.records, merged.unchecked], [2, [a]]);
  });
});

const MERGE_CLI = join(REPO_DIR, "cli", "merge.ts");

/** Runs cli/merge.ts with the permissions of `deno task merge`. */
function runMerge(args: string[], cwd: string) {
  return runDeno(["--allow-read", "--allow-write", MERGE_CLI, ...args], { cwd });
}

Deno.test("merge command: shards → one results file, exit code 0", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "s0.jsonl"), selectShard(IMAGES, 0, 2, (i) => i.file).map(recordOf));
    await writeJsonl(join(dir, "s1.jsonl"), selectShard(IMAGES, 1, 2, (i) => i.file).map(recordOf));
    const run = await runMerge(["s1.jsonl", "s0.jsonl", "--out", "results.json"], dir);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(
      JSON.parse(await Deno.readTextFile(join(dir, "results.json"))),
      oneRunResults(IMAGES),
    );
    assert(run.stderr.includes("5 images/frames, 6 people from 2 files"), run.stderr);
    // No temporary file is left beside the output.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["results.json", "s0.jsonl", "s1.jsonl"]);
  });
});

Deno.test("merge command: usage errors exit 2 with one line and a hint", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[0])]);
    for (
      const [args, says] of [
        [[], "no JSONL files given"],
        [["a.jsonl", "--bogus"], 'unknown option "--bogus"'],
        [["a.jsonl", "--order", "random"], "invalid value for --order"],
        [["a.jsonl", "--out", "r.jsonl"], "name it .json"],
        [["a.jsonl", "--out", "a.jsonl"], "is also an input"],
      ] as const
    ) {
      const run = await runMerge([...args], dir);
      assertEquals(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      const lines = run.stderr.trim().split("\n");
      assertEquals(lines.length, 1, run.stderr);
      assert(lines[0].includes(says), run.stderr);
      assert(lines[0].endsWith('(see "deno task merge --help")'), run.stderr);
    }
  });
});

Deno.test("merge command: --help exits 0; failures exit 1 naming what failed", async () => {
  await withTempDir(async (dir) => {
    const help = await runMerge(["--help"], dir);
    assertEquals(help.code, 0);
    assert(help.stdout.includes("Usage: deno task merge"), help.stdout);

    const missing = await runMerge(["nothere.jsonl", "--out", "r.json"], dir);
    assertEquals(missing.code, 1);
    assertEquals(missing.stderr, "posekit: cannot read nothere.jsonl: no such file\n");

    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[1])]);
    await writeJsonl(join(dir, "b.jsonl"), [
      jsonlRecordForImage(IMAGES[1].file, IMAGES[1].imageId, []),
    ]);
    const conflict = await runMerge(["a.jsonl", "b.jsonl", "--out", "r.json"], dir);
    assertEquals(conflict.code, 1);
    assert(
      conflict.stderr.includes("image photos/beach.jpg has different people"),
      conflict.stderr,
    );
    assert(!conflict.stderr.includes("    at "), "no stack trace");

    // Missing folders are created (as predict does); a path under a file cannot be.
    const noFolder = await runMerge(["a.jsonl", "--out", "a.jsonl/r.json"], dir);
    assertEquals(noFolder.code, 1);
    assert(noFolder.stderr.includes("cannot write --out a.jsonl/r.json"), noFolder.stderr);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["a.jsonl", "b.jsonl"], "a failed merge writes nothing");
  });
});

Deno.test("merge command: a torn last line is a warning, the rest is merged, exit code 0", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[0])], '{"file":"photos/bea');
    const run = await runMerge(["a.jsonl", "--out", "r.json"], dir);
    assertEquals(run.code, 0, run.stderr);
    assert(run.stderr.includes("warning: a.jsonl: line 2 is incomplete (19 bytes"), run.stderr);
    assertEquals(
      JSON.parse(await Deno.readTextFile(join(dir, "r.json"))),
      oneRunResults([IMAGES[0]]),
    );
  });
});

Deno.test("merge command: a number that is not finite (1e999) is an error naming file and line", async () => {
  await withTempDir(async (dir) => {
    const good = formatJsonlLine(recordOf(IMAGES[0]));
    for (
      const [line, says] of [
        [
          '{"file":"b.jpg","image_id":2,"people":[{"bbox":[1,2,3,4],"score":1e999,"keypoints":[]}]}',
          "people[0].score is not a finite number",
        ],
        [
          '{"file":"b.jpg","image_id":2,"people":[{"bbox":[1,-1e999,3,4],"score":1,"keypoints":[]}]}',
          "people[0].bbox[1] is not a finite number",
        ],
        [
          '{"file":"b.jpg","image_id":2,"people":[{"bbox":[1,2,3,4],"score":1,"keypoints":[1,2,1e400]}]}',
          "people[0].keypoints[2] is not a finite number",
        ],
      ]
    ) {
      // In the middle, and as the last line (JSON that is not a record is not a torn line).
      for (const contents of [good + line + "\n" + good, good + line + "\n"]) {
        await Deno.writeTextFile(join(dir, "a.jsonl"), contents);
        const run = await runMerge(["a.jsonl", "--out", "r.json"], dir);
        assertEquals(run.code, 1, run.stderr);
        assert(run.stderr.includes("a.jsonl: line 2 is corrupt"), run.stderr);
        assert(run.stderr.includes(says), run.stderr);
        assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a.jsonl"], "nothing written");
      }
    }
  });
});

Deno.test("a still image named like a frame (a.mp4#3) is not that frame of the video", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "mixed.jsonl");
    const still = jsonlRecordForImage("a.mp4#3", 1300000000, [pose(1, 0.5)]);
    const frame = jsonlRecordForFrame("a.mp4", 3, 3, 0.12, [pose(2, 0.25)], [1]);
    await writeJsonl(path, [still, frame]);
    const merged = await mergeJsonlFiles([path]);
    assertEquals([merged.records, merged.duplicates], [2, 0]);
    assertEquals(merged.results.map((r) => [r.file_name, r.frame]), [["a.mp4", 3], [
      "a.mp4#3",
      undefined,
    ]]);
  });
});

Deno.test("duplicates across parts are counted by pair of files, and the CLI warns", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "a.jsonl"), [recordOf(IMAGES[0]), recordOf(IMAGES[1])]);
    await writeJsonl(join(dir, "b.jsonl"), [recordOf(IMAGES[1]), recordOf(IMAGES[0])]);
    await writeJsonl(join(dir, "c.jsonl"), [recordOf(IMAGES[2]), recordOf(IMAGES[2])]);
    const paths = ["a.jsonl", "b.jsonl", "c.jsonl"].map((f) => join(dir, f));
    const merged = await mergeJsonlFiles(paths);
    assertEquals(merged.duplicates, 3);
    assertEquals(merged.duplicateFiles, [
      { files: [paths[0], paths[1]], count: 2 },
      { files: [paths[2], paths[2]], count: 1 },
    ]);
    assertEquals(merged.results, oneRunResults(IMAGES.slice(0, 3)));
    const run = await runMerge(["a.jsonl", "b.jsonl", "c.jsonl", "--out", "r.json"], dir);
    assertEquals(run.code, 0, run.stderr);
    assert(
      run.stderr.includes("warning: 2 images/frames of a.jsonl are in b.jsonl too"),
      run.stderr,
    );
    assert(run.stderr.includes("warning: 1 image/frames appear more than once in c.jsonl"));
    assert(run.stderr.includes("3 duplicates dropped"), run.stderr);
  });
});

/**
 * The rules by hand, all in memory: records keyed by file and frame, the first of each kept,
 * sorted by file then frame then reading order (or kept in reading order).
 */
function mergedByHand(files: JsonlRecord[][], order: "path" | "input") {
  const seen = new Map<string, { record: JsonlRecord; seq: number }>();
  let seq = 0;
  for (const records of files) {
    for (const record of records) {
      const key = JSON.stringify([record.file, record.frame ?? -1]);
      if (!seen.has(key)) seen.set(key, { record, seq });
      seq++;
    }
  }
  const kept = [...seen.values()];
  if (order === "path") {
    kept.sort((a, b) =>
      (a.record.file < b.record.file ? -1 : a.record.file > b.record.file ? 1 : 0) ||
      (a.record.frame ?? -1) - (b.record.frame ?? -1) || a.seq - b.seq
    );
  } else kept.sort((a, b) => a.seq - b.seq);
  return kept.flatMap(({ record }) =>
    record.people.map((person) => ({
      image_id: record.image_id,
      category_id: 1,
      keypoints: person.keypoints,
      score: person.score,
      bbox: person.bbox,
      file_name: record.file,
      ...(record.frame === undefined ? {} : { frame: record.frame }),
      ...(person.track_id === undefined ? {} : { track_id: person.track_id }),
    }))
  );
}

Deno.test("sorted on disk (a 1-byte buffer: one run per record, merged in levels of 64) as in memory", async () => {
  await withTempDir(async (dir) => {
    const next = seededRandom(21);
    // 300 images and 40 frames of two videos over 7 parts: some parts in order, some not,
    // some images in two parts (identical), names that need escaping.
    const names = Array.from({ length: 300 }, (_, i) => `img ${i % 17}\t${i}"\\é.jpg`);
    const parts: JsonlRecord[][] = Array.from({ length: 7 }, () => []);
    names.forEach((name, i) => {
      const record = jsonlRecordForImage(`photos/${name}`, 1_100_000_000 + i, [pose(i, 0.5)]);
      parts[i % 7].push(record);
      if (next() < 0.1) parts[(i + 3) % 7].push(record);
    });
    for (let frame = 0; frame < 20; frame++) {
      parts[frame % 2].push(jsonlRecordForFrame("clip.mp4", frame, frame, frame / 25, [], []));
    }
    for (const [i, part] of parts.entries()) {
      if (i % 2 === 0) part.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
      else part.sort(() => next() - 0.5);
    }
    const paths = parts.map((_, i) => join(dir, `part${i}.jsonl`));
    for (const [i, part] of parts.entries()) await writeJsonl(paths[i], part);
    // Frames share ids with nothing else here: clip.mp4's ids are 0-19.
    for (const order of ["path", "input"] as const) {
      const tmp = join(dir, `tmp-${order}`);
      await Deno.mkdir(tmp);
      const onDisk = await mergeJsonlFiles(paths, order, { bufferBytes: 1, tempDir: tmp });
      const inMemory = await mergeJsonlFiles(paths, order);
      assertEquals(onDisk.results, mergedByHand(parts, order), order);
      assertEquals(inMemory.results, onDisk.results, order);
      assertEquals(onDisk.duplicates, inMemory.duplicates);
      assertEquals(onDisk.records, 300 + 20);
      assertEquals([...Deno.readDirSync(tmp)], [], "the temporary files are removed");
    }
  });
});

Deno.test("merge command: stdout is the same bytes as --out; a late conflict writes nothing", async () => {
  await withTempDir(async (dir) => {
    await writeJsonl(join(dir, "s0.jsonl"), selectShard(IMAGES, 0, 2, (i) => i.file).map(recordOf));
    await writeJsonl(join(dir, "s1.jsonl"), selectShard(IMAGES, 1, 2, (i) => i.file).map(recordOf));
    const toFile = await runMerge(["s0.jsonl", "s1.jsonl", "--out", "r.json", "--quiet"], dir);
    assertEquals(toFile.code, 0, toFile.stderr);
    const toStdout = await runMerge(["s0.jsonl", "s1.jsonl", "--quiet"], dir);
    assertEquals(toStdout.code, 0, toStdout.stderr);
    assertEquals(toStdout.stdout, await Deno.readTextFile(join(dir, "r.json")));
    assertEquals(toStdout.stdout, formatResultsJson(oneRunResults(IMAGES)));
    // The conflict is the last image in path order: found after results were written.
    const last = IMAGES.find((i) => i.file === "photos/empty.png")!;
    await writeJsonl(join(dir, "late.jsonl"), [
      jsonlRecordForImage(last.file, last.imageId, [pose(7, 0.5)]),
    ]);
    const before = await Deno.readTextFile(join(dir, "r.json"));
    for (const out of [["--out", "r.json"], []]) {
      const run = await runMerge(["s0.jsonl", "s1.jsonl", "late.jsonl", ...out], dir);
      assertEquals(run.code, 1, run.stderr);
      assert(run.stderr.includes("image photos/empty.png has different people"), run.stderr);
      assertEquals(run.stdout, "", "nothing on stdout");
    }
    assertEquals(await Deno.readTextFile(join(dir, "r.json")), before, "--out as it was");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(names, ["late.jsonl", "r.json", "s0.jsonl", "s1.jsonl"], "no temporary file");
  });
});
