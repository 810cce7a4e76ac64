/**
 * A small static web server on `Deno.serve` for the browser pages and their tests.
 *
 * Why not a generic file server: the pages run onnxruntime-web with WebAssembly threads, which
 * need `crossOriginIsolated` (COOP and COEP headers on every response), and the server serves
 * folders such as node_modules/ and the model folders, so it must never hand out anything
 * outside them: paths are decoded once, `..`, NUL and backslashes are refused, and the real path
 * of every file (symlinks resolved) must lie inside its mount's real folder.
 */

import { extname, resolve, sep } from "node:path";

/** A URL prefix served from a folder, e.g. `{ prefix: "/ort/", dir: "node_modules/onnxruntime-web/dist" }`. */
export interface WebMount {
  /** URL path prefix; a missing leading or trailing slash is added. */
  prefix: string;
  /** Folder whose files (not listings) are served under the prefix. */
  dir: string;
}

/** A handler for one exact URL path, e.g. `"/api/models.json"`. */
export type WebRoute = (request: Request) => Response | Promise<Response>;

/** Options of {@link serveWeb}. */
export interface ServeWebOptions {
  /** Static folders; the longest matching prefix wins. */
  mounts: WebMount[];
  /** Handlers for exact paths as sent (not decoded, no query); they win over the mounts. */
  routes?: Record<string, WebRoute>;
  /** Interface to listen on; `"127.0.0.1"` by default, so nothing is exposed to the network. */
  hostname?: string;
  /** Port; 0 (the default) takes any free one, see {@link WebServer.port}. */
  port?: number;
  /**
   * Send the cross-origin isolation headers (COOP, COEP, CORP); true by default. False exists
   * only so that a test can show that WebAssembly threads depend on them.
   */
  isolation?: boolean;
}

/** A running server from {@link serveWeb}. */
export interface WebServer {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** Stops listening and waits for the requests in flight to finish. */
  close(): Promise<void>;
}

/** Content types by extension; anything else is served as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".y4m": "video/x-yuv4mpeg",
};

/** Headers that make the page cross-origin isolated, so SharedArrayBuffer (threads) exists. */
const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

interface ResolvedMount {
  prefix: string;
  /** Real path of the folder (symlinks resolved), the fence for every file under it. */
  root: string;
}

/**
 * Serves static folders and a few exact routes over HTTP, GET and HEAD only.
 *
 * Every response carries the cross-origin isolation headers (unless `isolation: false`) and
 * `X-Content-Type-Options: nosniff`. Files are streamed; folders are never listed, and a path
 * ending in `/` serves that folder's `index.html`. Anything refused or missing is a 404, so the
 * answer does not tell what exists outside the mounts.
 *
 * @throws when a mount's folder does not exist.
 */
export async function serveWeb(options: ServeWebOptions): Promise<WebServer> {
  const mounts: ResolvedMount[] = [];
  for (const mount of options.mounts) {
    let root: string;
    try {
      root = await Deno.realPath(mount.dir);
    } catch (error) {
      throw new Error(`serveWeb: mount ${mount.prefix} → ${mount.dir}: ${error}`, { cause: error });
    }
    mounts.push({ prefix: normalizePrefix(mount.prefix), root });
  }
  mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  const routes = new Map(Object.entries(options.routes ?? {}));
  const baseHeaders: Record<string, string> = {
    ...(options.isolation === false ? {} : ISOLATION_HEADERS),
    "X-Content-Type-Options": "nosniff",
  };

  const handle = async (request: Request): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" },
      });
    }
    const pathname = rawPath(request.url);
    const route = routes.get(pathname);
    if (route) return await route(request);
    const file = await resolveFile(mounts, pathname);
    if (!file) return notFound();
    return await fileResponse(file, request.method === "HEAD");
  };

  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, async (request) => {
    let response: Response;
    try {
      response = await handle(request);
    } catch (error) {
      console.error(`serveWeb: ${request.method} ${request.url}:`, error);
      response = new Response("internal error\n", { status: 500 });
    }
    return withHeaders(response, baseHeaders, request.method === "HEAD");
  });

  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: async () => {
      await server.shutdown();
      await server.finished;
    },
  };
}

function normalizePrefix(prefix: string): string {
  let normalized = prefix.startsWith("/") ? prefix : `/${prefix}`;
  if (!normalized.endsWith("/")) normalized += "/";
  return normalized;
}

/**
 * The path of a request URL as the client sent it. Deno.serve passes the request target
 * unchanged, while `new URL()` would resolve `/../x` and `/%2e%2e/x` to `/x` and turn a
 * backslash into `/`: reading the raw path lets those be refused rather than quietly rewritten.
 */
function rawPath(url: string): string {
  const authority = url.indexOf("//");
  const start = authority < 0 ? -1 : url.indexOf("/", authority + 2);
  if (start < 0) return "/";
  const end = url.slice(start).search(/[?#]/);
  return end < 0 ? url.slice(start) : url.slice(start, start + end);
}

function notFound(): Response {
  return new Response("not found\n", {
    status: 404,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

/**
 * The real path of the file a URL path names, or undefined when it is refused or missing. The
 * path is decoded once; `..` segments, NUL, backslashes (and `:` on Windows, drive letters and
 * streams) are refused before touching the file system, and the real path must still lie
 * inside the mount, which catches symlinks that leave it.
 */
async function resolveFile(
  mounts: readonly ResolvedMount[],
  pathname: string,
): Promise<string | undefined> {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (path.includes("\0") || path.includes("\\")) return undefined;
  if (Deno.build.os === "windows" && path.includes(":")) return undefined;
  if (path.split("/").some((segment) => segment === "..")) return undefined;
  const mount = mounts.find((m) => path.startsWith(m.prefix));
  if (!mount) return undefined;
  let relative = path.slice(mount.prefix.length);
  if (relative === "" || relative.endsWith("/")) relative += "index.html";
  let real: string;
  try {
    real = await Deno.realPath(resolve(mount.root, ...relative.split("/")));
  } catch {
    return undefined;
  }
  const inside = real.startsWith(mount.root.endsWith(sep) ? mount.root : mount.root + sep);
  return inside ? real : undefined;
}

/** Streams a regular file (folders and devices are 404); the stream closes the file. */
export async function fileResponse(path: string, headOnly: boolean): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return notFound();
  }
  let size: number;
  try {
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return notFound();
    }
    size = info.size;
  } catch (error) {
    file.close();
    throw error;
  }
  if (headOnly) file.close();
  const type = CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
  return new Response(headOnly ? null : file.readable, {
    headers: { "Content-Type": type, "Content-Length": String(size) },
  });
}

/**
 * The response with the common headers added. A fresh Response, since a route may return one
 * whose headers are immutable (e.g. from `fetch`); HEAD drops the body.
 */
function withHeaders(
  response: Response,
  extra: Readonly<Record<string, string>>,
  headOnly: boolean,
): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  if (headOnly && response.body) response.body.cancel().catch(() => {});
  return new Response(headOnly ? null : response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
