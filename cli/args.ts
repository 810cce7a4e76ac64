/** Command-line options shared by predict, eval and bench (parsed with node:util parseArgs). */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { PipelineOptions } from "../lib/pipeline.ts";
import type { BackendChoice } from "../lib/runtime.ts";

/** A command-line mistake: printed as one line with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** Options of the pipeline, as `parseArgs` options. */
export const PIPELINE_OPTIONS = {
  detector: { type: "string" },
  pose: { type: "string" },
  models: { type: "string", multiple: true },
  threads: { type: "string" },
  backend: { type: "string" },
  "no-flip": { type: "boolean" },
  dark: { type: "boolean" },
  "det-thr": { type: "string" },
  "max-people": { type: "string" },
  boxes: { type: "string" },
  "box-thr": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Help text for the pipeline options (shared by the commands' help). */
export const PIPELINE_HELP = `Models and pipeline:
  --detector NAME|FILE  person detector: manifest name, manifest .json or .onnx
                        (default rtmdet_nano_person)
  --pose NAME|FILE      keypoint model, or an end-to-end model such as PRTR sequential
                        (default simplepose_nano_256x192)
  --models DIR          look for model files here first (repeatable); then $POSEKIT_MODELS,
                        then the per-user cache (~/.cache/posekit/models)
  --boxes FILE          take person boxes from a COCO detection results file
                        instead of running the detector
  --box-thr X           with --boxes: ignore boxes scoring below X (default 0)
  --det-thr X           detector person score threshold (default 0.3)
  --max-people N        at most N people per image, best boxes first (default 20)
  --no-flip             no flip test (faster, slightly less accurate)
  --dark                DARK sub-pixel refinement for heatmap models
  --threads N           WASM threads (default: CPU cores)
  --backend B           auto | wasm | webgpu (default auto)`;

/** Parses a number option; errors name the option. */
export function numberOption(
  value: string | undefined,
  name: string,
  check: (n: number) => boolean = Number.isFinite,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !check(n)) {
    throw new UsageError(`invalid value for --${name}: "${value}"`);
  }
  return n;
}

/**
 * Runs parseArgs and turns its errors into one-line UsageErrors. A negative number after an
 * option that takes a value is that value (`--det-thr -1` then says the value is invalid,
 * where parseArgs alone would call the option ambiguous).
 */
export function parseCommandLine<T extends ParseArgsConfig["options"]>(
  args: string[],
  options: T,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") {
      joined.push(...args.slice(i));
      break;
    }
    const name = args[i].startsWith("--") && !args[i].includes("=") ? args[i].slice(2) : "";
    const next = args[i + 1];
    if (options?.[name]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  try {
    const { values, positionals } = parseArgs({
      args: joined,
      options,
      allowPositionals: true,
      strict: true,
    });
    return {
      values: values as Record<string, string | boolean | string[] | undefined>,
      positionals,
    };
  } catch (error) {
    // node's own text for this one is long and ends in an unbalanced quote.
    const unknown = (error as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" &&
      (error as Error).message.match(/^Unknown option '([^']*)'/);
    throw new UsageError(
      unknown
        ? `unknown option "${unknown[1]}"`
        : (error as Error).message.replace(/\s*\n\s*/g, " "),
    );
  }
}

/** The pipeline options given on the command line. */
export function pipelineOptions(
  values: Record<string, string | boolean | string[] | undefined>,
): PipelineOptions {
  const backend = ((values.backend as string | undefined) ?? "auto") as BackendChoice;
  if (!["auto", "wasm", "webgpu"].includes(backend)) {
    throw new UsageError(`invalid value for --backend: "${backend}" (auto, wasm or webgpu)`);
  }
  return {
    detector: values.detector as string | undefined,
    pose: values.pose as string | undefined,
    modelDirs: values.models as string[] | undefined,
    threads: numberOption(values.threads as string, "threads", (n) => Number.isInteger(n) && n > 0),
    flip: !values["no-flip"],
    dark: values.dark === true,
    scoreThreshold: numberOption(values["det-thr"] as string, "det-thr", (n) => n >= 0 && n <= 1),
    maxPeople: numberOption(
      values["max-people"] as string,
      "max-people",
      (n) => Number.isInteger(n) && n > 0,
    ),
    backend,
  };
}
