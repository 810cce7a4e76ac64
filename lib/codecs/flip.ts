/**
 * The channel permutation of a horizontal flip, for the codecs in this folder. Same contract
 * as `flipPermutation` in `lib/coco_keypoints.ts` (the lead's one helper): once that is
 * committed, this file can go and its callers import that instead.
 */

/**
 * `source[k]`: the keypoint of the mirrored output that becomes keypoint k (each pair
 * swapped, the rest kept). Throws on a pair outside `numKeypoints` or a keypoint in two pairs.
 */
export function flipSource(
  numKeypoints: number,
  flipPairs: readonly (readonly [number, number])[],
): Int32Array {
  const source = Int32Array.from({ length: numKeypoints }, (_, j) => j);
  const seen = new Set<number>();
  for (const [a, b] of flipPairs) {
    for (const j of [a, b]) {
      if (!(Number.isInteger(j) && j >= 0 && j < numKeypoints)) {
        throw new Error(`flip pair [${a}, ${b}] is outside ${numKeypoints} keypoints`);
      }
      if (seen.has(j)) throw new Error(`keypoint ${j} is in two flip pairs`);
      seen.add(j);
    }
    source[a] = b;
    source[b] = a;
  }
  return source;
}
