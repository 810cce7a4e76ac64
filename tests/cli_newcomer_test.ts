/**
 * A newcomer's first hour (issue 17, items 12–16): presets, a person-score threshold,
 * messages that point to the right option or model, CSV results, and --out extensions.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, REPO_DIR, runCli, withTempDir } from "./support/cli.ts";
import { DEV_ANNOTATIONS, ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { PRESETS, resolvePreset } from "../lib/models/presets.ts";
import { formatResultsCsv } from "../lib/output/csv.ts";
import type { MergedResult } from "../lib/output/merge.ts";
import { ProgressBar } from "../cli/progress.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { readImageFile } from "../lib/deno/image_file.ts";

const IMAGE = "000000000785.jpg";
const CROWD = ["000000151938.jpg", "000000196141.jpg", "000000350679.jpg"];
const ignore = ignoreWithoutShared("models", "rtmdet_nano_person.onnx");

Deno.test("other tools' option names and misspelt models point to posekit's, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--det-thresh", "0.3"], "did you mean --det-thr?"],
    [["--conf", "0.3"], "did you mean --min-score?"],
    [["-o", "x.json"], "did you mean --out?"],
    [["--output", "x.json"], "did you mean --out?"],
    [["--model", "x"], "did you mean --pose?"],
    [["--pose", "pp_tinypose"], "did you mean pp_tinypose_128x96 or pp_tinypose_256x192?"],
    [["--detector", "rtmdet_nano"], "did you mean rtmdet_nano_person?"],
    [["--preset", "acurate"], "did you mean accurate?"],
    [
      ["--models", "/nonexistent/posekit-models"],
      "--models /nonexistent/posekit-models: no such folder",
    ],
    [["--out", "results.txt"], 'unknown extension ".txt"'],
  ];
  for (const [args, expected] of cases) {
    const run = await runCli(["predict", "x.jpg", ...args]);
    assertEquals(run.code, 2, `${args.join(" ")}: ${describeRun(run)}`);
    assert(run.stderr.includes(expected), `${args.join(" ")}: ${run.stderr}`);
  }
});

Deno.test("presets resolve to the first pair whose files are present, else downloadable", () => {
  const status = (present: string[], download: string[] = []) => (name: string) =>
    present.includes(name) ? "present" : download.includes(name) ? "download" : "missing";
  const shared = ["rtmdet_nano_person", "simplepose_nano_256x192", "deimv2_atto_coco"]
    .concat(["deimv2_femto_coco", "pp_tinypose_256x192", "pp_tinypose_128x96"]);
  const rtmpose = ["rtmpose_l_body7_256x192", "rtmpose_m_body7_256x192", "rtmpose_s_body7_256x192"];
  assertEquals(resolvePreset("accurate", status(shared, rtmpose)), {
    detector: "deimv2_femto_coco",
    pose: "pp_tinypose_256x192",
  });
  assertEquals(resolvePreset("balanced", status(shared, rtmpose)), {
    detector: "deimv2_atto_coco",
    pose: "pp_tinypose_256x192",
  });
  assertEquals(resolvePreset("fast", status(shared)), {
    detector: "rtmdet_nano_person",
    pose: "simplepose_nano_256x192",
  });
  // Downloaded RTMPose-l is present: the accurate preset takes it.
  assertEquals(
    resolvePreset("accurate", status([...shared, "rtmpose_l_body7_256x192"])),
    { detector: "deimv2_femto_coco", pose: "rtmpose_l_body7_256x192" },
  );
  // Nothing present: the first downloadable pair.
  assertEquals(resolvePreset("accurate", status([], ["deimv2_femto_coco", ...rtmpose])), {
    detector: "deimv2_femto_coco",
    pose: "rtmpose_l_body7_256x192",
  });
  assertEquals(resolvePreset("fast", status([])), undefined);
  for (const pairs of Object.values(PRESETS)) assert(pairs.length > 0);
});

Deno.test({
  name: "predict --preset accurate runs DEIMv2-Femto + PP-TinyPose here; --pose still wins",
  ignore,
  async fn() {
    const image = requireShared("coco", "val2017", IMAGE);
    const models = requireShared("models");
    const run = await runCli(["predict", image, "--models", models, "--preset", "accurate"]);
    assertEquals(run.code, 0, describeRun(run));
    assert(run.stderr.includes("--preset accurate: deimv2_femto_coco + pp_tinypose_256x192"));
    assert(run.stderr.includes("models deimv2_femto_coco + pp_tinypose_256x192"), run.stderr);
    const mixed = await runCli([
      "predict",
      image,
      "--models",
      models,
      "--preset",
      "accurate",
      "--pose",
      "simplepose_nano_256x192",
    ]);
    assertEquals(mixed.code, 0, describeRun(mixed));
    assert(mixed.stderr.includes("models deimv2_femto_coco + simplepose_nano_256x192"));
  },
});

Deno.test({
  name: "minScore drops exactly the people scoring below it",
  ignore,
  async fn() {
    const models = requireShared("models");
    const all = await PosePipeline.create({ backend: "wasm", modelDirs: [models] });
    const some = await PosePipeline.create({ backend: "wasm", modelDirs: [models], minScore: 0.3 });
    let dropped = 0;
    try {
      for (const name of [IMAGE, ...CROWD]) {
        const image = await readImageFile(requireShared("coco", "val2017", name));
        const every = await all.run(image);
        const kept = await some.run(image);
        assertEquals(kept, every.filter((p) => p.score >= 0.3));
        dropped += every.length - kept.length;
      }
    } finally {
      await all.close();
      await some.close();
    }
    assert(dropped > 0, "some low-score people were dropped");
  },
});

Deno.test({
  name: "predict --out x.csv: a row per person, keypoints as columns, the JSON's numbers",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = [IMAGE, ...CROWD].map((n) => requireShared("coco", "val2017", n));
      const models = requireShared("models");
      const json = join(dir, "r.json");
      const csv = join(dir, "r.csv");
      for (const out of [json, csv]) {
        const run = await runCli(["predict", ...images, "--models", models, "--out", out]);
        assertEquals(run.code, 0, describeRun(run));
      }
      const results = JSON.parse(await Deno.readTextFile(json));
      const lines = (await Deno.readTextFile(csv)).trimEnd().split("\n");
      assertEquals(lines.length, 1 + results.length);
      const header = lines[0].split(",");
      assertEquals(header.slice(0, 5), ["image_id", "file_name", "frame", "track_id", "score"]);
      assertEquals(header.length, 9 + 17 * 3);
      assertEquals(header[9], "nose_x");
      for (const [i, result] of results.entries()) {
        const cells = lines[i + 1].split(",");
        assertEquals(Number(cells[0]), result.image_id);
        assertEquals(cells[1], result.file_name);
        assertEquals(cells.slice(4).map(Number), [
          result.score,
          ...result.bbox,
          ...result.keypoints,
        ]);
      }
    });
  },
});

Deno.test("CSV fields with commas, quotes or line breaks are quoted (RFC 4180)", () => {
  const csv = formatResultsCsv([{
    image_id: 7,
    category_id: 1,
    file_name: 'a "b", c\nd.jpg',
    frame: 3,
    track_id: 2,
    score: 0.5,
    bbox: [1, 2, 3, 4],
    keypoints: [5, 6, 0.7],
  }]);
  assertEquals(
    csv.split("\n")[0],
    "image_id,file_name,frame,track_id,score,bbox_x,bbox_y,bbox_w,bbox_h,kp0_x,kp0_y,kp0_score",
  );
  assertEquals(csv.slice(csv.indexOf("\n") + 1), '7,"a ""b"", c\nd.jpg",3,2,0.5,1,2,3,4,5,6,0.7\n');
});

Deno.test("CSV of a long video's 200 000 people: written, not a stack overflow", () => {
  const person: MergedResult = {
    image_id: 1,
    category_id: 1,
    file_name: "clip.mp4",
    score: 0.5,
    bbox: [1, 2, 3, 4],
    keypoints: new Array<number>(51).fill(1),
  };
  const csv = formatResultsCsv(
    Array.from({ length: 200_000 }, (_, frame) => ({ ...person, frame })),
  );
  assertEquals(csv.split("\n").length, 200_002); // header, rows, and the final line break
  assert(csv.startsWith("image_id,file_name,frame,track_id,score,bbox_x"));
  assert(csv.split("\n")[0].endsWith("right_ankle_x,right_ankle_y,right_ankle_score"));
});

Deno.test("the progress bar past an estimated total (a video's frame count) stays a bar", () => {
  const bar = new ProgressBar(10, "frames", false);
  for (let i = 0; i < 13; i++) bar.tick();
  const line = bar.line();
  assert(line.startsWith("█".repeat(28) + " 13/10 frames"), line);
  assert(line.endsWith("left"), line);
});

Deno.test("a fresh checkout's first command prints its own output, no install warning", async () => {
  // The files git tracks, without node_modules: the first `deno task` installs the npm packages
  // (from Deno's cache) and, unless deno.json says which build scripts stay off, draws a boxed
  // "Ignored build scripts … run deno approve-scripts" warning a newcomer cannot act on.
  await withTempDir(async (dir) => {
    const tracked = await new Deno.Command("git", {
      args: ["ls-files", "-z", "deno.json", "deno.lock", "cli", "lib", "models", "mod.ts"],
      cwd: REPO_DIR,
      stdout: "piped",
    }).output();
    for (const path of new TextDecoder().decode(tracked.stdout).split("\0").filter(Boolean)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.copyFile(join(REPO_DIR, path), join(dir, path));
    }
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["task", "predict", "--help"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assertEquals(run.code, 0, stderr);
    assert(new TextDecoder().decode(run.stdout).startsWith("Usage: deno task predict"));
    assert(!/warning|approve-scripts/i.test(stderr), stderr);
  });
});

Deno.test("the README is for users: its first screen gives the commands and the presets", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const firstScreen = readme.split("\n").slice(0, 20).join("\n");
  for (
    const wanted of ["deno task predict", "deno task test", "--preset accurate", "--min-score"]
  ) {
    assert(firstScreen.includes(wanted), `the first screen lacks ${wanted}`);
  }
  // Development notes (per-round ratios, an issue's targets) live in docs/.
  for (const unwanted of [/per-round/i, /the issue's target/i, /issue \d+/i]) {
    assert(!unwanted.test(readme), `the README has ${unwanted}`);
  }
  await Deno.stat(new URL("../docs/throughput.md", import.meta.url));
});

Deno.test({
  name: "eval --results x.jsonl gives the AP of the same results as .json",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const gt = requireShared(...DEV_ANNOTATIONS);
      const images = CROWD.map((n) => requireShared("coco", "val2017", n));
      const stats: unknown[] = [];
      for (const out of [join(dir, "r.json"), join(dir, "r.jsonl")]) {
        const models = requireShared("models");
        const run = await runCli(["predict", ...images, "--models", models, "--out", out]);
        assertEquals(run.code, 0, describeRun(run));
        const evaluated = await runCli([
          "eval",
          "--gt",
          gt,
          "--results",
          out,
          "--json",
          "--only-gt-images",
        ]);
        assertEquals(evaluated.code, 0, describeRun(evaluated));
        stats.push(JSON.parse(evaluated.stdout).stats);
      }
      assertEquals(stats[1], stats[0]);
    });
  },
});

Deno.test({
  name: "Ctrl-C says how many images are in the .jsonl and the command that carries on",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const images = requireShared("coco", "val2017");
      const out = join(dir, "run.jsonl");
      const args = ["predict", images, "--models", requireShared("models"), "--out", out];
      const lines = async () =>
        (await Deno.readTextFile(out).catch(() => "")).split("\n").filter((l) =>
          l.includes('"file"')
        );
      /** Runs predict with `extra`, interrupts it once the file holds `records`; its stderr. */
      const interruptAt = async (records: number, extra: string[]) => {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", join(REPO_DIR, "cli", "main.ts"), ...args, ...extra],
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const deadline = Date.now() + 120_000;
        while ((await lines()).length < records && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        child.kill("SIGINT");
        const { code, stderr } = await child.output();
        const text = new TextDecoder().decode(stderr);
        assertEquals(code, 130, text);
        const said = text.match(
          /interrupted: (\d+) images?\/frames are in (\S+); carry on with: (.*)$/m,
        );
        assert(said, text);
        assertEquals(said[2], out);
        assert(said[3].endsWith(`--out ${out} --resume`), said[3]);
        return Number(said[1]);
      };
      assertEquals(await interruptAt(3, []), (await lines()).length);
      // Resumed and interrupted again: the count is what the file holds, both runs' images.
      const before = (await lines()).length;
      assertEquals(await interruptAt(before + 2, ["--resume"]), (await lines()).length);
    });
  },
});
