/**
 * The ZIP reader in lib/zip.ts, on archives built here (stored, deflate, data descriptors,
 * ZIP64, comments), on archives written by Python's zipfile and Info-ZIP's `zip` when those
 * tools are installed, and on corrupt archives.
 */

import { assert, assertEquals, assertRejects, assertThrows } from "./support/assert.ts";
import {
  crc32,
  extractZipEntry,
  findZipMember,
  readZipEntries,
  zipEntryChunks,
  ZipError,
} from "../lib/bytes/zip.ts";
import { bitwiseCrc32, buildZip } from "./support/zip_writer.ts";

const encoder = new TextEncoder();

/** Bytes that compress well but are not trivially uniform. */
function sampleBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = (i % 97 < 60) ? i % 7 : state >>> 24;
  }
  return bytes;
}

async function extractAll(zip: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const entry of readZipEntries(zip)) {
    if (!entry.isDirectory) files.set(entry.name, await extractZipEntry(zip, entry));
  }
  return files;
}

function commandExists(command: string): boolean {
  try {
    return new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("crc32 gives the standard check value and continues across chunks", () => {
  // 0xCBF43926 is the published CRC-32 check value of the ASCII string "123456789".
  const digits = encoder.encode("123456789");
  assertEquals(crc32(digits), 0xcbf43926);
  assertEquals(crc32(digits.subarray(4), crc32(digits.subarray(0, 4))), 0xcbf43926);
  const bytes = sampleBytes(5000, 7);
  assertEquals(crc32(bytes), bitwiseCrc32(bytes));
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("reads stored and deflate entries, directories and data descriptors", async () => {
  const model = sampleBytes(100_000);
  const text = encoder.encode("hello zip\n".repeat(50));
  const zip = await buildZip([
    { name: "pack/", method: "store" },
    { name: "pack/model.onnx", data: model },
    { name: "pack/readme.txt", data: text, method: "store" },
    { name: "pack/streamed.bin", data: sampleBytes(3000, 3), dataDescriptor: true },
    { name: "empty.txt", data: new Uint8Array(0) },
  ]);
  const entries = readZipEntries(zip);
  assertEquals(entries.map((e) => e.name), [
    "pack/",
    "pack/model.onnx",
    "pack/readme.txt",
    "pack/streamed.bin",
    "empty.txt",
  ]);
  assertEquals(entries.map((e) => e.isDirectory), [true, false, false, false, false]);
  assertEquals(entries[1].method, 8);
  assertEquals(entries[2].method, 0);
  assertEquals(entries[1].uncompressedSize, model.length);
  assert(entries[1].compressedSize < model.length, "the sample data should compress");

  const files = await extractAll(zip);
  assertEquals(files.get("pack/model.onnx"), model);
  assertEquals(files.get("pack/readme.txt"), text);
  assertEquals(files.get("pack/streamed.bin"), sampleBytes(3000, 3));
  assertEquals(files.get("empty.txt"), new Uint8Array(0));
});

Deno.test("finds the end record behind an archive comment and reads ZIP64 archives", async () => {
  const data = sampleBytes(20_000, 5);
  const withComment = await buildZip([{ name: "a.onnx", data }], {
    comment: "an archive comment that mentions PK\x05\x06 on purpose",
  });
  assertEquals((await extractAll(withComment)).get("a.onnx"), data);

  const zip64 = await buildZip([
    { name: "x/a.onnx", data },
    { name: "x/b.bin", data: sampleBytes(10, 9), method: "store", dataDescriptor: true },
  ], { zip64: true });
  const entries = readZipEntries(zip64);
  assertEquals(entries.map((e) => [e.name, e.uncompressedSize]), [
    ["x/a.onnx", data.length],
    ["x/b.bin", 10],
  ]);
  const files = await extractAll(zip64);
  assertEquals(files.get("x/a.onnx"), data);
  assertEquals(files.get("x/b.bin"), sampleBytes(10, 9));
});

Deno.test("findZipMember: exact path, then a unique entry with the same base name", async () => {
  const zip = await buildZip([
    { name: "rtmpose-ort/rtmdet-nano/end2end.onnx", data: sampleBytes(10, 1) },
    { name: "rtmpose-ort/rtmpose-m/end2end.onnx", data: sampleBytes(10, 2) },
    { name: "other/detector.onnx", data: sampleBytes(10, 3) },
    { name: "other/notes.txt", data: sampleBytes(10, 4) },
  ]);
  const entries = readZipEntries(zip);
  assertEquals(
    findZipMember(entries, "rtmpose-ort/rtmdet-nano/end2end.onnx").name,
    "rtmpose-ort/rtmdet-nano/end2end.onnx",
  );
  assertEquals(
    findZipMember(entries, "./rtmpose-ort/rtmpose-m/end2end.onnx").name,
    entries[1].name,
  );
  // Repacked under another folder: accepted because exactly one entry ends with the name.
  assertEquals(findZipMember(entries, "release/v1/detector.onnx").name, "other/detector.onnx");

  const ambiguous = assertThrows(() => findZipMember(entries, "pack/end2end.onnx"), ZipError);
  assert(ambiguous.message.includes("2 entries ending with"), ambiguous.message);
  const missing = assertThrows(() => findZipMember(entries, "model/pose.onnx"), ZipError);
  for (const name of entries.slice(0, 3).map((e) => e.name)) {
    assert(missing.message.includes(name), `listing lacks ${name}: ${missing.message}`);
  }
  assert(!missing.message.includes("notes.txt"), "only .onnx entries are listed");
});

Deno.test({
  name: "reads archives written by Python's zipfile (seekable and streamed)",
  ignore: !commandExists("python3"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "posekit_zip_" });
    try {
      // Python writes the same deterministic content; expectations are computed here.
      const script = `
import sys, zipfile
def content(n, k):
    return bytes(((i * k) % 251) if i % 5 else 7 for i in range(n))
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("dir/", b"")
    z.writestr(zipfile.ZipInfo("dir/stored.bin"), content(3000, 3))
    z.writestr("dir/deflated.onnx", content(50000, 11), compress_type=zipfile.ZIP_DEFLATED)
    z.comment = b"made by python"
# An unseekable output makes zipfile use data descriptors.
with zipfile.ZipFile(sys.stdout.buffer, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("streamed/model.onnx", content(20000, 13))
    with z.open("streamed/forced64.bin", "w", force_zip64=True) as f:
        f.write(content(1000, 17))
`;
      const seekablePath = `${dir}/seekable.zip`;
      const run = await new Deno.Command("python3", {
        args: ["-c", script, seekablePath],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(run.success, new TextDecoder().decode(run.stderr));
      const content = (n: number, k: number) =>
        Uint8Array.from({ length: n }, (_, i) => i % 5 ? (i * k) % 251 : 7);

      const seekable = await extractAll(await Deno.readFile(seekablePath));
      assertEquals([...seekable.keys()], ["dir/stored.bin", "dir/deflated.onnx"]);
      assertEquals(seekable.get("dir/stored.bin"), content(3000, 3));
      assertEquals(seekable.get("dir/deflated.onnx"), content(50000, 11));

      const streamedZip = run.stdout;
      const entries = readZipEntries(streamedZip);
      assert(entries.every((e) => (e.flags & 8) !== 0), "expected data descriptors");
      const streamed = await extractAll(streamedZip);
      assertEquals(streamed.get("streamed/model.onnx"), content(20000, 13));
      assertEquals(streamed.get("streamed/forced64.bin"), content(1000, 17));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "reads archives written by Info-ZIP's zip command (from files and from a pipe)",
  ignore: !commandExists("zip"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "posekit_zip_" });
    try {
      const model = sampleBytes(40_000, 21);
      await Deno.mkdir(`${dir}/pack/sub`, { recursive: true });
      await Deno.writeFile(`${dir}/pack/sub/model.onnx`, model);
      await Deno.writeFile(`${dir}/pack/tiny.txt`, encoder.encode("x"));
      const fromFiles = await new Deno.Command("zip", {
        args: ["-q", "-r", "files.zip", "pack"],
        cwd: dir,
      }).output();
      assert(fromFiles.success, new TextDecoder().decode(fromFiles.stderr));
      const files = await extractAll(await Deno.readFile(`${dir}/files.zip`));
      assertEquals(files.get("pack/sub/model.onnx"), model);
      assertEquals(files.get("pack/tiny.txt"), encoder.encode("x"));

      // "zip - -" reads stdin and writes stdout: a streamed entry named "-".
      const child = new Deno.Command("zip", {
        args: ["-q", "-", "-"],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(model);
      await writer.close();
      const piped = await child.output();
      assert(piped.success);
      assertEquals((await extractAll(piped.stdout)).get("-"), model);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("corrupt archives fail with errors that say what is wrong", async () => {
  const model = sampleBytes(30_000, 4);
  const stored = await buildZip([{ name: "m.onnx", data: model, method: "store" }]);
  const deflated = await buildZip([{ name: "m.onnx", data: model }]);

  const notZip = assertThrows(() => readZipEntries(encoder.encode("<html>404</html>")), ZipError);
  assert(notZip.message.includes("not a ZIP archive"), notZip.message);
  assertThrows(() => readZipEntries(new Uint8Array(5)), ZipError, "only 5 bytes");

  // Cut off the start: the directory now points beyond the data.
  const truncated = stored.slice(20_000);
  const cut = assertThrows(() => readZipEntries(truncated), ZipError);
  assert(/truncated|corrupt/.test(cut.message), cut.message);

  // Flip one byte of stored data: the CRC check catches it.
  const flipped = stored.slice();
  const entry = readZipEntries(flipped)[0];
  flipped[entry.localHeaderOffset + 30 + "m.onnx".length + 1000] ^= 0xff;
  await assertRejects(() => extractZipEntry(flipped, entry), ZipError, "CRC-32 mismatch");

  // Garbage in the deflate stream: an inflate error or a size/CRC mismatch, never bad bytes.
  const garbled = deflated.slice();
  const deflatedEntry = readZipEntries(garbled)[0];
  const dataStart = deflatedEntry.localHeaderOffset + 30 + "m.onnx".length;
  for (let i = 0; i < 64; i++) garbled[dataStart + 10 + i] = (i * 37) & 0xff;
  const inflateError = await assertRejects(() => extractZipEntry(garbled, deflatedEntry), ZipError);
  assert(inflateError.message.includes('"m.onnx"'), inflateError.message);

  // A directory entry that announces fewer bytes than the data inflates to.
  const lying = { ...readZipEntries(deflated)[0], uncompressedSize: 1000 };
  await assertRejects(() => extractZipEntry(deflated, lying), ZipError, "more than the 1000");

  await assertRejects(
    () => extractZipEntry(stored, { ...entry, method: 12 }),
    ZipError,
    "method 12 (bzip2) is not supported",
  );
  await assertRejects(() => extractZipEntry(stored, { ...entry, flags: 1 }), ZipError, "encrypted");
  await assertRejects(
    () => extractZipEntry(stored, { ...entry, localHeaderOffset: 7 }),
    ZipError,
    "no local header",
  );
});

Deno.test("an entry announcing more than the limit is refused before anything is inflated", async () => {
  // A ZIP64 entry that claims 1 TiB: a clear ZipError, not a RangeError from allocating it.
  const huge = await buildZip(
    [{ name: "m.onnx", data: sampleBytes(1000), declaredSize: 2 ** 40 }],
    { zip64: true },
  );
  const [entry] = readZipEntries(huge);
  assertEquals(entry.uncompressedSize, 2 ** 40);
  await assertRejects(
    () => extractZipEntry(huge, entry),
    ZipError,
    `cannot extract "m.onnx": it announces 1099511627776 bytes, more than the limit of ` +
      `2147483648 bytes (2 GiB)`,
  );

  // A bomb that tells the truth: 8 MiB of zeros in 8 kB, over a 1 MiB limit.
  const bomb = await buildZip([{ name: "bomb.onnx", data: new Uint8Array(8 << 20) }]);
  assert(bomb.length < 20_000, `${bomb.length} bytes`);
  const [bombEntry] = readZipEntries(bomb);
  await assertRejects(
    () => extractZipEntry(bomb, bombEntry, { maxBytes: 1 << 20 }),
    ZipError,
    "announces 8388608 bytes, more than the limit of 1048576 bytes (1 MiB)",
  );
  // Within the limit it extracts, in chunks inflated from 8 KiB of input at a time.
  assertEquals((await extractZipEntry(bomb, bombEntry, { maxBytes: 8 << 20 })).length, 8 << 20);
  for await (const chunk of zipEntryChunks(bomb, bombEntry)) {
    assert(chunk.length <= 1032 * 8192, `a chunk of ${chunk.length} bytes`);
  }
});
