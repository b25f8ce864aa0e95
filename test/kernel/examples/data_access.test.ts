/**
 * Chapter 11, data access: execve_simple prints, for an execve of a process
 * we spawn as nobody, what each helper returned: time, ids, uid/gid, comm,
 * task state, parent, a random number and its log2, file name and argument.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const HEADER =
  "TIME(s)            PID     TID     PPID    UID   GID   COMM             STATE RANDOM     LOG2 FILE ARG1";
const NOBODY = 65534;

/** bcc's bpf_log2l: floor(log2(v)) + 1, and 1 for 0. */
function log2l(v: number): number {
  return v === 0 ? 1 : 32 - Math.clz32(v);
}

describe("data_access", { skip: skipUnlessRoot }, () => {
  it("data_access/execve_simple prints each helper's value for an execve we spawn", async () => {
    const arg = "tsbpf-data-access";
    const pids = new Set<number>();
    // The comm before execve is the parent's (ours); bpf_ktime_get_ns is CLOCK_MONOTONIC, as hrtime.
    const comm = readFileSync("/proc/self/comm", "utf8").trim();
    const t0 = process.hrtime.bigint();
    const rowOf = (out: string): string | undefined =>
      out.split("\n").find((l) => l.endsWith(` /bin/echo ${arg}`) && pids.has(Number(l.split(/ +/)[1])));
    const r = await runExample("data_access/execve_simple", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        const c = spawnSync("/bin/echo", [arg], { uid: NOBODY, gid: NOBODY, stdio: "ignore" });
        if (c.pid) pids.add(c.pid);
      },
      until: (out) => rowOf(out) !== undefined,
    });
    const t1 = process.hrtime.bigint();
    assert.ok(r.matched, `no row for ${[...pids].join(", ")}:\n${r.stdout.slice(-3000)}\n${r.stderr}`);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    const row = rowOf(r.stdout) as string;
    // "%-18.9f %-7d %-7d %-7d %-5d %-5d %-16s %-5d %-10u %-4u %s %s"
    const [secs, nanos] = row.slice(0, 18).trim().split(".") as [string, string];
    assert.equal(nanos.length, 9);
    const ts = BigInt(secs) * 1_000_000_000n + BigInt(nanos);
    assert.ok(ts >= t0 && ts <= t1, `time ${ts} between ${t0} and ${t1}`);
    const pid = Number(row.slice(19, 26));
    assert.ok(pids.has(pid));
    assert.equal(row.slice(19, 27), `${String(pid).padEnd(7)} `);
    assert.equal(row.slice(27, 35), `${String(pid).padEnd(7)} `, "TID = PID: one thread");
    assert.equal(row.slice(35, 43), `${String(process.pid).padEnd(7)} `, "PPID: this test process");
    assert.equal(row.slice(43, 55), `${String(NOBODY).padEnd(5)} ${String(NOBODY).padEnd(5)} `, "UID GID");
    assert.equal(row.slice(55, 72), `${comm.padEnd(16)} `);
    assert.equal(row.slice(72, 78), `${"0".padEnd(5)} `, "TASK_RUNNING: it is making the call");
    const rand = Number(row.slice(78, 88));
    assert.match(row.slice(78, 89), /^\d+ *$/);
    assert.equal(row.slice(89, 94), `${String(log2l(rand)).padEnd(4)} `, `bpf_log2l(${rand})`);
    assert.equal(row.slice(94), `/bin/echo ${arg}`);
    assertMechanism(
      "execve_simple",
      r.stderr,
      "kprobe",
      /using tracepoint syscalls:sys_enter_execve instead$/,
    );
  });

  it("data_access/execve_simple --strict fails with the typed error where kprobes are missing", (t) => {
    if (kernelHas("kprobe")) {
      t.skip("this kernel has kprobes: --strict runs the original");
      return;
    }
    const r = runExampleSync("data_access/execve_simple", ["--strict"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^execve_simple: NotSupportedError: kprobes are not available on this kernel \(.*CONFIG_KPROBES is off\); attach to tracepoint syscalls:sys_enter_execve instead/,
    );
  });
});
