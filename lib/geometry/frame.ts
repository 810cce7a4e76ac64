/**
 * Whole-image geometry: where an image lands in a detector's (or end-to-end model's) input,
 * and how input coordinates map back to image pixels. Pure functions.
 */

import type { Box } from "../types.ts";

/**
 * How a whole image was turned into a network input, for mapping results back:
 * input = image · scale + pad, per axis.
 */
export interface ImageFrame {
  /** Width of the original image in pixels. */
  imageWidth: number;
  /** Height of the original image in pixels. */
  imageHeight: number;
  /** Network input width actually used (after resize and padding). */
  inputWidth: number;
  /** Network input height actually used (after resize and padding). */
  inputHeight: number;
  /** Input pixels per image pixel along x (equal to `scaleY` unless the resize stretches). */
  scaleX: number;
  /** Input pixels per image pixel along y. */
  scaleY: number;
  /** Padding left of the resized image, in input pixels (0 unless centred). */
  padX: number;
  /** Padding above the resized image, in input pixels (0 unless centred). */
  padY: number;
  /** Width of the resized image inside the input (the rest is padding). */
  contentWidth: number;
  /** Height of the resized image inside the input (the rest is padding). */
  contentHeight: number;
}

/** How a whole image becomes a network input. */
export type ImageResizeSpec =
  /** Keep the aspect ratio to fit, pad bottom/right (or both sides with `centred`). */
  | { kind: "letterbox"; width: number; height: number; padValue: number; centred: boolean }
  /** DETR: shorter side to `shorterSide`, longer side at most `longerSideMax`, no padding. */
  | { kind: "shorter-side"; shorterSide: number; longerSideMax: number }
  /** Plain resize to `width`×`height`, aspect ratio not kept (RT-DETR / D-FINE / DEIM). */
  | { kind: "stretch"; width: number; height: number };

/**
 * Ultralytics' centred letterbox of an image into the network input: image pixel (x, y) is
 * at input (x · scale + padX, y · scale + padY).
 */
export interface CentredLetterbox {
  imageWidth: number;
  imageHeight: number;
  inputWidth: number;
  inputHeight: number;
  /** min(inputWidth / imageWidth, inputHeight / imageHeight) (Ultralytics `r`, scaleup on). */
  scale: number;
  /** Size of the resized image: Python round(image size · scale) (ties to even). */
  contentWidth: number;
  contentHeight: number;
  /** Padding left of / above the image: round(dw − 0.1), round(dh − 0.1). */
  padX: number;
  padY: number;
  /** Padding right of / below it: round(dw + 0.1), round(dh + 0.1). */
  padRight: number;
  padBottom: number;
}

/** Python 3's round(): to the nearest integer, ties to even (round(2.5) = 2). */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The geometry of Ultralytics' `LetterBox(new_shape, auto=False, center=True)` (what its
 * predictor uses for a fixed-size export): r = min(inW/w, inH/h); resized size
 * round(w·r) × round(h·r); dw = (inW − round(w·r))/2 and the left/right pads
 * round(dw − 0.1), round(dw + 0.1) (so an odd leftover pixel goes right), likewise top/bottom.
 * Python rounding (ties to even) throughout.
 */
export function centredLetterbox(
  imageWidth: number,
  imageHeight: number,
  inputWidth: number,
  inputHeight: number,
): CentredLetterbox {
  if (!(imageWidth > 0 && imageHeight > 0)) {
    throw new Error(`centredLetterbox: image ${imageWidth}×${imageHeight} has no pixels`);
  }
  if (!(inputWidth > 0 && inputHeight > 0)) {
    throw new Error(`centredLetterbox: input ${inputWidth}×${inputHeight} has no pixels`);
  }
  const scale = Math.min(inputWidth / imageWidth, inputHeight / imageHeight);
  const contentWidth = pythonRound(imageWidth * scale);
  const contentHeight = pythonRound(imageHeight * scale);
  const dw = (inputWidth - contentWidth) / 2, dh = (inputHeight - contentHeight) / 2;
  return {
    imageWidth,
    imageHeight,
    inputWidth,
    inputHeight,
    scale,
    contentWidth,
    contentHeight,
    padX: pythonRound(dw - 0.1),
    padY: pythonRound(dh - 0.1),
    padRight: pythonRound(dw + 0.1),
    padBottom: pythonRound(dh + 0.1),
  };
}

/** The frame (sizes, scales and padding) a whole-image resize gives for an image. *
 * @example A 640×480 image in a 320×320 letterbox
 * ```ts
 * import assert from "node:assert/strict";
 * import { imageFrame } from "@posekit/posekit";
 *
 * const frame = imageFrame(
 *   { kind: "letterbox", width: 320, height: 320, padValue: 114, centred: false },
 *   640,
 *   480,
 * );
 * assert.equal(frame.scaleX, 0.5);
 * assert.equal(frame.contentHeight, 240); // rows 240–319 are padding
 * assert.equal(frame.padY, 0); // padded at the bottom, not centred
 * ```
 */
export function imageFrame(
  resize: ImageResizeSpec,
  imageWidth: number,
  imageHeight: number,
): ImageFrame {
  const frame = (
    inputWidth: number,
    inputHeight: number,
    scaleX: number,
    scaleY: number,
    contentWidth: number,
    contentHeight: number,
    padX = 0,
    padY = 0,
  ): ImageFrame => ({
    imageWidth,
    imageHeight,
    inputWidth,
    inputHeight,
    scaleX,
    scaleY,
    padX,
    padY,
    contentWidth,
    contentHeight,
  });
  if (resize.kind === "stretch") {
    return frame(
      resize.width,
      resize.height,
      resize.width / imageWidth,
      resize.height / imageHeight,
      resize.width,
      resize.height,
    );
  }
  if (resize.kind === "letterbox") {
    const scale = Math.min(resize.width / imageWidth, resize.height / imageHeight);
    if (resize.centred) {
      // Ultralytics' LetterBox: Python-rounded content size, the padding split around it.
      const lb = centredLetterbox(imageWidth, imageHeight, resize.width, resize.height);
      return frame(
        resize.width,
        resize.height,
        lb.scale,
        lb.scale,
        lb.contentWidth,
        lb.contentHeight,
        lb.padX,
        lb.padY,
      );
    }
    return frame(
      resize.width,
      resize.height,
      scale,
      scale,
      Math.min(resize.width, Math.max(1, Math.round(imageWidth * scale))),
      Math.min(resize.height, Math.max(1, Math.round(imageHeight * scale))),
    );
  }
  let scale = resize.shorterSide / Math.min(imageWidth, imageHeight);
  if (Math.max(imageWidth, imageHeight) * scale > resize.longerSideMax) {
    scale = resize.longerSideMax / Math.max(imageWidth, imageHeight);
  }
  const contentWidth = Math.max(1, Math.round(imageWidth * scale));
  const contentHeight = Math.max(1, Math.round(imageHeight * scale));
  return frame(contentWidth, contentHeight, scale, scale, contentWidth, contentHeight);
}

/** Input pixel x → image pixel x. */
export function inputToImageX(frame: ImageFrame, x: number): number {
  return (x - frame.padX) / frame.scaleX;
}

/** Input pixel y → image pixel y. */
export function inputToImageY(frame: ImageFrame, y: number): number {
  return (y - frame.padY) / frame.scaleY;
}

/** Clips a box in image pixels to the image; null when nothing of it is left. */
export function clipBox(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  score: number,
  frame: Pick<ImageFrame, "imageWidth" | "imageHeight">,
): Box | null {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const box: Box = {
    x1: clamp(x1, frame.imageWidth),
    y1: clamp(y1, frame.imageHeight),
    x2: clamp(x2, frame.imageWidth),
    y2: clamp(y2, frame.imageHeight),
    score,
  };
  // A box entirely in the padding (or degenerate, or NaN) has no pixels to crop.
  return box.x2 > box.x1 && box.y2 > box.y1 ? box : null;
}

/** A box from input pixels (x1, y1, x2, y2) to image pixels, clipped; null when empty. */
export function inputBoxToImage(
  frame: ImageFrame,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  score: number,
): Box | null {
  return clipBox(
    inputToImageX(frame, x1),
    inputToImageY(frame, y1),
    inputToImageX(frame, x2),
    inputToImageY(frame, y2),
    score,
    frame,
  );
}

/**
 * DETR's normalized centre-size box (cx, cy, w, h in [0, 1]) to a corner box in image pixels,
 * clipped (kept even when empty, as DETR's own post-process does). The normalized units
 * span the resized image without padding ("content", DETR's convention) or the whole input.
 */
export function normalizedCentreBoxToImage(
  frame: ImageFrame,
  cx: number,
  cy: number,
  w: number,
  h: number,
  score: number,
  relativeTo: "content" | "input" = "content",
): Box {
  const spanX = (relativeTo === "input" ? frame.inputWidth : frame.contentWidth) / frame.scaleX;
  const spanY = (relativeTo === "input" ? frame.inputHeight : frame.contentHeight) /
    frame.scaleY;
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  return {
    x1: clamp((cx - w / 2) * spanX, frame.imageWidth),
    y1: clamp((cy - h / 2) * spanY, frame.imageHeight),
    x2: clamp((cx + w / 2) * spanX, frame.imageWidth),
    y2: clamp((cy + h / 2) * spanY, frame.imageHeight),
    score,
  };
}
