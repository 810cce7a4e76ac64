/**
 * The web server that serves the browser pages, and the bundler that builds them.
 *
 * - Paths: nothing outside a mount is served, whatever the encoding (requests are written on a
 *   raw TCP connection, since fetch would resolve `..` before sending), nor through symlinks.
 * - Threads: in headless Chromium, onnxruntime-web runs a tiny model with 2 WebAssembly threads
 *   only when the page is cross-origin isolated. Without the COOP/COEP headers it still gives
 *   the right answer, but silently on 1 thread (`SharedArrayBuffer` is missing, so it resets
 *   `ort.env.wasm.numThreads` to 1 and starts no pthread worker, with only a console warning),
 *   so the test serves the page both ways and checks that the two can be told apart.
 * - Bundling: a TypeScript entry with a local import becomes one module that runs in Chromium.
 *
 * The browser tests are ignored when Chromium is missing outside CI (tests/support/chromium.ts).
 */

import type { Browser } from "puppeteer-core";
import { join, resolve } from "node:path";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { chromiumAvailable, withChromium } from "./support/chromium.ts";
import { serveWeb, type WebServer } from "../lib/deno/web_server.ts";
import { bundleIsStale, bundleWeb } from "../lib/deno/bundle.ts";
import { doublingModel } from "../lib/runtime/onnx_rewrite.ts";

const ORT_DIST = resolve(import.meta.dirname!, "..", "node_modules", "onnxruntime-web", "dist");
const ISOLATION_HEADERS = [
  ["cross-origin-opener-policy", "same-origin"],
  ["cross-origin-embedder-policy", "require-corp"],
  ["cross-origin-resource-policy", "same-origin"],
];

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "posekit_web_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with a server, stopped afterwards. */
async function withServer<T>(
  options: Parameters<typeof serveWeb>[0],
  fn: (server: WebServer) => Promise<T>,
): Promise<T> {
  const server = await serveWeb(options);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Sends `METHOD path` exactly as written (no URL resolution) and returns the status code. */
async function rawStatus(port: number, path: string, method = "GET"): Promise<number> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(
    new TextEncoder().encode(`${method} ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`),
  );
  const reply = await new Response(connection.readable).text();
  return Number(reply.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
}

function assertCommonHeaders(response: Response, what: string): void {
  for (const [name, value] of [...ISOLATION_HEADERS, ["x-content-type-options", "nosniff"]]) {
    assertEquals(response.headers.get(name), value, `${what}: ${name}`);
  }
}

Deno.test("web server: serves only inside its mounts, GET and HEAD, with isolation headers", async () => {
  await withTempDir(async (dir) => {
    const site = join(dir, "site");
    await Deno.mkdir(join(site, "empty"), { recursive: true });
    await Deno.writeTextFile(join(dir, "deno.json"), "{}\n"); // beside the mount: must stay unseen
    await Deno.writeTextFile(join(site, "index.html"), "<p>home</p>\n");
    await Deno.symlink(join(dir, "deno.json"), join(site, "leak.json"));
    await Deno.symlink(join(site, "index.html"), join(site, "alias.html"));

    await withServer({
      mounts: [{ prefix: "/", dir: site }, { prefix: "/ort", dir: ORT_DIST }],
      routes: { "/api/hello.json": () => Response.json({ hello: 1 }) },
    }, async (server) => {
      for (
        const path of [
          "/../deno.json",
          "/%2e%2e/deno.json",
          "/%2E%2E%2Fdeno.json",
          "/..%5cdeno.json",
          "/ort/../../site/index.html",
          "/index.html%00",
          "/%zz",
          "/leak.json", // a symlink inside the mount to a file outside it
          "/empty", // folders are not listed
          "/empty/", // … nor is there an index.html
          "/missing.js",
        ]
      ) {
        assertEquals(await rawStatus(server.port, path), 404, path);
      }
      assertEquals(await rawStatus(server.port, "/index.html"), 200);
      assertEquals(await rawStatus(server.port, "/alias.html"), 200, "symlink within the mount");

      const home = await fetch(server.url);
      assertEquals(await home.text(), "<p>home</p>\n");
      assertEquals(home.headers.get("content-type"), "text/html; charset=utf-8");
      assertCommonHeaders(home, "/");

      const post = await fetch(server.url, { method: "POST", body: "x" });
      await post.body?.cancel();
      assertEquals(post.status, 405);
      assertCommonHeaders(post, "POST");

      const wasmPath = "ort/ort-wasm-simd-threaded.wasm";
      const wasm = await fetch(server.url + wasmPath);
      const wasmBytes = new Uint8Array(await wasm.arrayBuffer());
      assertEquals(wasm.headers.get("content-type"), "application/wasm");
      assertCommonHeaders(wasm, wasmPath);
      assertEquals(wasmBytes.length, (await Deno.stat(join(ORT_DIST, wasmPath.slice(4)))).size);
      assertEquals([...wasmBytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]); // "\0asm"

      const head = await fetch(server.url + wasmPath, { method: "HEAD" });
      assertEquals(head.status, 200);
      assertEquals(head.headers.get("content-length"), String(wasmBytes.length));
      assertEquals(await head.text(), "");

      const route = await fetch(server.url + "api/hello.json");
      assertEquals(await route.json(), { hello: 1 });
      assertCommonHeaders(route, "route");
    });

    await withServer({ mounts: [{ prefix: "/", dir: site }], isolation: false }, async (server) => {
      const home = await fetch(server.url);
      await home.body?.cancel();
      assertEquals(home.headers.get("cross-origin-opener-policy"), null);
      assertEquals(home.headers.get("x-content-type-options"), "nosniff");
    });
  });
});

/**
 * The test page: counts the Workers the page starts (onnxruntime-web's pthreads are module
 * workers running its ort-wasm-*.mjs), runs the doubling model with `numThreads = 2` and leaves
 * what happened in `window.result`, then sets `data-status`.
 */
const ORT_PAGE = `<!doctype html>
<html>
<head>
<link rel="icon" href="data:,">
<script>
  window.workerUrls = [];
  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(url, options) {
      super(url, options);
      window.workerUrls.push(String(url));
    }
  };
</script>
<script type="importmap">{"imports": {"onnxruntime-web": "/ort/ort.webgpu.min.mjs"}}</script>
<script type="module">
  import * as ort from "onnxruntime-web";
  try {
    ort.env.wasm.wasmPaths = "/ort/";
    ort.env.wasm.numThreads = 2;
    const bytes = new Uint8Array(await (await fetch("/tiny.onnx")).arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const input = new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4]), [4]);
    const { y } = await session.run({ x: input });
    window.result = {
      crossOriginIsolated,
      output: Array.from(y.data),
      numThreads: ort.env.wasm.numThreads,
      workers: window.workerUrls,
    };
    document.body.dataset.status = "done";
  } catch (error) {
    window.result = { error: String(error) };
    document.body.dataset.status = "error";
  }
</script>
</head>
<body></body>
</html>
`;

interface OrtPageResult {
  crossOriginIsolated: boolean;
  output: number[];
  numThreads: number;
  workers: string[];
  warnings: string[];
}

async function runOrtPage(browser: Browser, url: string): Promise<OrtPageResult> {
  const page = await browser.newPage();
  try {
    const warnings: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "warn") warnings.push(message.text());
    });
    await page.goto(url);
    await page.waitForSelector("body[data-status]", { timeout: 60_000 });
    const result = await page.evaluate(() => (globalThis as { result?: unknown }).result);
    if (!result || typeof result !== "object" || "error" in result) {
      throw new Error(`the page failed: ${JSON.stringify(result)}`);
    }
    return { ...(result as Omit<OrtPageResult, "warnings">), warnings };
  } finally {
    await page.close();
  }
}

Deno.test({
  name: "web server: onnxruntime-web runs 2 WebAssembly threads in Chromium only when isolated",
  ignore: !chromiumAvailable(),
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(join(dir, "index.html"), ORT_PAGE);
      const model = doublingModel();
      const options = (isolation: boolean) => ({
        isolation,
        mounts: [{ prefix: "/", dir }, { prefix: "/ort/", dir: ORT_DIST }],
        routes: { "/tiny.onnx": () => new Response(model.slice()) },
      });
      await withChromium(async (browser) => {
        const isolated = await withServer(options(true), (s) => runOrtPage(browser, s.url));
        const plain = await withServer(options(false), (s) => runOrtPage(browser, s.url));

        assertEquals(isolated.crossOriginIsolated, true);
        assertEquals(isolated.output, [2, 4, 6, 8]);
        assertEquals(isolated.numThreads, 2, "ort.env.wasm.numThreads after the session");
        // Emscripten starts numThreads - 1 pthread workers, on the ort-wasm-*.mjs file.
        assertEquals(isolated.workers.length, 1, `workers: ${isolated.workers}`);
        assert(/\/ort\/ort-wasm-simd-threaded[.\w]*\.mjs$/.test(isolated.workers[0]));
        assertEquals(isolated.warnings, []);

        assertEquals(plain.crossOriginIsolated, false);
        assertEquals(plain.output, [2, 4, 6, 8], "right answer, on one thread");
        assertEquals(plain.numThreads, 1, "ort resets numThreads when it cannot use threads");
        assertEquals(plain.workers, []);
        assert(
          plain.warnings.some((w) => w.includes("Falling back to single-threading")),
          `warnings: ${plain.warnings}`,
        );
      });
    });
  },
});

Deno.test("bundler: one ES module with onnxruntime-web external, rebuilt only when stale", async () => {
  await withTempDir(async (dir) => {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await Deno.writeTextFile(
      join(src, "entry.ts"),
      'import * as ort from "onnxruntime-web";\n' + "export const env: unknown = ort.env;\n",
    );
    const outFile = join(dir, "out", "entry.js");
    assert(await bundleIsStale([src], outFile), "stale while missing");
    assertEquals(await bundleWeb({ entry: join(src, "entry.ts"), outFile }), outFile);
    const code = await Deno.readTextFile(outFile);
    assert(/from "onnxruntime-web"/.test(code), `onnxruntime-web left external:\n${code}`);
    assert(code.includes("//# sourceMappingURL=entry.js.map"));
    await Deno.stat(outFile + ".map");
    assertEquals(await bundleIsStale([src], outFile), false);
    const later = new Date(Date.now() + 60_000);
    await Deno.utime(join(src, "entry.ts"), later, later);
    assertEquals(await bundleIsStale([src], outFile), true, "stale after a source changed");

    // (an import that is used: esbuild drops unused ones, as they may be types)
    await Deno.writeTextFile(
      join(src, "broken.ts"),
      'import { x } from "./nowhere.ts";\nconsole.log(x);\n',
    );
    const error = await assertRejects(
      () => bundleWeb({ entry: join(src, "broken.ts"), outFile: join(dir, "out", "b.js") }),
    );
    assert(error.message.includes(join(src, "broken.ts")), error.message);
    assert(error.message.includes('Could not resolve "./nowhere.ts"'), error.message);
  });
});

Deno.test({
  name: "bundler: a TypeScript entry with a local import runs in Chromium",
  ignore: !chromiumAvailable(),
  fn: async () => {
    await withTempDir(async (dir) => {
      const src = join(dir, "src");
      const site = join(dir, "site");
      await Deno.mkdir(src);
      await Deno.mkdir(site);
      await Deno.writeTextFile(
        join(src, "double.ts"),
        "export function double(x: number): number {\n  return 2 * x;\n}\n",
      );
      await Deno.writeTextFile(
        join(src, "entry.ts"),
        'import { double } from "./double.ts";\n' +
          "const values: number[] = [1, 2, 3].map(double);\n" +
          'document.body.dataset.status = values.join(",");\n',
      );
      await Deno.writeTextFile(
        join(site, "index.html"),
        '<!doctype html><link rel="icon" href="data:,"><body>' +
          '<script type="module" src="/app.js" onerror="document.body.dataset.status=\'error\'">' +
          "</script></body>\n",
      );
      await bundleWeb({ entry: join(src, "entry.ts"), outFile: join(site, "app.js") });
      const status = await withServer(
        { mounts: [{ prefix: "/", dir: site }] },
        (server) =>
          withChromium(async (browser) => {
            const page = await browser.newPage();
            await page.goto(server.url);
            await page.waitForSelector("body[data-status]", { timeout: 30_000 });
            return await page.evaluate("document.body.dataset.status");
          }),
      );
      assertEquals(status, "2,4,6");
    });
  },
});
