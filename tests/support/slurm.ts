/**
 * A one-node SLURM cluster for a test, on 127.0.0.1, in a temporary folder: its own munge key
 * and munged, a `slurm.conf` with one node of this machine's cores and memory, and slurmctld
 * and slurmd in the foreground as children of the test. `stop` ends all of it — jobs, daemons,
 * and any process that carries the cluster's marker in its environment (slurmstepd and the
 * jobs' processes, which outlive the daemons that started them) — and removes the folder.
 *
 * What SLURM 22.05 needs to run like this (found by trying): `SlurmctldHost=localhost(127.0.0.1)`
 * and `NodeAddr=127.0.0.1` with `CommunicationParameters=NoInAddrAny,NoCtldInAddrAny` (nothing
 * listens beyond 127.0.0.1); free ports rather than 6817/6818; `SlurmdParameters=
 * config_overrides` (a sandbox hides the CPU layout slurmd would check the node against); no
 * cgroup plugins, and `ProctrackType=proctrack/pgid` (with linuxproc a cancelled job's child
 * survived); a munge socket folder searchable by every user; `AuthInfo=socket=…`, the only
 * way clients find a private munged; `cred_expire=5` and `sched_interval=1`, since a requeued
 * job waits for the credential's expiry plus a scheduler pass (120 s by default).
 */

import { join } from "node:path";

/** The daemons and client commands the cluster needs. */
export const SLURM_PROGRAMS = [
  "munged",
  "slurmctld",
  "slurmd",
  "sbatch",
  "scontrol",
  "scancel",
  "sinfo",
  "squeue",
];

/** True when every program of `SLURM_PROGRAMS` is on the PATH (or in /usr/sbin). */
export function hasSlurm(): boolean {
  return SLURM_PROGRAMS.every((program) => findProgram(program) !== undefined);
}

function findProgram(name: string): string | undefined {
  const folders = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/bin"];
  for (const folder of folders) {
    if (!folder) continue;
    try {
      const info = Deno.statSync(join(folder, name));
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return join(folder, name);
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** One array task as `scontrol show job` describes it. */
export interface SlurmTask {
  jobId: string;
  arrayJobId?: string;
  arrayTaskId?: string;
  /** PENDING, RUNNING, COMPLETED, FAILED, CANCELLED… */
  state: string;
  /** "0:0" (exit code:signal). */
  exitCode: string;
  restarts: number;
}

/** What a command printed. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Two free TCP ports on 127.0.0.1 (bound and released at once). */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}

/** MiB of memory on this machine (MemTotal). */
function memoryMiB(): number {
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  const kib = Number(/MemTotal:\s+(\d+) kB/.exec(meminfo)?.[1] ?? 1048576);
  return Math.floor(kib / 1024);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when `child` ends within `ms` (the timer is cleared either way). */
async function endsWithin(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([child.status.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running one-node cluster (see the module comment). */
export class SlurmCluster {
  private readonly daemons: { name: string; child: Deno.ChildProcess }[] = [];
  private stopped = false;

  private constructor(
    /** The cluster's folder: configuration, state, logs, munge's key and socket. */
    readonly dir: string,
    /** Environment for client commands and jobs: SLURM_CONF and the marker. */
    readonly env: Record<string, string>,
  ) {}

  /** The cluster's configuration file. */
  get conf(): string {
    return join(this.dir, "slurm.conf");
  }

  /**
   * Starts munged, slurmctld and slurmd with `cpus` CPUs (default: this machine's cores),
   * and waits until the node takes jobs. On failure, whatever was started is stopped.
   */
  static async start(cpus = navigator.hardwareConcurrency): Promise<SlurmCluster> {
    const dir = await Deno.makeTempDir({ prefix: "posekit_slurm_" });
    // Searchable by every user: jobs (and munge clients) reach the socket through it.
    await Deno.chmod(dir, 0o755);
    const cluster = new SlurmCluster(dir, {
      SLURM_CONF: join(dir, "slurm.conf"),
      POSEKIT_SLURM_TEST: dir,
    });
    try {
      await cluster.configure(cpus);
      await cluster.startDaemons();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  private async configure(cpus: number): Promise<void> {
    const dir = this.dir;
    for (const sub of ["munge", "state", "spool", "log"]) {
      await Deno.mkdir(join(dir, sub));
      await Deno.chmod(join(dir, sub), 0o755);
    }
    const key = join(dir, "munge", "munge.key");
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
    await Deno.chmod(key, 0o400);
    const [ctldPort, slurmdPort] = freePorts(2);
    const conf = [
      "ClusterName=posekit",
      "SlurmctldHost=localhost(127.0.0.1)",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      `AuthInfo=socket=${join(dir, "munge", "munge.socket")},cred_expire=5`,
      "CredType=cred/munge",
      "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
      "SlurmdParameters=config_overrides",
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
      "ProctrackType=proctrack/pgid",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "SwitchType=switch/none",
      "MpiDefault=none",
      "SchedulerType=sched/backfill",
      "SchedulerParameters=sched_interval=1",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "ReturnToService=2",
      // Finished jobs stay visible to `scontrol show job` for the whole test.
      "MinJobAge=3600",
      "KillWait=2",
      "InactiveLimit=0",
      `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memoryMiB()} ` +
      "State=UNKNOWN",
      "PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n");
    await Deno.writeTextFile(this.conf, conf);
  }

  private spawn(name: string, program: string, args: string[]): void {
    const child = new Deno.Command(findProgram(program) ?? program, {
      args,
      env: this.env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.daemons.push({ name, child });
  }

  private async startDaemons(): Promise<void> {
    const dir = this.dir;
    const socket = join(dir, "munge", "munge.socket");
    this.spawn("munged", "munged", [
      "--foreground",
      "--force",
      `--key-file=${join(dir, "munge", "munge.key")}`,
      `--socket=${socket}`,
      `--pid-file=${join(dir, "munge", "munged.pid")}`,
      `--log-file=${join(dir, "log", "munged.log")}`,
      `--seed-file=${join(dir, "munge", "munged.seed")}`,
    ]);
    await this.waitUntil("munged's socket", async () => {
      try {
        return (await Deno.stat(socket)).isSocket === true;
      } catch {
        return false;
      }
    }, 20_000);
    this.spawn("slurmctld", "slurmctld", ["-D", "-i", "-f", this.conf]);
    await this.waitUntil(
      "slurmctld",
      async () => (await this.command("scontrol", ["ping"])).stdout.includes("UP"),
      30_000,
    );
    this.spawn("slurmd", "slurmd", ["-D", "-N", "localhost", "-f", this.conf]);
    await this.waitUntil("the node to be idle", async () => {
      const run = await this.command("sinfo", ["-h", "-n", "localhost", "-o", "%t"]);
      return run.stdout.trim() === "idle";
    }, 30_000);
  }

  /** Polls `check` every `pollMs` until it is true; past `timeoutMs`, throws with the logs. */
  async waitUntil(
    what: string,
    check: () => Promise<boolean>,
    timeoutMs: number,
    pollMs = 200,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const { name, child } of this.daemons) {
        const exited = await endsWithin(child, 0);
        if (exited) {
          throw new Error(`${name} exited while waiting for ${what}\n${await this.logs()}`);
        }
      }
      if (await check()) return;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs / 1000} s waiting for ${what}\n${await this.logs()}`,
        );
      }
      await sleep(pollMs);
    }
  }

  /** The tail of each daemon's log, for failure messages. */
  async logs(): Promise<string> {
    const parts: string[] = [];
    for (const name of ["munged.log", "slurmctld.log", "slurmd.log"]) {
      const text = await Deno.readTextFile(join(this.dir, "log", name)).catch(() => "");
      parts.push(`--- ${name} ---\n${text.split("\n").slice(-15).join("\n")}`);
    }
    return parts.join("\n");
  }

  /** Runs a SLURM client command against this cluster, in `cwd`, with more `env`. */
  async command(
    program: string,
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<CommandOutput> {
    const { code, stdout, stderr } = await new Deno.Command(findProgram(program) ?? program, {
      args,
      cwd: options.cwd,
      env: { ...options.env, ...this.env },
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  }

  /** Like `command`, but a non-zero exit is an error showing what it printed. */
  async check(
    program: string,
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<string> {
    const run = await this.command(program, args, options);
    if (run.code !== 0) {
      throw new Error(`${program} ${args.join(" ")}: exit ${run.code}\n${run.stdout}${run.stderr}`);
    }
    return run.stdout;
  }

  /** `scontrol show job` of a job (every task of an array), parsed. */
  async tasks(jobId: string): Promise<SlurmTask[]> {
    const text = await this.check("scontrol", ["-o", "show", "job", jobId]);
    return text.split("\n").filter((line) => line.includes("JobId=")).map((line) => {
      const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1];
      return {
        jobId: field("JobId")!,
        ...(field("ArrayJobId") ? { arrayJobId: field("ArrayJobId") } : {}),
        ...(field("ArrayTaskId") ? { arrayTaskId: field("ArrayTaskId") } : {}),
        state: field("JobState") ?? "?",
        exitCode: field("ExitCode") ?? "?",
        restarts: Number(field("Restarts") ?? 0),
      };
    });
  }

  /**
   * Stops everything: cancels the jobs, stops slurmd, slurmctld and munged, kills whatever
   * still carries the marker (slurmstepd, job processes), removes the folder. Returns the
   * number of such leftover processes it had to kill. Safe to call twice, and after a failed
   * start.
   */
  async stop(): Promise<number> {
    if (this.stopped) return 0;
    this.stopped = true;
    const running = this.daemons.length === 3;
    if (running) {
      await this.command("scancel", ["--user=root", "--full", "--signal=KILL"]).catch(() => {});
      await this.command("scancel", ["--user=root"]).catch(() => {});
      // Give the jobs a moment to end through SLURM before their daemons go.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const run = await this.command("squeue", ["-h", "-t", "RUNNING,COMPLETING,SUSPENDED"])
          .catch(() => undefined);
        if (!run || run.code !== 0 || run.stdout.trim() === "") break;
        await sleep(250);
      }
    }
    for (const { child } of [...this.daemons].reverse()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const ended = await endsWithin(child, 5000);
      if (!ended) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone meanwhile.
        }
        await child.status;
      }
    }
    const leftovers = killMarked(this.dir);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    return leftovers;
  }
}

/**
 * Kills (SIGKILL) every process whose environment holds `POSEKIT_SLURM_TEST=<dir>`: the
 * cluster's daemons and jobs and their children, and nothing else. Returns how many.
 */
export function killMarked(dir: string): number {
  const marker = `POSEKIT_SLURM_TEST=${dir}`;
  let killed = 0;
  // Twice: a process may start a child between the scan and its kill.
  for (let round = 0; round < 2; round++) {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      if (pid === Deno.pid) continue;
      let environ: string;
      try {
        environ = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
      } catch {
        continue;
      }
      if (!environ.split("\0").includes(marker)) continue;
      try {
        Deno.kill(pid, "SIGKILL");
        killed++;
      } catch {
        // Gone already.
      }
    }
  }
  return killed;
}
