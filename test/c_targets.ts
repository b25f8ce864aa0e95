/**
 * C programs that kernel tests build and trace (uprobe and USDT targets):
 * built in a temporary directory, started, and killed and removed at the end.
 * A target prints its pid on its first line, so `start` can wait for it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether <sys/sdt.h> (Debian: systemtap-sdt-dev) is installed, for USDT targets. */
export const sdtHeaderPresent: boolean = [
  "/usr/include/sys/sdt.h",
  "/usr/include/x86_64-linux-gnu/sys/sdt.h",
  "/usr/include/aarch64-linux-gnu/sys/sdt.h",
].some((p) => existsSync(p));

/** The C compiler the targets are built with ($CC, else cc). */
export const cc: string = process.env.CC || "cc";

/** Whether that compiler runs. */
export const ccPresent: boolean = spawnSync(cc, ["--version"]).status === 0;

export class CTargets {
  private dir = "";
  private readonly children: ChildProcess[] = [];

  constructor(private readonly prefix: string) {}

  /** The temporary directory (made on first use). */
  get path(): string {
    if (!this.dir) this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    return this.dir;
  }

  /**
   * Builds `source` as `name` with -O1 (strlen kept a real call) and `flags`;
   * returns the executable's path, or throws with the compiler's message.
   */
  build(name: string, source: string, flags: string[] = []): string {
    const src = join(this.path, `${name}.c`);
    const exe = join(this.path, name);
    writeFileSync(src, source);
    const r = spawnSync(cc, ["-O1", "-fno-builtin-strlen", ...flags, "-o", exe, src], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cc} ${name}: ${r.error?.message ?? r.stderr}`);
    return exe;
  }

  /** Runs a built target (stdout piped), to be killed by cleanup(). */
  run(exe: string): ChildProcess {
    const child = spawn(exe, [], { stdio: ["ignore", "pipe", "inherit"] });
    this.children.push(child);
    return child;
  }

  /** Starts a built target and resolves with its pid, the first line it prints. */
  start(exe: string): Promise<number> {
    const child = this.run(exe);
    return new Promise((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (b: Buffer) => {
        out += b.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(Number(out.slice(0, nl)));
      });
      child.on("error", reject);
      child.on("exit", (code) => reject(new Error(`${exe} exited (${code})`)));
    });
  }

  /** Kills every started target and removes the directory. */
  cleanup(): void {
    for (const c of this.children) c.kill("SIGKILL");
    this.children.length = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = "";
  }
}
