/**
 * H.264 MP4 output: RGB frames piped into ffmpeg (libx264, yuv420p, same frame rate, one
 * output frame per written image).
 *
 * ffmpeg writes a hidden temp file beside the target (`.<name>.posekit-<pid>-<16 hex>.tmp`,
 * muxer forced with `-f mp4`); `close` renames it into place, so a crash or kill never leaves a
 * torn video under the target name. This process holds the temp file's lock meanwhile (see
 * `lib/deno/files.ts`), so no other run takes it for abandoned however long the video takes;
 * on Windows, where a lock would stop ffmpeg's own writes, ffmpeg's open file keeps it from
 * being deleted instead.
 * ffmpeg is given that file as `file:` + its absolute path, with the file protocol only, so
 * that no name is taken for an option, a protocol or a URL.
 */

import { createTemporaryFile } from "../files.ts";
import type { RgbImage } from "../../types.ts";
import {
  EXACT_SWS_FLAGS,
  fileTarget,
  missingToolReason,
  stderrReason,
  VideoError,
} from "./probe.ts";

/** Options of `VideoWriter.open`. */
export interface VideoWriterOptions {
  /** Frame width in pixels; an odd width is padded by one black column (yuv420p needs even). */
  width: number;
  /** Frame height in pixels; an odd height is padded by one black row. */
  height: number;
  /** Frames per second: a number, or an exact rational such as "30000/1001". */
  fps: number | string;
  /** x264 constant rate factor (lower = better, larger); default 20. */
  crf?: number;
}

function validRate(fps: number | string): boolean {
  if (typeof fps === "number") return Number.isFinite(fps) && fps > 0;
  const [num, den = "1"] = fps.split("/");
  return /^\d+(\.\d+)?(\/\d+)?$/.test(fps) && Number(num) > 0 && Number(den) > 0;
}

/**
 * Writes RGB frames to an H.264 .mp4 file. Call `write` sequentially (await each).
 *
 * @example Drawn poses to an .mp4
 * ```ts ignore
 * import { drawPoses, PosePipeline, probeVideo, readVideoFrames, VideoWriter } from "@posekit/posekit";
 *
 * const pipeline = await PosePipeline.create();
 * const { width, height, frameRate } = await probeVideo("clip.mp4");
 * const writer = await VideoWriter.open("clip.poses.mp4", { width, height, fps: frameRate });
 * try {
 *   for await (const { image } of readVideoFrames("clip.mp4")) {
 *     await writer.write(drawPoses(image, await pipeline.run(image)));
 *   }
 *   await writer.close(); // the file appears only now, complete
 * } catch (error) {
 *   await writer.abort(); // nothing is left behind
 *   throw error;
 * }
 * await pipeline.close();
 * ```
 */
export class VideoWriter {
  #framesWritten = 0;
  #finished = false;
  #exited = false;

  private constructor(
    /** The target path. */
    readonly path: string,
    readonly width: number,
    readonly height: number,
    private readonly tempPath: string,
    /** The temp file's handle: its lock marks the file as in use until renamed or removed. */
    private readonly tempLock: Deno.FsFile | undefined,
    private readonly child: Deno.ChildProcess,
    private readonly stdin: WritableStreamDefaultWriter<Uint8Array>,
    private readonly stderr: Promise<string>,
    private readonly status: Promise<Deno.CommandStatus>,
  ) {
    status.then(() => this.#exited = true);
  }

  /**
   * Starts ffmpeg writing `path` (through a temp file in the same folder).
   *
   * @throws VideoError when ffmpeg is missing (with how to install it) or the folder is not
   *   writable; RangeError on a bad size or rate
   */
  static async open(path: string, options: VideoWriterOptions): Promise<VideoWriter> {
    const { width, height, fps, crf = 20 } = options;
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new RangeError(`VideoWriter: invalid frame size ${width}×${height}`);
    }
    if (!validRate(fps)) throw new RangeError(`VideoWriter: invalid frame rate ${fps}`);
    // The writers' one pattern, so that a later run can remove what a killed one left.
    // Created now to fail now, not at the first frame (ffmpeg opens its output only once
    // input arrives).
    let tempPath: string;
    let tempLock: Deno.FsFile | undefined;
    try {
      ({ path: tempPath, file: tempLock } = await createTemporaryFile(path));
    } catch (error) {
      throw new VideoError(path, `cannot write here (${(error as Error).message})`);
    }
    if (Deno.build.os === "windows") {
      tempLock.close();
      tempLock = undefined;
    }
    const pad = width % 2 || height % 2 ? ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"] : [];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("ffmpeg", {
        args: [
          "-v",
          "error",
          "-y",
          "-f",
          "rawvideo",
          "-pix_fmt",
          "rgb24",
          "-s",
          `${width}x${height}`,
          "-framerate",
          String(fps),
          "-protocol_whitelist",
          "pipe",
          "-i",
          "pipe:0",
          ...pad,
          "-sws_flags",
          EXACT_SWS_FLAGS,
          "-c:v",
          "libx264",
          "-crf",
          String(crf),
          "-pix_fmt",
          "yuv420p",
          "-movflags",
          "+faststart",
          "-f",
          "mp4",
          "-protocol_whitelist",
          "file",
          fileTarget(tempPath),
        ],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      await Deno.remove(tempPath).catch(() => {});
      tempLock?.close();
      if (error instanceof Deno.errors.NotFound) {
        throw new VideoError(path, missingToolReason("ffmpeg"));
      }
      throw error;
    }
    const stderr = new Response(child.stderr).text();
    return new VideoWriter(
      path,
      width,
      height,
      tempPath,
      tempLock,
      child,
      child.stdin.getWriter(),
      stderr,
      child.status,
    );
  }

  /** Frames written so far. */
  get framesWritten(): number {
    return this.#framesWritten;
  }

  /**
   * Appends one frame (must have the opened size).
   *
   * @throws VideoError when ffmpeg stopped (its reason; the temp file is removed)
   */
  async write(image: RgbImage): Promise<void> {
    if (this.#finished) throw new VideoError(this.path, "write after close or abort");
    if (image.width !== this.width || image.height !== this.height) {
      throw new RangeError(
        `${this.path}: frame is ${image.width}×${image.height}, the video ${this.width}×${this.height}`,
      );
    }
    try {
      await this.stdin.write(image.data);
    } catch {
      await this.abort();
      const reason = stderrReason(await this.stderr, fileTarget(this.tempPath));
      throw new VideoError(this.path, `ffmpeg stopped encoding: ${reason || "pipe closed"}`);
    }
    this.#framesWritten++;
  }

  /**
   * Finishes encoding and renames the temp file to `path`.
   *
   * @throws VideoError when no frame was written or ffmpeg failed (nothing is left behind)
   */
  async close(): Promise<void> {
    if (this.#finished) return;
    if (this.#framesWritten === 0) {
      await this.abort();
      throw new VideoError(this.path, "no frames were written");
    }
    this.#finished = true;
    await this.stdin.close().catch(() => {});
    const { success, code } = await this.status;
    try {
      if (!success) {
        await Deno.remove(this.tempPath).catch(() => {});
        const reason = stderrReason(await this.stderr, fileTarget(this.tempPath));
        throw new VideoError(this.path, `ffmpeg failed: ${reason || `exit code ${code}`}`);
      }
      // On disk before the rename (see writeFileAtomic); through the lock's handle, where held.
      await this.tempLock?.syncData();
      await Deno.rename(this.tempPath, this.path);
    } finally {
      this.releaseTemp();
    }
  }

  /** Lets go of the temp file's lock (once it is renamed or removed). */
  private releaseTemp(): void {
    try {
      this.tempLock?.close();
    } catch {
      // Closed already.
    }
  }

  /** Stops ffmpeg and deletes the temp file; `path` is left as it was. */
  async abort(): Promise<void> {
    this.#finished = true;
    if (!this.#exited) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.stdin.abort().catch(() => {});
    await this.status;
    await Deno.remove(this.tempPath).catch(() => {});
    this.releaseTemp();
  }
}
