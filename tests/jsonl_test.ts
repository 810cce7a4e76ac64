/**
 * Streaming JSONL results: the line format (rounded like COCO results), the writer, and
 * reading a file back for --resume, including a torn last line left by a kill (simulated, and
 * made by really killing a writing process) and corruption in the middle of a file.
 */

import { join } from "node:path";
import {
  formatJsonlHeader,
  formatJsonlLine,
  type JsonlHeader,
  type JsonlRecord,
  jsonlRecordForFrame,
  jsonlRecordForImage,
  recordKey,
} from "../lib/output/jsonl.ts";
import {
  JsonlBusyError,
  JsonlCorruptError,
  JsonlExistsError,
  JsonlForeignError,
  JsonlOutput,
  JsonlSettingsError,
  JsonlWriter,
  readJsonlProgress,
  scanJsonl,
} from "../lib/deno/jsonl_file.ts";
import type { Pose } from "../lib/types.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { childRecord } from "./support/jsonl_writer_child.ts";

function pose(keypoints: number[], box: [number, number, number, number], score: number): Pose {
  const [x1, y1, x2, y2] = box;
  return { box: { x1, y1, x2, y2, score: 0.9 }, keypoints: Float32Array.from(keypoints), score };
}

async function readText(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

/** The keys of still images named relative to this process's folder, as resume keys them. */
function keys(...files: string[]): Set<string> {
  return new Set(files.map((file) => recordKey({ file }, Deno.cwd())));
}

async function records(path: string): Promise<JsonlRecord[]> {
  const found: JsonlRecord[] = [];
  await scanJsonl(path, (record) => found.push(record));
  return found;
}

const A: JsonlRecord = {
  file: "photos/a.jpg",
  image_id: 1375279876,
  people: [{ bbox: [1, 2, 3, 4], score: 0.5, keypoints: [10, 20, 0.75] }],
};
const B: JsonlRecord = { file: "photos/b.jpg", image_id: 1100000001, people: [] };
const C: JsonlRecord = {
  file: "photos/c.jpg",
  image_id: 785,
  people: [
    { bbox: [0, 0, 10, 10], score: 0.25, keypoints: [1, 2, 0.5, 3, 4, 1] },
    { bbox: [5, 5, 1, 1], score: 0.125, keypoints: [6, 6, 0] },
  ],
};

Deno.test("an image's line rounds like COCO results: 3 decimals for pixels, 6 for scores", () => {
  // Worked by hand: float32(10.12345) = 10.1234502… → 10.123; float32(0.7654321) =
  // 0.76543212… → 0.765432; width 105.0016 − 5.0004 = 100.0012 → 100.001; NaN → 0.
  const record = jsonlRecordForImage("a/b.jpg", 7, [
    pose([10.12345, 20.5, 0.7654321, NaN, 1.0625, 0], [5.0004, 6, 105.0016, 206], 0.12345678),
  ]);
  assertEquals(
    formatJsonlLine(record),
    `{"file":"a/b.jpg","image_id":7,"people":[{"bbox":[5,6,100.001,200],"score":0.123457,` +
      `"keypoints":[10.123,20.5,0.765432,0,1.063,0]}]}\n`,
  );
});

Deno.test("an image without people still gets its line (it records the image as done)", () => {
  assertEquals(
    formatJsonlLine(jsonlRecordForImage("x.png", 3, [])),
    `{"file":"x.png","image_id":3,"people":[]}\n`,
  );
});

Deno.test("a video frame's line has frame and time, and a track id first in each person", () => {
  const poses = [pose([1, 2, 0.5], [0, 0, 4, 8], 0.5), pose([3, 4, 1], [1, 1, 2, 2], 0.25)];
  // Frame 4 at 30 fps: 4/30 = 0.13333… s → 0.133333. The second person has no track.
  const record = jsonlRecordForFrame("clip.mp4", 4, 4, 4 / 30, poses, [2]);
  assertEquals(
    formatJsonlLine(record),
    `{"file":"clip.mp4","image_id":4,"frame":4,"time":0.133333,"people":[` +
      `{"track_id":2,"bbox":[0,0,4,8],"score":0.5,"keypoints":[1,2,0.5]},` +
      `{"bbox":[1,1,1,1],"score":0.25,"keypoints":[3,4,1]}]}\n`,
  );
  assertEquals(recordKey(record), '["clip.mp4",4]');
  assertEquals(recordKey(A), '["photos/a.jpg"]');
});

Deno.test("records written and read back are the same, one line each", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const writer = await JsonlWriter.open(path, { append: false });
    for (const record of [A, B, C]) await writer.write(record);
    assertEquals(writer.records, 3);
    await writer.close();
    assertEquals(await readText(path), [A, B, C].map(formatJsonlLine).join(""));
    assertEquals(await records(path), [A, B, C]);
    const progress = await readJsonlProgress(path);
    assertEquals(progress, {
      done: keys("photos/a.jpg", "photos/b.jpg", "photos/c.jpg"),
      imageIds: new Map([A, B, C].map((r) => [recordKey(r, Deno.cwd()), r.image_id])),
      records: 3,
      tornBytes: 0,
    });
  });
});

Deno.test("writes that overlap (several workers) come out as whole lines in call order", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const writer = await JsonlWriter.open(path, { append: false });
    const many = Array.from({ length: 50 }, (_, i) => ({ ...C, file: `f${i}.jpg`, image_id: i }));
    await Promise.all(many.map((record) => writer.write(record)));
    await writer.close();
    assertEquals(await readText(path), many.map(formatJsonlLine).join(""));
  });
});

Deno.test("a fresh writer empties the file; an appending one keeps its lines", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    await Deno.writeTextFile(path, formatJsonlLine(A));
    const appending = await JsonlWriter.open(path, { append: true });
    await appending.write(B);
    await appending.close();
    assertEquals(await readText(path), formatJsonlLine(A) + formatJsonlLine(B));
    const fresh = await JsonlWriter.open(path, { append: false });
    await fresh.write(C);
    await fresh.close();
    assertEquals(await readText(path), formatJsonlLine(C));
  });
});

Deno.test("resume: a torn last line is cut off the file and its image is not done", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const lineC = formatJsonlLine(C);
    const torn = lineC.slice(0, 40); // killed 40 bytes into the third line
    await Deno.writeTextFile(path, formatJsonlLine(A) + formatJsonlLine(B) + torn);

    const progress = await readJsonlProgress(path);
    assertEquals(progress.done, keys("photos/a.jpg", "photos/b.jpg"));
    assertEquals(progress.records, 2);
    assertEquals(progress.tornBytes, 40);
    assertEquals(await readText(path), formatJsonlLine(A) + formatJsonlLine(B));

    // The resumed run redoes c.jpg and appends it on a clean line.
    const writer = await JsonlWriter.open(path, { append: true });
    await writer.write(C);
    await writer.close();
    assertEquals(await records(path), [A, B, C]);
  });
});

Deno.test("resume: a last line that is complete but not JSON is torn too (zeros after a crash)", async () => {
  await withTempDir(async (dir) => {
    for (const tail of ['{"file":"photos/c.jpg","ima\n', "\0\0\0\0\0\0\0\0"]) {
      const path = join(dir, "out.jsonl");
      await Deno.writeTextFile(path, formatJsonlLine(A) + tail);
      const progress = await readJsonlProgress(path);
      assertEquals(progress.done, keys("photos/a.jpg"));
      assertEquals(progress.tornBytes, new TextEncoder().encode(tail).length);
      assertEquals(await readText(path), formatJsonlLine(A));
    }
  });
});

Deno.test("appending to a file whose last line is torn is refused", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    await Deno.writeTextFile(path, formatJsonlLine(A) + '{"file":');
    await assertRejects(
      () => JsonlWriter.open(path, { append: true }),
      Error,
      "last line is incomplete",
    );
  });
});

Deno.test("resume from a file that does not exist yet: nothing is done", async () => {
  await withTempDir(async (dir) => {
    const progress = await readJsonlProgress(join(dir, "none.jsonl"));
    assertEquals(progress, {
      done: new Set<string>(),
      imageIds: new Map(),
      records: 0,
      tornBytes: 0,
    });
  });
});

Deno.test("a corrupt line in the middle is an error naming the file and the line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const bad = [
      { line: '{"file":"photos/x.jpg",\n', says: "not valid JSON" },
      { line: '{"name":"photos/x.jpg"}\n', says: '"file" must be a non-empty string' },
      { line: '{"file":"x.jpg","image_id":1,"people":[{"bbox":[1,2,3]}]}\n', says: "bbox" },
    ];
    for (const { line, says } of bad) {
      const contents = formatJsonlLine(A) + line + formatJsonlLine(C);
      await Deno.writeTextFile(path, contents);
      const error = await assertRejects(() => readJsonlProgress(path), JsonlCorruptError);
      assert(error.message.includes(`${path}: line 2 is corrupt`), error.message);
      assert(error.message.includes(says), error.message);
      assertEquals(await readText(path), contents, "a corrupt file is left as it is");
    }
  });
});

Deno.test("a last line that is JSON but not a record is corruption, not a torn line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    await Deno.writeTextFile(path, formatJsonlLine(A) + '{"file":"y.jpg","people":[]}\n');
    await assertRejects(() => readJsonlProgress(path), JsonlCorruptError, "line 2");
  });
});

Deno.test("a COCO results array given as JSONL is named as such", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "results.json");
    await Deno.writeTextFile(path, '[\n{"image_id":1}\n]\n');
    await assertRejects(() => scanJsonl(path, () => {}), JsonlCorruptError, "COCO results array");
  });
});

Deno.test("lines longer than one read (1 MiB) are joined across reads", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const crowd: JsonlRecord = {
      file: "crowd.jpg",
      image_id: 9,
      people: Array.from({ length: 8000 }, (_, i) => ({
        bbox: [i, i, 10, 10] as [number, number, number, number],
        score: 0.5,
        keypoints: Array.from({ length: 51 }, (_, k) => i + k / 1000),
      })),
    };
    const writer = await JsonlWriter.open(path, { append: false });
    await writer.write(A);
    await writer.write(crowd);
    await writer.write(B);
    await writer.close();
    assert((await Deno.stat(path)).size > 2 * 1024 * 1024, "the test needs a line over 1 MiB");
    assertEquals(await records(path), [A, crowd, B]);
  });
});

/** A run's header: the settings predict records, in the folder `cwd`. */
function header(cwd: string, changes: Partial<JsonlHeader> = {}): JsonlHeader {
  return {
    version: "0.1.0",
    cwd,
    detector: "rtmdet_nano_person",
    pose: "simplepose_nano_256x192",
    flip: true,
    det_thr: 0.3,
    ...changes,
  };
}

Deno.test("an output starts with its header; readers skip it and give it to whoever asks", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const output = await JsonlOutput.open(path, { resume: false, header: header(dir) });
    await output.write(A);
    await output.write(B);
    await output.close();
    assertEquals(
      await readText(path),
      formatJsonlHeader(header(dir)) + formatJsonlLine(A) + formatJsonlLine(B),
    );
    const headers: [JsonlHeader, number][] = [];
    const seen: [string, JsonlHeader | undefined][] = [];
    const scan = await scanJsonl(
      path,
      (record, _line, h) => seen.push([record.file, h]),
      (h, line) => headers.push([h, line]),
    );
    assertEquals(headers, [[header(dir), 1]]);
    assertEquals(seen, [["photos/a.jpg", header(dir)], ["photos/b.jpg", header(dir)]]);
    assertEquals([scan.records, scan.headers], [2, 1]);
    assertEquals((await readJsonlProgress(path)).header, header(dir));
  });
});

Deno.test("resume with other models or options is refused, saying what differs; the file stays", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const first = await JsonlOutput.open(path, { resume: false, header: header(dir) });
    await first.write(A);
    await first.close();
    const before = await readText(path);
    const other = header(dir, { detector: "yolox_nano", pose: "pp_tinypose_256x192", flip: false });
    const error = await assertRejects(
      () => JsonlOutput.open(path, { resume: true, header: other }),
      JsonlSettingsError,
    );
    for (
      const says of [
        "header on line 1",
        'detector "rtmdet_nano_person" there vs "yolox_nano" now',
        "flip true there vs false now",
        'pose "simplepose_nano_256x192" there vs "pp_tinypose_256x192" now',
      ]
    ) assert(error.message.includes(says), error.message);
    assertEquals(await readText(path), before, "the file is left as it was");
  });
});

Deno.test("resume with the same settings from elsewhere: its own header before its records", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const first = await JsonlOutput.open(path, { resume: false, header: header(dir) });
    await first.write(A);
    await first.close();
    // Another folder and version: the same job, but its relative paths mean other files.
    const later = header(join(dir, "sub"), { version: "0.2.0" });
    const resumed = await JsonlOutput.open(path, { resume: true, header: later });
    await resumed.write(B);
    await resumed.close();
    assertEquals(
      await readText(path),
      formatJsonlHeader(header(dir)) + formatJsonlLine(A) + formatJsonlHeader(later) +
        formatJsonlLine(B),
    );
    // The same run again adds no header.
    const again = await JsonlOutput.open(path, { resume: true, header: later });
    await again.write(C);
    await again.close();
    assertEquals((await readText(path)).split("\n").filter((l) => l.includes("posekit")).length, 2);
    const progress = await readJsonlProgress(path);
    assertEquals(
      progress.done,
      new Set(
        [
          join(dir, "photos/a.jpg"),
          join(dir, "sub", "photos/b.jpg"),
          join(dir, "sub", "photos/c.jpg"),
        ]
          .map((file) => recordKey({ file })),
      ),
    );
  });
});

Deno.test("resume keys records by their resolved path: relative, absolute or with .. alike", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const first = await JsonlOutput.open(path, { resume: false, header: header(dir) });
    await first.write(A); // photos/a.jpg, relative to dir
    await first.write({ ...B, file: join(dir, "photos", "b.jpg") }); // absolute
    await first.write({ file: "https://example.com/c.jpg", image_id: 3, people: [] });
    await first.close();
    const resumed = await JsonlOutput.open(path, { resume: true, header: header("/elsewhere") });
    try {
      for (
        const [file, base] of [
          [join(dir, "photos", "a.jpg"), "/elsewhere"],
          ["photos/./a.jpg", dir],
          ["../photos/b.jpg", join(dir, "sub")],
          ["https://example.com/c.jpg", "/elsewhere"],
        ]
      ) assert(resumed.done.has(recordKey({ file }, base)), `${file} from ${base} is done`);
      assert(!resumed.done.has(recordKey({ file: "photos/a.jpg" }, "/elsewhere")), "other file");
    } finally {
      await resumed.close();
    }
  });
});

Deno.test("resume never cuts a file that holds no posekit line (no final newline)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "notes.jsonl");
    const contents = "my notes, not results, and no newline at the end";
    await Deno.writeTextFile(path, contents);
    await assertRejects(() => readJsonlProgress(path), JsonlForeignError, "holds no posekit");
    await assertRejects(
      () => JsonlOutput.open(path, { resume: true, header: header(dir) }),
      JsonlForeignError,
    );
    assertEquals(await readText(path), contents, "the file is left as it was");
  });
});

Deno.test("--overwrite never empties a .jsonl that holds no posekit line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "notes.jsonl");
    for (const contents of ["my notes\nline2\n", "my notes, no newline", '{"a": 1}\n']) {
      await Deno.writeTextFile(path, contents);
      for (const overwrite of [true, false]) {
        await assertRejects(
          () => JsonlOutput.open(path, { resume: false, overwrite, header: header(dir) }),
          JsonlForeignError,
          "holds no posekit results",
        );
        assertEquals(await readText(path), contents, "the file is left as it was");
      }
    }
  });
});

Deno.test("an output that writes nothing leaves no file behind, and an existing one as it was", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    await (await JsonlOutput.open(path, { resume: false, header: header(dir) })).close();
    await assertRejects(() => Deno.stat(path), Deno.errors.NotFound);
    await Deno.writeTextFile(path, formatJsonlLine(A));
    const options = { resume: false, overwrite: true, header: header(dir) };
    await (await JsonlOutput.open(path, options)).close();
    assertEquals(await readText(path), formatJsonlLine(A));
  });
});

Deno.test("an output that holds results needs resume or overwrite; overwrite starts it afresh", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    await Deno.writeTextFile(path, formatJsonlLine(A) + formatJsonlLine(B));
    const error = await assertRejects(
      () => JsonlOutput.open(path, { resume: false, header: header(dir) }),
      JsonlExistsError,
    );
    assertEquals(
      (error as JsonlExistsError).size,
      (formatJsonlLine(A) + formatJsonlLine(B)).length,
    );
    assertEquals(await readText(path), formatJsonlLine(A) + formatJsonlLine(B), "left as it was");
    const output = await JsonlOutput.open(path, {
      resume: false,
      overwrite: true,
      header: header(dir),
    });
    await output.write(C);
    await output.close();
    assertEquals(await readText(path), formatJsonlHeader(header(dir)) + formatJsonlLine(C));
    // An empty file is nothing to lose.
    await Deno.writeTextFile(path, "");
    await (await JsonlOutput.open(path, { resume: false, header: header(dir) })).close();
  });
});

Deno.test("a second run on a file another run is writing is refused at once, and cuts nothing", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "out.jsonl");
    const first = await JsonlOutput.open(path, { resume: false, header: header(dir) });
    await first.write(A);
    for (const options of [{ resume: true }, { resume: false, overwrite: true }]) {
      await assertRejects(
        () => JsonlOutput.open(path, { ...options, header: header(dir) }),
        JsonlBusyError,
        "being written by another run",
      );
    }
    await assertRejects(() => JsonlWriter.open(path, { append: false }), JsonlBusyError);
    await assertRejects(() => JsonlWriter.open(path, { append: true }), JsonlBusyError);
    await first.write(B);
    await first.close();
    assertEquals(
      await readText(path),
      formatJsonlHeader(header(dir)) + formatJsonlLine(A) + formatJsonlLine(B),
      "the first run's lines, whole and alone",
    );
    // Once the first run is done, the file is free.
    const next = await JsonlOutput.open(path, { resume: true, header: header(dir) });
    assertEquals(next.progress.records, 2);
    await next.close();
  });
});

Deno.test("an output that is a symbolic link is refused; its target is left as it was", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "precious.jsonl");
    await Deno.writeTextFile(target, formatJsonlLine(A));
    const link = join(dir, "out.jsonl");
    await Deno.symlink(target, link);
    for (const options of [{ resume: true }, { resume: false, overwrite: true }]) {
      await assertRejects(
        () => JsonlOutput.open(link, { ...options, header: header(dir) }),
        Error,
        "symbolic link",
      );
    }
    assertEquals(await readText(target), formatJsonlLine(A));
  });
});

const CHILD = join(import.meta.dirname!, "support", "jsonl_writer_child.ts");

function childCommand(path: string, count: number, delayMs: number, append: boolean) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      CHILD,
      path,
      String(count),
      String(delayMs),
      ...(append ? ["--append"] : []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "kill -9 while writing, then resume: a clean prefix, then exactly every record once",
  async fn() {
    await withTempDir(async (dir) => {
      const path = join(dir, "out.jsonl");
      const count = 400;
      const child = childCommand(path, count, 3, false).spawn();
      // Wait until 40 writes have resolved, then kill the writer mid-run.
      let acknowledged = -1;
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      while (acknowledged < 39) {
        const { value, done } = await lines.read();
        if (done) break;
        buffered += value;
        const complete = buffered.split("\n");
        buffered = complete.pop()!;
        for (const n of complete) acknowledged = Number(n);
      }
      child.kill("SIGKILL");
      const status = await child.status;
      await lines.cancel();
      await child.stderr.cancel();
      assertEquals(status.signal, "SIGKILL", "the writer was killed, not finished");
      assert(acknowledged >= 39, `the writer acknowledged only ${acknowledged + 1} records`);

      const progress = await readJsonlProgress(path);
      const kept = progress.records;
      assert(kept >= acknowledged + 1, `every acknowledged record survives (kept ${kept})`);
      assert(kept < count, "the kill came before the end");
      const prefix = Array.from({ length: kept }, (_, i) => childRecord(i));
      assertEquals(progress.done, new Set(prefix.map((r) => recordKey(r, Deno.cwd()))));
      const text = await readText(path);
      assert(text.endsWith("\n"), "after cutting a torn line off, the file ends with a newline");
      assertEquals(text, prefix.map(formatJsonlLine).join(""), "the file is a clean prefix");

      // Resume: the same writer with --append does the rest.
      const resumed = await childCommand(path, count, 0, true).output();
      assertEquals(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
      const all = Array.from({ length: count }, (_, i) => childRecord(i));
      assertEquals(await readText(path), all.map(formatJsonlLine).join(""));
    });
  },
});
