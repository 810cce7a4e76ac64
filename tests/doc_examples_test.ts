/**
 * The API docs' examples marked ```ts ignore (those that need files, ffmpeg, models or a
 * browser page, so that `deno test --doc` neither runs nor type-checks them) still compile
 * against the API: each is written out as a module, with the package's name replaced by the
 * path of mod.ts or core.ts, and type-checked by `deno check` — page examples (those importing
 * the portable core) against the DOM library, as the page is (web/deno.dom.json). An option
 * renamed, or a method gone, fails here with the example's file and line. So do the README's
 * TypeScript examples (`deno check --doc-only`).
 */

import { join, relative } from "node:path";
import { assert } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { sourceFiles } from "./support/source_files.ts";

const ROOT = join(import.meta.dirname!, "..");

/** An ignored example: where it is, and its code. */
interface IgnoredExample {
  /** `file:line` of its opening fence. */
  where: string;
  code: string;
  /** Imports the portable core: a page example, checked with the DOM library. */
  page: boolean;
}

/** The ```ts ignore blocks of the JSDoc comments in `path`. */
function ignoredExamples(path: string, text: string): IgnoredExample[] {
  const lines = text.split("\n");
  const examples: IgnoredExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s?```ts ignore\s*$/.test(lines[i])) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*\*\s?```\s*$/.test(lines[j]); j++) {
      body.push(lines[j].replace(/^\s*\* ?/, ""));
    }
    assert(j < lines.length, `${path}:${i + 1}: an example's fence is never closed`);
    const code = body.join("\n");
    examples.push({
      where: `${relative(ROOT, path)}:${i + 1}`,
      code,
      page: code.includes(`"@posekit/posekit/core"`),
    });
    i = j;
  }
  return examples;
}

Deno.test("the ignored examples of the API docs type-check", async () => {
  const files = [
    join(ROOT, "mod.ts"),
    join(ROOT, "core.ts"),
    ...await sourceFiles(join(ROOT, "lib")),
  ];
  const examples: IgnoredExample[] = [];
  for (const file of files) examples.push(...ignoredExamples(file, await Deno.readTextFile(file)));
  // mod.ts, core.ts and the Deno edge have some each (measured: 34 when this test was written).
  assert(examples.length >= 30, `only ${examples.length} ignored examples found`);
  const mod = new URL("../mod.ts", import.meta.url).href;
  const core = new URL("../core.ts", import.meta.url).href;
  await withTempDir(async (dir) => {
    const problems: string[] = [];
    for (const page of [false, true]) {
      const chosen = examples.filter((e) => e.page === page);
      const paths = await Promise.all(chosen.map(async (example, k) => {
        const path = join(dir, `${page ? "page" : "deno"}_${k}.ts`);
        const code = example.code
          .replaceAll(`"@posekit/posekit/core"`, JSON.stringify(core))
          .replaceAll(`"@posekit/posekit"`, JSON.stringify(mod));
        // `export {}` makes each a module, so top-level names of two examples never clash.
        await Deno.writeTextFile(path, `${code}\nexport {};\n`);
        return path;
      }));
      const config = join(ROOT, page ? "web/deno.dom.json" : "deno.json");
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["check", "--quiet", "--config", config, ...paths],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (run.success) continue;
      const output = new TextDecoder().decode(run.stderr) + new TextDecoder().decode(run.stdout);
      // Name each failing example by its place in the source, not by its temporary file.
      const failing = chosen.filter((_, k) => output.includes(paths[k]));
      problems.push(
        `${failing.map((e) => e.where).join(", ") || "some example"}:\n${output.slice(0, 4000)}`,
      );
    }
    assert(problems.length === 0, problems.join("\n\n"));
  });
});

Deno.test("the README's TypeScript examples type-check", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--doc-only", "README.md"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(run.stderr) + new TextDecoder().decode(run.stdout);
  assert(run.success, `README.md's examples:\n${output.slice(0, 4000)}`);
});
