/**
 * What a video is before decoding it: which paths and URLs are videos, and their size, frame
 * rate, frame count and rotation as ffprobe reports them.
 *
 * ffmpeg and ffprobe (Debian's `ffmpeg` package) do all container and codec work; posekit
 * only spawns them. Every failure is a `VideoError` that names the source.
 */

import { extname, resolve } from "node:path";
import { pixelLimitReason } from "../../image/decode.ts";
import type { VideoInfo } from "../../video/frame.ts";
export type { VideoInfo } from "../../video/frame.ts";

/**
 * A video that cannot be probed, decoded or written; the message names the source and why.
 *
 * @example Telling a bad video apart from a bug
 * ```ts
 * import assert from "node:assert/strict";
 * import { VideoError } from "@posekit/posekit";
 *
 * // A batch run skips the video with its reason; any other error is a bug and is thrown.
 * function skipped(error: unknown): string {
 *   if (!(error instanceof VideoError)) throw error;
 *   return `skipped ${error.source} (${error.reason})`;
 * }
 * // What `probeVideo`, `readVideoFrames` and `VideoWriter` throw, e.g. for an empty file.
 * const error = new VideoError("clip.mp4", "is empty (0 bytes), not a video");
 * assert.equal(error.message, "clip.mp4: is empty (0 bytes), not a video");
 * assert.equal(skipped(error), "skipped clip.mp4 (is empty (0 bytes), not a video)");
 * assert.throws(() => skipped(new TypeError("oops")), TypeError);
 * ```
 */
export class VideoError extends Error {
  /** The error for `source`, with `reason`. */
  constructor(
    /** The file or URL. */
    readonly source: string,
    /** Why, in plain words, without the source. */
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = "VideoError";
  }
}

/** What a missing ffmpeg/ffprobe executable means for the user, and the fix. */
export function missingToolReason(tool: "ffmpeg" | "ffprobe"): string {
  return `${tool} is not installed or not on PATH; videos need ffmpeg ` +
    `(Debian/Ubuntu: apt-get install ffmpeg; elsewhere install ffmpeg and put it on PATH)`;
}

/** File extensions treated as videos (lower case, with the dot). */
export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set([
  ".mp4",
  ".m4v",
  ".mov",
  ".mkv",
  ".avi",
  ".webm",
  ".mpg",
  ".mpeg",
  ".ts",
  ".m2ts",
  ".mts",
  ".wmv",
  ".flv",
  ".3gp",
  ".ogv",
]);

/** Whether `path` names a video file by its extension (case-insensitive). */
export function isVideoPath(path: string): boolean {
  return VIDEO_EXTENSIONS.has(extname(path).toLowerCase());
}

/** Whether `source` is a network stream ffmpeg can read: http(s)://, rtsp(s)://, rtmp(s)://. */
export function isStreamUrl(source: string): boolean {
  return /^(https?|rtsps?|rtmps?|tcp|udp|srt):\/\//i.test(source);
}

/** Whether `source` is a Linux camera device (`/dev/video0`), opened by ffmpeg's v4l2 input. */
export function isCameraDevice(source: string): boolean {
  return /^\/dev\/video\d+$/.test(source);
}

/**
 * The demuxers a local video file may be opened with (ffmpeg's names; a demuxer whose name
 * lists several, like "mov,mp4,m4a,3gp,3g2,mj2", matches on any). Containers of frames only:
 * playlists (HLS), concat lists and manifests name other files, which ffmpeg would then read
 * as if they were this one's frames, so they are left out.
 */
export const LOCAL_VIDEO_FORMATS: readonly string[] = [
  "mov",
  "matroska",
  "avi",
  "mpegts",
  "mpeg",
  "asf",
  "flv",
  "ogg",
  "h264",
  "hevc",
  "mjpeg",
  "mpegvideo",
  "m4v",
];

/** `LOCAL_VIDEO_FORMATS` in words, for the error that refuses another format. */
const LOCAL_VIDEO_FORMATS_TEXT =
  "MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, WMV, FLV, Ogg, raw H.264/HEVC/MPEG/MJPEG";

/**
 * libswscale's flags for every conversion between RGB and YUV (and any scaling): exact
 * rounding, chroma interpolated rather than repeated, and the C code's results whatever the
 * CPU. With ffmpeg's defaults the pixels depend on which SIMD code the CPU runs (up to 3
 * levels apart between AVX-512 and plain C on one machine's decode of the same video), so the
 * same video gave different detections, and different track ids, on different machines.
 * Decoding a 1080p frame takes some 7 ms more (12 against 5 ms), in ffmpeg's own process.
 */
export const EXACT_SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int+bitexact";

/**
 * How long a video URL may stay silent by default (connecting, or between reads), and the
 * most its probe may take: 30 seconds, like an image URL.
 */
export const DEFAULT_VIDEO_TIMEOUT_MS = 30_000;

/** Options of `probeVideo`. */
export interface ProbeVideoOptions {
  /**
   * Refuse a video whose frames are above this many pixels (width × height), before decoding.
   * Default `DEFAULT_MAX_PIXELS`, the images' limit; `Infinity` for no limit.
   */
  maxPixels?: number;
  /** Milliseconds a URL may stay silent, and its probe may take (default 30 s). */
  timeoutMs?: number;
}

/**
 * A local path as ffmpeg must be given it: `file:` + the absolute path, so that no name is
 * taken for an option (`-report.mp4`), a protocol (`cam1:12.mp4`) or a URL (a folder `http:`).
 */
export function fileTarget(path: string): string {
  return `file:${resolve(path)}`;
}

/** What ffmpeg opens for `source`: URLs and camera devices as they are, files by `fileTarget`. */
export function ffmpegTarget(source: string): string {
  return isStreamUrl(source) || isCameraDevice(source) ? source : fileTarget(source);
}

/**
 * The input options and input (`-i`) of ffmpeg and ffprobe for `source`:
 * - a local file may use the file protocol only (a file cannot make ffmpeg fetch a URL) and
 *   the demuxers of `LOCAL_VIDEO_FORMATS` only (a playlist cannot pull in another file);
 * - a URL gets an I/O timeout, since a server that accepts and never answers would hold
 *   ffmpeg forever: `-rw_timeout` (microseconds) for http(s) and rtmp(s), reaching their TCP
 *   connection; `-timeout` for rtsp(s), whose demuxer opens its own (for rtmp, `-timeout`
 *   would mean listening instead);
 * - a camera device is opened as it is (ffmpeg's v4l2 input knows it by its `/dev/video` name);
 * - with `maxPixels`, the decoder refuses frames larger than that (`-max_pixels`): the first
 *   frame's size, checked before decoding, says nothing of the frames after it.
 */
export function ffmpegInputArgs(
  source: string,
  timeoutMs: number = DEFAULT_VIDEO_TIMEOUT_MS,
  maxPixels?: number,
): string[] {
  const target = ffmpegTarget(source);
  // ffmpeg's option is a C int.
  const limit = maxPixels === undefined
    ? []
    : ["-max_pixels", String(Math.min(Math.floor(maxPixels), 2 ** 31 - 1))];
  if (isCameraDevice(source)) return [...limit, "-i", target];
  if (isStreamUrl(source)) {
    const option = /^rtsps?:/i.test(source) ? "-timeout" : "-rw_timeout";
    return [...limit, option, String(Math.round(timeoutMs * 1000)), "-i", target];
  }
  return [
    ...limit,
    "-protocol_whitelist",
    "file",
    "-format_whitelist",
    LOCAL_VIDEO_FORMATS.join(","),
    "-i",
    target,
  ];
}

/** Whether ffmpeg's stderr says a frame was above `-max_pixels`. */
export function saysTooManyPixels(stderr: string): boolean {
  return /exceeds specified max pixel count|image parameters invalid/i.test(stderr);
}

/** Why a URL failed when it timed out, in the words of image URLs. */
export function timeoutReason(timeoutMs: number): string {
  return `no answer within ${timeoutMs / 1000} s (timeout)`;
}

/** Whether a tool's stderr says that a network read or connection timed out. */
export function saysTimedOut(stderr: string): boolean {
  return /timed out/i.test(stderr);
}

/** Why ffprobe refused a local file whose format is not a video container (see `ffmpegInputArgs`). */
export function refusedFormatReason(stderr: string): string | undefined {
  if (!/not on whitelist/i.test(stderr)) return undefined;
  return `not a video file posekit reads: its format is none of ${LOCAL_VIDEO_FORMATS_TEXT} ` +
    `(playlists such as HLS and concat lists are refused: they name other files)`;
}

/**
 * Refuses frames above `maxPixels`, in the images' words, before any frame is decoded: a
 * small file (one MJPEG frame of 12000×12000 is 1.7 MB) can decode to gigabytes.
 */
export function checkFramePixels(source: string, info: VideoInfo, maxPixels?: number): void {
  const reason = pixelLimitReason(info.width, info.height, maxPixels);
  if (reason) throw new VideoError(source, reason);
}

interface ProbeStream {
  codec_type?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  disposition?: { attached_pic?: number };
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { duration?: string };
}

/** A rational "num/den" (or decimal) as a number; undefined when absent, zero or invalid. */
function parseRate(rate: string | undefined): number | undefined {
  if (!rate) return undefined;
  const [num, den = "1"] = rate.split("/");
  const value = Number(num) / Number(den);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function positiveNumber(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Counter-clockwise rotation in {0, 90, 180, 270}. */
function streamRotation(stream: ProbeStream): number {
  const matrix = stream.side_data_list?.find((d) => typeof d.rotation === "number");
  // The display matrix counts counter-clockwise; the legacy `rotate` tag counts clockwise.
  const ccw = matrix ? matrix.rotation! : -Number(stream.tags?.rotate ?? 0);
  const quarter = Math.round((Number.isFinite(ccw) ? ccw : 0) / 90);
  return ((quarter % 4) + 4) % 4 * 90;
}

/**
 * The first line or two of a tool's stderr, without ffmpeg's "[demuxer @ 0x…]" prefixes and
 * without a leading `source: ` (the message names the source already; only at the start of a
 * line, so that another path ending in the same name stays whole).
 */
export function stderrReason(stderr: string, source: string): string {
  const lines = stderr.split("\n").map((line) => {
    const text = line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, "");
    return (text.startsWith(`${source}: `) ? text.slice(source.length + 2) : text).trim();
  }).filter((line) => line !== "");
  return lines.slice(0, 2).join("; ");
}

/**
 * Rejects a local file that does not exist, is empty or is no regular file, before spawning
 * anything. URLs and camera devices (`/dev/video0`, ffmpeg's v4l2 input) are not local files.
 */
async function checkLocalFile(source: string): Promise<void> {
  if (isStreamUrl(source) || isCameraDevice(source)) return;
  let size: number;
  try {
    const stat = await Deno.stat(source);
    if (!stat.isFile) throw new VideoError(source, "is not a file");
    size = stat.size;
  } catch (error) {
    if (error instanceof VideoError) throw error;
    if (error instanceof Deno.errors.NotFound) throw new VideoError(source, "no such file");
    throw new VideoError(source, `cannot read it (${(error as Error).message})`);
  }
  if (size === 0) throw new VideoError(source, "is empty (0 bytes), not a video");
}

/** What ffprobe did: its output, and whether the wall-clock limit killed it. */
interface ProbeRun {
  output: Deno.CommandOutput;
  killed: boolean;
}

/**
 * Runs ffprobe on `source`. A URL's probe is killed after `timeoutMs` (wall clock): a server
 * that trickles bytes never trips ffmpeg's I/O timeout.
 */
async function runFfprobe(source: string, timeoutMs: number): Promise<ProbeRun> {
  const child = new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-print_format",
      "json",
      "-show_streams",
      "-show_format",
      ...ffmpegInputArgs(source, timeoutMs),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = isStreamUrl(source)
    ? setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, timeoutMs)
    : undefined;
  try {
    return { output: await child.output(), killed };
  } finally {
    clearTimeout(timer);
  }
}

/** Why ffprobe failed on `source`, naming a timeout (URLs) or a refused format plainly. */
function probeFailureReason(
  source: string,
  run: ProbeRun,
  stderr: string,
  timeoutMs: number,
): string {
  if (isStreamUrl(source) && (run.killed || saysTimedOut(stderr))) return timeoutReason(timeoutMs);
  const refused = isStreamUrl(source) ? undefined : refusedFormatReason(stderr);
  if (refused) return refused;
  const reason = stderrReason(stderr, ffmpegTarget(source)) ||
    `ffprobe exited with code ${run.output.code}`;
  return `not a video or corrupt (ffprobe: ${reason})`;
}

/**
 * Probes `source` (a file, a URL or a camera device) with
 * `ffprobe -v error -print_format json -show_streams -show_format`. A local file is read as a
 * local file and a video container only, a URL within `options.timeoutMs` (see
 * `ffmpegInputArgs`); frames above `options.maxPixels` are refused.
 *
 * @throws VideoError when ffprobe is missing (with how to install it), the file is missing or
 *   empty, is not a video or is corrupt (ffprobe's reason), is a playlist or another format
 *   that is no video container, has no video stream, has frames above the pixel limit, or a
 *   URL does not answer in time
 *
 * @example Size and frame rate
 * ```ts ignore
 * import { probeVideo, VideoError } from "@posekit/posekit";
 *
 * try {
 *   const { width, height, fps, frameCount } = await probeVideo("clip.mp4");
 *   console.log(`${width}×${height} at ${fps} fps, ${frameCount ?? "?"} frames`);
 * } catch (error) {
 *   if (!(error instanceof VideoError)) throw error;
 *   console.error(error.message); // "clip.mp4: <why>", e.g. ffprobe missing (with the fix)
 * }
 * ```
 */
export async function probeVideo(
  source: string,
  options: ProbeVideoOptions = {},
): Promise<VideoInfo> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_VIDEO_TIMEOUT_MS;
  await checkLocalFile(source);
  let run: ProbeRun;
  try {
    run = await runFfprobe(source, timeoutMs);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VideoError(source, missingToolReason("ffprobe"));
    }
    throw error;
  }
  const { output } = run;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new VideoError(source, probeFailureReason(source, run, stderr, timeoutMs));
  }
  let parsed: ProbeOutput;
  try {
    parsed = JSON.parse(new TextDecoder().decode(output.stdout));
  } catch {
    throw new VideoError(source, "ffprobe printed something that is not JSON");
  }
  // Cover art in audio files is a "video" stream too; it is not footage.
  const stream = parsed.streams?.find((s) =>
    s.codec_type === "video" && !s.disposition?.attached_pic
  );
  if (!stream) {
    // A cut MP4 can still parse as a container with no streams at all: that is damage.
    throw new VideoError(
      source,
      parsed.streams?.length ? "has no video stream" : "not a video or corrupt (no streams found)",
    );
  }
  if (!(Number(stream.width) > 0 && Number(stream.height) > 0)) {
    throw new VideoError(source, "the video stream has no frame size (corrupt?)");
  }
  const rateText = parseRate(stream.avg_frame_rate) ? stream.avg_frame_rate! : stream.r_frame_rate;
  const fps = parseRate(rateText);
  if (!fps) throw new VideoError(source, "the video stream has no frame rate");
  const rotation = streamRotation(stream);
  const swap = rotation === 90 || rotation === 270;
  const durationSeconds = positiveNumber(stream.duration) ??
    positiveNumber(parsed.format?.duration);
  const counted = positiveNumber(stream.nb_frames);
  const frameCount = counted !== undefined
    ? Math.round(counted)
    : durationSeconds !== undefined
    ? Math.round(durationSeconds * fps)
    : undefined;
  const info: VideoInfo = {
    width: swap ? stream.height! : stream.width!,
    height: swap ? stream.width! : stream.height!,
    fps,
    frameRate: rateText!,
    frameCount,
    durationSeconds,
    rotation,
  };
  checkFramePixels(source, info, options.maxPixels);
  return info;
}
