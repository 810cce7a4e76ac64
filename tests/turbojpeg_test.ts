/**
 * `TurboJpegDecoder`: the system's libjpeg-turbo through FFI, used with `--backend native`.
 * The reference is the WebAssembly decoder of `lib/image.ts` (itself equal to `cv2.imread` on
 * the dev images): the native decoder must give the same pixels, value for value, and leave
 * every image it cannot decode exactly (CMYK, corrupt, truncated) to the WebAssembly path, so
 * that the errors and results are the same with and without it.
 *
 * CI installs Debian's libturbojpeg0; under CI=true these tests fail when it is missing.
 */

import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./support/assert.ts";
import { handMadeCmykJpeg } from "./support/hand_made_images.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { withTempDir } from "./support/cli.ts";
import { decodeImage } from "../lib/deno/image_file.ts";
import { encodeJpeg } from "../lib/image/encode.ts";
import { ImageDecodeError } from "../lib/image/decode.ts";
import { turboJpegCandidates, TurboJpegDecoder } from "../lib/deno/turbojpeg.ts";

const installed = turboJpegCandidates().some((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});
const ignoreWithoutLibrary = Deno.env.get("CI") !== "true" && !installed;

function openDecoder(): TurboJpegDecoder {
  const decoder = TurboJpegDecoder.open(turboJpegCandidates());
  assert(decoder, `libturbojpeg not found in ${turboJpegCandidates().join(", ")}`);
  return decoder;
}

Deno.test({
  name: "every shared COCO image decodes natively to the WebAssembly decoder's pixels",
  ignore: ignoreWithoutLibrary || ignoreWithoutShared("coco", "val2017"),
  async fn() {
    const dir = requireShared("coco", "val2017");
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".jpg"));
    assert(names.length >= 200, `${names.length} images`);
    const decoder = openDecoder();
    try {
      for (const name of names.sort()) {
        const bytes = await Deno.readFile(join(dir, name));
        const native = decoder.decode(bytes);
        assert(native, `${name}: decoded natively, not declined`);
        const wasm = await decodeImage(bytes, name);
        assertEquals([native.width, native.height], [wasm.width, wasm.height], name);
        let differing = 0;
        for (let i = 0; i < wasm.data.length; i++) if (native.data[i] !== wasm.data[i]) differing++;
        assertEquals(differing, 0, `${name}: values that differ`);
        // Through decodeImage (EXIF orientation after either decoder): the same again.
        const through = await decodeImage(bytes, name, { jpegDecoder: decoder });
        assertEquals(through.data, wasm.data, name);
      }
    } finally {
      decoder.close();
    }
  },
});

Deno.test({
  name: "CMYK, corrupt and truncated JPEGs give the same pixels or errors with it as without",
  ignore: ignoreWithoutLibrary,
  async fn() {
    const decoder = openDecoder();
    try {
      const cmyk = handMadeCmykJpeg();
      assertEquals(decoder.decode(cmyk), undefined, "CMYK is left to the WebAssembly path");
      assertEquals(
        (await decodeImage(cmyk, "cmyk.jpg", { jpegDecoder: decoder })).data,
        (await decodeImage(cmyk, "cmyk.jpg")).data,
      );

      const ramp = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 7) % 251);
      const jpeg = encodeJpeg({ width: 64, height: 48, data: ramp }, 90);
      const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
      const sos = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xda);
      const zeroWidth = jpeg.slice();
      zeroWidth.set([0, 0], sof + 7);
      const missingTable = jpeg.slice();
      missingTable[sos + 6] = 0x33; // Huffman tables 3/3, never defined
      const cases: [string, Uint8Array, string][] = [
        ["zero-width.jpg", zeroWidth, "corrupt JPEG"],
        ["no-table.jpg", missingTable, "corrupt JPEG"],
        ["cut.jpg", jpeg.subarray(0, Math.floor((sos + jpeg.length) / 2)), "truncated JPEG"],
      ];
      for (const [name, bytes, says] of cases) {
        const without = await assertRejects(() => decodeImage(bytes, name), ImageDecodeError);
        const withIt = await assertRejects(
          () => decodeImage(bytes, name, { jpegDecoder: decoder }),
          ImageDecodeError,
          says,
        );
        assertEquals(withIt.message, without.message, name);
      }
      const good = decoder.decode(jpeg);
      assert(good, "the decoder goes on after failures");
      assertEquals(good.data, (await decodeImage(jpeg, "good.jpg")).data);
    } finally {
      decoder.close();
    }
  },
});

Deno.test("where the library is missing or FFI is not allowed, open gives undefined", async () => {
  assertEquals(TurboJpegDecoder.open(["/nonexistent/libturbojpeg.so.0"]), undefined);
  // Without --allow-ffi: no error and nothing on stderr, just no native decoder.
  await withTempDir(async (dir) => {
    const script = join(dir, "open.ts");
    const module = new URL("../lib/deno/turbojpeg.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { TurboJpegDecoder } from ${JSON.stringify(module)};\n` +
        `console.log(String(TurboJpegDecoder.open()));\n`,
    );
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", "--no-config", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(child.stderr), "");
    assertEquals(new TextDecoder().decode(child.stdout).trim(), "undefined");
  });
});
