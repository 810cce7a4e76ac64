/**
 * Live sources (cameras, streams) at bounded latency: the newest frame, never a queue.
 *
 * Reading frames through a pipe cannot do it: while a model runs, nothing drains the pipe
 * (onnxruntime's WebAssembly computes on the calling thread), ffmpeg blocks on it, stops
 * reading its source, and a live source's frames wait in buffers, so each frame processed is
 * older than the last. Here ffmpeg keeps decoding at the source's own pace and overwrites one
 * file with each frame, atomically (`-update 1 -atomic_writing 1`, a rename per frame); each
 * time the pipeline is free it reads the newest one. The frames in between are dropped, and
 * counted from ffmpeg's progress lines.
 */

import { join } from "node:path";
import type { VideoFrame } from "../../video/frame.ts";
import { DEFAULT_MAX_PIXELS, pixelLimitReason } from "../../image/decode.ts";
import {
  DEFAULT_VIDEO_TIMEOUT_MS,
  EXACT_SWS_FLAGS,
  ffmpegInputArgs,
  missingToolReason,
  VideoError,
} from "./probe.ts";

/** Options of `readLiveFrames`. */
export interface LiveOptions {
  /** Stops reading (ffmpeg is killed) when aborted. */
  signal?: AbortSignal;
  /** Refuse frames above this many pixels (width × height). */
  maxPixels?: number;
  /** Milliseconds a URL may stay silent (default 30 s). */
  timeoutMs?: number;
  /** How often the newest frame is looked for, in milliseconds (default 5). */
  pollMs?: number;
}

/** What a live read has seen so far. */
export interface LiveCounts {
  /** Frames ffmpeg decoded from the source. */
  decoded: number;
  /** Frames handed on. */
  delivered: number;
}

/** Frames decoded but never handed on: the source ran ahead of the pipeline. */
export function droppedFrames(counts: LiveCounts): number {
  return Math.max(0, counts.decoded - counts.delivered);
}

/**
 * A binary PPM (P6, 8-bit) as an RGB image, or undefined when the bytes are not one whole
 * (a file caught between two writes never is: they are atomic).
 */
export function parsePpm(bytes: Uint8Array): VideoFrame["image"] | undefined {
  let offset = 0;
  const fields: number[] = [];
  const text = () => {
    while (offset < bytes.length && /\s/.test(String.fromCharCode(bytes[offset]))) offset++;
    const start = offset;
    while (offset < bytes.length && !/\s/.test(String.fromCharCode(bytes[offset]))) offset++;
    return new TextDecoder().decode(bytes.subarray(start, offset));
  };
  if (text() !== "P6") return undefined;
  for (let i = 0; i < 3; i++) fields.push(Number(text()));
  offset++; // the one whitespace byte after the maximum value
  const [width, height, max] = fields;
  if (!(width > 0 && height > 0 && max === 255)) return undefined;
  const data = bytes.subarray(offset, offset + width * height * 3);
  return data.length === width * height * 3 ? { width, height, data: data.slice() } : undefined;
}

/**
 * The newest frame of a live `source` each time the caller asks for one (`for await`), at
 * most once per decoded frame; `counts` says how many were decoded and delivered (the rest
 * were dropped). Frame `index` is the decoded frame's number, `time` the seconds since the
 * first frame was read. Ends when the source does; throws `VideoError` naming the source.
 */
export async function* readLiveFrames(
  source: string,
  counts: LiveCounts = { decoded: 0, delivered: 0 },
  options: LiveOptions = {},
): AsyncGenerator<VideoFrame, void, undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
  const dir = await Deno.makeTempDir({ prefix: "posekit_live_" });
  const latest = join(dir, "latest.ppm");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("ffmpeg", {
      args: [
        "-nostdin",
        "-v",
        "error",
        // Start from the first frames: a stream's parameters are found within a second, not
        // ffmpeg's default 5 s of analysis.
        "-fflags",
        "nobuffer",
        "-analyzeduration",
        "1000000",
        "-probesize",
        "1000000",
        ...ffmpegInputArgs(
          source,
          options.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS,
          options.maxPixels ?? DEFAULT_MAX_PIXELS,
        ),
        "-an",
        "-sws_flags",
        EXACT_SWS_FLAGS,
        "-pix_fmt",
        "rgb24",
        "-c:v",
        "ppm",
        "-f",
        "image2",
        "-update",
        "1",
        "-atomic_writing",
        "1",
        "-y",
        latest,
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.05",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new VideoError(source, missingToolReason("ffmpeg"));
    }
    throw error;
  }
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const progress = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const match = /^frame=(\d+)/.exec(line);
        if (match) counts.decoded = Math.max(counts.decoded, Number(match[1]));
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const onAbort = () => child.kill("SIGKILL");
  signal?.addEventListener("abort", onAbort);
  const pollMs = options.pollMs ?? 5;
  // A new frame is a new file (each write is a rename): inode, time and size tell it apart,
  // also where the file system hands a freed inode number out again.
  const identity = (info: Deno.FileInfo) => `${info.ino}:${info.mtime?.getTime()}:${info.size}`;
  let seen: string | undefined;
  let start: number | undefined;
  let index = -1;
  try {
    while (true) {
      const info = await Deno.stat(latest).catch(() => undefined);
      if (info && identity(info) !== seen) {
        seen = identity(info);
        const image = parsePpm(await Deno.readFile(latest).catch(() => new Uint8Array()));
        if (image) {
          const reason = pixelLimitReason(image.width, image.height, options.maxPixels);
          if (reason) throw new VideoError(source, reason);
          start ??= performance.now();
          counts.delivered++;
          counts.decoded = Math.max(counts.decoded, counts.delivered);
          // ffmpeg's count comes in progress lines, a little late: an index is never repeated.
          index = Math.max(index + 1, counts.decoded - 1);
          yield {
            index,
            time: (performance.now() - start) / 1000,
            image,
          };
          continue;
        }
      }
      if (exited) {
        // A frame written just before the end is still handed on by the next look.
        if (info && identity(info) !== seen) continue;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    signal?.throwIfAborted();
    const { success, code } = await status;
    await progress;
    if (!success && counts.delivered === 0) {
      const reason = (await stderr).trim().split("\n").pop();
      throw new VideoError(source, `ffmpeg failed: ${reason || `exit code ${code}`}`);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!exited) child.kill("SIGKILL");
    await status.catch(() => {});
    await progress.catch(() => {});
    await stderr.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
