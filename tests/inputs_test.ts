/**
 * Input expansion: files, directories (recursive, sorted), globs, and errors for inputs that
 * yield nothing, on a small folder tree made here.
 */

import { join } from "node:path";
import { expandGlob, expandInputs, globSegmentToRegExp, isImageFileName } from "../lib/inputs.ts";
import { assert, assertEquals } from "./support/assert.ts";

/**
 * root/
 *   a.jpg  B.JPG  c.png  notes.txt  .g.jpg
 *   sub/d.jpeg  sub/deeper/e.PNG  sub/deeper/f.gif
 *   .hidden/h.jpg
 *   empty/
 *   text-only/readme.md
 */
async function makeTree(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "posekit_inputs_test_" });
  const files = [
    "a.jpg",
    "B.JPG",
    "c.png",
    "notes.txt",
    ".g.jpg",
    "sub/d.jpeg",
    "sub/deeper/e.PNG",
    "sub/deeper/f.gif",
    ".hidden/h.jpg",
    "text-only/readme.md",
  ];
  for (const file of files) {
    await Deno.mkdir(join(root, file, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, file), file); // contents do not matter here
  }
  await Deno.mkdir(join(root, "empty"));
  return root;
}

async function withTree(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTree();
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("isImageFileName accepts .jpg, .jpeg and .png in any case", () => {
  for (const name of ["a.jpg", "a.JPG", "b.jpeg", "b.JpEg", "c.png", "c.PNG", "dir/x.y.jpg"]) {
    assert(isImageFileName(name), name);
  }
  for (const name of ["a.gif", "a.jpg.txt", "jpg", "a.pngx", "a.jp"]) {
    assert(!isImageFileName(name), name);
  }
});

Deno.test("a directory expands recursively to its images, sorted, hidden entries skipped", async () => {
  await withTree(async (root) => {
    const { files, errors } = await expandInputs([root]);
    // Code-unit order: upper case before lower case, "c.png" before "sub/…".
    assertEquals(files, [
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "c.png"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    assertEquals(errors, []);
  });
});

Deno.test("an explicit file is kept whatever its extension", async () => {
  await withTree(async (root) => {
    const { files, errors } = await expandInputs([join(root, "notes.txt"), join(root, ".g.jpg")]);
    assertEquals(files, [join(root, "notes.txt"), join(root, ".g.jpg")]);
    assertEquals(errors, []);
  });
});

Deno.test("an empty directory, or one without images, is an error entry", async () => {
  await withTree(async (root) => {
    const empty = join(root, "empty");
    const textOnly = join(root, "text-only");
    const { files, errors } = await expandInputs([empty, join(root, "c.png"), textOnly]);
    assertEquals(files, [join(root, "c.png")], "the batch goes on");
    assertEquals(errors, [
      { path: empty, reason: `no JPEG or PNG images in ${empty}` },
      { path: textOnly, reason: `no JPEG or PNG images in ${textOnly}` },
    ]);
  });
});

Deno.test("a path that does not exist is an error entry; the others still expand", async () => {
  await withTree(async (root) => {
    const missing = join(root, "missing.jpg");
    const { files, errors } = await expandInputs([missing, join(root, "a.jpg")]);
    assertEquals(files, [join(root, "a.jpg")]);
    assertEquals(errors, [{ path: missing, reason: "no such file or directory" }]);
  });
});

Deno.test("globs: *, ?, [set], [!set] and ** match like a shell", async () => {
  await withTree(async (root) => {
    const expand = async (pattern: string) => (await expandInputs([join(root, pattern)])).files;
    assertEquals(await expand("*.jpg"), [join(root, "a.jpg")], "case-sensitive, no dot files");
    assertEquals(await expand("?.png"), [join(root, "c.png")]);
    assertEquals(await expand("[ab].jpg"), [join(root, "a.jpg")]);
    assertEquals(await expand("[!a].*"), [join(root, "B.JPG"), join(root, "c.png")]);
    assertEquals(await expand("*/*.jpeg"), [join(root, "sub", "d.jpeg")]);
    assertEquals(await expand("**/*.PNG"), [join(root, "sub", "deeper", "e.PNG")]);
    assertEquals(await expand("s*/**/[de].*"), [
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    // "**" alone: every image below, not the .gif, nothing hidden.
    assertEquals(await expand("**"), [
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "c.png"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
    assertEquals(await expand(".*.jpg"), [join(root, ".g.jpg")], "an explicit dot matches");
  });
});

Deno.test("a glob keeps only JPEG and PNG files; one matching none is an error", async () => {
  await withTree(async (root) => {
    const everything = join(root, "*");
    const { files } = await expandInputs([everything]);
    assertEquals(files, [join(root, "B.JPG"), join(root, "a.jpg"), join(root, "c.png")]);
    const nothing = join(root, "*.webp");
    const texts = join(root, "*.txt");
    const { errors } = await expandInputs([nothing, texts]);
    assertEquals(errors, [
      { path: nothing, reason: `no JPEG or PNG files match ${nothing}` },
      { path: texts, reason: `no JPEG or PNG files match ${texts}` },
    ]);
  });
});

Deno.test("relative globs and directories keep the spelling they were given", async () => {
  await withTree(async (root) => {
    const cwd = Deno.cwd();
    Deno.chdir(root);
    try {
      assertEquals((await expandInputs(["*.png", "sub"])).files, [
        "c.png",
        join("sub", "d.jpeg"),
        join("sub", "deeper", "e.PNG"),
      ]);
      assertEquals(await expandGlob("sub/**/*.PNG"), [join("sub", "deeper", "e.PNG")]);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("a file reached twice is listed once, where it first appears", async () => {
  await withTree(async (root) => {
    const { files } = await expandInputs([
      join(root, "c.png"),
      root,
      `${root}/sub/../a.jpg`,
      join(root, "*.png"),
    ]);
    assertEquals(files, [
      join(root, "c.png"),
      join(root, "B.JPG"),
      join(root, "a.jpg"),
      join(root, "sub", "d.jpeg"),
      join(root, "sub", "deeper", "e.PNG"),
    ]);
  });
});

Deno.test("a symlink loop does not make directory expansion run forever", async () => {
  await withTree(async (root) => {
    await Deno.symlink(root, join(root, "sub", "loop"));
    const { files } = await expandInputs([root]);
    assertEquals(files.length, 5);
    assertEquals((await expandInputs([join(root, "**", "d.jpeg")])).files.length, 1);
  });
});

Deno.test("globSegmentToRegExp: wildcards, sets and literal characters", () => {
  const cases: [string, string[], string[]][] = [
    ["*.jpg", ["a.jpg", "x.y.jpg"], [".a.jpg", "a.jpeg"]],
    ["img?.png", ["img1.png", "imgA.png"], ["img.png", "img12.png"]],
    ["[a-c]x", ["ax", "cx"], ["dx", "Ax"]],
    ["[!a-c]x", ["dx", "Ax"], ["ax", "x"]],
    ["[^a]x", ["bx"], ["ax"]],
    ["a+b(1).jpg", ["a+b(1).jpg"], ["aab(1).jpg", "a+b1.jpg"]],
    ["[x", ["[x"], ["x"]],
    ["[]]x", ["]x"], ["x"]],
  ];
  for (const [pattern, matching, notMatching] of cases) {
    const regexp = globSegmentToRegExp(pattern);
    for (const name of matching) assert(regexp.test(name), `${pattern} matches ${name}`);
    for (const name of notMatching) assert(!regexp.test(name), `${pattern} rejects ${name}`);
  }
});
