/** `deno task serve`: the posekit page on a local web server. */

import { startPageServer } from "../lib/deno/page_server.ts";
import { numberOption, parseCommandLine } from "./args.ts";

/** Help text of `deno task serve`. */
export const SERVE_HELP =
  `Usage: deno task serve [--port N] [--host H] [--models DIR]... [--samples DIR]

Serves the posekit page: choose or drop images, a video file or the camera, and see the poses
drawn, all computed in the browser (onnxruntime-web, WASM threads or WebGPU). Builds the page's
bundle first when a source changed. Model files are served read-only from the model folders.

  --port N        port to listen on (default 8000; 0 for any free port)
  --host H        interface to listen on (default 127.0.0.1: this machine only)
  --models DIR    look for model files here too (repeatable), as predict does
  --samples DIR   offer the JPEG/PNG images of this folder as samples`;

/** Runs the serve command until interrupted; returns the exit code. */
export async function serve(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, {
    port: { type: "string" },
    host: { type: "string" },
    models: { type: "string", multiple: true },
    samples: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const server = await startPageServer({
    hostname: (values.host as string | undefined) ?? "127.0.0.1",
    port: numberOption(
      values.port as string | undefined,
      "port",
      (n) => Number.isInteger(n) && n >= 0 && n < 65536,
    ) ?? 8000,
    modelDirs: values.models as string[] | undefined,
    samplesDir: values.samples as string | undefined,
    log: (line) => console.error(line),
  });
  console.log(`posekit page: ${server.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", () => resolve()));
  await server.close();
  return 0;
}
