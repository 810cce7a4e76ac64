/**
 * A project in another folder, with no deno.json and none of posekit's import map, imports
 * posekit's mod.ts by URL and gets the same poses as posekit's own tests (the source uses
 * `npm:` specifiers, so nothing depends on posekit's configuration).
 */

import { assertEquals } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { readImageFile } from "../lib/deno/image_file.ts";

Deno.test({
  name: "a project outside the checkout imports mod.ts and gets the same poses",
  ignore: ignoreWithoutShared("models", "rtmdet_nano_person.onnx"),
  async fn() {
    const models = requireShared("models");
    const image = requireShared("coco", "val2017", "000000000785.jpg");
    const pipeline = await PosePipeline.create({ backend: "wasm", modelDirs: [models] });
    const expected = (await pipeline.run(await readImageFile(image))).map((p) => p.score);
    await pipeline.close();
    await withTempDir(async (dir) => {
      const mod = new URL("../mod.ts", import.meta.url).href;
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        `import { PosePipeline } from ${JSON.stringify(mod)};
const pipeline = await PosePipeline.create({ backend: "wasm", modelDirs: [${
          JSON.stringify(models)
        }] });
const image = ${JSON.stringify(image)};
const poses = await pipeline.runBytes(await Deno.readFile(image), "detector", image);
console.log(JSON.stringify(poses.map((p) => p.score)));
await pipeline.close();
`,
      );
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assertEquals(run.code, 0, stderr);
      const lines = new TextDecoder().decode(run.stdout).trim().split("\n");
      assertEquals(JSON.parse(lines.at(-1)!), expected);
    });
  },
});
