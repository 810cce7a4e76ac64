/**
 * Bundles a browser entry point (TypeScript and its local imports) into one ES module with
 * esbuild, so the pages can use the library's code without a build step of their own.
 *
 * onnxruntime-web stays external by default: the page loads the library's own dist files at
 * run time (they also carry the WebAssembly and worker files it loads); only its types are
 * imported by the bundled code.
 */

import * as esbuild from "npm:esbuild@0.28.2";
import { join } from "node:path";

/** Options of {@link bundleWeb}. */
export interface BundleWebOptions {
  /** Entry module, e.g. `web/main.ts`. */
  entry: string;
  /** Output file; the source map goes beside it as `<outFile>.map`. */
  outFile: string;
  /** Packages left as imports, not bundled; `["onnxruntime-web"]` by default. */
  external?: string[];
}

/**
 * Writes `outFile` (ES2022, ES module, not minified, linked source map) from `entry` and returns
 * its path. esbuild's service is stopped afterwards, since a running one keeps Deno from
 * exiting; a later call starts it again.
 *
 * @throws an Error naming the entry with esbuild's messages when the build fails.
 */
export async function bundleWeb(options: BundleWebOptions): Promise<string> {
  const { entry, outFile, external = ["onnxruntime-web"] } = options;
  try {
    await esbuild.build({
      entryPoints: [entry],
      outfile: outFile,
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "es2022",
      sourcemap: "linked",
      minify: false,
      external,
      plugins: [npmSpecifiers(external)],
      logLevel: "silent",
    });
  } catch (error) {
    const messages = (error as { errors?: esbuild.Message[] }).errors;
    const detail = messages?.length
      ? messages.map(formatMessage).join("\n")
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`bundleWeb: bundling ${entry} failed:\n${detail}`, { cause: error });
  } finally {
    await esbuild.stop();
  }
  return outFile;
}

function formatMessage(message: esbuild.Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column}: `
    : "";
  return `  ${where}${message.text}`;
}

/**
 * True when `outFile` is missing or older than any `.ts` file under `sourceDirs` (searched
 * recursively, node_modules and symlinked folders skipped), so a server rebuilds only when a
 * source changed.
 */
export async function bundleIsStale(sourceDirs: string[], outFile: string): Promise<boolean> {
  let built: number;
  try {
    built = (await Deno.stat(outFile)).mtime?.getTime() ?? 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
  for (const dir of sourceDirs) {
    if (await newerTsUnder(dir, built)) return true;
  }
  return false;
}

async function newerTsUnder(dir: string, since: number): Promise<boolean> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (entry.name !== "node_modules" && await newerTsUnder(path, since)) return true;
    } else if (entry.name.endsWith(".ts")) {
      let mtime: number;
      try {
        mtime = (await Deno.stat(path)).mtime?.getTime() ?? Infinity;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // a dangling symlink
        throw error;
      }
      if (mtime > since) return true;
    }
  }
  return false;
}

/**
 * Lets esbuild follow the core's `npm:name@version/sub` imports (Deno's form, so that posekit
 * imports from any folder): to `name/sub` in node_modules, or left as an import of `name/sub`
 * when `name` is external.
 */
export function npmSpecifiers(external: string[] = []): esbuild.Plugin {
  return {
    name: "npm-specifiers",
    setup(build) {
      build.onResolve({ filter: /^npm:/ }, (args) => {
        const m = /^npm:(@[^/]+\/[^@/]+|[^@/]+)(?:@[^/]+)?(\/.*)?$/.exec(args.path);
        if (!m) return { errors: [{ text: `bad npm: specifier ${args.path}` }] };
        const bare = m[1] + (m[2] ?? "");
        if (external.includes(m[1])) return { path: bare, external: true };
        return build.resolve(bare, { kind: args.kind, resolveDir: args.resolveDir });
      });
    },
  };
}
