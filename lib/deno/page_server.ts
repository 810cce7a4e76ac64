/**
 * The posekit page's server (`deno task serve`): bundles `web/app.ts` when a source changed,
 * and serves the page, onnxruntime-web's dist files, the image decoders' WebAssembly, the
 * catalog models found in the model folders (read-only) and optional sample images, all with
 * the cross-origin isolation headers that WebAssembly threads need.
 */

import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isImageFileName } from "./inputs.ts";
import { findManifest } from "../models/catalog.ts";
import { bundleIsStale, bundleWeb } from "./bundle.ts";
import { catalogAvailability } from "./models/availability.ts";
import {
  fileResponse,
  serveWeb,
  type WebMount,
  type WebRoute,
  type WebServer,
} from "./web_server.ts";

/** Options of `startPageServer`. */
export interface PageServerOptions {
  /** Interface to listen on; default 127.0.0.1 (nothing exposed to the network). */
  hostname?: string;
  /** Port; 0 (the default) takes a free one. */
  port?: number;
  /** Folders searched for catalog model files, as `predict --models` (plus the usual ones). */
  modelDirs?: string[];
  /** A folder of JPEG/PNG images the page offers as samples. */
  samplesDir?: string;
  /** Called with a line for the user (bundling, what is served). */
  log?: (line: string) => void;
}

const ROOT = fromFileUrl(new URL("../../", import.meta.url));

/** The page's folder and its bundle, which `web/dist/` holds (ignored by git). */
export const WEB_DIR: string = join(ROOT, "web");
const BUNDLE = join(WEB_DIR, "dist", "app.js");
/** The page's pipeline worker (decoding and models, off the page's thread), bundled beside it. */
const WORKER_BUNDLE = join(WEB_DIR, "dist", "pipeline_worker.js");

/** Bundles the page when its bundle is missing or older than a source file. */
export async function buildPage(log: (line: string) => void = () => {}): Promise<string> {
  // The bundle inlines core.ts and lib/ (any .ts there) and the decoders' glue from the npm
  // packages that deno.json and deno.lock pin.
  const newer = async (file: string) =>
    (await Deno.stat(join(ROOT, file)).then((s) => s.mtime, () => null) ?? 0) >
      ((await Deno.stat(BUNDLE).then((s) => s.mtime, () => null)) ?? Infinity);
  const changed = await bundleIsStale([WEB_DIR, join(ROOT, "lib")], BUNDLE) ||
    await newer("core.ts") || await newer("deno.json") || await newer("deno.lock") ||
    !await Deno.stat(WORKER_BUNDLE).then(() => true, () => false);
  if (changed) {
    log(
      `bundling ${join("web", "app.ts")} and ${join("web", "pipeline_worker.ts")} → ` +
        join("web", "dist"),
    );
    // The worker first: a page bundle newer than a missing or stale worker would not rebuild.
    await bundleWeb({ entry: join(WEB_DIR, "pipeline_worker.ts"), outFile: WORKER_BUNDLE });
    await bundleWeb({ entry: join(WEB_DIR, "app.ts"), outFile: BUNDLE });
  }
  return BUNDLE;
}

/** Starts the page's server; `close()` stops it. */
export async function startPageServer(options: PageServerOptions = {}): Promise<WebServer> {
  const log = options.log ?? (() => {});
  if (!await Deno.stat(join(WEB_DIR, "index.html")).then(() => true, () => false)) {
    throw new Error(
      `the page's files are not in ${WEB_DIR}: run deno task serve from a posekit checkout`,
    );
  }
  await buildPage(log);
  const rows = await catalogAvailability({ modelDirs: options.modelDirs });
  const present = rows.filter((row) => row.status === "present" && row.foundIn);
  const dirs = [...new Set(present.map((row) => row.foundIn!))];
  const models = present.map((row) => {
    const manifest = findManifest(row.name)!;
    return {
      name: row.name,
      task: row.task,
      url: `/models/${dirs.indexOf(row.foundIn!)}/${encodeURIComponent(manifest.file)}`,
      manifest,
    };
  });
  const samples: { name: string; url: string }[] = [];
  if (options.samplesDir) {
    for await (const entry of Deno.readDir(options.samplesDir)) {
      if (entry.isFile && isImageFileName(entry.name)) {
        samples.push({ name: entry.name, url: `/samples/${encodeURIComponent(entry.name)}` });
      }
    }
    samples.sort((a, b) => a.name < b.name ? -1 : 1);
  }
  const node = (path: string) => fromFileUrl(new URL(import.meta.resolve(path)));
  const mounts: WebMount[] = [
    { prefix: "/", dir: WEB_DIR },
    {
      prefix: "/ort/",
      dir: node("onnxruntime-web/ort-wasm-simd-threaded.wasm").replace(/[^/]+$/, ""),
    },
    {
      prefix: "/vendor/jsquash/",
      dir: node("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm").replace(/[^/]+$/, ""),
    },
    {
      prefix: "/vendor/imagescript/",
      dir: node("imagescript/wasm/any/png.wasm").replace(/[^/]+$/, ""),
    },
  ];
  const catalog = JSON.stringify({ models, samples });
  // The model and sample folders are not mounted: each catalog model file and each listed
  // image is one exact route, so nothing else in those folders is ever served.
  const file = (path: string): WebRoute => (request) =>
    fileResponse(path, request.method === "HEAD");
  const routes: Record<string, WebRoute> = {
    "/api/models.json": () =>
      new Response(catalog, { headers: { "content-type": "application/json" } }),
  };
  for (const row of present) {
    const manifest = findManifest(row.name)!;
    routes[`/models/${dirs.indexOf(row.foundIn!)}/${encodeURIComponent(manifest.file)}`] = file(
      join(row.foundIn!, manifest.file),
    );
  }
  for (const sample of samples) routes[sample.url] = file(join(options.samplesDir!, sample.name));
  const server = await serveWeb({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    mounts,
    routes,
  });
  if (models.length === 0) {
    log(
      "no model files found: pass --models DIR, or run deno task predict once (it downloads " +
        "the default models)",
    );
  }
  log(
    `serving ${models.length} models (${models.map((m) => m.name).join(", ") || "none"})` +
      (samples.length ? ` and ${samples.length} sample images` : "") + ` at ${server.url}`,
  );
  return server;
}
