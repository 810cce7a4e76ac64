/// <reference lib="dom" />
/**
 * The posekit page (`deno task serve`) in headless Chromium, through its automation contract:
 * - 5 shared images through `#images` give the CLI's COCO results for the same files (the same
 *   people, keypoints within 0.01 px) on WASM with 2 threads, cross-origin isolated;
 * - a 48-megapixel photo is decoded, run and drawn off the page's thread (no long task there);
 * - a file that is not an image is one error on the page, and the next image still runs;
 * - files chosen while a run goes stop that run (the results never mix), two files of one
 *   name get two image ids, and the gallery holds thumbnails, not full-size canvases;
 * - a video file's records carry the video's frame times, each presented frame once;
 * - a truncated video is an error (Chromium plays a cut WebM to its end silently, and stops a
 *   cut MP4 with a decode error that never ends the video), its earlier frames kept;
 * - a model file that is not ONNX is a clear error on the page;
 * - Chromium's fake camera (a y4m made with ffmpeg from a shared image) gives frames with
 *   people, the main person keeping one track id;
 * - `?backend=auto` does not pick this machine's software WebGPU, and the page says why.
 * With POSEKIT_SCREENSHOT=FILE the first test saves a screenshot of the page there.
 */

import type { Browser, ElementHandle, Page } from "puppeteer-core";
import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { chromiumAvailable, withChromium } from "./support/chromium.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { withTempDir } from "./support/cli.ts";
import { encodeJpeg } from "../lib/image/encode.ts";
import { ffmpeg } from "./support/video.ts";
import { startPageServer } from "../lib/deno/page_server.ts";
import type { WebServer } from "../lib/deno/web_server.ts";
import { PosePipeline } from "../lib/deno/pipeline.ts";
import { readImageFile } from "../lib/deno/image_file.ts";
import { assignImageIds, type CocoKeypointResult, toCocoResults } from "../lib/coco/results.ts";

const IMAGES = ["000000000785", "000000151938", "000000196141", "000000229358", "000000350679"]
  .map((id) => `${id}.jpg`);
const ignore = !chromiumAvailable() || ignoreWithoutShared("models", "rtmdet_nano_person.onnx");

async function withPage<T>(
  server: WebServer,
  path: string,
  fn: (page: Page, browser: Browser) => Promise<T>,
  options: Parameters<typeof withChromium>[1] = {},
): Promise<T> {
  return await withChromium(async (browser) => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(new URL(path, server.url).href);
    await waitForStatus(page, ["ready", "error"]);
    return await fn(page, browser);
  }, options);
}

async function waitForStatus(page: Page, wanted: string[], timeout = 180_000): Promise<string> {
  await page.waitForFunction(
    (statuses: string[]) => statuses.includes(document.body.dataset.status ?? ""),
    { timeout },
    wanted,
  );
  return await page.evaluate(() => document.body.dataset.status ?? "");
}

/** VP8 in WebM, as ffmpeg's arguments. */
const VP8 = ["-c:v", "libvpx", "-b:v", "1M"] as const;

/** `seconds` of ffmpeg's test pattern, 320×240 at 10 frames/s, encoded by `codec` into `path`. */
async function testPattern(
  path: string,
  seconds: number,
  codec: readonly string[],
): Promise<string> {
  await ffmpeg(
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=320x240:rate=10",
    "-t",
    `${seconds}`,
    ...codec,
    path,
  );
  return path;
}

// deno-lint-ignore no-explicit-any
const posekit = (page: Page) => page.evaluate(() => (globalThis as any).posekit);

async function withServer<T>(modelDirs: string[], fn: (server: WebServer) => Promise<T>) {
  const server = await startPageServer({ modelDirs });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** The CLI's in-process WASM results for the same files, as `predict` numbers them. */
async function cliResults(paths: string[]): Promise<CocoKeypointResult[]> {
  const pipeline = await PosePipeline.create({
    backend: "wasm",
    modelDirs: [requireShared("models")],
  });
  try {
    const results: CocoKeypointResult[] = [];
    for (const { path, imageId } of assignImageIds(paths)) {
      results.push(...toCocoResults(imageId, await pipeline.run(await readImageFile(path))));
    }
    return results;
  } finally {
    await pipeline.close();
  }
}

Deno.test({
  name: "page: 5 images give the CLI's people and keypoints (≤ 0.01 px), WASM on 2 threads",
  ignore,
  async fn() {
    const paths = IMAGES.map((name) => requireShared("coco", "val2017", name));
    const expected = await cliResults(paths);
    await withServer(
      [requireShared("models")],
      (server) =>
        withPage(server, "/?backend=wasm&threads=2", async (page) => {
          assertEquals(await page.evaluate(() => crossOriginIsolated), true);
          assertEquals((await posekit(page)).runtime.backend, "wasm");
          assertEquals((await posekit(page)).runtime.threads, 2);
          const input = await page.$("#images") as ElementHandle<HTMLInputElement>;
          await input!.uploadFile(...paths);
          assertEquals(await waitForStatus(page, ["done", "error"]), "done");
          const { results, errors } = await posekit(page);
          assertEquals(errors, []);
          assertEquals(results.length, expected.length, "the same number of people");
          const byImage = (list: CocoKeypointResult[], id: number) =>
            list.filter((r) => r.image_id === id);
          let worst = 0;
          for (const id of new Set(expected.map((r) => r.image_id))) {
            const got = byImage(results, id);
            const want = byImage(expected, id);
            assertEquals(got.length, want.length, `people in image ${id}`);
            for (const [i, person] of want.entries()) {
              assertEquals(
                got[i].file_name,
                IMAGES[paths.findIndex((p) => p.endsWith(`${String(id).padStart(12, "0")}.jpg`))],
              );
              for (let k = 0; k < person.keypoints.length; k++) {
                if (k % 3 === 2) continue;
                worst = Math.max(worst, Math.abs(got[i].keypoints[k] - person.keypoints[k]));
              }
            }
          }
          assert(worst <= 0.01, `keypoints differ by up to ${worst} px`);
          const screenshot = Deno.env.get("POSEKIT_SCREENSHOT");
          if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
        }),
    );
  },
});

Deno.test({
  name: "page: a 48-megapixel photo runs off the page's thread: no task there over 200 ms",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      // 8000 × 6000, noisy (so that decoding has work to do): on the page's own thread its
      // decoding, drawing and scaling held the page for seconds at a time.
      const width = 8000, height = 6000;
      const pixels = new Uint8Array(width * height * 3);
      for (let i = 0, v = 12345; i < pixels.length; i++) {
        v = (v * 1103515245 + 12345) >>> 0;
        pixels[i] = (v >>> 16) & 255;
      }
      const photo = join(dir, "large.jpg");
      await Deno.writeFile(photo, encodeJpeg({ width, height, data: pixels }, 80));
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            await page.evaluate(() => {
              // deno-lint-ignore no-explicit-any
              const longTasks: number[] = (globalThis as any).longTasks = [];
              new PerformanceObserver((list) => {
                for (const entry of list.getEntries()) longTasks.push(entry.duration);
              }).observe({ type: "longtask" });
            });
            const started = Date.now();
            await (await page.$("#images") as ElementHandle<HTMLInputElement>).uploadFile(photo);
            assertEquals(await waitForStatus(page, ["done", "error"]), "done");
            const seconds = (Date.now() - started) / 1000;
            const { errors, lastRun } = await posekit(page);
            assertEquals(errors, []);
            assertEquals(lastRun.images, 1);
            // deno-lint-ignore no-explicit-any
            const longTasks: number[] = await page.evaluate(() => (globalThis as any).longTasks);
            const longest = Math.max(0, ...longTasks);
            assert(
              longest < 200,
              `the page's thread was held ${longest.toFixed(0)} ms at a time ` +
                `(${longTasks.length} long tasks in a ${seconds.toFixed(1)} s run)`,
            );
            const shown = await page.evaluate(() => {
              const canvas = document.querySelector("#gallery canvas") as HTMLCanvasElement;
              return [canvas.width, canvas.height];
            });
            assertEquals(shown, [960, 720], "the gallery's thumbnail");
          }),
      );
    });
  },
});

Deno.test({
  name: "page: a file that is not an image is an error on the page; the next image still runs",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const text = join(dir, "notes.jpg");
      await Deno.writeTextFile(text, "these are not pixels\n");
      const image = requireShared("coco", "val2017", IMAGES[0]);
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            await (await page.$("#images") as ElementHandle<HTMLInputElement>).uploadFile(
              text,
              image,
            );
            assertEquals(await waitForStatus(page, ["done", "error"]), "done");
            const { results, errors } = await posekit(page);
            assertEquals(errors.length, 1);
            assert(/^notes\.jpg: not a JPEG or PNG file/.test(errors[0]), errors[0]);
            assert(
              results.length >= 1 && results.every((r: CocoKeypointResult) => r.image_id === 785),
            );
            const shown = await page.evaluate(() => document.querySelector("#errors")!.textContent);
            assert(shown!.includes("notes.jpg"), "the error is shown on the page");
          }),
      );
    });
  },
});

Deno.test({
  name: "page: a new choice of files stops the run before it; same-named files get two ids; " +
    "the gallery holds thumbnails",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      // The 785 photo from two folders (one name, two images), and a 2400 × 1600 photo of no
      // one, whose gallery canvas must be a thumbnail (960 px on its longer side).
      const twins = ["monday", "tuesday"].map((folder) => join(dir, folder, IMAGES[0]));
      for (const twin of twins) {
        await Deno.mkdir(join(twin, ".."));
        await Deno.copyFile(requireShared("coco", "val2017", IMAGES[0]), twin);
      }
      const wide = join(dir, "wide.jpg");
      const pixels = new Uint8Array(2400 * 1600 * 3).fill(90);
      await Deno.writeFile(wide, encodeJpeg({ width: 2400, height: 1600, data: pixels }, 80));
      const first = IMAGES.map((name) => requireShared("coco", "val2017", name));
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            const input = await page.$("#images") as ElementHandle<HTMLInputElement>;
            await input.uploadFile(...first);
            await waitForStatus(page, ["running"]);
            await input.uploadFile(...twins, wide); // while the first run is going
            assertEquals(await waitForStatus(page, ["done", "error"]), "done");
            await new Promise((resolve) => setTimeout(resolve, 3000)); // the first run's time
            const { results, errors } = await posekit(page);
            assertEquals(errors, []);
            const ids = [...new Set(results.map((r: CocoKeypointResult) => r.image_id))];
            assertEquals(ids.length, 2, `the twins' ids, none of the first run's: ${ids}`);
            assert(ids.includes(785), `${ids}`);
            const canvases = await page.evaluate(() =>
              [...document.querySelectorAll("#gallery canvas")].map((
                c,
              ) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])
            );
            assertEquals(canvases, [[640, 425], [640, 425], [960, 640]]);
          }),
      );
    });
  },
});

Deno.test({
  name: "page: a video file's records carry the video's own frame times, each frame once",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      // 2 s at 10 frames/s: every record's time must be a frame's, k / 10 s (wall-clock times,
      // or one picture taken twice, are what the page must not write).
      const video = await testPattern(join(dir, "clip.webm"), 2, VP8);
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            await (await page.$("#video") as ElementHandle<HTMLInputElement>).uploadFile(video);
            await waitForStatus(page, ["running"]);
            assertEquals(await waitForStatus(page, ["done", "error"]), "done");
            const { jsonl, errors } = await posekit(page);
            assertEquals(errors, []);
            const times = (jsonl as { time: number }[]).map((r) => r.time);
            assert(times.length >= 3, `records at ${times}`);
            for (const [i, time] of times.entries()) {
              assert(Math.abs(time * 10 - Math.round(time * 10)) < 1e-3, `a frame's time: ${time}`);
              assert(time <= 2 && (i === 0 || time > times[i - 1]), `in order, once: ${times}`);
            }
          }),
      );
    });
  },
});

Deno.test({
  name: "page: a truncated video is an error, not done, and the frames before it are kept; " +
    "a video with longer sound is not",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      // 4 s at 10 frames/s, cut to half their bytes. Chromium plays the WebM's last picture to
      // its stated 4 s without an error (the page called it done); the MP4 stops with a decode
      // error and never ends (the page stayed "running" for good).
      const cut: string[] = [];
      for (
        const [name, codec] of [
          ["cut.webm", VP8],
          ["cut.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]],
        ] as const
      ) {
        const bytes = await Deno.readFile(await testPattern(join(dir, `whole_${name}`), 4, codec));
        await Deno.writeFile(join(dir, name), bytes.subarray(0, bytes.length >> 1));
        cut.push(join(dir, name));
      }
      // Not cut: 2 s of video with 5 s of sound (the container's duration is the longer).
      const longerSound = join(dir, "longer_sound.webm");
      await ffmpeg(
        ...["-f", "lavfi", "-t", "2", "-i", "testsrc=size=320x240:rate=10"],
        ...["-f", "lavfi", "-t", "5", "-i", "sine=frequency=440"],
        ...[...VP8, "-c:a", "libopus", longerSound],
      );
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            const input = await page.$("#video") as ElementHandle<HTMLInputElement>;
            await input.uploadFile(longerSound);
            await waitForStatus(page, ["running"]);
            assertEquals(await waitForStatus(page, ["done", "error"], 60_000), "done");
            assertEquals((await posekit(page)).errors, []);
            for (const [i, video] of cut.entries()) {
              await input.uploadFile(video);
              await waitForStatus(page, ["running"]);
              // deno-lint-ignore no-explicit-any
              const errors = () => (globalThis as any).posekit.errors.length;
              await page.waitForFunction(
                (count: number) =>
                  // deno-lint-ignore no-explicit-any
                  (globalThis as any).posekit.errors.length > count ||
                  document.body.dataset.status === "done",
                { timeout: 60_000 },
                await page.evaluate(errors),
              );
              const { jsonl, errors: messages } = await posekit(page);
              assertEquals(await page.evaluate(() => document.body.dataset.status), "error");
              const times = (jsonl as { time: number }[]).map((r) => r.time);
              assert(times.length >= 1 && times.at(-1)! < 2.5, `records at ${times}`);
              const message: string = messages[i];
              assert(message.startsWith(i === 0 ? "cut.webm: " : "cut.mp4: "), message);
              assert(
                message.includes(i === 0 ? "(a truncated file?)" : "cannot decode it past"),
                message,
              );
            }
          }),
      );
    });
  },
});

Deno.test({
  name: "page: a model file that is not ONNX is a clear error on the page",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(
        join(dir, "simplepose_nano_256x192.onnx"),
        "<html>not a model</html>",
      );
      await withServer(
        [dir, requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            assertEquals(await page.evaluate(() => document.body.dataset.status), "error");
            const { errors } = await posekit(page);
            assertEquals(errors.length, 1);
            assert(
              /cannot load model \/models\/\d+\/simplepose_nano_256x192\.onnx/.test(errors[0]),
              errors[0],
            );
          }),
      );
    });
  },
});

Deno.test({
  name: "page: the fake camera gives frames with people; the main person keeps one id in ≥ 90%; " +
    "photos run meanwhile with other models leave the camera's alone",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const y4m = join(dir, "camera.y4m");
      const ffmpeg = await new Deno.Command("ffmpeg", {
        args: [
          "-v",
          "error",
          "-loop",
          "1",
          "-i",
          requireShared("coco", "val2017", IMAGES[0]),
          "-vf",
          "scale=320:240,format=yuv420p",
          "-r",
          "10",
          "-frames:v",
          "30",
          y4m,
        ],
      }).output();
      assertEquals(ffmpeg.code, 0, new TextDecoder().decode(ffmpeg.stderr));
      await withServer(
        [requireShared("models")],
        (server) =>
          withPage(server, "/?backend=wasm", async (page) => {
            await page.click("#camera");
            const seen: (number | undefined)[] = [];
            let last = -1;
            const deadline = Date.now() + 120_000;
            while (seen.length < 20 && Date.now() < deadline) {
              const state = await posekit(page);
              if (state.errors.length) throw new Error(state.errors.join("; "));
              const frame = state.lastFrame;
              if (frame && frame.frame !== last) {
                last = frame.frame;
                // deno-lint-ignore no-explicit-any
                const main = frame.people.toSorted((a: any, b: any) =>
                  b.bbox[2] * b.bbox[3] - a.bbox[2] * a.bbox[3]
                )[0];
                seen.push(main?.track_id);
              }
              await new Promise((resolve) =>
                setTimeout(resolve, 50)
              );
            }
            // Photos run with an end-to-end model meanwhile: the camera keeps its own models
            // (one pipeline shared by both runs took the camera's detector away).
            await page.select("#pose", "yolo11n_pose_int8");
            const photo = requireShared("coco", "val2017", IMAGES[1]);
            await (await page.$("#images") as ElementHandle<HTMLInputElement>).uploadFile(photo);
            await page.waitForFunction(
              // deno-lint-ignore no-explicit-any
              () => (globalThis as any).posekit.results.length > 0,
              { timeout: 60_000 },
            );
            const after = (await posekit(page)).lastFrame.frame;
            await page.waitForFunction(
              // deno-lint-ignore no-explicit-any
              (frame: number) => (globalThis as any).posekit.lastFrame.frame > frame + 3,
              { timeout: 60_000 },
              after,
            );
            assertEquals((await posekit(page)).errors, []);
            await page.click("#camera");
            assert(seen.length >= 20, `only ${seen.length} frames in 2 minutes`);
            const withPeople = seen.filter((id) => id !== undefined);
            assert(withPeople.length === seen.length, "every frame has people");
            const counts = new Map<number, number>();
            for (const id of withPeople) counts.set(id!, (counts.get(id!) ?? 0) + 1);
            const mode = Math.max(...counts.values());
            assert(mode / seen.length >= 0.9, `main track ids: ${seen.join(",")}`);
          }, { fakeCamera: y4m }),
      );
    });
  },
});

Deno.test({
  name: "page: backend auto does not pick software WebGPU here and says why; forced WebGPU runs",
  ignore,
  async fn() {
    await withServer([requireShared("models")], async (server) => {
      await withPage(server, "/?backend=auto", async (page) => {
        const { runtime } = await posekit(page);
        assertEquals(runtime.backend, "wasm");
        assertEquals(runtime.notes.length, 1, "a note says why");
        assert(
          /software WebGPU adapter .*swiftshader.*using WASM/i.test(runtime.notes[0]),
          runtime.notes[0],
        );
        const shown = await page.evaluate(() => document.querySelector("#runtime")!.textContent!);
        assert(shown.includes(runtime.notes[0]), shown);
      }, { webgpu: true });
      // Asked for, WebGPU starts on the software adapter, and both models load and pass their
      // test run on it (ready), however slowly.
      await withPage(server, "/?backend=webgpu", async (page) => {
        const { runtime, errors } = await posekit(page);
        assertEquals(errors, []);
        assertEquals(runtime.backend, "webgpu");
        assert(/swiftshader/i.test(runtime.adapter), runtime.adapter);
        assertEquals(await page.evaluate(() => document.body.dataset.status), "ready");
      }, { webgpu: true });
    });
  },
});

Deno.test({
  name: "deno task serve, with its own permissions: the catalog's model files and nothing else",
  ignore: ignoreWithoutShared("models", "rtmdet_nano_person.onnx"),
  async fn() {
    const models = requireShared("models");
    const child = new Deno.Command("deno", {
      args: ["task", "serve", "--port", "0", "--models", models],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/posekit page: (\S+)/.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`serve ended before it listened: ${text}`);
        text += value;
      }
      reader.releaseLock();
      const base = text.match(/posekit page: (\S+)/)![1];
      const catalog = await (await fetch(new URL("/api/models.json", base))).json();
      const urls: string[] = catalog.models.map((m: { url: string }) => m.url);
      assert(urls.some((u) => u.endsWith("/rtmdet_nano_person.onnx")), urls.join(" "));
      const model = await fetch(new URL(urls[0], base));
      assertEquals(model.status, 200);
      await model.body?.cancel();
      // The model folder holds more than catalog files: none of it is served.
      const folder = new URL(urls[0], base).pathname.replace(/[^/]+$/, "");
      for (
        const other of [
          "rtmdet_nano_person.sdk/deploy.json",
          "legacy/simplepose_nano_256x192.spatial-bn.onnx",
          "",
        ]
      ) {
        const response = await fetch(new URL(folder + other, base));
        assertEquals(response.status, 404, `${folder}${other}`);
        await response.body?.cancel();
      }
    } finally {
      child.kill("SIGINT");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});
