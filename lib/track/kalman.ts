/**
 * A constant-velocity Kalman filter on a person box (centre x, centre y, width, height), as
 * in SORT-family trackers (BoT-SORT's x, y, w, h variant): the box is predicted one frame
 * ahead from its velocity, and corrected by each matched detection.
 *
 * Process and measurement noise are diagonal and proportional to the box size (a big
 * person's box jitters and moves more pixels than a small one's), so the four coordinates
 * never mix: the filter is four independent 2-state filters (position, velocity), exactly
 * equal to the 8-state form and far cheaper. State: a Float64Array of 20 values, the 8 means
 * (cx, cy, w, h, then their velocities) and, per coordinate, the covariance p00, p01, p11.
 */

/** Noise per pixel of box size: position (1/20) and velocity (1/160), BoT-SORT's values. */
const POSITION_WEIGHT = 1 / 20;
const VELOCITY_WEIGHT = 1 / 160;

/** Number of values of a state. */
export const KALMAN_STATE_SIZE = 20;

/** The size each coordinate's noise is proportional to: width for x and w, height for y and h. */
function sizeOf(state: Float64Array, k: number): number {
  return Math.max(1, k % 2 === 0 ? state[2] : state[3]);
}

/** A new state for a first detection (x1, y1, x2, y2): zero velocity, wide uncertainty. */
export function kalmanInit(x1: number, y1: number, x2: number, y2: number): Float64Array {
  const state = new Float64Array(KALMAN_STATE_SIZE);
  state[0] = (x1 + x2) / 2;
  state[1] = (y1 + y2) / 2;
  state[2] = Math.max(1, x2 - x1);
  state[3] = Math.max(1, y2 - y1);
  for (let k = 0; k < 4; k++) {
    const size = sizeOf(state, k);
    state[8 + 3 * k] = (2 * POSITION_WEIGHT * size) ** 2;
    state[9 + 3 * k] = 0;
    state[10 + 3 * k] = (10 * VELOCITY_WEIGHT * size) ** 2;
  }
  return state;
}

/** One frame ahead: position += velocity; uncertainty grows by the process noise. */
export function kalmanPredict(state: Float64Array): void {
  for (let k = 0; k < 4; k++) {
    const size = sizeOf(state, k);
    const p00 = state[8 + 3 * k], p01 = state[9 + 3 * k], p11 = state[10 + 3 * k];
    state[k] += state[4 + k];
    state[8 + 3 * k] = p00 + 2 * p01 + p11 + (POSITION_WEIGHT * size) ** 2;
    state[9 + 3 * k] = p01 + p11;
    state[10 + 3 * k] = p11 + (VELOCITY_WEIGHT * size) ** 2;
  }
  state[2] = Math.max(1, state[2]);
  state[3] = Math.max(1, state[3]);
}

/** Corrects the state with a matched detection (x1, y1, x2, y2). */
export function kalmanUpdate(
  state: Float64Array,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
): void {
  const measured = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1];
  for (let k = 0; k < 4; k++) {
    const noise = (POSITION_WEIGHT * sizeOf(state, k)) ** 2;
    const p00 = state[8 + 3 * k], p01 = state[9 + 3 * k], p11 = state[10 + 3 * k];
    const s = p00 + noise;
    const gain0 = p00 / s, gain1 = p01 / s;
    const innovation = measured[k] - state[k];
    state[k] += gain0 * innovation;
    state[4 + k] += gain1 * innovation;
    state[8 + 3 * k] = (1 - gain0) * p00;
    state[9 + 3 * k] = (1 - gain0) * p01;
    state[10 + 3 * k] = p11 - gain1 * p01;
  }
  state[2] = Math.max(1, state[2]);
  state[3] = Math.max(1, state[3]);
}

/**
 * Moves the state with the camera: a point p of the previous frame is at `scale · p + (tx,
 * ty)` in this one. Positions and sizes follow, velocities scale (they are in pixels), and
 * so does the uncertainty. Afterwards the velocity describes the person's own motion only.
 */
export function kalmanWarp(state: Float64Array, scale: number, tx: number, ty: number): void {
  state[0] = scale * state[0] + tx;
  state[1] = scale * state[1] + ty;
  for (let k = 2; k < 8; k++) state[k] *= scale;
  for (let k = 8; k < KALMAN_STATE_SIZE; k++) state[k] *= scale * scale;
}

/** Sets the velocity to zero (a person lost for a while is assumed to stand where last seen). */
export function kalmanStop(state: Float64Array): void {
  for (let k = 4; k < 8; k++) state[k] = 0;
}

/** The state's box as x1, y1, x2, y2 written into `out` at `offset`. */
export function kalmanBox(state: Float64Array, out: Float64Array, offset = 0): void {
  out[offset] = state[0] - state[2] / 2;
  out[offset + 1] = state[1] - state[3] / 2;
  out[offset + 2] = state[0] + state[2] / 2;
  out[offset + 3] = state[1] + state[3] / 2;
}
