/**
 * Runs the posekit command line (`cli/main.ts`) as a separate process, the way a user does, and
 * captures what it prints, so that tests can check exit codes and both output streams.
 */

import { join, resolve } from "node:path";

/** The repository root (the folder holding `cli/`). */
export const REPO_DIR: string = resolve(import.meta.dirname!, "..", "..");

/** Path of the command-line entry point. */
export const CLI_MAIN: string = join(REPO_DIR, "cli", "main.ts");

/** What one command-line run did. */
export interface CliRun {
  /** Process exit code. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory of the process (default: this process's). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Runs `deno run ...runArgs` (permissions, script, its arguments) with `NO_COLOR=1` and returns
 * its exit code and output. stdin is closed, and stderr is a pipe rather than a terminal, so
 * no progress bar is drawn.
 */
export async function runDeno(runArgs: string[], options: CliOptions = {}): Promise<CliRun> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", ...runArgs],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Runs `deno run -A cli/main.ts ...args` (see `runDeno`). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return runDeno(["-A", CLI_MAIN, ...args], options);
}

/** True when `text` holds a JavaScript stack trace ("    at f (file.ts:1:2)" lines). */
export function hasStackTrace(text: string): boolean {
  return /^\s+at\s/m.test(text);
}

/** The lines of `text` that are not empty. */
export function nonEmptyLines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** A run's output, for assertion messages. */
export function describeRun(run: CliRun): string {
  return `exit code ${run.code}\n--- stdout ---\n${run.stdout.slice(0, 2000)}\n` +
    `--- stderr ---\n${run.stderr.slice(0, 4000)}`;
}

/** Runs `body` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "posekit_test_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
