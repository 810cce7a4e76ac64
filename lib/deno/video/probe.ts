/**
 * What a video is before decoding it: which paths and URLs are videos, and their size, frame
 * rate, frame count and rotation as ffprobe reports them.
 *
 * ffmpeg and ffprobe (Debian's `ffmpeg` package) do all container and codec work; posekit
 * only spawns them. Every failure is a `VideoError` that names the source.
 */

import { extname } from "node:path";
import type { VideoInfo } from "../../video/frame.ts";
export type { VideoInfo } from "../../video/frame.ts";

/** A video that cannot be probed, decoded or written; the message names the source and why. */
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
  return /^(https?|rtsps?|rtmps?):\/\//i.test(source);
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
 * Rejects a local file that does not exist or is empty before spawning anything. Character
 * devices pass: a webcam is `/dev/video0` on Linux (ffmpeg's v4l2 input).
 */
async function checkLocalFile(source: string): Promise<void> {
  if (isStreamUrl(source)) return;
  let size: number;
  try {
    const stat = await Deno.stat(source);
    if (stat.isCharDevice) return;
    if (!stat.isFile) throw new VideoError(source, "is not a file");
    size = stat.size;
  } catch (error) {
    if (error instanceof VideoError) throw error;
    if (error instanceof Deno.errors.NotFound) throw new VideoError(source, "no such file");
    throw new VideoError(source, `cannot read it (${(error as Error).message})`);
  }
  if (size === 0) throw new VideoError(source, "is empty (0 bytes), not a video");
}

/**
 * Probes `source` (a file or a URL) with
 * `ffprobe -v error -print_format json -show_streams -show_format`.
 *
 * @throws VideoError when ffprobe is missing (with how to install it), the file is missing or
 *   empty, is not a video or is corrupt (ffprobe's reason), or has no video stream
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
export async function probeVideo(source: string): Promise<VideoInfo> {
  await checkLocalFile(source);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("ffprobe", {
      args: ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", source],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VideoError(source, missingToolReason("ffprobe"));
    }
    throw error;
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    const reason = stderrReason(stderr, source) || `ffprobe exited with code ${output.code}`;
    throw new VideoError(source, `not a video or corrupt (ffprobe: ${reason})`);
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
  return {
    width: swap ? stream.height! : stream.width!,
    height: swap ? stream.width! : stream.height!,
    fps,
    frameRate: rateText!,
    frameCount,
    durationSeconds,
    rotation,
  };
}
