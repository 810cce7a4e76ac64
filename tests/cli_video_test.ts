/**
 * Videos through `predict`, on videos the test makes with ffmpeg from COCO image 785: one
 * JSON line per frame with track ids, a drawn .mp4 with the same frame count, rotation
 * metadata honoured, and bad videos reported one line each without costing the other inputs.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, hasStackTrace, nonEmptyLines, runCli, withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  ffmpeg,
  ffprobe,
  ignoreWithoutFfmpeg,
  makePanVideo,
  makeTestVideo,
  type Pan,
  streamSize,
} from "./support/video.ts";

const IMAGE = ["coco", "val2017", "000000000785.jpg"];
const ignore = ignoreWithoutShared(...IMAGE) || ignoreWithoutShared("models") ||
  ignoreWithoutFfmpeg();
const PAN: Pan = { width: 400, height: 360, x0: 40, y0: 10, dx: 6, dy: 1, frames: 10, fps: 10 };

function predict(...args: (string | { env: Record<string, string> })[]) {
  const options = args.find((a) => typeof a !== "string") as { env: Record<string, string> };
  const strings = args.filter((a): a is string => typeof a === "string");
  return runCli(
    ["predict", "--models", requireShared("models"), "--backend", "wasm", ...strings],
    options,
  );
}

async function frameCount(path: string): Promise<number> {
  return Number(
    (await ffprobe(
      "-count_frames",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=nb_read_frames",
      "-of",
      "csv=p=0",
      path,
    )).trim(),
  );
}

interface FrameLine {
  file: string;
  image_id: number;
  frame: number;
  time: number;
  people: { track_id: number; bbox: number[]; score: number; keypoints: number[] }[];
}

/** The records of a .jsonl output, after its header line. */
async function readLines(path: string): Promise<FrameLine[]> {
  const [header, ...lines] = (await Deno.readTextFile(path)).trimEnd().split("\n")
    .map((l) => JSON.parse(l));
  assertEquals(Object.keys(header), ["posekit"], "a header line first");
  return lines;
}

Deno.test({
  name: "video: one .jsonl line per frame with track ids; --draw writes an .mp4 of as many frames",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const video = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), video, PAN);
      const out = join(dir, "r.jsonl");
      const run = await predict(video, "--out", out, "--draw", join(dir, "drawn"), "--labels");
      assertEquals(run.code, 0, describeRun(run));
      const lines = await readLines(out);
      assertEquals(lines.map((l) => l.frame), [...Array(PAN.frames).keys()]);
      assertEquals(lines.map((l) => l.time), lines.map((l) => l.frame / PAN.fps));
      assertEquals(Object.keys(lines[0]), ["file", "image_id", "frame", "time", "people"]);
      assert(lines.every((l) => l.people.every((p) => Number.isInteger(p.track_id))));
      const skierIds = lines.map((l) => l.people[0]?.track_id);
      assert(skierIds.filter((id) => id === skierIds[0]).length >= 0.9 * PAN.frames, `${skierIds}`);
      assertEquals(await frameCount(join(dir, "drawn", "pan.mp4")), PAN.frames);
      assert(/1 video, 10 frames/.test(run.stderr), run.stderr);
    });
  },
});

Deno.test({
  name: "video: --every 3 keeps frames 0, 3, 6, 9; .json output is COCO results with frame ids",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const video = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), video, PAN);
      const out = join(dir, "r.json");
      const run = await predict(video, "--every", "3", "--out", out);
      assertEquals(run.code, 0, describeRun(run));
      const results = JSON.parse(await Deno.readTextFile(out));
      const frames = [...new Set(results.map((r: { frame: number }) => r.frame))];
      assertEquals(frames, [0, 3, 6, 9]);
      for (const r of results) {
        assertEquals(r.image_id, r.frame);
        assert(Number.isInteger(r.track_id) && r.file_name === video, JSON.stringify(r));
      }
    });
  },
});

Deno.test({
  name: "video: rotation metadata is honoured (a phone video's skier stands upright)",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      // Stored pixels turned 90° clockwise, with a display matrix that turns them back.
      const stored = join(dir, "stored.mp4");
      await ffmpeg(
        "-loop",
        "1",
        "-framerate",
        "10",
        "-i",
        requireShared(...IMAGE),
        "-vf",
        "crop=400:360:40:10,transpose=1",
        "-frames:v",
        "3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        stored,
      );
      const phone = join(dir, "phone.mp4");
      await ffmpeg("-i", stored, "-c", "copy", "-metadata:s:v", "rotate=90", phone);
      const out = join(dir, "r.jsonl");
      const run = await predict(phone, "--out", out, "--draw", join(dir, "drawn"));
      assertEquals(run.code, 0, describeRun(run));
      for (const line of await readLines(out)) {
        const [skier] = line.people;
        assert(skier, "the skier is found");
        const [x, , w, h] = skier.bbox;
        // Upright in the 400 × 360 display frame: taller than wide, nose above both ankles.
        // Unturned, the 360 × 400 stored frames would show her lying on her side.
        const kp = skier.keypoints;
        assert(h > 1.5 * w, `an upright box: ${skier.bbox}`);
        assert(kp[1] < kp[15 * 3 + 1] - 100 && kp[1] < kp[16 * 3 + 1] - 100, "nose above ankles");
        assert(x + w <= 400.5, `box within the 400 px display width: ${skier.bbox}`);
      }
      const size = await streamSize(join(dir, "drawn", "phone.mp4"));
      assertEquals(size, [400, 360], "the drawn video is upright too");
    });
  },
});

Deno.test({
  name: "video: bad videos are one clear line each; the other inputs keep their results",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const good = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), good, { ...PAN, frames: 4 });
      const empty = join(dir, "empty.mp4");
      await Deno.writeFile(empty, new Uint8Array());
      const text = join(dir, "notes.mp4");
      await Deno.writeTextFile(text, "this is not a video\n");
      const truncated = join(dir, "truncated.mp4");
      const bytes = await Deno.readFile(good);
      await Deno.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const noFrames = join(dir, "noframes.mp4");
      await ffmpeg("-ss", "100", "-i", good, "-c", "copy", noFrames);
      const out = join(dir, "r.jsonl");
      const inputs = [empty, text, good, truncated, noFrames, requireShared(...IMAGE)];
      const run = await predict(...inputs, "--out", out);
      assertEquals(run.code, 1, describeRun(run));
      assert(!hasStackTrace(run.stderr), describeRun(run));
      const errors = nonEmptyLines(run.stderr).filter((l) =>
        l.startsWith("posekit: ") && l.includes(dir)
      );
      for (const bad of [empty, text, truncated, noFrames]) {
        const mine = errors.filter((l) => l.includes(bad));
        assertEquals(mine.length, 1, `one line for ${bad}\n${describeRun(run)}`);
      }
      const lines = await readLines(out);
      assertEquals(lines.filter((l) => l.file === good).length, 4, "the good video's frames");
      const still = lines.find((l) => l.file === requireShared(...IMAGE));
      assert(still && still.people.length > 0 && still.frame === undefined, "the image's line");
    });
  },
});

Deno.test({
  name: "video: with a .json output, two videos (or a video and images) are a usage error",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const a = join(dir, "a.mp4"), b = join(dir, "b.mp4");
      await makePanVideo(requireShared(...IMAGE), a, { ...PAN, frames: 2 });
      await Deno.copyFile(a, b);
      const run = await predict(a, b, "--out", join(dir, "r.json"));
      assertEquals(run.code, 2, describeRun(run));
      assert(run.stderr.includes(".jsonl"), run.stderr);
    });
  },
});

Deno.test({
  name: "video: without ffmpeg a video says how to install it; images still run",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const video = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), video, { ...PAN, frames: 2 });
      const out = join(dir, "r.jsonl");
      const run = await predict(video, requireShared(...IMAGE), "--out", out, {
        env: { PATH: join(dir, "no-tools-here") },
      });
      assertEquals(run.code, 1, describeRun(run));
      const line = nonEmptyLines(run.stderr).find((l) => l.includes(video)) ?? "";
      assert(line.includes("ffmpeg") && line.includes("apt-get install ffmpeg"), describeRun(run));
      const lines = await readLines(out);
      assertEquals(lines.map((l) => l.file), [requireShared(...IMAGE)]);
    });
  },
});

Deno.test({
  name: "video: files named -report.mp4, cam1:12.mp4 and http:/… are read and drawn",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      let requests = 0;
      const stop = new AbortController();
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen: () => {} },
        () => {
          requests++;
          return new Response("no", { status: 404 });
        },
      );
      try {
        const port = server.addr.port;
        await Deno.mkdir(join(dir, "http:", `127.0.0.1:${port}`), { recursive: true });
        const urlLike = `http:/127.0.0.1:${port}/clip.mp4`;
        for (const name of ["-report.mp4", "cam1:12.mp4", urlLike]) {
          await makeTestVideo(join(dir, name), 96, 64, 2);
        }
        // The glob gives the names as they are: "-report.mp4", "cam1:12.mp4".
        const run = await runCli(
          [
            "predict",
            "--models",
            requireShared("models"),
            "--backend",
            "wasm",
            "*.mp4",
            urlLike,
            "--out",
            "r.jsonl",
            "--draw",
            "drawn",
          ],
          { cwd: dir },
        );
        assertEquals(run.code, 0, describeRun(run));
        const lines = await readLines(join(dir, "r.jsonl"));
        assertEquals(lines.map((l) => `${l.file}#${l.frame}`).sort(), [
          "-report.mp4#0",
          "-report.mp4#1",
          "cam1:12.mp4#0",
          "cam1:12.mp4#1",
          `${urlLike}#0`,
          `${urlLike}#1`,
        ]);
        for (const drawn of ["-report.mp4", "cam1:12.mp4", "clip.mp4"]) {
          assertEquals(await frameCount(join(dir, "drawn", drawn)), 2, drawn);
        }
        assertEquals(requests, 0, "requests to the server a file name spells");
      } finally {
        stop.abort();
        await server.finished;
      }
    });
  },
});

Deno.test({
  name: "video: --max-pixels refuses a video's frames before decoding, worded as for images",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const video = join(dir, "small.mp4");
      await makeTestVideo(video, 64, 48, 2);
      const run = await predict(video, "--max-pixels", "1000", "--out", join(dir, "r.jsonl"));
      assertEquals(run.code, 1, describeRun(run));
      assert(!hasStackTrace(run.stderr), describeRun(run));
      const line = nonEmptyLines(run.stderr).find((l) => l.includes(video)) ?? "";
      assertEquals(
        line,
        `posekit: ${video}: 64×48 = 3072 pixels is above the limit of 1000 (--max-pixels)`,
        describeRun(run),
      );
    });
  },
});
