/**
 * posekit command line: `predict` and `eval` (bench lives in bench/).
 * Errors are printed as one clear line; stack traces only with POSEKIT_DEBUG=1.
 */

import { UsageError } from "./args.ts";
import { EVAL_HELP, evaluate } from "./eval.ts";
import { predict, PREDICT_HELP } from "./predict.ts";
import { printErr } from "./progress.ts";

const USAGE = `posekit — top-down multi-person 2D pose estimation

Usage:
  posekit predict [options] <image|directory|glob>...
  posekit eval --gt ANNOTATIONS.json (--results RESULTS.json | --images DIR) [options]

Run "posekit <command> --help" for the options of a command.`;

/** Runs a command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "predict":
        return await predict(rest);
      case "eval":
        return await evaluate(rest);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(rest[0] === "predict" ? PREDICT_HELP : rest[0] === "eval" ? EVAL_HELP : USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const help = command === "predict" || command === "eval" ? `${command} --help` : "--help";
      printErr(`posekit: ${error.message} (see "posekit ${help}")\n`);
      return 2;
    }
    if (Deno.env.get("POSEKIT_DEBUG")) console.error(error);
    else printErr(`posekit: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
