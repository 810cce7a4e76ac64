/**
 * Model resolution: where model files are looked up and in which order, sha256 checks,
 * downloads (plain files and ZIP archive members) from a local HTTP server, and the errors a
 * user sees when something is missing or wrong.
 */

import { withTempDir } from "./support/cli.ts";
import { basename, delimiter, join, resolve } from "node:path";
import { createTemporaryFile, temporaryPathFor } from "../lib/deno/files.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { buildZip } from "./support/zip_writer.ts";
import {
  defaultCacheDir,
  modelSearchDirs,
  resolveModel,
  type ResolveOptions,
} from "../lib/deno/models/resolve.ts";

const encoder = new TextEncoder();

/** Hex sha256 with WebCrypto (independent of the node:crypto hashing under test). */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Stand-in model bytes: resolution never parses them. */
function fakeModel(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/** Writes a minimal valid manifest for `file` and returns its path. */
async function writeManifest(
  path: string,
  fields: {
    name?: string;
    file: string;
    sha256?: string;
    acceptedSha256?: string[];
    url?: string;
    member?: string;
    archiveSha256?: string;
  },
): Promise<string> {
  const manifest: Record<string, unknown> = {
    name: fields.name ?? "tiny",
    task: "keypoints",
    family: "heatmap",
    file: fields.file,
    input: {
      name: "data",
      width: 192,
      height: 256,
      colorOrder: "rgb",
      mean: [0, 0, 0],
      std: [1, 1, 1],
    },
    outputs: { heatmaps: "out" },
  };
  if (fields.sha256) manifest.sha256 = fields.sha256;
  if (fields.acceptedSha256) manifest.acceptedSha256 = fields.acceptedSha256;
  if (fields.url) manifest.url = fields.url;
  if (fields.member) {
    manifest.archive = { format: "zip", member: fields.member, sha256: fields.archiveSha256 };
  }
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(manifest));
  return path;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** A local HTTP server serving `files` by path, counting requests per path. */
function serveFiles(files: Record<string, Uint8Array>) {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const path = new URL(request.url).pathname;
      requests.push(path);
      const body = files[path];
      return body
        ? new Response(body as Uint8Array<ArrayBuffer>)
        : new Response("not found", { status: 404, statusText: "Not Found" });
    },
  );
  return {
    url: (path: string) => `http://127.0.0.1:${server.addr.port}${path}`,
    requests,
    close: () => server.shutdown(),
  };
}

/**
 * Runs `body` with `model` served at /files/tiny.onnx and, in a temporary `root`, a manifest
 * for it (its sha256 and that URL); stops the server after.
 */
async function withServedTinyModel(
  model: Uint8Array,
  body: (
    root: string,
    manifestPath: string,
    server: ReturnType<typeof serveFiles>,
  ) => Promise<void>,
): Promise<void> {
  const server = serveFiles({ "/files/tiny.onnx": model });
  try {
    await withTempDir(async (root) => {
      const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
        file: "tiny.onnx",
        sha256: await sha256Hex(model),
        url: server.url("/files/tiny.onnx"),
      });
      await body(root, manifestPath, server);
    });
  } finally {
    await server.close();
  }
}

Deno.test("model files are looked up in --models, then POSEKIT_MODELS, then the cache", async () => {
  await withTempDir(async (root) => {
    const model = fakeModel(1000, 1);
    const manifestPath = await writeManifest(join(root, "manifests", "tiny.json"), {
      file: "tiny.onnx",
      sha256: await sha256Hex(model),
    });
    const dirs = ["flag", "env1", "env2", "cache"].map((d) => join(root, d));
    for (const dir of dirs) {
      await Deno.mkdir(dir);
      await Deno.writeFile(join(dir, "tiny.onnx"), model);
    }
    const [flagDir, envDir1, envDir2, cacheDir] = dirs;
    const options: ResolveOptions = {
      modelDirs: [flagDir],
      env: { POSEKIT_MODELS: [envDir1, envDir2].join(delimiter), POSEKIT_CACHE: cacheDir },
      fetch: () => Promise.reject(new Error("no download expected")),
    };
    assertEquals(
      modelSearchDirs(options).map((d) => [d.dir, d.origin]),
      [
        [flagDir, "--models"],
        [envDir1, "POSEKIT_MODELS"],
        [envDir2, "POSEKIT_MODELS"],
        [cacheDir, "cache"],
      ],
    );

    for (const expected of dirs) {
      const resolved = await resolveModel(manifestPath, options);
      assertEquals(resolved.path, join(expected, "tiny.onnx"));
      assertEquals(resolved.manifest?.name, "tiny");
      assertEquals(resolved.downloaded, false);
      await Deno.remove(join(expected, "tiny.onnx"));
    }

    // A model beside its manifest file comes first.
    await Deno.writeFile(join(root, "manifests", "tiny.onnx"), model);
    await Deno.writeFile(join(flagDir, "tiny.onnx"), model);
    assertEquals(
      (await resolveModel(manifestPath, options)).path,
      join(root, "manifests", "tiny.onnx"),
    );
  });
});

Deno.test("the cache folder comes from POSEKIT_CACHE, XDG_CACHE_HOME, HOME or LOCALAPPDATA", () => {
  const home = resolve("/home/ada");
  assertEquals(
    defaultCacheDir({ POSEKIT_CACHE: "/c", XDG_CACHE_HOME: "/x", HOME: home }, "linux"),
    resolve("/c"),
  );
  assertEquals(
    defaultCacheDir({ XDG_CACHE_HOME: "/x", HOME: home }, "linux"),
    join("/x", "posekit", "models"),
  );
  // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
  assertEquals(
    defaultCacheDir({ XDG_CACHE_HOME: "rel", HOME: home }, "linux"),
    join(home, ".cache", "posekit", "models"),
  );
  assertEquals(
    defaultCacheDir({ HOME: home }, "darwin"),
    join(home, ".cache", "posekit", "models"),
  );
  assertEquals(
    defaultCacheDir({ LOCALAPPDATA: "/AppData/Local", HOME: home }, "windows"),
    join("/AppData/Local", "posekit", "models"),
  );
  assertEquals(defaultCacheDir({}, "linux"), undefined);
  // An explicit cacheDir option wins over the environment.
  const dirs = modelSearchDirs({ env: { POSEKIT_CACHE: "/c" }, cacheDir: "/elsewhere" });
  assertEquals(dirs, [{ dir: resolve("/elsewhere"), origin: "cache" }]);
});

Deno.test("a local file whose sha256 differs from the manifest is an error saying so", async () => {
  await withTempDir(async (root) => {
    const expected = fakeModel(500, 2);
    const wrong = fakeModel(500, 3);
    const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
      file: "tiny.onnx",
      sha256: await sha256Hex(expected),
    });
    await Deno.mkdir(join(root, "models"));
    const wrongPath = join(root, "models", "tiny.onnx");
    await Deno.writeFile(wrongPath, wrong);
    const error = await assertRejects(() =>
      resolveModel(manifestPath, { modelDirs: [join(root, "models")], env: {} })
    );
    for (const part of [wrongPath, await sha256Hex(wrong), await sha256Hex(expected), "Delete"]) {
      assert(error.message.includes(part), `"${error.message}" should mention ${part}`);
    }
  });
});

Deno.test("a local file with one of the manifest's acceptedSha256 is used as it is", async () => {
  await withTempDir(async (root) => {
    const published = fakeModel(500, 2);
    const repaired = fakeModel(500, 5);
    const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
      file: "tiny.onnx",
      sha256: await sha256Hex(published),
      acceptedSha256: [await sha256Hex(repaired)],
    });
    await Deno.mkdir(join(root, "models"));
    const path = join(root, "models", "tiny.onnx");
    await Deno.writeFile(path, repaired);
    const fetch = () => Promise.reject(new Error("no download expected"));
    const resolved = await resolveModel(manifestPath, {
      modelDirs: [join(root, "models")],
      env: {},
      fetch,
    });
    assertEquals([resolved.path, resolved.downloaded], [path, false]);
    // Any other content is still refused.
    await Deno.writeFile(path, fakeModel(500, 6));
    await assertRejects(
      () => resolveModel(manifestPath, { modelDirs: [join(root, "models")], env: {}, fetch }),
      Error,
      "does not match",
    );
  });
});

Deno.test("a missing model is downloaded into the cache once, with progress", async () => {
  const model = fakeModel(300_000, 4);
  await withServedTinyModel(model, async (root, manifestPath, server) => {
    const cacheDir = join(root, "cache");
    const progress: [number, number | undefined][] = [];
    const options: ResolveOptions = {
      env: { POSEKIT_CACHE: cacheDir },
      onProgress: (received, total) => progress.push([received, total]),
    };

    const first = await resolveModel(manifestPath, options);
    assertEquals(first.path, join(cacheDir, "tiny.onnx"));
    assertEquals(first.downloaded, true);
    assertEquals(await Deno.readFile(first.path), model);
    assertEquals(await listDir(cacheDir), ["tiny.onnx"], "no temporary files are left");
    assertEquals(server.requests, ["/files/tiny.onnx"]);
    assert(progress.length >= 2, "progress is reported as bytes arrive");
    assertEquals(progress.at(-1), [model.length, model.length]);
    for (let i = 1; i < progress.length; i++) {
      assert(progress[i][0] >= progress[i - 1][0], "received bytes never go down");
    }

    const second = await resolveModel(manifestPath, options);
    assertEquals([second.path, second.downloaded], [first.path, false]);
    assertEquals(server.requests.length, 1, "the second resolve uses the cache");
  });
});

Deno.test("a killed download's temporary files are swept by the next; a running one's are not", async () => {
  const model = fakeModel(50_000, 4);
  await withServedTinyModel(model, async (root, manifestPath) => {
    const cacheDir = join(root, "cache");
    await Deno.mkdir(cacheDir, { recursive: true });
    // A killed download's file: posekit's name for tiny.onnx, unlocked, two minutes old.
    const killed = temporaryPathFor(join(cacheDir, "tiny.onnx"));
    await Deno.writeFile(killed, new Uint8Array(1000));
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(killed, old, old);
    // A running download's file: as old, but its writer holds its lock.
    const running = await createTemporaryFile(join(cacheDir, "tiny.onnx"));
    await Deno.utime(running.path, old, old);
    try {
      const resolved = await resolveModel(manifestPath, { env: { POSEKIT_CACHE: cacheDir } });
      assertEquals(resolved.downloaded, true);
      const left = await listDir(cacheDir);
      assert(!left.includes(basename(killed)), `the killed download's file is gone: ${left}`);
      assert(left.includes(basename(running.path)), "the running download's file stays");
    } finally {
      running.file.close();
    }
  });
});

Deno.test("a download with the wrong sha256 leaves nothing in the cache", async () => {
  const served = fakeModel(2000, 5);
  const expected = fakeModel(2000, 6);
  const server = serveFiles({ "/tiny.onnx": served });
  try {
    await withTempDir(async (root) => {
      const url = server.url("/tiny.onnx");
      const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
        file: "tiny.onnx",
        sha256: await sha256Hex(expected),
        url,
      });
      const cacheDir = join(root, "cache");
      const error = await assertRejects(() => resolveModel(manifestPath, { cacheDir, env: {} }));
      for (const part of [url, await sha256Hex(served), await sha256Hex(expected)]) {
        assert(error.message.includes(part), `"${error.message}" should mention ${part}`);
      }
      assertEquals(await listDir(cacheDir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("an HTTP error names the URL and the status", async () => {
  const server = serveFiles({});
  try {
    await withTempDir(async (root) => {
      const url = server.url("/gone/tiny.onnx");
      const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
        file: "tiny.onnx",
        sha256: "0".repeat(64),
        url,
      });
      const cacheDir = join(root, "cache");
      const error = await assertRejects(() => resolveModel(manifestPath, { cacheDir, env: {} }));
      assert(error.message.includes(url), error.message);
      assert(error.message.includes("404"), error.message);
      assertEquals(await listDir(cacheDir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a model inside a ZIP archive is extracted, checked and cached", async () => {
  const model = fakeModel(120_000, 7);
  const zip = await buildZip([
    { name: "pack/", method: "store" },
    { name: "pack/readme.txt", data: encoder.encode("read me"), method: "store" },
    { name: "pack/det/end2end.onnx", data: fakeModel(5000, 8) },
    { name: "pack/pose/end2end.onnx", data: model },
  ]);
  const server = serveFiles({ "/pack.zip": zip });
  try {
    await withTempDir(async (root) => {
      const sha256 = await sha256Hex(model);
      const url = server.url("/pack.zip");
      const manifestPath = await writeManifest(join(root, "m", "pose.json"), {
        name: "pose",
        file: "pose.onnx",
        sha256,
        url,
        member: "pack/pose/end2end.onnx",
      });
      const cacheDir = join(root, "cache");
      const resolved = await resolveModel(manifestPath, { cacheDir, env: {} });
      assertEquals(resolved.path, join(cacheDir, "pose.onnx"));
      assertEquals(await Deno.readFile(resolved.path), model);
      assertEquals(await listDir(cacheDir), ["pose.onnx"], "the archive itself is not kept");

      // A member path that is not in the archive: the error lists its .onnx entries.
      const badPath = await writeManifest(join(root, "m", "bad.json"), {
        name: "bad",
        file: "bad.onnx",
        sha256,
        url,
        member: "rtmpose/end2end.onnx",
      });
      const error = await assertRejects(() => resolveModel(badPath, { cacheDir, env: {} }));
      for (const part of [url, "pack/det/end2end.onnx", "pack/pose/end2end.onnx"]) {
        assert(error.message.includes(part), `"${error.message}" should mention ${part}`);
      }
      assertEquals(await listDir(cacheDir), ["pose.onnx"]);
    });
  } finally {
    await server.close();
  }
});

/**
 * A TCP server on 127.0.0.1 that accepts and reads each request, then answers `/stalled` with
 * headers and 10 of 2000 bytes and everything else with nothing, holding every connection
 * open until `close`.
 */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.push(conn);
      const request = new Uint8Array(4096);
      const count = await conn.read(request).catch(() => null);
      const line = new TextDecoder().decode(request.subarray(0, count ?? 0)).split("\r\n")[0];
      if (line.includes("/stalled")) {
        const head = "HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n";
        await conn.write(encoder.encode(head + "0123456789")).catch(() => {});
      }
    }
  })();
  return {
    url: (path: string) => `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}${path}`,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of connections) conn.close();
    },
  };
}

Deno.test("a download from a server that never answers, or stops sending, times out", async () => {
  const server = silentServer();
  try {
    await withTempDir(async (root) => {
      const cacheDir = join(root, "cache");
      for (const [path, what] of [["/silent.onnx", "answer"], ["/stalled.onnx", "more data"]]) {
        const url = server.url(path);
        const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
          file: "tiny.onnx",
          url,
        });
        const started = performance.now();
        await assertRejects(
          () => resolveModel(manifestPath, { cacheDir, env: {}, downloadIdleTimeoutMs: 300 }),
          Error,
          `no ${what} within 0.3 s (timeout)`,
        ).then((error) => assert(error.message.includes(url), error.message));
        const seconds = (performance.now() - started) / 1000;
        assert(seconds < 5, `gave up after ${seconds.toFixed(1)} s`);
        assertEquals(await listDir(cacheDir), []);
      }
    });
  } finally {
    await server.close();
  }
});

Deno.test("a download that trickles (a byte now and then) stops when its average is too slow", async () => {
  // One byte every 50 ms: never a pause long enough for the idle timeout (300 ms), so only the
  // least average speed (1000 bytes/s, from 300 ms on) stops it; 2000 bytes would take 100 s.
  const model = fakeModel(2000, 5);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let sent = 0, timer: ReturnType<typeof setTimeout> | undefined;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) =>
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (sent === model.length) controller.close();
            else controller.enqueue(model.subarray(sent, ++sent));
            resolve();
          }, 50);
        }),
      cancel: () => clearTimeout(timer),
    });
    return new Response(body);
  });
  try {
    await withTempDir(async (root) => {
      const cacheDir = join(root, "cache");
      const url = `http://127.0.0.1:${server.addr.port}/trickle.onnx`;
      const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
        file: "tiny.onnx",
        url,
      });
      const started = performance.now();
      const error = await assertRejects(
        () =>
          resolveModel(manifestPath, {
            cacheDir,
            env: {},
            downloadIdleTimeoutMs: 300,
            minDownloadBytesPerSecond: 1000,
          }),
        Error,
        `download of ${url} failed after`,
      );
      assert(error.message.includes("slower than 1000 bytes/s on average"), error.message);
      const seconds = (performance.now() - started) / 1000;
      assert(seconds < 5, `gave up after ${seconds.toFixed(1)} s`);
      assertEquals(await listDir(cacheDir), []);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("a download larger than the limit stops with an error naming the URL", async () => {
  const model = fakeModel(2000, 3);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/declared.onnx"
        ? new Response(model as Uint8Array<ArrayBuffer>)
        // No content-length: the limit must hold while reading.
        : new Response(ReadableStream.from([model.subarray(0, 900), model.subarray(900)])),
  );
  try {
    await withTempDir(async (root) => {
      const cacheDir = join(root, "cache");
      for (
        const [path, message] of [
          ["/declared.onnx", "it announces 2000 bytes, more than the limit of 1000 bytes"],
          ["/streamed.onnx", "it is larger than the limit of 1000 bytes"],
        ]
      ) {
        const url = `http://127.0.0.1:${server.addr.port}${path}`;
        const manifestPath = await writeManifest(join(root, "m", "tiny.json"), {
          file: "tiny.onnx",
          url,
        });
        const error = await assertRejects(
          () => resolveModel(manifestPath, { cacheDir, env: {}, maxDownloadBytes: 1000 }),
          Error,
          message,
        );
        assert(error.message.includes(url), error.message);
        assertEquals(await listDir(cacheDir), []);
      }
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("a model archive: its sha256 is checked before it is opened, its inflated size capped", async () => {
  const model = fakeModel(50_000, 9);
  const good = await buildZip([{ name: "pack/pose.onnx", data: model }]);
  // 1 kB of data announcing 1 TiB (ZIP64), and 8 MiB of zeros that deflate to 8 kB.
  const huge = await buildZip(
    [{ name: "pack/pose.onnx", data: model.subarray(0, 1000), declaredSize: 2 ** 40 }],
    { zip64: true },
  );
  const bomb = await buildZip([{ name: "pack/pose.onnx", data: new Uint8Array(8 << 20) }]);
  const server = serveFiles({ "/good.zip": good, "/huge.zip": huge, "/bomb.zip": bomb });
  try {
    await withTempDir(async (root) => {
      const cacheDir = join(root, "cache");
      const sha256 = await sha256Hex(model);
      const manifest = (name: string, archiveSha256?: string) =>
        writeManifest(join(root, "m", `${name}.json`), {
          name,
          file: `${name}.onnx`,
          sha256,
          url: server.url(`/${name}.zip`),
          member: "pack/pose.onnx",
          archiveSha256,
        });
      const resolve = async (name: string, archiveSha256?: string, maxDownloadBytes?: number) => {
        const path = await manifest(name, archiveSha256);
        return await resolveModel(path, { cacheDir, env: {}, maxDownloadBytes });
      };

      // The right archive hash: extracted as before.
      const resolved = await resolve("good", await sha256Hex(good));
      assertEquals(await Deno.readFile(resolved.path), model);
      await Deno.remove(resolved.path);

      // Another archive than the manifest's: refused on its hash, never inflated.
      const expected = await sha256Hex(good);
      const wrong = await assertRejects(() => resolve("bomb", expected), Error);
      for (const part of [server.url("/bomb.zip"), await sha256Hex(bomb), expected, "not opened"]) {
        assert(wrong.message.includes(part), `"${wrong.message}" should mention ${part}`);
      }

      // Without an archive hash: a huge announced size and a bomb are clear errors too.
      const tooHuge = await assertRejects(
        () => resolve("huge"),
        Error,
        "announces 1099511627776 bytes, more than the limit of 2147483648 bytes (2 GiB)",
      );
      assert(tooHuge.message.includes(server.url("/huge.zip")), tooHuge.message);
      const bombError = await assertRejects(
        () => resolve("bomb", undefined, 1 << 20),
        Error,
        "announces 8388608 bytes, more than the limit of 1048576 bytes (1 MiB)",
      );
      assert(bombError.message.includes(server.url("/bomb.zip")), bombError.message);
      assertEquals(await listDir(cacheDir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a missing model without URL: the error lists every folder searched and the fixes", async () => {
  await withTempDir(async (root) => {
    const manifestPath = await writeManifest(join(root, "m", "tiny.json"), { file: "tiny.onnx" });
    const flagDir = join(root, "flag");
    const envDir = join(root, "env");
    const cacheDir = join(root, "cache");
    const error = await assertRejects(() =>
      resolveModel(manifestPath, {
        modelDirs: [flagDir],
        env: { POSEKIT_MODELS: envDir, XDG_CACHE_HOME: cacheDir },
      })
    );
    const message = error.message;
    const searched = [join(root, "m"), flagDir, envDir, join(cacheDir, "posekit", "models")];
    let last = -1;
    for (const dir of searched) {
      const at = message.indexOf(dir + " (");
      assert(at > last, `"${message}" should list ${dir} after the previous folder`);
      last = at;
    }
    for (const part of ["tiny.onnx", "--models", "POSEKIT_MODELS", "models/README.md"]) {
      assert(message.includes(part), `"${message}" should mention ${part}`);
    }
  });
});

Deno.test("an unknown model name lists the known ones", async () => {
  const error = await assertRejects(() => resolveModel("no_such_model", { env: {} }));
  assert(error.message.includes("yolox_nano"), error.message);
  assert(error.message.includes(".onnx"), error.message);
});

Deno.test({
  name: "catalog names and .onnx paths resolve to the shared models and their manifests",
  ignore: ignoreWithoutShared("models", "yolox_nano.onnx"),
  async fn() {
    const sharedModels = requireShared("models");
    const noDownload: ResolveOptions = {
      env: {},
      fetch: () => Promise.reject(new Error("no download expected")),
    };
    const byName = await resolveModel("yolox_nano", { ...noDownload, modelDirs: [sharedModels] });
    assertEquals(byName.path, join(sharedModels, "yolox_nano.onnx"));
    assertEquals(byName.manifest?.family, "yolox");

    // An .onnx path with a catalog file name and the catalog's hash gets the catalog manifest.
    const byPath = await resolveModel(join(sharedModels, "rtmdet_nano_person.onnx"), noDownload);
    assertEquals(byPath.manifest?.name, "rtmdet_nano_person");

    // A bare file name is also looked up in the model folders.
    const bare = await resolveModel("simplepose_nano_256x192.onnx", {
      ...noDownload,
      modelDirs: [sharedModels],
    });
    assertEquals(bare.path, join(sharedModels, "simplepose_nano_256x192.onnx"));
    assertEquals(bare.manifest?.name, "simplepose_nano_256x192");
    // That file is the repaired export: not the manifest's sha256 (the authors' legacy file),
    // one of its acceptedSha256, so the catalog name finds it without a download too.
    const manifest = bare.manifest!;
    const repairedHash = await sha256Hex(await Deno.readFile(bare.path));
    assert(repairedHash !== manifest.sha256 && manifest.acceptedSha256?.includes(repairedHash));
    const defaultPose = await resolveModel("simplepose_nano_256x192", {
      ...noDownload,
      modelDirs: [sharedModels],
    });
    assertEquals([defaultPose.path, defaultPose.downloaded], [bare.path, false]);

    // The legacy file has the manifest's sha256 but another file name: catalog manifests are
    // matched by file name, so it gets none and the caller recognizes the model.
    const legacy = await resolveModel(
      join(sharedModels, "legacy", "simplepose_nano_256x192.spatial-bn.onnx"),
      noDownload,
    );
    assertEquals(legacy.manifest, undefined);
  },
});

Deno.test(".onnx paths: a manifest beside the file wins; a same-named other model gets none", async () => {
  await withTempDir(async (root) => {
    // Same file name as a catalog model but different bytes (say, a re-export).
    const other = fakeModel(100, 9);
    const lookalike = join(root, "yolox_nano.onnx");
    await Deno.writeFile(lookalike, other);
    assertEquals((await resolveModel(lookalike, { env: {} })).manifest, undefined);

    const model = join(root, "mine.onnx");
    await Deno.writeFile(model, other);
    assertEquals((await resolveModel(model, { env: {} })).manifest, undefined);
    await writeManifest(join(root, "mine.json"), {
      name: "mine",
      file: "mine.onnx",
      sha256: await sha256Hex(other),
    });
    const withManifest = await resolveModel(model, { env: {} });
    assertEquals([withManifest.manifest?.name, withManifest.path], ["mine", model]);

    await assertRejects(
      () => resolveModel(join(root, "absent.onnx"), { env: {} }),
      Error,
      "not found",
    );
  });
});
