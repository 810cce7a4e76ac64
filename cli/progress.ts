/** A one-line progress bar on stderr (only when stderr is a terminal) and small print helpers. */

const encoder = new TextEncoder();

/** Writes text to stderr. */
export function printErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

/** Progress over a known number of items: done, items/s and time left. */
export class ProgressBar {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly unit = "images",
    enabled = Deno.stderr.isTerminal(),
  ) {
    this.enabled = enabled && total > 0;
  }

  /** Counts one finished item and redraws at most ten times a second. */
  tick(): void {
    this.done++;
    const now = performance.now();
    if (this.enabled && (now - this.lastDraw > 100 || this.done === this.total)) {
      this.lastDraw = now;
      printErr(`\r${this.line(now)}\x1b[K`);
    }
  }

  /** Removes the bar from the terminal. */
  clear(): void {
    if (this.enabled) printErr("\r\x1b[K");
  }

  /** The bar's text (without terminal codes). */
  line(now = performance.now()): string {
    const seconds = (now - this.start) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    // The total is an estimate (a video's frame count from its header): it can be passed.
    const left = rate > 0 && this.done <= this.total ? (this.total - this.done) / rate : NaN;
    const width = 28;
    const filled = Math.min(width, Math.max(0, Math.round((this.done / this.total) * width)));
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    return `${bar} ${this.done}/${this.total} ${this.unit}  ${rate.toFixed(1)}/s  ` +
      `${formatDuration(seconds)} elapsed, ${formatDuration(left)} left`;
  }
}
