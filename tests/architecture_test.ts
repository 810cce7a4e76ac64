/**
 * The layout's rules, checked on the source: the portable core (everything in lib/ outside
 * lib/deno/) uses no `Deno.*`, no `node:` module and no FFI, and never imports lib/deno/;
 * no file of lib/ imports another through a loop (type imports count: a loop of types is a
 * loop of concepts).
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { sourceFiles } from "./support/source_files.ts";

const ROOT = normalize(join(import.meta.dirname!, ".."));
const LIB = join(ROOT, "lib");

/** Source without comments (block, line and JSDoc), so that examples in docs do not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Relative specifiers a file imports or re-exports, type-only ones included. */
export function relativeImports(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;
  for (const match of code(text).matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The first import cycle among `graph`'s files, as a path, or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

async function libGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles(LIB)) {
    const text = await Deno.readTextFile(file);
    graph.set(
      relative(ROOT, file),
      relativeImports(text)
        .map((spec) => relative(ROOT, normalize(join(dirname(file), spec))))
        .filter((target) => target.startsWith("lib/")),
    );
  }
  return graph;
}

Deno.test("findCycle finds a loop of three and none in a tree", () => {
  assert.deepEqual(
    findCycle(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]])),
    ["a", "b", "c", "a"],
  );
  assert.equal(findCycle(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), undefined);
  assert.deepEqual(
    relativeImports(
      `import type { A } from "./a.ts";\nexport { b } from "../b.ts";\n` +
        `// import { c } from "./c.ts";\nconst d = await import("./d.ts");`,
    ),
    ["./a.ts", "../b.ts", "./d.ts"],
  );
});

Deno.test("lib/ has no import loops, type imports included", async () => {
  const cycle = findCycle(await libGraph());
  assert.equal(cycle, undefined, `import loop: ${cycle?.join(" → ")}`);
});

Deno.test("the portable core uses no Deno.*, node: or FFI, and does not import lib/deno/", async () => {
  const problems: string[] = [];
  const graph = await libGraph();
  for (const file of await sourceFiles(LIB)) {
    const name = relative(ROOT, file);
    if (name.startsWith("lib/deno/")) continue;
    const text = code(await Deno.readTextFile(file));
    if (/\bDeno\./.test(text)) problems.push(`${name} uses Deno.*`);
    if (/from\s+["']node:|import\(\s*["']node:/.test(text)) problems.push(`${name} imports node:`);
    if (/dlopen|onnxruntime-node/.test(text)) problems.push(`${name} uses FFI`);
    for (const target of graph.get(name) ?? []) {
      if (target.startsWith("lib/deno/")) problems.push(`${name} imports ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("lib/'s root holds only the files that tell the flow", async () => {
  const root: string[] = [];
  for await (const entry of Deno.readDir(LIB)) if (entry.isFile) root.push(entry.name);
  assert.deepEqual(root.sort(), ["pipeline.ts", "types.ts", "video_poses.ts"]);
});
