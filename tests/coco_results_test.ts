/**
 * COCO keypoint results: the record format, image ids (COCO numbers, stable hashes,
 * collisions), each result's file name, and the atomic writer that cleans up after killed runs.
 */

import { withTempDir } from "./support/cli.ts";
import { join } from "node:path";
import {
  assignImageIds,
  formatResultsJson,
  imageIdForPath,
  imageIdFromFileName,
  ImageIdRegistry,
  toCocoResults,
} from "../lib/coco/results.ts";
import {
  removeStaleTemporaryFiles,
  removeStaleTemporaryFilesIn,
  temporaryPathFor,
  writeResultsAtomic,
} from "../lib/deno/files.ts";
import type { Pose } from "../lib/types.ts";
import { assert, assertEquals } from "./support/assert.ts";

function pose(keypoints: number[], box: [number, number, number, number], score: number): Pose {
  const [x1, y1, x2, y2] = box;
  return { box: { x1, y1, x2, y2, score: 0.9 }, keypoints: Float32Array.from(keypoints), score };
}

Deno.test("toCocoResults writes one COCO record per pose", () => {
  const poses = [
    pose([10, 20, 0.5, 30.25, 40.5, 0.75], [5, 6, 105, 206], 0.5),
    pose([1, 2, 0.25, 3, 4, 1], [0, 0, 10, 10], 0.125),
  ];
  // Values exactly representable in float32, so no rounding is involved.
  assertEquals(toCocoResults(785, poses), [
    {
      image_id: 785,
      category_id: 1,
      keypoints: [10, 20, 0.5, 30.25, 40.5, 0.75],
      score: 0.5,
      bbox: [5, 6, 100, 200],
    },
    {
      image_id: 785,
      category_id: 1,
      keypoints: [1, 2, 0.25, 3, 4, 1],
      score: 0.125,
      bbox: [0, 0, 10, 10],
    },
  ]);
  assertEquals(toCocoResults(1, []), []);
});

Deno.test("toCocoResults rounds coordinates to 3 decimals and scores to 6", () => {
  const [result] = toCocoResults(1, [{
    box: { x1: 1.23456, y1: 2.0004, x2: 11.23456, y2: 4.5, score: 1 },
    keypoints: new Float32Array([100.123456, 200.98765, 0.123456789]),
    score: 0.987654321,
  }]);
  // float32(100.123456) = 100.12345886…, float32(200.98765) = 200.98765563…,
  // float32(0.123456789) = 0.12345679104…
  assertEquals(result.keypoints, [100.123, 200.988, 0.123457]);
  assertEquals(result.score, 0.987654);
  assertEquals(result.bbox, [1.235, 2, 10, 2.5]);
});

Deno.test("toCocoResults turns non-finite numbers into 0 so the JSON stays valid", () => {
  const [result] = toCocoResults(1, [
    pose([NaN, Infinity, -Infinity], [0, 0, NaN, 5], NaN),
  ]);
  assertEquals(result.keypoints, [0, 0, 0]);
  assertEquals(result.score, 0);
  assertEquals(result.bbox, [0, 0, 0, 5]);
  assert(!JSON.stringify(result).includes("null"));
});

Deno.test("imageIdFromFileName reads COCO-style names (digits only)", () => {
  assertEquals(imageIdFromFileName("000000000785.jpg"), 785);
  assertEquals(imageIdFromFileName("/data/coco/val2017/000000397133.JPG"), 397133);
  assertEquals(imageIdFromFileName("relative/dir/42.png"), 42);
  assertEquals(imageIdFromFileName("785"), 785);
  assertEquals(imageIdFromFileName("img_785.jpg"), undefined);
  assertEquals(imageIdFromFileName("785a.jpg"), undefined);
  assertEquals(imageIdFromFileName("7.85.jpg"), undefined);
  assertEquals(imageIdFromFileName(".jpg"), undefined);
  // 2^30 and above (e.g. a Unix timestamp) would overlap hashed ids.
  assertEquals(imageIdFromFileName("1073741823.jpg"), 1073741823);
  assertEquals(imageIdFromFileName("1700000000.jpg"), undefined);
});

/** FNV-1a 32-bit written from its definition (offset basis 2166136261, prime 16777619). */
function fnv1a(text: string): number {
  let hash = 2166136261n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 16777619n) % 2n ** 32n;
  }
  return Number(hash);
}

/** The documented hashed id of a name. */
function hashedId(name: string): number {
  return 2 ** 30 + (fnv1a(name) % 2 ** 30);
}

Deno.test("other names get FNV-1a of the base name folded into [2^30, 2^31)", () => {
  // Published FNV-1a 32-bit test vectors check the reference above.
  assertEquals(fnv1a("a"), 0xe40c292c);
  assertEquals(fnv1a("foobar"), 0xbf9cf968);
  assertEquals(imageIdForPath("a"), 2 ** 30 + (0xe40c292c % 2 ** 30));
  assertEquals(imageIdForPath("photos/foobar"), 2 ** 30 + (0xbf9cf968 % 2 ** 30));
  assertEquals(imageIdForPath("photos/Strandbild – 2024.JPG"), hashedId("Strandbild – 2024.JPG"));
  assertEquals(imageIdForPath("/elsewhere/foobar"), imageIdForPath("foobar"), "folder ignored");
  assertEquals(imageIdForPath("a/000000000785.jpg"), 785);
});

Deno.test("ImageIdRegistry keeps COCO ids and needs no mapping for COCO names", () => {
  const registry = new ImageIdRegistry();
  assertEquals(registry.idFor("val/000000000785.jpg"), 785);
  assertEquals(registry.idFor("val/000000000139.jpg"), 139);
  assertEquals(registry.idFor("val/000000000785.jpg"), 785, "asked again");
  assertEquals(registry.needsMapping, false);
  assertEquals(registry.mapping(), {
    "785": "val/000000000785.jpg",
    "139": "val/000000000139.jpg",
  });
});

Deno.test("ImageIdRegistry resolves same-name files in different folders deterministically", () => {
  const paths = ["a/beach.jpg", "b/beach.jpg", "c/beach.jpg", "x/000000000785.jpg", "y/785.png"];
  const first = assignImageIds(paths);
  const second = assignImageIds(paths);
  assertEquals(first, second, "same inputs, same ids");
  const ids = first.map((item) => item.imageId);
  assertEquals(new Set(ids).size, paths.length, "all distinct");
  // The rule: the plain id first, then the hashes of "<name>#1", "#2", … in input order.
  assertEquals(ids[0], hashedId("beach.jpg"));
  assertEquals(ids[1], hashedId("beach.jpg#1"));
  assertEquals(ids[2], hashedId("beach.jpg#2"));
  assertEquals(ids[3], 785);
  assertEquals(ids[4], hashedId("785.png#1"), "785 was taken by x/000000000785.jpg");
  const mapping = new ImageIdRegistry();
  paths.forEach((path) => mapping.idFor(path));
  assertEquals(mapping.mapping()[String(ids[1])], "b/beach.jpg", "the registry maps ids back");
});

Deno.test("ImageIdRegistry resolves a real hash collision between different names", () => {
  // Brute force: find two names whose hashed ids collide (birthday bound: ~2^15 names).
  const byId = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair; i++) {
    const name = `p${i}.jpg`;
    const id = imageIdForPath(name);
    const other = byId.get(id);
    if (other) pair = [other, name];
    byId.set(id, name);
  }
  const registry = new ImageIdRegistry();
  const a = registry.idFor(pair[0]);
  const b = registry.idFor(pair[1]);
  assertEquals(a, imageIdForPath(pair[0]));
  assert(a !== b, `${pair.join(" and ")} get different ids`);
  assertEquals(b, hashedId(`${pair[1]}#1`));
  assertEquals(registry.needsMapping, true);
});

Deno.test("a URL's id comes from the last part of its path, without the query", () => {
  assertEquals(imageIdForPath("https://example.com/val/000000000785.jpg?token=abc"), 785);
  assertEquals(imageIdForPath("http://example.com/a/cat.jpg?x=1"), hashedId("cat.jpg"));
});

Deno.test("toCocoResults adds file_name when given, so ids are never the only link", () => {
  const [withName] = toCocoResults(
    hashedId("me.png"),
    [pose([1, 2, 1], [0, 0, 4, 4], 1)],
    "a/me.png",
  );
  assertEquals(withName.file_name, "a/me.png");
  assertEquals(withName.image_id, hashedId("me.png"));
  const [without] = toCocoResults(785, [pose([1, 2, 1], [0, 0, 4, 4], 1)]);
  assertEquals(Object.keys(without).sort(), [
    "bbox",
    "category_id",
    "image_id",
    "keypoints",
    "score",
  ]);
});

Deno.test("formatResultsJson: valid JSON, one result per line", () => {
  assertEquals(formatResultsJson([]), "[]\n");
  const results = toCocoResults(7, [pose([1, 2, 0.5], [0, 0, 4, 4], 0.5)]);
  const text = formatResultsJson([...results, ...results]);
  assertEquals(JSON.parse(text), [...results, ...results]);
  assertEquals(text.split("\n").length, 5, "[, two results, ], final newline");
});

async function namesIn(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeResultsAtomic writes one file with the file names, and no temporary files", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "results.json");
    await Deno.writeTextFile(path, "old contents");
    const results = toCocoResults(1234567890, [pose([5, 6, 0.9], [1, 2, 3, 4], 0.8)], "beach.jpg");
    await writeResultsAtomic(path, results);
    assertEquals(JSON.parse(await Deno.readTextFile(path)), results);
    assertEquals(JSON.parse(await Deno.readTextFile(path))[0].file_name, "beach.jpg");
    assertEquals(await namesIn(dir), ["results.json"], "no sidecar, no temporary file");
  });
});

/** Sets a file's times an hour back: long past any age rule. */
async function age(path: string): Promise<void> {
  const hourAgo = new Date(Date.now() - 3600_000);
  await Deno.utime(path, hourAgo, hourAgo);
}

Deno.test("only posekit's abandoned temporary files are removed: never a live writer's or a stranger's", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "results.json");
    const name = (token: string) => `.results.json.posekit-2147483647-${token}.tmp`;
    // A run killed before its rename: posekit's name, nobody holds its lock, an hour old.
    const killed = join(dir, name("0123456789abcdef"));
    // A live writer (in another process as far as the lock goes: flock locks of two open
    // files conflict even within one process), an hour into a slow write.
    const live = join(dir, name("fedcba9876543210"));
    // Just created: its writer may not have locked it yet.
    const fresh = join(dir, name("00000000deadbeef"));
    // Not posekit's: the pattern of older versions (a stranger may use it too), another
    // target, a user's file.
    const strangers = [
      ".results.json.2147483647.0badf00d.tmp",
      `.results.json.${Deno.ppid}.12345678.tmp`,
      ".other.json.posekit-2147483647-0123456789abcdef.tmp",
      "notes.tmp",
    ];
    for (const file of [killed, live, fresh, ...strangers.map((n) => join(dir, n))]) {
      await Deno.writeTextFile(file, "[");
      if (file !== fresh) await age(file);
    }
    const writer = await Deno.open(live, { write: true });
    try {
      assert(await writer.tryLock(true), "the live writer holds its lock");
      assert(
        new RegExp(`^\\.results\\.json\\.posekit-${Deno.pid}-[0-9a-f]{16}\\.tmp$`)
          .test(temporaryPathFor(path).slice(dir.length + 1)),
        "the writer names its temporary files by this pattern",
      );

      await writeResultsAtomic(path, []);

      assertEquals(
        await namesIn(dir),
        [...strangers, name("00000000deadbeef"), name("fedcba9876543210"), "results.json"].sort(),
      );
      assertEquals(await removeStaleTemporaryFiles(path), [], "nothing left to remove");
    } finally {
      writer.close();
    }
    // Once its writer is gone (the lock with it), the slow file is abandoned too.
    assertEquals(await removeStaleTemporaryFiles(path), [live]);
  });
});

Deno.test("writeResultsAtomic into a missing folder fails and writes nothing", async () => {
  await withTempDir(async (dir) => {
    let failed = false;
    try {
      await writeResultsAtomic(join(dir, "missing", "results.json"), []);
    } catch {
      failed = true;
    }
    assert(failed, "the write failed");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assertEquals(names, []);
  });
});

Deno.test("a --draw folder's temporary files of killed runs are removed; others stay", async () => {
  await withTempDir(async (dir) => {
    const killedJpg = join(dir, ".a.jpg.posekit-2147483647-0123456789abcdef.tmp");
    const killedMp4 = join(dir, ".clip.mp4.posekit-2147483647-0123456789abcdef.tmp");
    const fresh = join(dir, `.b.jpg.posekit-${Deno.ppid}-abcdef0123456789.tmp`);
    const older = join(dir, ".c.jpg.2147483647.0badf00d.tmp"); // not provably posekit's
    const drawing = join(dir, "a.jpg");
    for (const file of [killedJpg, killedMp4, fresh, older, drawing]) {
      await Deno.writeTextFile(file, "x");
    }
    for (const file of [killedJpg, killedMp4, older]) await age(file);
    assertEquals((await removeStaleTemporaryFilesIn(dir)).sort(), [killedMp4, killedJpg].sort());
    assertEquals(await namesIn(dir), [
      `.b.jpg.posekit-${Deno.ppid}-abcdef0123456789.tmp`,
      ".c.jpg.2147483647.0badf00d.tmp",
      "a.jpg",
    ]);
  });
});
