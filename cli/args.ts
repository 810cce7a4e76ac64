/** Command-line options shared by predict, eval and bench (parsed with node:util parseArgs). */

import { basename } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import type { DecodeOptions } from "../lib/image/decode.ts";
import type { PipelineOptions } from "../lib/deno/pipeline.ts";
import type { BackendChoice } from "../lib/runtime/runtime.ts";
import { catalogAvailability } from "../lib/deno/models/availability.ts";
import { PRESET_NAMES, type PresetName, resolvePreset } from "../lib/models/presets.ts";
import { printErr } from "./progress.ts";
import { editDistance } from "../lib/util/edit_distance.ts";
import { findManifest, listManifests, nearestNames } from "../lib/models/catalog.ts";

/** A command-line mistake: printed as one line with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** posekit's version, from deno.json (a static import, so `deno compile` carries it). */
export const VERSION: string = (denoJson as { version?: string }).version ?? "unknown";

/** Backends `--backend` accepts. */
export const BACKEND_CHOICES = ["auto", "wasm", "webgpu", "native"] as const;

/**
 * How the user runs a command, for messages: `deno task predict` from a checkout,
 * `posekit predict` from the compiled binary.
 */
export function commandName(command: string): string {
  const executable = basename(Deno.execPath()).replace(/\.exe$/i, "");
  return executable === "deno" ? `deno task ${command}` : `${executable} ${command}`;
}

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
  "min-score": { type: "string" },
  preset: { type: "string" },
  "max-pixels": { type: "string" },
  boxes: { type: "string" },
  "box-thr": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Throughput options (predict, eval, bench). */
export const THROUGHPUT_OPTIONS = {
  workers: { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Drawing options (predict's --draw, images and videos alike). */
export const DRAW_OPTIONS = {
  "kpt-thr": { type: "string" },
  radius: { type: "string" },
  thickness: { type: "string" },
  "no-boxes": { type: "boolean" },
  labels: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** Video options (predict). */
export const VIDEO_OPTIONS = {
  every: { type: "string" },
  "no-track": { type: "boolean" },
  "det-every": { type: "string" },
  live: { type: "boolean" },
  smooth: { type: "boolean" },
  "smooth-min-cutoff": { type: "string" },
  "smooth-beta": { type: "string" },
  "smooth-d-cutoff": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** The options every command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** Help lines of every option, by name; commands list the ones they take (`optionHelp`). */
const OPTION_HELP: Record<string, string> = {
  detector: `  --detector NAME|FILE  person detector: manifest name, manifest .json or .onnx
                        (default rtmdet_nano_person)`,
  pose: `  --pose NAME|FILE      keypoint model, or an end-to-end model such as PRTR sequential
                        (default simplepose_nano_256x192)`,
  models:
    `  --models DIR          look for model files here first (repeatable); then $POSEKIT_MODELS,
                        then the per-user cache (~/.cache/posekit/models)`,
  boxes: `  --boxes FILE          take person boxes from a COCO detection results file
                        instead of running the detector`,
  "box-thr": `  --box-thr X           with --boxes: ignore boxes scoring below X (default 0)`,
  "det-thr": `  --det-thr X           detector person score threshold (default 0.3)`,
  "max-people": `  --max-people N        at most N people per image, best boxes first (default 20)`,
  "min-score":
    `  --min-score X         leave out people scoring below X (box × keypoint score; results
                        and drawings; default 0). Try 0.3 against phantom people`,
  preset: `  --preset P            fast | balanced | accurate: the best detector and keypoint pair
                        of that kind whose files are here (--detector/--pose override)`,
  "max-pixels":
    `  --max-pixels N        refuse images and video frames above N pixels (width × height),
                        before decoding
                        (default 100000000, 100 megapixels)`,
  "no-flip": `  --no-flip             no flip test (faster, slightly less accurate)`,
  dark: `  --dark                DARK sub-pixel refinement for heatmap models`,
  threads: `  --threads N           CPU threads per worker (default: cores / workers, counting the
                        cores SLURM or a container's CPU limit grants, not the node's; more
                        than those cores are cut to them)`,
  workers: `  --workers N           N worker processes, each with its own models and threads; images
                        are handed out as workers free up (default on the CPU: one per
                        granted core, at most 8 and at most one per image; on WebGPU: 1)`,
  "kpt-thr": `  --kpt-thr X           draw keypoints scoring at least X (default 0.3)`,
  radius: `  --radius PX           keypoint radius (default 1.5 × the thickness)`,
  thickness: `  --thickness PX        limb width (default max(2, longer image side / 320))`,
  "no-boxes": `  --no-boxes            draw no person boxes`,
  labels: `  --labels              write track id and score above each box`,
  every: `  --every N             videos: keep every N-th frame (default 1)`,
  "no-track": `  --no-track            videos: no track ids`,
  "det-every": `  --det-every K         videos: run the detector on every K-th kept frame only and
                        crop the tracked people in between (default 1)`,
  live: `  --live                cameras and streams: take the newest frame each time, drop the
                        others (counted), so latency stays bounded whatever the model's speed`,
  smooth: `  --smooth              videos: One-Euro smoothing of each track's keypoints`,
  "smooth-min-cutoff": `  --smooth-min-cutoff F One-Euro minimum cutoff in Hz (default 1)`,
  "smooth-beta": `  --smooth-beta B       One-Euro speed coefficient, per px/s (default 0.007)`,
  "smooth-d-cutoff": `  --smooth-d-cutoff F   One-Euro derivative cutoff in Hz (default 1)`,
  backend: `  --backend B           auto | wasm | webgpu | native (default auto)`,
  help: `  -h, --help            this help`,
  version: `  --version             posekit's version`,
};

/** The help lines of `names`, in that order (unknown names are skipped). */
export function optionHelp(names: readonly string[]): string {
  return names.filter((name) => OPTION_HELP[name]).map((name) => OPTION_HELP[name]).join("\n");
}

/** Help text for the pipeline options, `exclude`d ones left out. */
export function pipelineHelp(exclude: readonly string[] = []): string {
  const names = Object.keys(PIPELINE_OPTIONS).filter((name) => !exclude.includes(name));
  return `Models and pipeline:\n${optionHelp(names)}`;
}

/** Help text for all the pipeline options. */
export const PIPELINE_HELP: string = pipelineHelp();

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
 * Other tools' names for posekit's options (Ultralytics' `conf`, mmpose's `det-thresh`, …),
 * suggested when one is given: more than spelling can find.
 */
const OPTION_ALIASES: Readonly<Record<string, string>> = {
  "det-thresh": "det-thr",
  "det-threshold": "det-thr",
  "bbox-thr": "det-thr",
  "kpt-thresh": "kpt-thr",
  conf: "min-score",
  confidence: "min-score",
  "score-thr": "min-score",
  output: "out",
  o: "out",
  "output-dir": "draw",
  save: "draw",
  model: "pose",
  "pose-model": "pose",
  "det-model": "detector",
  device: "backend",
};

/**
 * The known option nearest to `given` (without dashes) when it is a likely typo: at most 2
 * edits, and fewer than half of its letters; or the one it is a prefix of. Else undefined.
 */
export function nearestOption(given: string, known: readonly string[]): string | undefined {
  const alias = OPTION_ALIASES[given];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(given, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  if (best !== undefined && bestDistance <= 2 && bestDistance * 2 < given.length) return best;
  const extended = known.filter((name) => given.length >= 3 && name.startsWith(given));
  return extended.length === 1 ? extended[0] : undefined;
}

/**
 * Runs parseArgs and turns its errors into one-line UsageErrors; an unknown option near a
 * known one gets "did you mean --xyz?". A negative number after an option that takes a value
 * is that value (`--det-thr -1` then says the value is invalid, where parseArgs alone would
 * call the option ambiguous).
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
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    // node's own text for this one is long and ends in an unbalanced quote.
    const unknown = code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" &&
      message.match(/^Unknown option '([^']*)'/);
    if (unknown) {
      const given = unknown[1].replace(/^-+/, "").replace(/=.*$/, "");
      const near = nearestOption(given, Object.keys(options ?? {}));
      throw new UsageError(
        `unknown option "${unknown[1]}"${near ? ` (did you mean --${near}?)` : ""}`,
      );
    }
    throw new UsageError(message.replace(/\s*\n\s*/g, " "));
  }
}

/**
 * The pipeline options given on the command line; `--preset` is resolved to the best pair of
 * its kind whose files are at hand (a line on stderr says which, unless `quiet`).
 */
export async function pipelineOptions(
  values: Record<string, string | boolean | string[] | undefined>,
  quiet = false,
): Promise<PipelineOptions> {
  const backend = ((values.backend as string | undefined) ?? "auto") as BackendChoice;
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new UsageError(
      `invalid value for --backend: "${backend}" (${BACKEND_CHOICES.join(", ")})`,
    );
  }
  const modelDirs = values.models as string[] | undefined;
  for (const dir of modelDirs ?? []) await checkModelFolder(dir);
  return {
    detector: values.detector as string | undefined,
    pose: values.pose as string | undefined,
    modelDirs,
    threads: numberOption(values.threads as string, "threads", (n) => Number.isInteger(n) && n > 0),
    flip: !values["no-flip"],
    // Without --dark a manifest's own "dark" decides.
    dark: values.dark === true ? true : undefined,
    scoreThreshold: numberOption(values["det-thr"] as string, "det-thr", (n) => n >= 0 && n <= 1),
    maxPeople: numberOption(
      values["max-people"] as string,
      "max-people",
      (n) => Number.isInteger(n) && n > 0,
    ),
    minScore: numberOption(values["min-score"] as string, "min-score", (n) => n >= 0 && n <= 1),
    backend,
    ...await presetModels(values, quiet),
  };
}

/** A `--models` folder that is missing or no folder is a usage error, not a failed download. */
async function checkModelFolder(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`--models ${dir}: no such folder`);
    }
    return; // unreadable: the model search says more
  }
  if (!info.isDirectory) throw new UsageError(`--models ${dir}: not a folder`);
}

/**
 * `name` unless it is a bare name (no path, no extension) that no catalog model has: then a
 * usage error with the nearest names, before anything is loaded.
 */
function checkModelName(name: string | undefined, option: string): string | undefined {
  if (name === undefined || /[/\\.]/.test(name) || findManifest(name)) return name;
  const near = nearestNames(name, listManifests().map((m) => m.name));
  throw new UsageError(
    `unknown model "${name}" for --${option}` +
      (near.length ? ` (did you mean ${near.join(" or ")}?)` : "") +
      `; "deno task models" lists the models, or give an .onnx or manifest .json path`,
  );
}

/** The detector and keypoint model of `--preset`, unless given explicitly. */
async function presetModels(
  values: Record<string, string | boolean | string[] | undefined>,
  quiet: boolean,
): Promise<{ detector?: string; pose?: string }> {
  const preset = values.preset as string | undefined;
  const given = {
    detector: checkModelName(values.detector as string | undefined, "detector"),
    pose: checkModelName(values.pose as string | undefined, "pose"),
  };
  if (preset === undefined) return given;
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    const near = nearestOption(preset, PRESET_NAMES);
    throw new UsageError(
      `unknown preset "${preset}"${near ? ` (did you mean ${near}?)` : ""}; ` +
        `the presets are ${PRESET_NAMES.join(", ")}`,
    );
  }
  const rows = await catalogAvailability({ modelDirs: values.models as string[] | undefined });
  const status = new Map(rows.map((row) => [row.name, row.status]));
  const pair = resolvePreset(preset as PresetName, (name) => status.get(name) ?? "missing");
  if (!pair) {
    throw new UsageError(`no model pair of --preset ${preset} is here or can be downloaded`);
  }
  const chosen = { detector: given.detector ?? pair.detector, pose: given.pose ?? pair.pose };
  if (!quiet) printErr(`posekit: --preset ${preset}: ${chosen.detector} + ${chosen.pose}\n`);
  return chosen;
}

/** `--workers N`, or undefined for the default (see `planWorkers` in cli/common.ts). */
export function workersOption(
  values: Record<string, string | boolean | string[] | undefined>,
): number | undefined {
  return numberOption(values.workers as string, "workers", (n) => Number.isInteger(n) && n > 0);
}

const positive = (n: number) => Number.isFinite(n) && n > 0;
const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;

/** The drawing style given on the command line. */
export function drawStyle(values: Record<string, string | boolean | string[] | undefined>) {
  return {
    keypointThreshold: numberOption(values["kpt-thr"] as string, "kpt-thr", (n) => n >= 0),
    keypointRadius: numberOption(values.radius as string, "radius", positive),
    lineWidth: numberOption(values.thickness as string, "thickness", positive),
    boxes: !values["no-boxes"],
    labels: values.labels === true,
  };
}

/** The video settings given on the command line. */
export function videoSettings(values: Record<string, string | boolean | string[] | undefined>) {
  const filter = {
    minCutoff: numberOption(values["smooth-min-cutoff"] as string, "smooth-min-cutoff", positive),
    beta: numberOption(values["smooth-beta"] as string, "smooth-beta", (n) => n >= 0),
    dCutoff: numberOption(values["smooth-d-cutoff"] as string, "smooth-d-cutoff", positive),
  };
  const tuned = Object.values(filter).some((v) => v !== undefined);
  if (tuned && !values.smooth) throw new UsageError("the --smooth-* options need --smooth");
  if (values.smooth && values["no-track"]) {
    throw new UsageError("--smooth filters each track: leave out --no-track");
  }
  const detectEvery = numberOption(values["det-every"] as string, "det-every", positiveInteger);
  if (detectEvery !== undefined && detectEvery > 1 && values["no-track"]) {
    throw new UsageError("--det-every needs tracking (leave out --no-track)");
  }
  return {
    every: numberOption(values.every as string, "every", positiveInteger),
    track: !values["no-track"],
    smooth: values.smooth
      ? Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined))
      : false,
    detectEvery,
    live: values.live === true,
  };
}

/** The image decoding options given on the command line (`--max-pixels`). */
export function decodeOptions(
  values: Record<string, string | boolean | string[] | undefined>,
): DecodeOptions {
  const maxPixels = numberOption(
    values["max-pixels"] as string,
    "max-pixels",
    (n) => Number.isInteger(n) && n > 0,
  );
  return maxPixels === undefined ? {} : { maxPixels };
}
