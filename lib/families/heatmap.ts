/**
 * Heatmap keypoint models (SimpleBaseline, HRNet, Ultralight-SimplePose, ...): one person crop
 * in, one heatmap per keypoint out.
 *
 * Output role: `heatmaps` [1, K, H, W]. Decoding follows HRNet's `get_final_preds`: argmax,
 * then a quarter pixel toward the higher neighbour; score = the heatmap maximum. The flip
 * test averages the heatmap with the flipped-back heatmap of the mirrored crop (shifted one
 * pixel right, as HRNet's SHIFT_HEATMAP).
 *
 * UDP geometry (`input.cropTransform: "udp"`, ViTPose and mmpose's UDP configs): the crop
 * maps the region onto [0, size − 1], heatmap pixels scale by (input − 1) / (heatmap − 1),
 * the flipped heatmap needs no shift, and DARK-UDP refines the peak (lib/codecs/udp.ts).
 *
 * Manifest options: `padding` (box enlargement, default 1.25), `dark` (boolean: DARK
 * sub-pixel refinement instead of the quarter offset), `blurKernel` (DARK's Gaussian kernel
 * size, odd, default 11, which matches heatmaps trained with sigma 2), `udpRefine` (UDP
 * models: DARK-UDP refinement, default true as in mmpose), `attentionStride` (crop pixels per
 * token of a Transformer model's self-attention, for `--explain`; default: the stride that
 * tiles the crop into the attention's length).
 *
 * Explanations (`--explain`): the fused heatmaps as confidence maps, and for models with
 * self-attention (TransPose, ViTPose) each keypoint's attention row (lib/explain/attention.ts).
 */

import { heatmapPeaks } from "../math/numeric.ts";
import { gaussianBlurHeatmap, gaussianKernel } from "../codecs/gaussian.ts";
import { decodeUdpHeatmaps } from "../codecs/udp.ts";

export { gaussianBlurHeatmap, gaussianKernel };
import { flipPermutation } from "../coco/keypoints.ts";
import type { ModelManifest } from "../models/manifest.ts";
import type { ModelOutputs, OutputTensor } from "../types.ts";
import {
  type FamilyDescriptor,
  type KeypointAdapter,
  optionalOutput,
  requireOutput,
} from "./family.ts";
import type { CropExplanation } from "../explain/types.ts";
import { ATTENTION_ROLE, keypointAttention, prepareSelfAttention } from "../explain/attention.ts";
import { booleanOption, cropSpec, keypointLayout, numberOption } from "./manifest_fields.ts";
import { cocoKeypointFields, imagenetCropInput, staticDim } from "./recognition_defaults.ts";

/** Options of `decodeHeatmaps`. */
export interface HeatmapDecodeOptions {
  /** DARK refinement (Zhang et al. 2020) instead of the quarter-pixel offset. */
  dark?: boolean;
  /** DARK's Gaussian blur kernel size (odd), default 11. */
  blurKernelSize?: number;
}

/**
 * Keypoints from K heatmaps of H × W (row-major, channel after channel) as K × 3: x, y in
 * heatmap pixels (pixel p at coordinate p) and score = the heatmap's maximum.
 *
 * Like HRNet's `get_final_preds`: the first argmax; coordinates 0 when the maximum is ≤ 0;
 * then, when 1 < x < W−1 and 1 < y < H−1, each coordinate moves 0.25 toward its higher
 * neighbour (not at all on a tie). With `dark`, mmpose's `refine_keypoints_dark` replaces the
 * quarter offset: Gaussian-blurred log-heatmap, one Newton step from the argmax, applied
 * when 1 < x < W−2 and 1 < y < H−2.
 */
export function decodeHeatmaps(
  heatmaps: Float32Array,
  k: number,
  h: number,
  w: number,
  options: HeatmapDecodeOptions = {},
): Float32Array {
  const plane = h * w;
  if (heatmaps.length < k * plane) {
    throw new Error(`decodeHeatmaps: ${heatmaps.length} values for ${k}×${h}×${w} heatmaps`);
  }
  const kernelSize = options.blurKernelSize ?? 11;
  return heatmapPeaks(heatmaps, k, h, w, (hm, px, py) => {
    if (options.dark) {
      return 1 < px && px < w - 2 && 1 < py && py < h - 2
        ? darkOffset(hm, h, w, px, py, kernelSize)
        : [0, 0];
    }
    if (1 < px && px < w - 1 && 1 < py && py < h - 1) {
      return [
        0.25 * Math.sign(hm[py * w + px + 1] - hm[py * w + px - 1]),
        0.25 * Math.sign(hm[(py + 1) * w + px] - hm[(py - 1) * w + px]),
      ];
    }
    return [0, 0];
  });
}

/** DARK's sub-pixel offset at integer peak (px, py): −Hessian⁻¹·gradient of log(blurred). */
function darkOffset(
  hm: Float32Array,
  h: number,
  w: number,
  px: number,
  py: number,
  kernelSize: number,
): [number, number] {
  const blurred = gaussianBlurHeatmap(hm, h, w, kernelSize);
  // A map whose blurred maximum is not positive has no meaningful log; leave the argmax.
  let blurredMax = -Infinity;
  for (const v of blurred) if (v > blurredMax) blurredMax = v;
  if (!(blurredMax > 0)) return [0, 0];
  const at = (x: number, y: number) => Math.log(Math.max(blurred[y * w + x], 1e-10));
  const dx = 0.5 * (at(px + 1, py) - at(px - 1, py));
  const dy = 0.5 * (at(px, py + 1) - at(px, py - 1));
  const dxx = 0.25 * (at(px + 2, py) - 2 * at(px, py) + at(px - 2, py));
  const dxy = 0.25 *
    (at(px + 1, py + 1) - at(px + 1, py - 1) - at(px - 1, py + 1) + at(px - 1, py - 1));
  const dyy = 0.25 * (at(px, py + 2) - 2 * at(px, py) + at(px, py - 2));
  const det = dxx * dyy - dxy * dxy;
  if (det === 0) return [0, 0];
  return [-(dyy * dx - dxy * dy) / det, -(dxx * dy - dxy * dx) / det];
}

/**
 * HRNet's `flip_back` of the heatmaps of a horizontally mirrored crop: mirror x, swap the
 * left/right channels of `flipPairs` (pair after pair, as HRNet swaps them), and with `shift`
 * move everything one pixel right (`out[..., 1:] = out[..., :-1]`; column 0 is kept), which
 * HRNet's SHIFT_HEATMAP does to align the flipped heatmap with the original one.
 */
export function flipBackHeatmaps(
  flipped: Float32Array,
  k: number,
  h: number,
  w: number,
  flipPairs: readonly (readonly [number, number])[],
  shift = true,
): Float32Array {
  const plane = h * w;
  if (flipped.length < k * plane) {
    throw new Error(`flipBackHeatmaps: ${flipped.length} values for ${k}×${h}×${w} heatmaps`);
  }
  // source[c]: the flipped channel that becomes channel c.
  const source = flipPermutation(k, flipPairs);
  const out = new Float32Array(k * plane);
  for (let c = 0; c < k; c++) {
    const src = source[c] * plane, dst = c * plane;
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < w; x++) {
        // Mirrored column of x; with the shift, column x shows mirrored column x − 1.
        const mirroredX = shift && x > 0 ? w - x : w - 1 - x;
        out[dst + row + x] = flipped[src + row + mirroredX];
      }
    }
  }
  return out;
}

/** Dimensions K, H, W of a [1, K, H, W] (or [K, H, W]) heatmap tensor. */
function heatmapDims(tensor: OutputTensor, file: string): [number, number, number] {
  const dims = tensor.dims;
  const ok = (dims.length === 4 && dims[0] === 1) || dims.length === 3;
  if (!ok) {
    throw new Error(`model ${file}: heatmaps must be [1, K, H, W], got [${dims.join(", ")}]`);
  }
  const [k, h, w] = dims.slice(-3);
  return [k, h, w];
}

/**
 * Heatmap models: SimpleBaseline, HRNet, TransPose, ViTPose, PP-TinyPose, Ultralight-SimplePose.
 * Standard geometry by default; `input.cropTransform: "udp"` selects UDP's.
 */
export const heatmapFamily: FamilyDescriptor<"heatmap"> = {
  name: "heatmap",
  task: "keypoints",
  summary: "top-down heatmap models: SimpleBaseline, HRNet, TransPose, ViTPose, PP-TinyPose",
  outputRoles: ["heatmaps"],
  recognize(graph) {
    // One 4-D output (PP-TinyPose adds a 2-D argmax output, which is ignored).
    const maps = graph.outputs.filter((t) => t.shape.length === 4);
    if (maps.length !== 1 || graph.outputs.some((t) => t.shape.length === 3)) return;
    const out = maps[0];
    const k = staticDim(out.shape[1]);
    if (k !== undefined && k !== 17) {
      throw new Error(
        `its output [${out.shape.join(",")}] would be heatmaps, but posekit only assumes 17 ` +
          `COCO keypoint channels`,
      );
    }
    const h = staticDim(out.shape[2]), w = staticDim(out.shape[3]);
    const { inputWidth, inputHeight } = graph;
    if (inputHeight && inputWidth && h && w && (inputHeight !== 4 * h || inputWidth !== 4 * w)) {
      throw new Error(
        `heatmaps ${w}x${h} are not a quarter of the input ${inputWidth}x${inputHeight} ` +
          `(the stride posekit assumes)`,
      );
    }
    return {
      input: imagenetCropInput(graph, w ? 4 * w : 192, h ? 4 * h : 256),
      outputs: { heatmaps: out.name },
      ...cocoKeypointFields(17),
      options: { padding: 1.25 },
    };
  },
  // `--dark` turns DARK on; without it the manifest decides.
  createAdapter: (manifest, options) =>
    createHeatmapAdapter(manifest, { dark: options.dark || undefined }),
  // Transformer heatmap models (TransPose, ViTPose): the last self-attention as an output.
  explain: { prepareGraph: prepareSelfAttention },
};

/** Options of `createHeatmapAdapter` that override the manifest. */
export interface HeatmapAdapterOptions {
  /** DARK refinement; overrides manifest option `dark` when given. */
  dark?: boolean;
}

/** Builds the heatmap keypoint adapter from its manifest (output role `heatmaps`). */
export function createHeatmapAdapter(
  manifest: ModelManifest,
  options: HeatmapAdapterOptions = {},
): KeypointAdapter {
  const input = cropSpec(manifest);
  const { numKeypoints, flipPairs } = keypointLayout(manifest);
  const where = `model ${manifest.file}`;
  const blurKernel = numberOption(manifest, "blurKernel", 11);
  gaussianKernel(blurKernel); // validates the size now rather than at the first decode
  const dark = options.dark ?? booleanOption(manifest, "dark", false);
  const udp = input.transform === "udp";
  // mmpose's UDP codec always refines with DARK-UDP; option `udpRefine: false` turns it off.
  const udpRefine = booleanOption(manifest, "udpRefine", true);

  /** The heatmaps decoding reads: this crop's, averaged with the flipped-back mirror's. */
  const fusedHeatmaps = (outputs: ModelOutputs, flipped?: ModelOutputs) => {
    const tensor = requireOutput(outputs, manifest, "heatmaps");
    const [k, h, w] = heatmapDims(tensor, manifest.file);
    if (k !== numKeypoints) {
      throw new Error(
        `${where}: ${k} heatmaps, but the manifest lists ${numKeypoints} keypoints`,
      );
    }
    let heatmaps = tensor.data.subarray(0, k * h * w);
    if (flipped) {
      const other = requireOutput(flipped, manifest, "heatmaps");
      const [fk, fh, fw] = heatmapDims(other, manifest.file);
      if (fk !== k || fh !== h || fw !== w) {
        throw new Error(
          `${where}: flipped heatmaps [${other.dims}] differ from [${tensor.dims}]`,
        );
      }
      // No one-pixel shift for UDP (Huang et al. 2020): with the standard scale s = input /
      // heatmap, a mirrored pixel lands (s − 1)/s heatmap pixel left of its mirror, which
      // HRNet's one-pixel shift over-corrects to +1/s; with UDP's (heatmap − 1)/(input − 1)
      // it lands exactly on W − 1 − x, so the plain mirror is already aligned.
      const back = flipBackHeatmaps(other.data, k, h, w, flipPairs, input.flipShift);
      const fused = new Float32Array(k * h * w);
      for (let i = 0; i < fused.length; i++) fused[i] = (heatmaps[i] + back[i]) * 0.5;
      heatmaps = fused;
    }
    return { heatmaps, k, h, w };
  };
  const attentionStride = numberOption(manifest, "attentionStride", undefined, [
    (n) => Number.isInteger(n) && n > 0,
    "a positive integer",
  ]);

  return {
    task: "keypoints",
    manifest,
    input,
    numKeypoints,
    flipPairs,
    decode(outputs, flipped) {
      const { heatmaps, k, h, w } = fusedHeatmaps(outputs, flipped);
      if (udp) {
        return decodeUdpHeatmaps(heatmaps, k, h, w, input.width, input.height, {
          refine: udpRefine ? "dark-udp" : "none",
          blurKernel,
        });
      }
      const keypoints = decodeHeatmaps(heatmaps, k, h, w, { dark, blurKernelSize: blurKernel });
      // Heatmap pixels → crop input pixels (HRNet's transform_preds with the heatmap size).
      const sx = input.width / w, sy = input.height / h;
      for (let j = 0; j < k; j++) {
        keypoints[3 * j] *= sx;
        keypoints[3 * j + 1] *= sy;
      }
      return keypoints;
    },
    explain(outputs, flipped, keypoints) {
      const { heatmaps, k, h, w } = fusedHeatmaps(outputs, flipped);
      // The crop pixel of each heatmap pixel, as decoding scales it.
      const sx = udp ? (input.width - 1) / (w - 1) : input.width / w;
      const sy = udp ? (input.height - 1) / (h - 1) : input.height / h;
      const explanation: CropExplanation = {
        maps: {
          numKeypoints: k,
          width: w,
          height: h,
          data: heatmaps.slice(),
          mapToCrop: Float64Array.of(sx, 0, 0, 0, sy, 0),
        },
      };
      const attention = optionalOutput(outputs, manifest, ATTENTION_ROLE);
      if (attention) {
        const rows = keypointAttention(attention, input, keypoints, attentionStride);
        if (typeof rows === "string") explanation.notes = [`${where}: ${rows}`];
        else explanation.attention = rows;
      }
      return explanation;
    },
  };
}
