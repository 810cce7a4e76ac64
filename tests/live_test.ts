/**
 * `--live`: on a source faster than the model, the frame processed is always one of the
 * newest, so latency stays bounded, and the frames in between are dropped and counted.
 *
 * The source is ffmpeg playing a generated clip in real time (`-re`, 25 frames/s) as an
 * MPEG-TS stream on a TCP port of 127.0.0.1; each frame's brightness encodes its number
 * (mod 50), so the test reads from the pixels how far behind the newest frame each processed
 * frame is, independently of posekit's own counts.
 */

import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { describeRun, runCli, withTempDir } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { makeTestVideo } from "./support/video.ts";
import { droppedFrames, parsePpm, readLiveFrames } from "../lib/deno/video/live.ts";
import { readVideoFrames } from "../lib/deno/video/read.ts";
import type { VideoFrame } from "../lib/video/frame.ts";

const FPS = 25;

/** ffmpeg streaming `seconds` of numbered frames to tcp://127.0.0.1:PORT once a client connects. */
function startStream(seconds: number, size = "160x120") {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-re",
      "-f",
      "lavfi",
      "-i",
      `color=c=black:s=${size}:r=${FPS},format=gray,geq=lum='mod(N,50)*4+16'`,
      "-t",
      String(seconds),
      "-c:v",
      "mpeg2video",
      "-q:v",
      "1",
      "-f",
      "mpegts",
      `tcp://127.0.0.1:${port}?listen=1`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    url: `tcp://127.0.0.1:${port}`,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // ended already
      }
      await child.status;
    },
  };
}

/** The frame number (mod 50) a frame's brightness encodes. */
function frameNumber(frame: VideoFrame): number {
  let sum = 0;
  for (let i = 0; i < frame.image.data.length; i += 3) sum += frame.image.data[i];
  const rgb = sum / (frame.image.data.length / 3);
  return Math.round((rgb * 219) / 255 / 4) % 50;
}

/** Frames behind, mod 50, from `a` back to `b`. */
const behind = (a: number, b: number) => ((a - b) % 50 + 50) % 50;

async function waitForListener(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 400));
}

Deno.test("parsePpm reads a whole binary PPM and refuses a partial one", () => {
  const header = new TextEncoder().encode("P6\n2 1\n255\n");
  const whole = new Uint8Array([...header, 1, 2, 3, 4, 5, 6]);
  assertEquals(parsePpm(whole), { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) });
  assertEquals(parsePpm(whole.subarray(0, whole.length - 1)), undefined);
  assertEquals(parsePpm(new TextEncoder().encode("P3\n1 1\n255\n0 0 0")), undefined);
});

Deno.test("live frames from a 25 fps stream stay the newest while the consumer takes 300 ms a frame", async () => {
  const stream = startStream(5);
  try {
    await waitForListener();
    const counts = { decoded: 0, delivered: 0 };
    const lags: number[] = [];
    let first: number | undefined;
    for await (const frame of readLiveFrames(stream.url, counts)) {
      // How far the frame's content is behind the newest decoded frame, mod 50; the first
      // gives the offset between the stream's numbering and ffmpeg's count.
      const lag = behind(counts.decoded - 1, frameNumber(frame));
      first ??= lag;
      lags.push(behind(lag, first));
      await new Promise((resolve) => setTimeout(resolve, 300)); // a slow model
    }
    assert(counts.delivered >= 8, `${counts.delivered} frames delivered`);
    // A queue would fall 7.5 frames further behind per frame processed (300 ms at 25 fps):
    // about 60 frames over this run. Here the content stays within a few frames of the newest.
    const drift = Math.max(...lags.map((l) => (l > 25 ? l - 50 : l)));
    assert(drift <= 6, `lags behind the first: ${lags.join(", ")}`);
    assert(droppedFrames(counts) >= counts.delivered * 4, `counts ${JSON.stringify(counts)}`);
  } finally {
    await stream.stop();
  }
});

Deno.test("the same slow consumer on the queued reader falls further behind every frame", async () => {
  // The mechanism --live replaces: with frames read through the pipe, the content number
  // advances one frame per frame processed while the source runs on.
  const stream = startStream(3);
  try {
    await waitForListener();
    const numbers: number[] = [];
    const started = performance.now();
    // No probe (it would take the stream's one connection): the stream's known shape.
    const info = { width: 160, height: 120, fps: FPS, frameRate: String(FPS), rotation: 0 };
    for await (const frame of readVideoFrames(stream.url, { info })) {
      numbers.push(frameNumber(frame));
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (numbers.length === 8) break;
    }
    const seconds = (performance.now() - started) / 1000;
    // The content advances about a frame per frame processed (ffmpeg may repeat or skip one
    // to keep its output rate), while the source ran on 7.5 frames per frame processed.
    const advanced = numbers.slice(1).reduce((sum, n, i) => sum + behind(n, numbers[i]), 0);
    assert(advanced <= numbers.length + 4, `content numbers ${numbers.join(", ")}`);
    assert(seconds * FPS > advanced + 20, "the source ran well ahead meanwhile");
  } finally {
    await stream.stop();
  }
});

Deno.test({
  name: "predict --live on a stream: one line per processed frame, drops reported",
  ignore: ignoreWithoutShared("models", "rtmdet_nano_person.onnx"),
  async fn() {
    await withTempDir(async (dir) => {
      const stream = startStream(4, "320x240");
      const out = join(dir, "live.jsonl");
      try {
        await waitForListener();
        const run = await runCli([
          "predict",
          stream.url,
          "--live",
          "--out",
          out,
          "--models",
          requireShared("models"),
          "--backend",
          "wasm",
        ]);
        assertEquals(run.code, 0, describeRun(run));
        const said = run.stderr.match(/(\d+) frames processed, (\d+) dropped \(--live/);
        assert(said, describeRun(run));
        const records = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l))
          .filter((r) => r.frame !== undefined);
        assertEquals(records.length, Number(said[1]));
        assert(Number(said[2]) > 0, "a model slower than 25 frames/s drops frames");
        const frames = records.map((r) => r.frame as number);
        assert(frames.every((f, i) => i === 0 || f > frames[i - 1]), `frames ${frames}`);
      } finally {
        await stream.stop();
      }
    });
    const refused = await runCli(["predict", "tcp://127.0.0.1:9/x", "--live", "--draw", "out"]);
    assertEquals(refused.code, 2, describeRun(refused));
    assert(refused.stderr.includes("--live has no fixed frame rate"), refused.stderr);
  },
});

Deno.test({
  name: "predict --live on a video file that gives no frame: a failure (exit 1), not a success",
  ignore: ignoreWithoutShared("models", "rtmdet_nano_person.onnx"),
  fn: () =>
    withTempDir(async (dir) => {
      // ffmpeg's low-delay input (-fflags nobuffer) decodes no frame of an MP4 file.
      const video = join(dir, "clip.mp4"), out = join(dir, "live.jsonl");
      await makeTestVideo(video, 160, 120, 10);
      const args = ["--out", out, "--models", requireShared("models"), "--backend", "wasm"];
      const run = await runCli(["predict", video, "--live", ...args]);
      const said = /clip\.mp4: --live got no frame from it: --live is for cameras and live streams/;
      if (run.code === 0) {
        // Should an ffmpeg read it after all, the frames must be there.
        const records = (await Deno.readTextFile(out)).trim().split("\n").slice(1);
        assert(records.length > 0, describeRun(run));
      } else {
        assertEquals(run.code, 1, describeRun(run));
        assert(said.test(run.stderr), describeRun(run));
      }
    }),
});
