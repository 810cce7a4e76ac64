/** One command's errors as exit codes: usage 2, failure 1; stack traces only when debugging. */

import { commandName, UsageError } from "./args.ts";
import { printErr } from "./progress.ts";

/**
 * Runs one command's body and turns what it throws into an exit code: a UsageError is one
 * line with a pointer to the command's help (exit 2); anything else one line (exit 1), with
 * the stack trace only when POSEKIT_DEBUG=1.
 */
export async function runCommand(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      const hint = command ? ` (see "${commandName(command)} --help")` : "";
      printErr(`posekit: ${error.message}${hint}\n`);
      return 2;
    }
    if (debugEnabled()) console.error(error);
    else {
      const message = error instanceof Error ? error.message : String(error);
      printErr(`posekit: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    }
    return 1;
  }
}

/**
 * POSEKIT_DEBUG=1 shows stack traces. It is read only where env access is granted (asking
 * would prompt on a terminal; the merge task runs without --allow-env).
 */
function debugEnabled(): boolean {
  const permission = Deno.permissions.querySync({ name: "env", variable: "POSEKIT_DEBUG" });
  return permission.state === "granted" && Boolean(Deno.env.get("POSEKIT_DEBUG"));
}
