/**
 * The one rescoring rule of top-down and end-to-end results alike (HRNet's): a person's
 * score is its box (or person) score times the mean of its keypoint scores above a
 * threshold, so both kinds of results rank alike in COCO AP.
 */

/** Keypoint scores at or below this do not count towards the pose score by default. */
export const DEFAULT_KEYPOINT_SCORE_THRESHOLD = 0.2;

/** Mean of the keypoint scores (K × 3 values) above `threshold`; 0 when none is. */
export function meanConfidentScore(keypoints: Float32Array, threshold: number): number {
  let sum = 0, count = 0;
  for (let i = 2; i < keypoints.length; i += 3) {
    if (keypoints[i] > threshold) {
      sum += keypoints[i];
      count++;
    }
  }
  return count ? sum / count : 0;
}

/** Person score × mean confident keypoint score. */
export function rescorePose(personScore: number, keypoints: Float32Array, threshold: number) {
  return personScore * meanConfidentScore(keypoints, threshold);
}
