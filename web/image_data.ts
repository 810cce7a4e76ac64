/** RGB images as canvas pixels, for the page and its worker alike. */

import type { RgbImage } from "../core.ts";

/** An RGB image as canvas pixels (RGBA, opaque). */
export function toImageData(image: RgbImage): ImageData {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0, o = 0; i < image.data.length; i += 3, o += 4) {
    rgba[o] = image.data[i];
    rgba[o + 1] = image.data[i + 1];
    rgba[o + 2] = image.data[i + 2];
    rgba[o + 3] = 255;
  }
  return new ImageData(rgba, image.width, image.height);
}
