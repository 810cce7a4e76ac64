/**
 * Headless Chromium for the browser tests, through puppeteer-core and the system's Chromium
 * (`/usr/bin/chromium`, Debian's `chromium` package; `CHROMIUM` overrides the path), so no
 * browser is downloaded.
 *
 * Outside CI a test that needs it is ignored when it is missing (`ignore: !chromiumAvailable()`);
 * under `CI=true` the test runs and fails with a message saying how to install it.
 */

import puppeteer, { type Browser } from "puppeteer-core";

/** Options of {@link withChromium}. */
export interface ChromiumOptions {
  /** More command-line switches. */
  args?: string[];
  /** A .y4m video that the page's camera (`getUserMedia`) plays, permission granted. */
  fakeCamera?: string;
  /** Adds `--enable-unsafe-webgpu`, which Linux builds need for `navigator.gpu`. */
  webgpu?: boolean;
}

/** Path of the Chromium binary: `CHROMIUM`, else `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * `!chromiumAvailable()` is the `ignore` flag for a browser test: false only when Chromium is
 * missing and we are not in CI (in CI the test runs and {@link withChromium} fails loudly).
 */
export function chromiumAvailable(): boolean {
  return Deno.env.get("CI") === "true" || exists(chromiumPath());
}

/** The command-line switches {@link withChromium} launches with (puppeteer adds `--headless=new`). */
export function chromiumArgs(options: ChromiumOptions = {}): string[] {
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  const args = ["--no-sandbox"];
  if (options.fakeCamera) {
    args.push(
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-video-capture=${options.fakeCamera}`,
    );
  }
  if (options.webgpu) args.push("--enable-unsafe-webgpu");
  return [...args, ...(options.args ?? [])];
}

/**
 * Runs `fn` with a fresh headless Chromium (its own temporary profile) and closes the browser
 * afterwards, also when `fn` throws, so no Chromium process outlives the test.
 *
 * @throws when Chromium is missing, with the `apt-get install chromium` hint.
 */
export async function withChromium<T>(
  fn: (browser: Browser) => Promise<T>,
  options: ChromiumOptions = {},
): Promise<T> {
  const executablePath = chromiumPath();
  if (!exists(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: apt-get install chromium, or set CHROMIUM to ` +
        "its path (outside CI, ignore the test with `ignore: !chromiumAvailable()`)",
    );
  }
  const browser = await puppeteer.launch({
    executablePath,
    headless: true, // Chromium's new headless mode: puppeteer passes --headless=new
    args: chromiumArgs(options),
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
