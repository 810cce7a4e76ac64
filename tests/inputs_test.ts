/**
 * Input expansion: files, directories (recursive, sorted), globs, and errors for inputs that
 * yield nothing, on a small folder tree made here; reading one input within its size limit.
 */

import { join } from "node:path";
import {
  expandGlob,
  expandInputs,
  globSegmentToRegExp,
  isImageFileName,
} from "../lib/deno/inputs.ts";
import { DEFAULT_MAX_FILE_BYTES, InputReadError, readInput } from "../lib/deno/read_input.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { ImageDecodeError } from "../lib/image/decode.ts";
import { ByteAccumulator } from "../lib/bytes/accumulator.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";

/**
 * root/
 *   a.jpg  B.JPG  c.png  notes.txt  .g.jpg
 *   sub/d.jpeg  sub/deeper/e.PNG  sub/deeper/f.gif
 *   .hidden/h.jpg
 *   empty/
 *   text-only/readme.md
 */
async function makeTree(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "posekit_inputs_test_" });
  const files = [
    "a.jpg",
    "B.JPG",
    "c.png",
    "notes.txt",
    ".g.jpg",
    "sub/d.jpeg",
    "sub/deeper/e.PNG",
    "sub/deeper/f.gif",
    ".hidden/h.jpg",
    "text-only/readme.md",
  ];
  for (const file of files) {
    await Deno.mkdir(join(root, file, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, file), file); // contents do not matter here
  }
  await Deno.mkdir(join(root, "empty"));
  return root;
}

async function withTree(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTree();
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("isImageFileName accepts .jpg, .jpeg and .png in any case", () => {
  for (const name of ["a.jpg", "a.JPG", "b.jpeg", "b.JpEg", "c.png", "c.PNG", "dir/x.y.jpg"]) {
    assert(isImageFileName(name), name);
  }
  for (const name of ["a.gif", "a.jpg.txt", "jpg", "a.pngx", "a.jp"]) {
    assert(!isImageFileName(name), name);
  }
});

Deno.test("a directory expands recursively to its images, sorted, hidden entries skipped", async () => {
  await withTree(async (root) => {
    const { files, errors } = await expandInputs([root]);
    // Code-unit order: upper case before lower case, "c.png" before "sub/…".
    assertEquals(files, [
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "c.png"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    assertEquals(errors, []);
  });
});

Deno.test("an explicit file is kept whatever its extension", async () => {
  await withTree(async (root) => {
    const { files, errors } = await expandInputs([join(root, "notes.txt"), join(root, ".g.jpg")]);
    assertEquals(files, [join(root, "notes.txt"), join(root, ".g.jpg")]);
    assertEquals(errors, []);
  });
});

Deno.test("an empty directory, or one without images, is an error entry", async () => {
  await withTree(async (root) => {
    const empty = join(root, "empty");
    const textOnly = join(root, "text-only");
    const { files, errors } = await expandInputs([empty, join(root, "c.png"), textOnly]);
    assertEquals(files, [join(root, "c.png")], "the batch goes on");
    assertEquals(errors, [
      { path: empty, reason: `no JPEG or PNG images or videos in ${empty}` },
      { path: textOnly, reason: `no JPEG or PNG images or videos in ${textOnly}` },
    ]);
  });
});

Deno.test("a path that does not exist is an error entry; the others still expand", async () => {
  await withTree(async (root) => {
    const missing = join(root, "missing.jpg");
    const { files, errors } = await expandInputs([missing, join(root, "a.jpg")]);
    assertEquals(files, [join(root, "a.jpg")]);
    assertEquals(errors, [{ path: missing, reason: "no such file or directory" }]);
  });
});

Deno.test("globs: *, ?, [set], [!set] and ** match like a shell", async () => {
  await withTree(async (root) => {
    const expand = async (pattern: string) => (await expandInputs([join(root, pattern)])).files;
    assertEquals(await expand("*.jpg"), [join(root, "a.jpg")], "case-sensitive, no dot files");
    assertEquals(await expand("?.png"), [join(root, "c.png")]);
    assertEquals(await expand("[ab].jpg"), [join(root, "a.jpg")]);
    assertEquals(await expand("[!a].*"), [join(root, "B.JPG"), join(root, "c.png")]);
    assertEquals(await expand("*/*.jpeg"), [join(root, "sub", "d.jpeg")]);
    assertEquals(await expand("**/*.PNG"), [join(root, "sub", "deeper", "e.PNG")]);
    assertEquals(await expand("s*/**/[de].*"), [
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    // "**" alone: every image below, not the .gif, nothing hidden.
    assertEquals(await expand("**"), [
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "c.png"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    assertEquals(await expand(".*.jpg"), [join(root, ".g.jpg")], "an explicit dot matches");
  });
});

Deno.test("a glob keeps only JPEG and PNG files; one matching none is an error", async () => {
  await withTree(async (root) => {
    const everything = join(root, "*");
    const { files } = await expandInputs([everything]);
    assertEquals(files, [join(root, "B.JPG"), join(root, "a.jpg"), join(root, "c.png")]);
    const nothing = join(root, "*.webp");
    const texts = join(root, "*.txt");
    const { errors } = await expandInputs([nothing, texts]);
    assertEquals(errors, [
      { path: nothing, reason: `no JPEG, PNG or video files match ${nothing}` },
      { path: texts, reason: `no JPEG, PNG or video files match ${texts}` },
    ]);
  });
});

Deno.test("relative globs and directories keep the spelling they were given", async () => {
  await withTree(async (root) => {
    const cwd = Deno.cwd();
    Deno.chdir(root);
    try {
      assertEquals((await expandInputs(["*.png", "sub"])).files, [
        "c.png",
        join("sub", "d.jpeg"),
        join("sub", "deeper", "e.PNG"),
      ]);
      assertEquals(await expandGlob("sub/**/*.PNG"), [join("sub", "deeper", "e.PNG")]);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("a file reached twice is listed once, where it first appears", async () => {
  await withTree(async (root) => {
    const { files } = await expandInputs([
      join(root, "c.png"),
      root,
      `${root}/sub/../a.jpg`,
      join(root, "*.png"),
    ]);
    assertEquals(files, [
      join(root, "c.png"),
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
  });
});

Deno.test("a symlink loop does not make directory expansion run forever", async () => {
  await withTree(async (root) => {
    await Deno.symlink(root, join(root, "sub", "loop"));
    const { files } = await expandInputs([root]);
    assertEquals(files.length, 5);
    assertEquals((await expandInputs([join(root, "**", "d.jpeg")])).files.length, 1);
  });
});

Deno.test("a broken symlink named like an image is a counted error, not skipped in silence", async () => {
  await withTree(async (root) => {
    const gone = join(root, "sub", "gone.jpg");
    await Deno.symlink(join(root, "nowhere.jpg"), gone);
    const { files, errors } = await expandInputs([root]);
    assertEquals(files.length, 5);
    assertEquals(errors, [{
      path: gone,
      reason: "a symbolic link whose target cannot be read: no such file or directory",
    }]);
  });
});

Deno.test("globSegmentToRegExp: wildcards, sets and literal characters", () => {
  const cases: [string, string[], string[]][] = [
    ["*.jpg", ["a.jpg", "x.y.jpg"], [".a.jpg", "a.jpeg"]],
    ["img?.png", ["img1.png", "imgA.png"], ["img.png", "img12.png"]],
    ["[a-c]x", ["ax", "cx"], ["dx", "Ax"]],
    ["[!a-c]x", ["dx", "Ax"], ["ax", "x"]],
    ["[^a]x", ["bx"], ["ax"]],
    ["a+b(1).jpg", ["a+b(1).jpg"], ["aab(1).jpg", "a+b1.jpg"]],
    ["[x", ["[x"], ["x"]],
    ["[]]x", ["]x"], ["x"]],
  ];
  for (const [pattern, matching, notMatching] of cases) {
    const regexp = globSegmentToRegExp(pattern);
    for (const name of matching) assert(regexp.test(name), `${pattern} matches ${name}`);
    for (const name of notMatching) assert(!regexp.test(name), `${pattern} rejects ${name}`);
  }
});

/** Makes a named pipe with mkfifo(1). Reading one with no writer blocks forever. */
async function makeFifo(path: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("mkfifo", { args: [path], stderr: "piped" })
    .output();
  assertEquals(code, 0, `mkfifo: ${new TextDecoder().decode(stderr)}`);
}

Deno.test("a named pipe is a counted error, given directly, in a folder or by a glob", async () => {
  await withTree(async (root) => {
    const fifo = join(root, "stream.jpg");
    await makeFifo(fifo);

    const direct = await expandInputs([fifo]);
    assertEquals(direct.files, []);
    assertEquals(direct.errors.length, 1);
    assertEquals(direct.errors[0].path, fifo);
    assert(
      /not a regular file \(a named pipe\)/.test(direct.errors[0].reason),
      direct.errors[0].reason,
    );

    // In a folder: the other images are kept, the pipe is named (not silently skipped).
    const folder = await expandInputs([root]);
    assert(folder.files.includes(join(root, "a.jpg")), "the folder's images are kept");
    assert(!folder.files.includes(fifo), "the pipe is not an image");
    assertEquals(folder.errors.map((e) => e.path), [fifo]);

    const glob = await expandInputs([join(root, "*.jpg")]);
    assertEquals(
      glob.files,
      [join(root, "a.jpg")],
      "*.jpg matches a.jpg (not B.JPG, not the hidden .g.jpg)",
    );
    assertEquals(glob.errors.map((e) => e.path), [fifo]);

    // readInput refuses it too (never opens it, so never blocks).
    await assertRejects(() => readInput(fifo), InputReadError, `${fifo}: not a regular file`);
  });
});

Deno.test("a device is not an image either", async () => {
  const { files, errors } = await expandInputs(["/dev/null"]);
  assertEquals(files, []);
  assert(/not a regular file \(a device\)/.test(errors[0]?.reason), JSON.stringify(errors));
});

Deno.test("- stands for stdin and URLs are kept as given, each listed once", async () => {
  const { files, errors } = await expandInputs(["-", "https://example.com/a.jpg", "-"]);
  assertEquals(files, ["-", "https://example.com/a.jpg"]);
  assertEquals(errors, []);
});

Deno.test("readInput reads stdin up to its limit", async () => {
  const stream = (bytes: number[]) => new Blob([Uint8Array.from(bytes)]).stream();
  assertEquals([...await readInput("-", { stdin: stream([1, 2, 3]) })], [1, 2, 3]);
  await assertRejects(
    () => readInput("-", { stdin: stream([1, 2, 3]), maxBytes: 2 }),
    InputReadError,
    "-: stdin is larger than the limit of 2 bytes",
  );
});

Deno.test("a file larger than the limit is refused from its size, never read", async () => {
  await withTempDir(async (dir) => {
    // A sparse file of 3 GiB named .jpg: reading it would take 3 GiB of memory.
    const huge = join(dir, "huge.jpg");
    const file = await Deno.open(huge, { write: true, create: true });
    await file.write(Uint8Array.of(0xff, 0xd8));
    await file.truncate(3 * 1024 ** 3);
    file.close();
    await assertRejects(
      () => readInput(huge),
      InputReadError,
      `${huge}: the file (${3 * 1024 ** 3} bytes) is larger than the limit of ` +
        `${DEFAULT_MAX_FILE_BYTES} bytes (1024 MiB)`,
    );
    await assertRejects(() => readImageFile(huge), ImageDecodeError, `${huge}: the file (`);
    // The limit is an option; at it, the file is read.
    const small = join(dir, "small.jpg");
    await Deno.writeFile(small, new Uint8Array(10));
    assertEquals((await readInput(small, { maxFileBytes: 10 })).length, 10);
    await assertRejects(
      () => readInput(small, { maxFileBytes: 9 }),
      InputReadError,
      `${small}: the file (10 bytes) is larger than the limit of 9 bytes`,
    );
  });
});

/**
 * Serves `handler` on 127.0.0.1/**
 * Serves `handler` on 127.0.0.1 (a free port) while `body` runs with the server's base URL.
 * `abort` stops responses that never end.
 */
async function withServer(
  handler: (request: Request, abort: AbortSignal) => Response | Promise<Response>,
  body: (base: string) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen: () => {} },
    (request) => handler(request, stop.signal),
  );
  try {
    await body(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    stop.abort();
    await server.finished;
  }
}

/** A body that sends `first` and then nothing until `abort`. */
function stalledBody(first: Uint8Array, abort: AbortSignal): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(first);
      abort.addEventListener("abort", () => controller.close());
    },
  });
}

Deno.test("readInput fetches a URL, with clear errors for HTTP errors, size and time", async () => {
  const image = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  await withServer((request, abort) => {
    const path = new URL(request.url).pathname;
    if (path === "/image.jpg") return new Response(image);
    if (path === "/big-declared.jpg") {
      return new Response(new Uint8Array(5000), { headers: { "content-length": "5000" } });
    }
    if (path === "/big-streamed.jpg") {
      // No content-length: the limit must hold while reading.
      return new Response(new Blob([new Uint8Array(5000)]).stream());
    }
    if (path === "/slow-headers.jpg") {
      return new Promise<Response>((done) =>
        abort.addEventListener("abort", () => done(new Response("late")))
      );
    }
    if (path === "/slow-body.jpg") return new Response(stalledBody(image.subarray(0, 10), abort));
    return new Response("nothing here", { status: 404, statusText: "Not Found" });
  }, async (base) => {
    assertEquals(await readInput(`${base}/image.jpg`), image);
    await assertRejects(
      () => readInput(`${base}/missing.jpg`),
      InputReadError,
      `${base}/missing.jpg: HTTP 404 Not Found`,
    );
    for (const name of ["big-declared.jpg", "big-streamed.jpg"]) {
      await assertRejects(
        () => readInput(`${base}/${name}`, { maxBytes: 4096 }),
        InputReadError,
        "is larger than the limit of 4096 bytes",
      );
    }
    for (const name of ["slow-headers.jpg", "slow-body.jpg"]) {
      await assertRejects(
        () => readInput(`${base}/${name}`, { timeoutMs: 300 }),
        InputReadError,
        `${base}/${name}: no complete answer within 0.3 s (timeout)`,
      );
    }
  });
  // Nothing listens there any more.
  await assertRejects(() => readInput("http://127.0.0.1:9/x.jpg"), InputReadError, "cannot fetch");
});

Deno.test("ByteAccumulator keeps at most twice the bytes read, never past its limit, no chunk", () => {
  // Chunks as Deno's fetch hands them out: one byte, each a view of a 64 KiB buffer.
  const buffers = Array.from({ length: 16 }, () => new Uint8Array(65536));
  const chunks = Array.from({ length: 30_000 }, (_, i) => {
    const chunk = buffers[i % 16].subarray(i >> 4, (i >> 4) + 1);
    chunk[0] = i & 0xff;
    return chunk;
  });
  const bytes = new ByteAccumulator();
  for (const chunk of chunks) {
    bytes.append(chunk);
    assert(bytes.capacity <= 2 * bytes.length, `capacity ${bytes.capacity} at ${bytes.length}`);
  }
  assertEquals(bytes.length, 30_000);
  assert(bytes.bytes().every((v, i) => v === (i & 0xff)), "the bytes in order");
  assert(buffers.every((b) => b.buffer !== bytes.bytes().buffer), "no chunk's buffer is kept");

  const limited = new ByteAccumulator(1000);
  for (let i = 0; i < 999; i++) limited.append(Uint8Array.of(i));
  assert(limited.fits(1) && !limited.fits(2));
  limited.append(Uint8Array.of(7));
  assertEquals(limited.capacity, 1000, "the capacity stops at the limit, not at 1024");
  assertThrows(() => limited.append(Uint8Array.of(8)), RangeError);
});

Deno.test("readInput copies each chunk as it arrives (a source that reuses its buffer)", async () => {
  // Each pull rewrites the same 64 KiB buffer and hands out a view of its first byte, so any
  // chunk kept as a view (with the 64 KiB behind it) would read as the last byte written.
  const buffer = new Uint8Array(65536);
  let sent = 0;
  const stdin = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 30_000) return controller.close();
      buffer[0] = sent++ & 0xff;
      controller.enqueue(buffer.subarray(0, 1));
    },
  }, { highWaterMark: 0 });
  const bytes = await readInput("-", { stdin });
  assertEquals(bytes.length, 30_000);
  assert(bytes.every((v, i) => v === (i & 0xff)), "every byte as it was sent");
});

Deno.test("readInput over a URL: 30 kB one byte per write, and a gzip bomb stops at the limit", async () => {
  const body = Uint8Array.from({ length: 30_000 }, (_, i) => (i * 7) & 0xff);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      conn.setNoDelay(true);
      await conn.read(new Uint8Array(4096)); // the request
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      for (let i = 0; i < body.length; i++) await conn.write(body.subarray(i, i + 1));
    } finally {
      conn.close();
    }
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    assertEquals(await readInput(`http://127.0.0.1:${port}/drip.jpg`), body);
  } finally {
    listener.close();
    await served;
  }

  // 64 MiB of zeros gzipped to about 64 kB: the decoded bytes count, so it stops at 1 MiB.
  const zeros = new Uint8Array(1 << 20);
  const bomb = new Uint8Array(
    await new Response(
      ReadableStream.from(Array.from({ length: 64 }, () => zeros))
        .pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  assert(bomb.length < 100_000, `${bomb.length} bytes of gzip`);
  await withServer(
    () => new Response(bomb, { headers: { "content-encoding": "gzip" } }),
    async (base) => {
      await assertRejects(
        () => readInput(`${base}/bomb.png`, { maxBytes: 1 << 20 }),
        InputReadError,
        `${base}/bomb.png: the answer is larger than the limit of 1048576 bytes (1 MiB)`,
      );
    },
  );
});
