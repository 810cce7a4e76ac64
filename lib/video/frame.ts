/**
 * Video frames as the core sees them: decoded pixels with their index and time, and what is
 * known of the stream. Deno reads them with ffmpeg (`lib/deno/video/`); a page from a
 * <video> element or a camera.
 */

import type { RgbImage } from "../types.ts";

/** One decoded frame. */
export interface VideoFrame {
  /** 0-based index of the frame in the source (also with `every`). */
  index: number;
  /** Seconds from the first frame: index / fps (constant frame rate assumed). */
  time: number;
  /** The frame, display orientation. */
  image: RgbImage;
}

/** A video's first video stream, as decoded frames will be. */
export interface VideoInfo {
  /** Display width in pixels, after rotation (what decoded frames have). */
  width: number;
  /** Display height in pixels, after rotation. */
  height: number;
  /** Frames per second (average frame rate; constant frame rate is assumed). */
  fps: number;
  /** The same rate as ffprobe's exact rational, e.g. "30000/1001", for writing it back. */
  frameRate: string;
  /** Frames in the stream: the container's count, else duration × fps; undefined if unknown. */
  frameCount?: number;
  /** Duration in seconds; undefined when unknown (live streams). */
  durationSeconds?: number;
  /**
   * Rotation a player applies, counter-clockwise degrees in {0, 90, 180, 270} (ffprobe's
   * display-matrix convention; an old-style clockwise `rotate` tag is converted). Decoded
   * frames are already rotated: ffmpeg auto-rotates.
   */
  rotation: number;
}
