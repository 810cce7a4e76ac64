/**
 * How many CPU cores this process may use: what the scheduler granted it, not what the
 * machine has. A SLURM task started without CPU binding (no task/affinity or task/cgroup
 * plugin, as on many clusters) sees every core of the node: one worker and thread per core
 * each, two 2-CPU tasks on a 64-core node would start 64 threads apiece. So the default worker
 * and thread counts take the smallest of:
 * - `navigator.hardwareConcurrency`: the CPU affinity mask, and in Deno 2 on Linux the cgroup
 *   quota as well (Rust's `available_parallelism`, measured here: 1 in a 1-CPU cgroup of a
 *   2-core machine);
 * - under SLURM, the task's CPUs (`SLURM_CPUS_PER_TASK`, else `SLURM_CPUS_ON_NODE` for a job
 *   of one task);
 * - the cgroup CPU quota of the process, as a container runtime sets it from a Kubernetes
 *   pod's CPU limit (cgroup v2 `cpu.max`, cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`),
 *   on the process's own cgroup and every parent up to the mount's root, rounded down (at
 *   least 1). Read here too so that the rule is posekit's own, whatever the runtime's count
 *   does (another runtime, an older Deno, a compiled binary).
 *
 * The parsers are pure functions of the files' text, tested with fixtures; `allocatedCores`
 * reads the environment and `/proc` and `/sys/fs/cgroup`, each only where permission is already
 * granted (never a prompt), and falls back to the affinity count.
 */

import { join, relative } from "node:path";

/** Environment variables as `Deno.env.toObject()` gives them. */
export type CpuEnvironment = Record<string, string | undefined>;

/** Where the allocation came from, for a note or a test. */
export interface CoreAllocation {
  /** Cores to plan workers and threads for (at least 1). */
  cores: number;
  /** What limited it: "machine", "slurm" or "cgroup". */
  source: "machine" | "slurm" | "cgroup";
}

function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * The CPUs SLURM gave this task, or undefined outside a SLURM job (or when it does not say).
 * `SLURM_CPUS_PER_TASK` is set when the job asked for `--cpus-per-task`; without it, a job of
 * one task (a batch script, an array task) has `SLURM_CPUS_ON_NODE` CPUs. A job of several
 * tasks without `--cpus-per-task` shares `SLURM_CPUS_ON_NODE` among them, which the process
 * cannot split alone: undefined.
 */
export function slurmCpus(env: CpuEnvironment): number | undefined {
  if (env.SLURM_JOB_ID === undefined && env.SLURM_JOBID === undefined) return undefined;
  const perTask = positiveInteger(env.SLURM_CPUS_PER_TASK);
  if (perTask !== undefined) return perTask;
  const tasks = positiveInteger(env.SLURM_NTASKS) ?? 1;
  return tasks === 1 ? positiveInteger(env.SLURM_CPUS_ON_NODE) : undefined;
}

/**
 * Cores from a cgroup v2 `cpu.max` ("QUOTA PERIOD" in microseconds, or "max PERIOD" for no
 * limit): the quota over the period, rounded down and at least 1 (1.5 CPUs run one thread
 * at full speed; two would be throttled a third of each period). Undefined without a limit
 * or for text that is not a `cpu.max`.
 */
export function coresFromCpuMax(text: string): number | undefined {
  const match = /^\s*(max|\d+)(?:\s+(\d+))?\s*$/.exec(text);
  if (!match || match[1] === "max") return undefined;
  return coresFromQuota(Number(match[1]), match[2] === undefined ? 100000 : Number(match[2]));
}

/**
 * Cores from cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota −1: no limit),
 * rounded down as `coresFromCpuMax`.
 */
export function coresFromCfsQuota(quotaText: string, periodText: string): number | undefined {
  const quota = Number(quotaText.trim());
  const period = Number(periodText.trim());
  if (quotaText.trim() === "" || periodText.trim() === "") return undefined;
  if (!Number.isFinite(quota) || quota < 0) return undefined;
  return coresFromQuota(quota, period);
}

function coresFromQuota(quota: number, period: number): number | undefined {
  if (!(Number.isFinite(quota) && quota > 0 && Number.isFinite(period) && period > 0)) {
    return undefined;
  }
  return Math.max(1, Math.floor(quota / period));
}

/** One line of `/proc/self/cgroup`: `ID:CONTROLLERS:PATH`. */
export interface CgroupMembership {
  /** Controllers of a v1 hierarchy ("cpu", "cpuacct"); empty for the v2 unified hierarchy. */
  controllers: string[];
  /** The cgroup's path within its hierarchy. */
  path: string;
  /** True for the v2 line (`0::/path`). */
  unified: boolean;
}

/** Parses `/proc/self/cgroup`. */
export function parseProcCgroup(text: string): CgroupMembership[] {
  const memberships: CgroupMembership[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const controllers = match[2] === "" ? [] : match[2].split(",");
    memberships.push({ controllers, path: match[3], unified: match[1] === "0" && match[2] === "" });
  }
  return memberships;
}

/** A cgroup file system mounted somewhere: from `/proc/self/mountinfo`. */
export interface CgroupMount {
  /** The folder of the hierarchy's cgroup `root` (a container sees its own cgroup as root). */
  mountPoint: string;
  /** The cgroup path that the mount point shows. */
  root: string;
  /** "cgroup2", or "cgroup" (v1) with its controllers in `controllers`. */
  type: "cgroup" | "cgroup2";
  controllers: string[];
}

/**
 * The cgroup mounts of `/proc/self/mountinfo` (fields: id, parent, major:minor, root, mount
 * point, options, optional fields, "-", type, source, super options; octal escapes such as
 * `\040` decoded).
 */
export function parseMountInfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields.length < dash + 3) continue;
    const type = fields[dash + 1];
    if (type !== "cgroup" && type !== "cgroup2") continue;
    const superOptions = (fields[dash + 3] ?? "").split(",");
    mounts.push({
      mountPoint: unescape(fields[4]),
      root: unescape(fields[3]),
      type,
      controllers: type === "cgroup" ? superOptions.filter((o) => o === "cpu") : [],
    });
  }
  return mounts;
}

/** Where to read a CPU quota: folders from the process's own cgroup up to the mount point. */
export interface QuotaFolders {
  /** "cgroup2": read `cpu.max`; "cgroup": `cpu.cfs_quota_us` and `cpu.cfs_period_us`. */
  type: "cgroup" | "cgroup2";
  /** Innermost first. */
  folders: string[];
}

/**
 * The folders whose quota limits this process: its cgroup's folder under the mount that holds
 * its CPU controller (the v2 unified hierarchy, else the v1 hierarchy with `cpu`), and each
 * parent up to the mount point (a limit set on a parent applies to its children). A cgroup
 * outside the mount's root (another namespace's path) gives the mount point alone.
 */
export function quotaFolders(
  memberships: CgroupMembership[],
  mounts: CgroupMount[],
): QuotaFolders | undefined {
  const pick = (
    membership: CgroupMembership | undefined,
    mount: CgroupMount | undefined,
  ): QuotaFolders | undefined => {
    if (!membership || !mount) return undefined;
    const inside = relative(mount.root, membership.path);
    const parts = inside === "" || inside.startsWith("..") ? [] : inside.split("/");
    const folders: string[] = [];
    for (let n = parts.length; n >= 0; n--) {
      folders.push(join(mount.mountPoint, ...parts.slice(0, n)));
    }
    return { type: mount.type, folders };
  };
  const v1 = pick(
    memberships.find((m) => m.controllers.includes("cpu")),
    mounts.find((m) => m.type === "cgroup" && m.controllers.includes("cpu")),
  );
  if (v1) return v1;
  return pick(memberships.find((m) => m.unified), mounts.find((m) => m.type === "cgroup2"));
}

/** Reads a text file when reading it is already allowed; undefined otherwise or on error. */
function readIfAllowed(path: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The smallest quota over `folders`, read from the files (undefined without any). */
export function cgroupCores(
  where: QuotaFolders,
  read: (path: string) => string | undefined = readIfAllowed,
): number | undefined {
  let cores: number | undefined;
  for (const folder of where.folders) {
    let found: number | undefined;
    if (where.type === "cgroup2") {
      const text = read(join(folder, "cpu.max"));
      found = text === undefined ? undefined : coresFromCpuMax(text);
    } else {
      const quota = read(join(folder, "cpu.cfs_quota_us"));
      const period = read(join(folder, "cpu.cfs_period_us"));
      found = quota === undefined || period === undefined
        ? undefined
        : coresFromCfsQuota(quota, period);
    }
    if (found !== undefined) cores = Math.min(cores ?? found, found);
  }
  return cores;
}

/** The SLURM variables `slurmCpus` reads, when reading them is allowed. */
function slurmEnvironment(): CpuEnvironment {
  const env: CpuEnvironment = {};
  for (
    const name of [
      "SLURM_JOB_ID",
      "SLURM_JOBID",
      "SLURM_CPUS_PER_TASK",
      "SLURM_CPUS_ON_NODE",
      "SLURM_NTASKS",
    ]
  ) {
    try {
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") continue;
      env[name] = Deno.env.get(name);
    } catch {
      // Not allowed: as if unset.
    }
  }
  return env;
}

/** Inputs of `chooseCores`: each limit, undefined where there is none. */
export interface CoreLimits {
  machine: number;
  slurm?: number;
  cgroup?: number;
}

/** The smallest of the limits (see the module comment), at least 1. */
export function chooseCores(limits: CoreLimits): CoreAllocation {
  let allocation: CoreAllocation = { cores: Math.max(1, limits.machine), source: "machine" };
  if (limits.slurm !== undefined && limits.slurm < allocation.cores) {
    allocation = { cores: limits.slurm, source: "slurm" };
  }
  if (limits.cgroup !== undefined && limits.cgroup < allocation.cores) {
    allocation = { cores: limits.cgroup, source: "cgroup" };
  }
  return allocation;
}

let cached: CoreAllocation | undefined;

/**
 * The cores this process may use (see the module comment), read once per process. Only Linux
 * has cgroups; elsewhere the SLURM variables and the affinity count decide.
 */
export function allocatedCores(): CoreAllocation {
  if (cached) return cached;
  const machine = navigator.hardwareConcurrency ?? 1;
  let cgroup: number | undefined;
  if (Deno.build.os === "linux") {
    const memberships = readIfAllowed("/proc/self/cgroup");
    const mounts = readIfAllowed("/proc/self/mountinfo");
    const where = memberships === undefined || mounts === undefined
      ? undefined
      : quotaFolders(parseProcCgroup(memberships), parseMountInfo(mounts));
    if (where) cgroup = cgroupCores(where);
  }
  cached = chooseCores({ machine, slurm: slurmCpus(slurmEnvironment()), cgroup });
  return cached;
}

/**
 * The default CPU threads of each of `workers` worker processes: the allocated cores shared
 * out, at least 1 each.
 */
export function threadsPerWorker(workers: number): number {
  return Math.max(1, Math.floor(allocatedCores().cores / Math.max(1, workers)));
}
