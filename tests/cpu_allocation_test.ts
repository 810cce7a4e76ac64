/**
 * The cores a process may use: SLURM's variables, cgroup v1 and v2 CPU quotas (as a Kubernetes
 * pod's CPU limit sets them) read from fixture text, the folders a quota is looked up in, and
 * the smallest limit winning. One real check puts `deno` in a cgroup with a 1-CPU quota where
 * this machine lets the test create cgroups.
 */

import { join } from "node:path";
import {
  cgroupCores,
  chooseCores,
  coresFromCfsQuota,
  coresFromCpuMax,
  parseMountInfo,
  parseProcCgroup,
  quotaFolders,
  slurmCpus,
} from "../lib/deno/cpu_allocation.ts";
import { assertEquals } from "./support/assert.ts";
import { REPO_DIR } from "./support/cli.ts";

Deno.test("SLURM: --cpus-per-task wins; a one-task job has SLURM_CPUS_ON_NODE; outside a job nothing", () => {
  assertEquals(
    slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_PER_TASK: "2", SLURM_CPUS_ON_NODE: "8" }),
    2,
  );
  assertEquals(slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_ON_NODE: "4" }), 4);
  assertEquals(slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_ON_NODE: "4", SLURM_NTASKS: "1" }), 4);
  // Four tasks share the node's CPUs: the process cannot tell its part.
  assertEquals(
    slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_ON_NODE: "8", SLURM_NTASKS: "4" }),
    undefined,
  );
  assertEquals(slurmCpus({ SLURM_CPUS_PER_TASK: "2" }), undefined, "not in a job");
  assertEquals(slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_PER_TASK: "two" }), undefined);
  assertEquals(slurmCpus({ SLURM_JOB_ID: "7", SLURM_CPUS_PER_TASK: "0" }), undefined);
});

Deno.test("cgroup v2 cpu.max: quota over period, rounded down, at least 1; max is no limit", () => {
  assertEquals(coresFromCpuMax("200000 100000\n"), 2);
  assertEquals(coresFromCpuMax("150000 100000\n"), 1, "1.5 CPUs: one full thread");
  assertEquals(coresFromCpuMax("50000 100000\n"), 1, "half a CPU still runs one");
  assertEquals(coresFromCpuMax("400000 50000"), 8);
  assertEquals(coresFromCpuMax("max 100000\n"), undefined);
  assertEquals(coresFromCpuMax(""), undefined);
  assertEquals(coresFromCpuMax("garbage"), undefined);
});

Deno.test("cgroup v1 cfs quota and period: -1 is no limit", () => {
  assertEquals(coresFromCfsQuota("300000\n", "100000\n"), 3);
  assertEquals(coresFromCfsQuota("-1\n", "100000\n"), undefined);
  assertEquals(coresFromCfsQuota("100000", "0"), undefined);
  assertEquals(coresFromCfsQuota("", "100000"), undefined);
});

/** A Kubernetes pod on a cgroup v2 node (its own cgroup namespace: it sees itself at /). */
const V2_POD = {
  cgroup: "0::/\n",
  mountinfo: "1204 1195 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 " +
    "cgroup rw,nsdelegate,memory_recursiveprot\n" +
    "1195 1180 0:120 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a,upperdir=/b\n",
};

/** A container on a cgroup v1 (hybrid) node without its own cgroup namespace. */
const V1_CONTAINER = {
  cgroup: "12:pids:/kubepods/burstable/pod1/abc\n" +
    "4:cpu,cpuacct:/kubepods/burstable/pod1/abc\n" +
    "3:cpuset:/kubepods/burstable/pod1/abc\n" +
    "0::/kubepods/burstable/pod1/abc\n",
  mountinfo: "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n" +
    "35 30 0:31 /kubepods/burstable/pod1/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid shared:11 - " +
    "cgroup cgroup rw,cpu,cpuacct\n" +
    "36 30 0:32 /kubepods/burstable/pod1/abc /sys/fs/cgroup/cpuset ro - cgroup cgroup rw,cpuset\n" +
    "40 30 0:35 / /sys/fs/cgroup/unified ro - cgroup2 cgroup2 rw\n",
};

/** A process in a nested v2 cgroup, the file system's root mounted (no namespace). */
const V2_NESTED = {
  cgroup: "0::/system.slice/job 42.service\n",
  mountinfo: "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n" +
    "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
};

Deno.test("/proc/self/cgroup and mountinfo: the folders of the process's cgroup up to the mount", () => {
  assertEquals(parseProcCgroup(V1_CONTAINER.cgroup)[1], {
    controllers: ["cpu", "cpuacct"],
    path: "/kubepods/burstable/pod1/abc",
    unified: false,
  });
  assertEquals(parseMountInfo(V1_CONTAINER.mountinfo).map((m) => [m.type, m.mountPoint]), [
    ["cgroup", "/sys/fs/cgroup/cpu,cpuacct"],
    ["cgroup", "/sys/fs/cgroup/cpuset"],
    ["cgroup2", "/sys/fs/cgroup/unified"],
  ]);
  const folders = (fixture: { cgroup: string; mountinfo: string }) =>
    quotaFolders(parseProcCgroup(fixture.cgroup), parseMountInfo(fixture.mountinfo));
  // v2 in a pod: its cgroup is the mount's root.
  assertEquals(folders(V2_POD), { type: "cgroup2", folders: ["/sys/fs/cgroup"] });
  // v1 with a cpu hierarchy: the v1 files (the v2 mount beside it holds no cpu controller).
  assertEquals(folders(V1_CONTAINER), { type: "cgroup", folders: ["/sys/fs/cgroup/cpu,cpuacct"] });
  // Nested, with \040 for a space in the path: innermost first, up to the mount point.
  assertEquals(folders(V2_NESTED), {
    type: "cgroup2",
    folders: [
      "/sys/fs/cgroup/system.slice/job 42.service",
      "/sys/fs/cgroup/system.slice",
      "/sys/fs/cgroup",
    ],
  });
  assertEquals(quotaFolders(parseProcCgroup(""), []), undefined, "no cgroups (not Linux)");
});

Deno.test("the smallest quota on the way up counts: a limit on a parent binds its children", () => {
  const files: Record<string, string> = {
    "/cg/pod/ctr/cpu.max": "max 100000\n",
    "/cg/pod/cpu.max": "300000 100000\n",
    "/cg/cpu.max": "max 100000\n",
  };
  const read = (path: string) => files[path];
  assertEquals(
    cgroupCores({ type: "cgroup2", folders: ["/cg/pod/ctr", "/cg/pod", "/cg"] }, read),
    3,
  );
  files["/cg/pod/ctr/cpu.max"] = "100000 100000\n";
  assertEquals(
    cgroupCores({ type: "cgroup2", folders: ["/cg/pod/ctr", "/cg/pod", "/cg"] }, read),
    1,
  );
  assertEquals(cgroupCores({ type: "cgroup2", folders: ["/elsewhere"] }, read), undefined);
  const v1: Record<string, string> = {
    "/v1/cpu.cfs_quota_us": "200000\n",
    "/v1/cpu.cfs_period_us": "100000\n",
  };
  assertEquals(cgroupCores({ type: "cgroup", folders: ["/v1"] }, (p) => v1[p]), 2);
});

Deno.test("the allocation is the smallest of the machine's, SLURM's and the cgroup's", () => {
  assertEquals(chooseCores({ machine: 64 }), { cores: 64, source: "machine" });
  assertEquals(chooseCores({ machine: 64, slurm: 2 }), { cores: 2, source: "slurm" });
  assertEquals(chooseCores({ machine: 64, slurm: 4, cgroup: 2 }), { cores: 2, source: "cgroup" });
  // Binding (the affinity mask) already gave fewer than asked for: the machine's count.
  assertEquals(chooseCores({ machine: 2, slurm: 8 }), { cores: 2, source: "machine" });
});

/** The folder of this process's own cgroup holding its CPU controller, when there is one. */
function ownCgroupFolder(): { type: "cgroup" | "cgroup2"; folder: string } | undefined {
  try {
    const where = quotaFolders(
      parseProcCgroup(Deno.readTextFileSync("/proc/self/cgroup")),
      parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo")),
    );
    return where && { type: where.type, folder: where.folders[0] };
  } catch {
    return undefined;
  }
}

/** Makes a child cgroup with a 1-CPU quota; undefined where this machine does not allow it. */
function oneCpuCgroup(): string | undefined {
  const own = ownCgroupFolder();
  if (!own) return undefined;
  const folder = join(own.folder, `posekit_test_${Deno.pid}`);
  try {
    Deno.mkdirSync(folder);
  } catch {
    return undefined;
  }
  try {
    if (own.type === "cgroup2") Deno.writeTextFileSync(join(folder, "cpu.max"), "100000 100000");
    else {
      Deno.writeTextFileSync(join(folder, "cpu.cfs_period_us"), "100000");
      Deno.writeTextFileSync(join(folder, "cpu.cfs_quota_us"), "100000");
    }
    return folder;
  } catch {
    Deno.removeSync(folder);
    return undefined;
  }
}

const canMakeCgroups = Deno.build.os === "linux" && navigator.hardwareConcurrency > 1 &&
  (() => {
    const folder = oneCpuCgroup();
    if (folder) Deno.removeSync(folder);
    return folder !== undefined;
  })();

Deno.test({
  name: "a process in a cgroup with a 1-CPU quota plans for 1 core, on a machine of more",
  ignore: !canMakeCgroups,
  async fn() {
    const folder = oneCpuCgroup()!;
    try {
      const module = join(REPO_DIR, "lib", "deno", "cpu_allocation.ts");
      const script = `import { allocatedCores } from ${JSON.stringify(module)};` +
        `console.log(JSON.stringify([navigator.hardwareConcurrency, allocatedCores()]));`;
      // The shell moves itself into the cgroup, then becomes deno.
      const { code, stdout, stderr } = await new Deno.Command("sh", {
        args: [
          "-c",
          `echo $$ > "$1/cgroup.procs" && exec "$2" eval "$3"`,
          "sh",
          folder,
          Deno.execPath(),
          script,
        ],
        stdin: "null",
      }).output();
      const decoder = new TextDecoder();
      assertEquals(code, 0, decoder.decode(stderr));
      const [seen, allocation] = JSON.parse(decoder.decode(stdout));
      // Deno's own count follows the quota too (Rust's available_parallelism reads it), so
      // either source may be the one that says 1.
      assertEquals([seen <= navigator.hardwareConcurrency, allocation.cores], [true, 1]);
    } finally {
      Deno.removeSync(folder);
    }
  },
});
