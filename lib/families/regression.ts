/**
 * Coordinate-regression keypoint models: PCT exported with its codebook decoder inside the
 * graph ("Human Pose as Compositional Tokens", Geng et al., CVPR 2023), RLE, DeepPose-style
 * heads. One person crop in, K coordinates out.
 *
 * Output roles: `keypoints` [B, K, 2] (normalized to the crop, or crop pixels) and optional
 * `scores` [B, K] or [B, K, 1] (`lib/codecs/regression.ts`). Flip test: the mirrored crop's
 * x is mirrored back, left/right swapped, and coordinates and scores averaged, as PRTR does.
 *
 * Manifest options: `coordinates` ("normalized" default, or "pixels"), `scoreActivation`
 * ("none" default, or "sigmoid" when scores are logits), `padding` (default 1.25). Without a
 * scores output every keypoint scores 1.
 */

import { decodeRegression, fuseFlippedRegression } from "../codecs/regression.ts";
import type { ModelOutputs } from "../types.ts";
import {
  type FamilyDescriptor,
  type KeypointAdapter,
  optionalOutput,
  requireOutput,
} from "./family.ts";
import { cocoKeypointFields, imagenetCropInput, staticDim } from "./recognition_defaults.ts";
import { choiceOption, cropSpec, keypointLayout } from "./manifest_fields.ts";

/** PCT / RLE / DeepPose: keypoints [B,K,2] with optional scores. */
export const regressionFamily: FamilyDescriptor<"regression"> = {
  name: "regression",
  task: "keypoints",
  summary: "coordinate regression keypoint models (PCT, RLE, DeepPose): keypoints [B,K,2]",
  outputRoles: ["keypoints"],
  optionalRoles: ["scores"],
  recognize(graph) {
    // Outputs named as the family's roles: keypoints [B,K,2], optionally scores [B,K(,1)].
    const keypoints = graph.output("keypoints");
    if (!keypoints || keypoints.shape.length !== 3 || keypoints.shape[2] !== 2) return;
    const scores = graph.output("scores");
    return {
      input: imagenetCropInput(graph, 192, 256),
      outputs: { keypoints: keypoints.name, ...(scores ? { scores: scores.name } : {}) },
      ...cocoKeypointFields(staticDim(keypoints.shape[1])),
      options: { padding: 1.25, coordinates: "normalized" },
    };
  },
  createAdapter(manifest): KeypointAdapter {
    const input = cropSpec(manifest);
    const { numKeypoints, flipPairs } = keypointLayout(manifest);
    const coordinates = choiceOption(
      manifest,
      "coordinates",
      ["normalized", "pixels"],
      "normalized",
    );
    const scoreActivation = choiceOption(
      manifest,
      "scoreActivation",
      ["none", "sigmoid"],
      "none",
    );
    const read = (outputs: ModelOutputs) => {
      const keypoints = requireOutput(outputs, manifest, "keypoints");
      const scores = optionalOutput(outputs, manifest, "scores");
      try {
        return decodeRegression(keypoints, scores, {
          numKeypoints,
          inputWidth: input.width,
          inputHeight: input.height,
          coordinates,
          scoreActivation,
          coordsName: manifest.outputs.keypoints ?? "keypoints",
          scoresName: manifest.outputs.scores ?? "scores",
        });
      } catch (error) {
        throw new Error(`model ${manifest.file}: ${(error as Error).message}`);
      }
    };
    return {
      task: "keypoints",
      manifest,
      input,
      numKeypoints,
      flipPairs,
      decode(outputs, flipped) {
        const keypoints = read(outputs);
        return flipped
          ? fuseFlippedRegression(keypoints, read(flipped), flipPairs, input.width)
          : keypoints;
      },
    };
  },
};
