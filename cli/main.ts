/**
 * posekit command line: `predict`, `eval`, `track-eval`, `merge`, `models` and `serve` (bench
 * lives in bench/).
 * Errors are printed as one clear line; stack traces only with POSEKIT_DEBUG=1.
 */

import { commandName, nearestOption, UsageError, VERSION } from "./args.ts";
import { runCommand } from "./common.ts";
import { EVAL_HELP, evaluate } from "./eval.ts";
import { merge, MERGE_HELP } from "./merge.ts";
import { models, MODELS_HELP } from "./models.ts";
import { predict, PREDICT_HELP } from "./predict.ts";
import { serve, SERVE_HELP } from "./serve.ts";
import { TRACK_EVAL_HELP, trackEval } from "./track_eval.ts";

const COMMANDS = ["predict", "eval", "track-eval", "merge", "models", "serve"];
const HELP: Record<string, string> = {
  predict: PREDICT_HELP,
  eval: EVAL_HELP,
  "track-eval": TRACK_EVAL_HELP,
  merge: MERGE_HELP,
  models: MODELS_HELP,
  serve: SERVE_HELP,
};

function usage(): string {
  return `posekit ${VERSION} — top-down multi-person 2D pose estimation

Usage:
  ${commandName("predict")} [options] <image|directory|glob|-|URL>...
  ${commandName("eval")} --gt ANNOTATIONS.json (--results RESULTS.json | --images DIR) [options]
  ${commandName("track-eval")} --gt VIDEO_GT.json --results RUN.jsonl
  ${commandName("merge")} SHARD.jsonl... --out results.json
  ${commandName("models")} [--models DIR] [--json]
  ${commandName("serve")} [--port N] [--host H] [--models DIR]... [--samples DIR]

Run "${commandName("predict")} --help" (or eval, track-eval, merge, models) for their options.`;
}

/** Runs a command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "predict":
      return await runCommand("predict", () => predict(rest));
    case "eval":
      return await runCommand("eval", () => evaluate(rest));
    case "track-eval":
      return await trackEval(rest);
    case "merge":
      return await merge(rest);
    case "models":
      return await runCommand("models", () => models(rest));
    case "serve":
      return await runCommand("serve", () => serve(rest));
    case "--version":
    case "version":
      console.log(`posekit ${VERSION}`);
      return 0;
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(HELP[rest[0]] ?? usage());
      return 0;
    default:
      return await runCommand("", () => {
        const near = nearestOption(command.replace(/^-+/, ""), COMMANDS);
        throw new UsageError(
          `unknown command "${command}"${near ? ` (did you mean ${near}?)` : ""}; ` +
            `the commands are ${COMMANDS.join(", ")}`,
        );
      });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
