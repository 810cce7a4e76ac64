/**
 * Video frames as RGB images, decoded by ffmpeg into a pipe: no temporary frame files, and
 * memory bounded by the frame being filled plus the pipe's buffer (ffmpeg blocks while the
 * consumer is busy).
 *
 * Frame times assume a constant frame rate: frame i is at i / fps seconds from the first
 * frame. ffmpeg applies rotation metadata (autorotate), so frames have the display size that
 * `probeVideo` reports; the output is also scaled to exactly that size so that a mid-stream
 * size change cannot misalign the byte stream.
 */

import { DEFAULT_MAX_PIXELS } from "../../image/decode.ts";
import type { RgbImage } from "../../types.ts";
import {
  checkFramePixels,
  DEFAULT_VIDEO_TIMEOUT_MS,
  EXACT_SWS_FLAGS,
  ffmpegInputArgs,
  ffmpegTarget,
  isStreamUrl,
  missingToolReason,
  probeVideo,
  saysTimedOut,
  saysTooManyPixels,
  stderrReason,
  timeoutReason,
  VideoError,
  type VideoInfo,
} from "./probe.ts";
import type { VideoFrame } from "../../video/frame.ts";
export type { VideoFrame } from "../../video/frame.ts";

/** Options of `readVideoFrames`. */
export interface ReadVideoOptions {
  /** Keep frames 0, every, 2·every, …; default 1 (all frames). */
  every?: number;
  /** Stops decoding (ffmpeg is killed) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The source's `probeVideo` result, when the caller already has it. */
  info?: VideoInfo;
  /** Refuse frames above this many pixels, before decoding (default: the images' limit). */
  maxPixels?: number;
  /** Milliseconds a URL may stay silent (default 30 s); see `probeVideo`. */
  timeoutMs?: number;
}

/** How much of ffmpeg's stderr is kept for error messages. */
const STDERR_LIMIT = 16 * 1024;

/** Reads a byte stream to its end, keeping its first `limit` bytes as text. */
async function readHead(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for await (const chunk of stream) {
    if (kept < limit) {
      chunks.push(chunk.subarray(0, limit - kept));
      kept += chunks[chunks.length - 1].length;
    }
  }
  const bytes = new Uint8Array(kept);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The ffmpeg arguments that decode `source`'s first video stream to raw RGB on stdout; the
 * input as `ffmpegInputArgs` opens it (local files as local video files, URLs with a timeout).
 */
function decodeArgs(
  source: string,
  info: VideoInfo,
  every: number,
  timeoutMs: number,
  maxPixels: number,
): string[] {
  // Exact conversion to RGB: the same pixels on every CPU (see EXACT_SWS_FLAGS).
  const filters = [`scale=${info.width}:${info.height}:flags=${EXACT_SWS_FLAGS}`];
  // select drops the frames before RGB conversion and the pipe; `n` counts decoded frames.
  if (every > 1) filters.unshift(`select='not(mod(n,${every}))'`);
  return [
    "-nostdin",
    "-v",
    "error",
    ...ffmpegInputArgs(source, timeoutMs, maxPixels),
    "-map",
    "0:v:0",
    "-vf",
    filters.join(","),
    // One output frame per kept decoded frame: ffmpeg must not duplicate or drop frames to
    // make the rate constant (it does by default, e.g. after select).
    "-vsync",
    "passthrough",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "pipe:1",
  ];
}

/**
 * Decodes the frames of `source` (a file, an ffmpeg-readable URL or a camera device), in
 * order. A local file is opened as a local video file only, a URL with an I/O timeout (see
 * `ffmpegInputArgs`); frames above `options.maxPixels` are refused before decoding.
 *
 * A truncated or corrupt video yields the frames that decoded and then throws a `VideoError`
 * with ffmpeg's reason: when ffmpeg fails, or when it reported errors and decoded fewer
 * frames than the container announced (or the count is unknown). Breaking out of the loop
 * kills ffmpeg.
 *
 * @throws VideoError when ffmpeg is missing, the source cannot be probed, its frames are
 *   above the pixel limit, it has no frames, or decoding fails part way (a URL that stops
 *   answering: after `options.timeoutMs`)
 *
 * @example Every 5th frame
 * ```ts ignore
 * import { readVideoFrames } from "@posekit/posekit";
 *
 * for await (const { index, time, image } of readVideoFrames("clip.mp4", { every: 5 })) {
 *   console.log(index, time.toFixed(2), image.width, image.height);
 * }
 * ```
 */
export async function* readVideoFrames(
  source: string,
  options: ReadVideoOptions = {},
): AsyncGenerator<VideoFrame, void, undefined> {
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(`every must be a positive integer, got ${every}`);
  }
  const { signal } = options;
  signal?.throwIfAborted();
  const { maxPixels } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS;
  const info = options.info ?? await probeVideo(source, { maxPixels, timeoutMs });
  checkFramePixels(source, info, maxPixels);
  const frameBytes = info.width * info.height * 3;

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("ffmpeg", {
      args: decodeArgs(source, info, every, timeoutMs, maxPixels ?? DEFAULT_MAX_PIXELS),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VideoError(source, missingToolReason("ffmpeg"));
    }
    throw error;
  }
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stderr = readHead(child.stderr, STDERR_LIMIT);
  const kill = () => {
    if (exited) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
  signal?.addEventListener("abort", kill);
  const reader = child.stdout.getReader();
  let yielded = 0;
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      let offset = 0;
      while (offset < value.length) {
        const take = Math.min(frameBytes - filled, value.length - offset);
        frame.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === frameBytes) {
          const index = yielded * every;
          yielded++;
          const image: RgbImage = { width: info.width, height: info.height, data: frame };
          frame = new Uint8Array(frameBytes);
          filled = 0;
          yield { index, time: index / info.fps, image };
        }
      }
    }
    const { success, code } = await status;
    signal?.throwIfAborted();
    const errors = await stderr;
    const reason = stderrReason(errors, ffmpegTarget(source));
    // ffmpeg may stop there or go on without those frames: refused either way.
    if (saysTooManyPixels(errors)) {
      throw new VideoError(
        source,
        `decoding failed after ${yielded} frame(s): a frame is larger than the limit of ` +
          `${maxPixels ?? DEFAULT_MAX_PIXELS} pixels (--max-pixels), though the first is ` +
          `${info.width}×${info.height}`,
      );
    }
    if (!success) {
      const why = isStreamUrl(source) && saysTimedOut(errors)
        ? timeoutReason(timeoutMs)
        : reason || `ffmpeg exited with code ${code}`;
      throw new VideoError(source, `decoding failed after ${yielded} frame(s): ${why}`);
    }
    if (filled > 0) {
      throw new VideoError(source, `ffmpeg's output ended inside frame ${yielded} (corrupt?)`);
    }
    if (yielded === 0) {
      throw new VideoError(source, `has no frames${reason ? ` (ffmpeg: ${reason})` : ""}`);
    }
    const expected = info.frameCount === undefined ? undefined : Math.ceil(info.frameCount / every);
    if (reason && (expected === undefined || yielded < expected)) {
      const of = expected === undefined ? "" : ` of ${expected}`;
      throw new VideoError(
        source,
        `truncated or corrupt: decoded ${yielded}${of} frame(s), then ffmpeg: ${reason}`,
      );
    }
  } finally {
    signal?.removeEventListener("abort", kill);
    kill();
    await reader.cancel().catch(() => {});
    await status;
    await stderr.catch(() => "");
  }
}
