/** `deno task models`: the catalog table and JSON, with where each file is. */

import { assert, assertEquals } from "./support/assert.ts";
import { REPO_DIR, runDeno } from "./support/cli.ts";
import { ignoreWithoutShared, requireShared } from "./support/shared.ts";
import { join } from "node:path";
import { listManifests } from "../lib/models/catalog.ts";

function runModels(args: string[]) {
  return runDeno(["--allow-read", "--allow-env", join(REPO_DIR, "cli", "models.ts"), ...args], {
    env: { POSEKIT_CACHE: "/nonexistent-posekit-cache", POSEKIT_MODELS: "" },
  });
}

Deno.test({
  name: "models --json: every catalog model, present files found in --models, others not",
  ignore: ignoreWithoutShared("models"),
  async fn() {
    const dir = requireShared("models");
    const run = await runModels(["--models", dir, "--json"]);
    assertEquals(run.code, 0, run.stderr);
    const rows = JSON.parse(run.stdout) as { name: string; status: string; bytes?: number }[];
    assertEquals(rows.map((r) => r.name).sort(), listManifests().map((m) => m.name).sort());
    const byName = new Map(rows.map((r) => [r.name, r]));
    const femto = byName.get("deimv2_femto_coco")!;
    assertEquals(femto.status, "present");
    assertEquals(femto.bytes, (await Deno.stat(join(dir, "deimv2_femto_coco.onnx"))).size);
    // No ViTPose file is shipped and it has no URL; RTMPose has one.
    assertEquals(byName.get("vitpose_s_coco_256x192")!.status, "missing");
    assertEquals(byName.get("rtmpose_t_body7_256x192")!.status, "download");
  },
});

Deno.test("models: grouped by task, best AP first, every model once, within 100 columns", async () => {
  const run = await runModels([]);
  assertEquals(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert(lines.every((l) => l.length <= 100), `widest: ${Math.max(...lines.map((l) => l.length))}`);
  const titles = lines.filter((l) => /^[A-Z].*\(--/.test(l));
  assertEquals(titles, [
    "Person detectors (--detector)",
    "Keypoint models (--pose)",
    "One-stage models (--pose, no detector)",
  ]);
  const names = new Set(listManifests().map((m) => m.name));
  const rows = lines.filter((l) => names.has(l.split(" ")[0]));
  assertEquals(rows.length, names.size);
  // Published APs, from the manifests: RTMPose-t's 65.9 is shown (it once showed "—").
  const ap = (name: string) => Number(rows.find((l) => l.startsWith(`${name} `))!.split(/\s+/)[2]);
  assertEquals(ap("rtmpose_t_body7_256x192"), 65.9);
  assertEquals(ap("pp_tinypose_256x192"), 68.8);
  const keypointAps = rows.slice(
    rows.findIndex((l) => l.startsWith("rtmpose_l")),
    rows.findIndex((l) => l.startsWith("simplepose_nano")) + 1,
  ).map((l) => Number(l.split(/\s+/)[2]));
  assertEquals(keypointAps, keypointAps.toSorted((a, b) => b - a), "best first");
});
