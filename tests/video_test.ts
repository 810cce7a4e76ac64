/**
 * Video in and out through ffmpeg, on videos the tests make from a COCO image: a known camera
 * pan (frame i is a known window of the image), rotation metadata, and broken files. The
 * reference pixels are the image as ffmpeg itself decodes it; H.264 is lossy, so frames are
 * compared by mean absolute difference, next to the same comparison one pan step off (which
 * must be much worse, or the check would prove nothing).
 */

import { withTempDir } from "./support/cli.ts";
import { join } from "node:path";
import { isStreamUrl, isVideoPath, probeVideo, VideoError } from "../lib/deno/video/probe.ts";
import { readVideoFrames, type VideoFrame } from "../lib/deno/video/read.ts";
import { VideoWriter } from "../lib/deno/video/write.ts";
import type { RgbImage } from "../lib/types.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./support/assert.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import {
  crop,
  decodeWithFfmpeg,
  ffmpeg,
  ffprobe,
  ignoreWithoutFfmpeg,
  makePanVideo,
  meanAbsDiff,
  type Pan,
  rotateCounterClockwise,
} from "./support/video.ts";

const IMAGE = ["coco", "val2017", "000000000785.jpg"];
const ignore = ignoreWithoutFfmpeg() || ignoreWithoutShared(...IMAGE);
const PAN: Pan = { width: 320, height: 240, x0: 20, y0: 40, dx: 8, dy: 2, frames: 12, fps: 30 };

/** The window frame `i` of PAN shows. */
function panWindow(image: RgbImage, i: number, pan = PAN): RgbImage {
  return crop(image, pan.x0 + pan.dx * i, pan.y0 + pan.dy * i, pan.width, pan.height);
}

/** Runs `body` on `pan` made into dir/pan.mp4, with the source image as ffmpeg decodes it. */
function withPanVideo(
  pan: Pan,
  body: (video: string, image: RgbImage, dir: string) => Promise<void>,
): Promise<void> {
  return withTempDir(async (dir) => {
    const source = requireShared(...IMAGE);
    const video = join(dir, "pan.mp4");
    await makePanVideo(source, video, pan);
    await body(video, await decodeWithFfmpeg(source), dir);
  });
}

async function collect(frames: AsyncIterable<VideoFrame>): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

/** Pids of this process's ffmpeg children, zombies included. */
function ffmpegChildren(): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …
      const match = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (match && match[1] === "ffmpeg" && Number(match[2]) === Deno.pid) {
        pids.push(Number(entry.name));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

Deno.test("isVideoPath knows video extensions in any case; isStreamUrl knows stream schemes", () => {
  for (const path of ["a.mp4", "b/C.MOV", "x.mkv", "y.avi", "z.webm", "w.m4v"]) {
    assert(isVideoPath(path), path);
  }
  for (const path of ["a.jpg", "b.png", "mp4", "c.mp4.json", "noext"]) {
    assert(!isVideoPath(path), path);
  }
  for (const url of ["http://h/v.mp4", "HTTPS://h/v", "rtsp://cam:554/s", "rtmp://h/live"]) {
    assert(isStreamUrl(url), url);
  }
  for (const s of ["clip.mp4", "/dev/video0", "file:///a.mp4", "ftp://h/a.mp4"]) {
    assert(!isStreamUrl(s), s);
  }
});

Deno.test({
  name: "a known pan: probe gives its size, rate and count; every frame shows its window",
  ignore,
  fn: () =>
    withPanVideo(PAN, async (video, image) => {
      const info = await probeVideo(video);
      assertEquals(
        [info.width, info.height, info.fps, info.frameRate, info.frameCount, info.rotation],
        [320, 240, 30, "30/1", 12, 0],
      );
      assertAlmostEquals(info.durationSeconds!, 12 / 30, 1e-6);

      const frames = await collect(readVideoFrames(video));
      assertEquals(frames.map((f) => f.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      for (const { index, time, image: frame } of frames) {
        assertAlmostEquals(time, index / 30, 1e-12);
        assertEquals([frame.width, frame.height, frame.data.length], [320, 240, 320 * 240 * 3]);
        const diff = meanAbsDiff(frame, panWindow(image, index));
        const offByOneStep = meanAbsDiff(frame, panWindow(image, index + 1));
        // Measured: 0.9–1.5 against its window, 8–19 one pan step (8, 2 px) off.
        assert(diff < 3, `frame ${index}: mean abs diff ${diff} to its window`);
        assert(offByOneStep > 4 * diff, `frame ${index}: ${offByOneStep} one step off`);
      }
    }),
});

/** All frames of `video` as ffmpeg decodes them to RGB with `args` (before the input). */
async function ffmpegFrames(video: string, pan: Pan, args: string[], flags?: string) {
  const output = await new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      ...args,
      "-i",
      video,
      ...(flags ? ["-vf", `scale=${pan.width}:${pan.height}:flags=${flags}`] : []),
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const size = pan.width * pan.height * 3;
  return Array.from({ length: output.stdout.length / size }, (_, i): RgbImage => ({
    width: pan.width,
    height: pan.height,
    data: output.stdout.subarray(i * size, (i + 1) * size),
  }));
}

Deno.test({
  name: "frames are the same pixels whatever SIMD code the CPU runs, and nearer the source's",
  ignore,
  fn: () =>
    withPanVideo(PAN, async (video, image) => {
      const frames = await collect(readVideoFrames(video));
      // The reference: ffmpeg's portable C code alone (`-cpuflags 0`), exact rounding. With
      // ffmpeg's default conversion the pixels follow the CPU's SIMD code (this machine's
      // AVX-512 and the C code differ by up to 3 levels), so one video gave different
      // detections, and track ids, on different machines.
      const portable = await ffmpegFrames(
        video,
        PAN,
        ["-cpuflags", "0"],
        "bicubic+accurate_rnd+full_chroma_int+bitexact",
      );
      assertEquals(portable.length, frames.length);
      frames.forEach((frame, i) => {
        assert(
          frame.image.data.every((v, k) => v === portable[i].data[k]),
          `frame ${i}: not the portable decoder's pixels`,
        );
      });
      // Chroma interpolated rather than repeated: nearer the image the video was made of than
      // ffmpeg's default conversion (measured: 1.2 against 1.7 levels a channel).
      const defaults = await ffmpegFrames(video, PAN, []);
      let exact = 0, usual = 0;
      frames.forEach((frame, i) => {
        exact += meanAbsDiff(frame.image, panWindow(image, i));
        usual += meanAbsDiff(defaults[i], panWindow(image, i));
      });
      assert(exact < 0.95 * usual, `mean abs diff to the source ${exact / 12} vs ${usual / 12}`);
    }),
});

Deno.test({
  name: "every N keeps source frames 0, N, 2N… with their own index, time and pixels",
  ignore,
  fn: () =>
    withPanVideo(PAN, async (video, image) => {
      const frames = await collect(readVideoFrames(video, { every: 5 }));
      assertEquals(frames.map((f) => f.index), [0, 5, 10]);
      assertEquals(frames.map((f) => f.time), [0, 5 / 30, 10 / 30]);
      for (const frame of frames) {
        assert(meanAbsDiff(frame.image, panWindow(image, frame.index)) < 3, `frame ${frame.index}`);
      }
    }),
});

Deno.test({
  name: "rotation metadata is honoured: dimensions swap and frames are turned as a player shows",
  ignore,
  fn: () =>
    withPanVideo(PAN, async (plain, image, dir) => {
      const rotated = join(dir, "rotated.mp4");
      // Same frames, display matrix "rotate 90° counter-clockwise" (ffprobe: rotation 90).
      await ffmpeg("-i", plain, "-c", "copy", "-metadata:s:v", "rotate=90", rotated);
      const matrix = await ffprobe("-show_entries", "stream_side_data=rotation", rotated);
      assert(matrix.includes("rotation=90"), `the test video has no rotation 90: ${matrix}`);

      const info = await probeVideo(rotated);
      assertEquals([info.width, info.height, info.rotation], [240, 320, 90]);
      const frames = await collect(readVideoFrames(rotated));
      assertEquals(frames.length, PAN.frames);
      for (const { index, image: frame } of frames) {
        assertEquals([frame.width, frame.height], [240, 320]);
        const expected = rotateCounterClockwise(panWindow(image, index));
        const diff = meanAbsDiff(frame, expected);
        assert(diff < 3, `frame ${index}: mean abs diff ${diff} to its turned window`);
      }
    }),
});

Deno.test({
  name: "breaking out of the loop, or aborting, stops ffmpeg (no process left behind)",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const source = requireShared(...IMAGE);
      const video = join(dir, "long.mp4");
      await makePanVideo(source, video, { ...PAN, dx: 0, dy: 0, frames: 300 });
      let seen = 0;
      for await (const _ of readVideoFrames(video)) {
        if (++seen === 2) break;
      }
      assertEquals(seen, 2);
      assertEquals(ffmpegChildren(), []);

      const controller = new AbortController();
      const error = await assertRejects(async () => {
        for await (const _ of readVideoFrames(video, { signal: controller.signal })) {
          controller.abort(new Error("stop here"));
        }
      });
      assertEquals(error.message, "stop here");
      assertEquals(ffmpegChildren(), []);
    }),
});

Deno.test({
  name: "broken inputs give a VideoError that names the file and says why",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const source = requireShared(...IMAGE);
      const empty = join(dir, "empty.mp4");
      await Deno.writeFile(empty, new Uint8Array());
      const text = join(dir, "notes.mp4");
      await Deno.writeTextFile(text, "this is not a video\n");
      const audio = join(dir, "audio.mp4");
      await ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", audio);
      const pan = join(dir, "pan.mp4");
      await makePanVideo(source, pan, PAN);
      // An edit list that starts after the last frame: a video stream that shows no frame.
      const noFrames = join(dir, "no_frames.mp4");
      await ffmpeg("-ss", "100", "-i", pan, "-c", "copy", noFrames);
      // Default MP4: the index (moov) is at the end, so the first half has none.
      const noIndex = join(dir, "no_index.mp4");
      const bytes = await Deno.readFile(pan);
      await Deno.writeFile(noIndex, bytes.subarray(0, bytes.length >> 1));

      const cases: [string, string][] = [
        [join(dir, "missing.mp4"), "no such file"],
        [empty, "empty (0 bytes)"],
        [text, "not a video or corrupt"],
        [noIndex, "not a video or corrupt"],
        [audio, "has no video stream"],
        [noFrames, "has no frames"],
      ];
      for (const [path, reason] of cases) {
        const error = await assertRejects(() => collect(readVideoFrames(path)), VideoError, reason);
        assert(error.message.startsWith(`${path}: `), error.message);
      }
      for (const [path, reason] of cases.slice(0, 5)) {
        await assertRejects(() => probeVideo(path), VideoError, reason);
      }
    }),
});

Deno.test({
  name: "a truncated video yields the frames that decoded, then a VideoError with ffmpeg's reason",
  ignore,
  fn: () =>
    withPanVideo({ ...PAN, frames: 60 }, async (whole, image, dir) => {
      // Index first (faststart), so a cut file still probes; the cut loses the later frames.
      const indexed = join(dir, "indexed.mp4");
      await ffmpeg("-i", whole, "-c", "copy", "-movflags", "+faststart", indexed);
      const bytes = await Deno.readFile(indexed);
      const cut = join(dir, "cut.mp4");
      await Deno.writeFile(cut, bytes.subarray(0, Math.round(bytes.length * 0.6)));
      assertEquals((await probeVideo(cut)).frameCount, 60);

      const frames: VideoFrame[] = [];
      const error = await assertRejects(async () => {
        for await (const frame of readVideoFrames(cut)) frames.push(frame);
      }, VideoError);
      assert(error.message.startsWith(`${cut}: truncated or corrupt: decoded `), error.message);
      assert(error.message.includes("of 60 frame(s), then ffmpeg: "), error.message);
      assert(frames.length > 5 && frames.length < 60, `${frames.length} frames decoded`);
      const last = frames[frames.length - 1];
      assert(meanAbsDiff(last.image, panWindow(image, last.index)) < 3, "last good frame");
    }),
});

Deno.test({
  name: "without ffmpeg on PATH, a video is an error that says how to install it",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const video = join(dir, "pan.mp4");
      await makePanVideo(requireShared(...IMAGE), video, { ...PAN, frames: 2 });
      const path = Deno.env.get("PATH")!;
      Deno.env.set("PATH", dir);
      try {
        await assertRejects(() => probeVideo(video), VideoError, "apt-get install ffmpeg");
        await assertRejects(
          () => VideoWriter.open(join(dir, "out.mp4"), { width: 8, height: 8, fps: 30 }),
          VideoError,
          "apt-get install ffmpeg",
        );
      } finally {
        Deno.env.set("PATH", path);
      }
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["pan.mp4"]);
    }),
});

/** A test pattern: a gradient that moves with `i`, so frames differ. */
function pattern(width: number, height: number, i: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = x * 2 + i * 5;
      data[o + 1] = y * 3;
      data[o + 2] = 128;
    }
  }
  return { width, height, data };
}

Deno.test({
  name: "VideoWriter writes one H.264 frame per write at the given rate, padding odd sizes",
  ignore: ignoreWithoutFfmpeg(),
  fn: () =>
    withTempDir(async (dir) => {
      const path = join(dir, "drawn.mp4");
      const writer = await VideoWriter.open(path, { width: 63, height: 47, fps: "30000/1001" });
      for (let i = 0; i < 7; i++) await writer.write(pattern(63, 47, i));
      assertEquals(writer.framesWritten, 7);
      await writer.close();
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["drawn.mp4"]);

      const stream = (await ffprobe(
        "-count_frames",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames",
        "-of",
        "default=noprint_wrappers=1",
        path,
      )).trim().split("\n").sort();
      assertEquals(stream, [
        "codec_name=h264",
        "height=48",
        "nb_read_frames=7",
        "pix_fmt=yuv420p",
        "r_frame_rate=30000/1001",
        "width=64",
      ]);
      const frames = await collect(readVideoFrames(path));
      assertEquals(frames.length, 7);
      for (const { index, image } of frames) {
        const diff = meanAbsDiff(crop(image, 0, 0, 63, 47), pattern(63, 47, index));
        assert(diff < 4, `frame ${index}: mean abs diff ${diff}`);
      }
    }),
});

Deno.test({
  name: "VideoWriter.abort and a close without frames leave no file behind",
  ignore: ignoreWithoutFfmpeg(),
  fn: () =>
    withTempDir(async (dir) => {
      const aborted = await VideoWriter.open(join(dir, "a.mp4"), {
        width: 16,
        height: 16,
        fps: 25,
      });
      await aborted.write(pattern(16, 16, 0));
      await aborted.abort();
      const empty = await VideoWriter.open(join(dir, "b.mp4"), { width: 16, height: 16, fps: 25 });
      await assertRejects(() => empty.close(), VideoError, "no frames were written");
      assertEquals([...Deno.readDirSync(dir)], []);
    }),
});
