/**
 * Test videos made with ffmpeg, and pixel helpers to compare decoded frames with references.
 *
 * Outside CI a test that needs ffmpeg is ignored when it is missing; under `CI=true` it runs
 * and fails (CI installs ffmpeg).
 */

import type { RgbImage } from "../../lib/types.ts";

function hasTool(tool: string): boolean {
  try {
    return new Deno.Command(tool, { args: ["-version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Whether ffmpeg and ffprobe run here. */
export const FFMPEG_AVAILABLE: boolean = hasTool("ffmpeg") && hasTool("ffprobe");

/** `ignore` flag for Deno.test: true only when ffmpeg is missing and we are not in CI. */
export function ignoreWithoutFfmpeg(): boolean {
  return Deno.env.get("CI") !== "true" && !FFMPEG_AVAILABLE;
}

/** Runs ffmpeg (`-v error -y` prepended); throws with its stderr on failure. */
export async function ffmpeg(...args: string[]): Promise<void> {
  const output = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-y", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`ffmpeg ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Runs ffprobe and returns stdout as text. */
export async function ffprobe(...args: string[]): Promise<string> {
  const output = await new Deno.Command("ffprobe", {
    args: ["-v", "error", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout);
}

/** Width and height of the first video stream of a file (an image counts), by ffprobe. */
export async function streamSize(path: string): Promise<[number, number]> {
  const csv = await ffprobe(
    "-select_streams",
    "v:0",
    "-show_entries",
    "stream=width,height",
    "-of",
    "csv=p=0",
    path,
  );
  const [width, height] = csv.trim().split(",").map(Number);
  return [width, height];
}

/** An image file decoded by ffmpeg itself (the reference decoder for ffmpeg-made videos). */
export async function decodeWithFfmpeg(path: string): Promise<RgbImage> {
  const [width, height] = await streamSize(path);
  const output = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
    stdout: "piped",
  }).output();
  return { width, height, data: output.stdout };
}

/** A camera pan over a still image: frame i shows the `width × height` window at `(x0 + dx·i, y0 + dy·i)`. */
export interface Pan {
  width: number;
  height: number;
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  frames: number;
  fps: number;
  /** H.264 quality (lower is better), default 8; pixel format, default yuv420p. */
  crf?: number;
  pixelFormat?: string;
}

/** Encodes `pan` over `image` to an H.264 file (near-lossless, so frames can be compared). */
export async function makePanVideo(image: string, out: string, pan: Pan): Promise<void> {
  const { width, height, x0, y0, dx, dy, frames, fps } = pan;
  await ffmpeg(
    "-loop",
    "1",
    "-framerate",
    String(fps),
    "-i",
    image,
    "-vf",
    `crop=${width}:${height}:'${x0}+${dx}*n':'${y0}+${dy}*n':exact=1`,
    "-frames:v",
    String(frames),
    "-c:v",
    "libx264",
    "-crf",
    String(pan.crf ?? 8),
    "-pix_fmt",
    pan.pixelFormat ?? "yuv420p",
    out,
  );
}

/** The `width × height` window of `image` at (x, y). */
export function crop(
  image: RgbImage,
  x: number,
  y: number,
  width: number,
  height: number,
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(start, start + width * 3), row * width * 3);
  }
  return { width, height, data };
}

/** `image` turned 90° counter-clockwise (what a player shows for a display rotation of 90). */
export function rotateCounterClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(width * height * 3);
  // Output pixel (x', y') comes from input column width − 1 − y', row x'.
  for (let yOut = 0; yOut < width; yOut++) {
    for (let xOut = 0; xOut < height; xOut++) {
      const src = (xOut * width + (width - 1 - yOut)) * 3;
      const dst = (yOut * height + xOut) * 3;
      data[dst] = image.data[src];
      data[dst + 1] = image.data[src + 1];
      data[dst + 2] = image.data[src + 2];
    }
  }
  return { width: height, height: width, data };
}

/** Mean absolute difference per channel value of two images of the same size. */
export function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`sizes differ: ${a.width}×${a.height} and ${b.width}×${b.height}`);
  }
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** A small H.264 test pattern video (ffmpeg's testsrc): `frames` frames of `width × height`. */
export async function makeTestVideo(
  out: string,
  width: number,
  height: number,
  frames: number,
): Promise<void> {
  await ffmpeg(
    "-f",
    "lavfi",
    "-i",
    `testsrc=size=${width}x${height}:rate=10`,
    "-frames:v",
    String(frames),
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    out,
  );
}
