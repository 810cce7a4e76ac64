/**
 * Hostile video inputs (issue 17): local files whose names ffmpeg would take for a URL, an
 * option or a protocol; a local "video" that is a playlist naming another file; a URL that
 * never answers; a small file of huge frames, and one whose frames grow after the first.
 * Everything is made here, in a temp dir, with ffmpeg; servers listen on 127.0.0.1 only.
 */

import { join } from "node:path";
import {
  ffmpegInputArgs,
  isStreamUrl,
  probeVideo,
  VideoError,
  type VideoInfo,
} from "../lib/deno/video/probe.ts";
import { readVideoFrames, type VideoFrame } from "../lib/deno/video/read.ts";
import { VideoWriter } from "../lib/deno/video/write.ts";
import { encodeJpeg } from "../lib/image/encode.ts";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { withTempDir } from "./support/cli.ts";
import { ffmpeg, ignoreWithoutFfmpeg, makeTestVideo, streamSize } from "./support/video.ts";

const ignore = ignoreWithoutFfmpeg();

async function collect(frames: AsyncIterable<VideoFrame>): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

/** Runs `body` with `dir` as the working directory (relative names are the point here). */
async function inDirectory<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const previous = Deno.cwd();
  Deno.chdir(dir);
  try {
    return await body();
  } finally {
    Deno.chdir(previous);
  }
}

/** `promise`, or a rejection after `ms`: a missing timeout fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still running after ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

Deno.test("ffmpegInputArgs: local files as file: paths with whitelists; URLs with a timeout", () => {
  const local = ffmpegInputArgs("-report.mp4", 2000);
  assertEquals(local.slice(0, 2), ["-protocol_whitelist", "file"]);
  assertEquals(local[2], "-format_whitelist");
  assert(local[3].split(",").includes("mov") && !local[3].includes("hls"), local[3]);
  assertEquals(local.slice(4), ["-i", `file:${join(Deno.cwd(), "-report.mp4")}`]);
  assertEquals(ffmpegInputArgs("http://h/a.mp4", 2000), [
    "-rw_timeout",
    "2000000",
    "-i",
    "http://h/a.mp4",
  ]);
  assertEquals(ffmpegInputArgs("rtmp://h/live", 1500).slice(0, 2), ["-rw_timeout", "1500000"]);
  assertEquals(ffmpegInputArgs("rtsp://h/cam", 2000).slice(0, 2), ["-timeout", "2000000"]);
  assertEquals(ffmpegInputArgs("/dev/video0"), ["-i", "/dev/video0"]);
  // One slash is no URL: such a name is a local path (a folder "http:").
  assert(!isStreamUrl("http:/127.0.0.1:8765/clip.mp4"));
  assertEquals(ffmpegInputArgs("http:/127.0.0.1:8765/clip.mp4").at(-1)!.slice(0, 6), "file:/");
});

Deno.test({
  name: "a local file named like a URL is read from disk: the server it names gets no request",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const served = join(dir, "served.mp4");
      await makeTestVideo(served, 32, 32, 3);
      const bytes = await Deno.readFile(served);
      let requests = 0;
      const stop = new AbortController();
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen: () => {} },
        () => {
          requests++;
          return new Response(bytes);
        },
      );
      try {
        const name = `http:/127.0.0.1:${server.addr.port}/clip.mp4`;
        await Deno.mkdir(join(dir, "http:", `127.0.0.1:${server.addr.port}`), { recursive: true });
        await makeTestVideo(join(dir, name), 64, 48, 5);
        await inDirectory(dir, async () => {
          const info = await probeVideo(name);
          assertEquals([info.width, info.height], [64, 48]);
          const frames = await collect(readVideoFrames(name, { info }));
          assertEquals(frames.length, 5);
        });
        assertEquals(requests, 0, "requests to the server the file name spells");
      } finally {
        stop.abort();
        await server.finished;
      }
    }),
});

Deno.test({
  name: "local names ffmpeg takes for an option or a protocol are read and written as files",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const names = ["-report.mp4", "cam1:12.mp4"];
      for (const name of names) await makeTestVideo(join(dir, name), 64, 48, 4);
      await inDirectory(dir, async () => {
        for (const name of names) {
          const frames = await collect(readVideoFrames(name));
          assertEquals(frames.length, 4, name);
          // Written beside it, as `--draw .` does: the temp file is ".cam1:12.out.mp4.…".
          const writer = await VideoWriter.open(name.replace(".mp4", ".out.mp4"), {
            width: 64,
            height: 48,
            fps: 10,
          });
          for (const { image } of frames) await writer.write(image);
          await writer.close();
        }
      });
      for (const name of names) {
        assertEquals(await streamSize(join(dir, name.replace(".mp4", ".out.mp4"))), [64, 48]);
      }
      assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
    }),
});

Deno.test({
  name: "a local .mp4 that is a playlist (HLS, concat) naming another file is refused",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      await makeTestVideo(join(dir, "other.mp4"), 64, 48, 5);
      const hls = join(dir, "hls.mp4");
      await Deno.writeTextFile(
        hls,
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nother.mp4\n#EXT-X-ENDLIST\n",
      );
      const concat = join(dir, "concat.mp4");
      await Deno.writeTextFile(concat, "ffconcat version 1.0\nfile other.mp4\n");
      for (const path of [hls, concat]) {
        const error = await assertRejects(() => probeVideo(path), VideoError, "playlists");
        assert(error.message.startsWith(`${path}: not a video file posekit reads`), error.message);
        await assertRejects(() => collect(readVideoFrames(path)), VideoError, "playlists");
      }
    }),
});

Deno.test({
  name: "a video URL whose server accepts and never answers fails after the timeout, naming it",
  ignore,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const connections: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of listener) connections.push(conn);
      } catch {
        // Closed.
      }
    })();
    try {
      const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/clip.mp4`;
      const started = performance.now();
      const error = await within(
        assertRejects(() => probeVideo(url, { timeoutMs: 2000 }), VideoError),
        15_000,
        "ffprobe",
      );
      assertEquals(error.message, `${url}: no answer within 2 s (timeout)`);
      const seconds = (performance.now() - started) / 1000;
      assert(seconds >= 1.5 && seconds < 10, `${seconds} s`);

      // Decoding with a known probe: ffmpeg itself gives up on the silent connection.
      const info: VideoInfo = { width: 64, height: 48, fps: 10, frameRate: "10", rotation: 0 };
      const decoding = await within(
        assertRejects(
          () => collect(readVideoFrames(url, { info, timeoutMs: 2000 })),
          VideoError,
        ),
        15_000,
        "ffmpeg",
      );
      assertEquals(
        decoding.message,
        `${url}: decoding failed after 0 frame(s): no answer within 2 s (timeout)`,
      );
      assert(connections.length >= 2, `${connections.length} connections`);
    } finally {
      listener.close();
      await accepting;
      for (const conn of connections) conn.close();
    }
  },
});

Deno.test({
  name: "a 12000×12000 MJPEG video is refused under the default pixel limit, as an image is",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const big = join(dir, "big.avi");
      await ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:size=12000x12000:rate=1,format=yuvj420p",
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        big,
      );
      const reason = "12000×12000 = 144000000 pixels is above the limit of 100000000 " +
        "(--max-pixels)";
      const error = await assertRejects(() => probeVideo(big), VideoError, reason);
      assertEquals(error.message, `${big}: ${reason}`);
      await assertRejects(() => collect(readVideoFrames(big)), VideoError, reason);
      // The limit, not the file, is what refuses it.
      const info = await probeVideo(big, { maxPixels: Infinity });
      assertEquals([info.width, info.height], [12000, 12000]);
      await assertRejects(
        () => collect(readVideoFrames(big, { info, maxPixels: 1000 })),
        VideoError,
        "above the limit of 1000",
      );
    }),
});

Deno.test({
  name: "a video whose later frames are larger than its first is refused at the first of them",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      // Three 64×48 JPEG frames, then three 128×96 ones, in one Matroska file: its header (and
      // so the check before decoding) says 64×48; only the decoder sees the larger frames.
      const frame = (width: number, height: number) =>
        encodeJpeg({ width, height, data: new Uint8Array(width * height * 3).fill(128) }, 80);
      const frames = [...Array(3).fill(frame(64, 48)), ...Array(3).fill(frame(128, 96))];
      const raw = join(dir, "frames.mjpeg"), video = join(dir, "growing.mkv");
      await Deno.writeFile(raw, new Uint8Array(await new Blob(frames).arrayBuffer()));
      await ffmpeg("-f", "mjpeg", "-framerate", "5", "-i", raw, "-c:v", "copy", video);
      const info = await probeVideo(video);
      assertEquals([info.width, info.height], [64, 48]);
      // 64 × 48 = 3072 pixels pass a limit of 5000; 128 × 96 = 12288 do not.
      const seen: VideoFrame[] = [];
      const error = await assertRejects(async () => {
        for await (const f of readVideoFrames(video, { maxPixels: 5000 })) seen.push(f);
      }, VideoError);
      assertEquals(seen.length, 3, error.message);
      assert(
        error.message.includes(
          "decoding failed after 3 frame(s): a frame is larger than the limit of 5000 pixels " +
            "(--max-pixels), though the first is 64×48",
        ),
        error.message,
      );
      // Under the default limit all six decode (scaled to the first frame's size).
      assertEquals((await collect(readVideoFrames(video))).length, 6);
    }),
});
