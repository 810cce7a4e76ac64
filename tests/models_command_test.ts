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

Deno.test("models: a table with a header row and one row per model", async () => {
  const run = await runModels([]);
  assertEquals(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split("\n");
  assert(lines[0].startsWith("name") && lines[0].includes("accuracy"), lines[0]);
  assertEquals(lines.length, 2 + listManifests().length);
  assert(lines.some((l) => l.startsWith("pp_tinypose_256x192") && l.includes("68.8")));
});
