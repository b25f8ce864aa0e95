/**
 * bcc's implicit kernel-memory reads in the real kernel: programs that
 * dereference kernel pointers directly load (the verifier accepts the probe
 * reads they became) and read the values /proc shows for processes the test
 * spawned. Raw tracepoints only: this kernel has no kprobes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { BPF, VerifierError } from "../../src/index.js";
import { tracepointExists } from "../../src/kernel/tracefs.js";
import type { HashTable } from "../../src/maps/table.js";
import { skipUnlessRoot, waitFor } from "../helpers.js";

const PROGRAM = `
#include <linux/sched.h>
#include <net/sock.h>
#define PARENT(t) ((t)->real_parent)

BPF_HASH(ppid_cur, u32, u32);
int from_current(struct bpf_raw_tracepoint_args *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u32 ppid = ((struct task_struct *)bpf_get_current_task())->real_parent->tgid;
    ppid_cur.update(&pid, &ppid);
    return 0;
}

struct exec_rec { u32 pid; u32 ppid; u32 pp2; char comm[16]; };
BPF_HASH(exec_args, u32, struct exec_rec);
int from_args(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    struct exec_rec r = {};
    r.pid = p->pid;
    r.ppid = p->real_parent->tgid;
    r.pp2 = PARENT(p)->tgid;
    bpf_probe_read_kernel_str(r.comm, sizeof(r.comm), p->comm);
    u32 key = r.pid;
    exec_args.update(&key, &r);
    return 0;
}

BPF_HASH(saved, u32, struct task_struct *);
BPF_HASH(ppid_map, u32, u32);
int through_map(struct bpf_raw_tracepoint_args *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    saved.update(&pid, &t);
    struct task_struct **back = saved.lookup(&pid);
    if (!back)
        return 0;
    u32 ppid = (*back)->real_parent->tgid;
    ppid_map.update(&pid, &ppid);
    saved.delete(&pid);
    return 0;
}

struct fields_t {
    u64 arg_start;
    u32 uid;
    u32 pid_nr;
    u32 name_len;
    u32 in_execve;
    char sysname[16];
    char exe[16];
    char c0;
};
BPF_HASH(task_fields, u32, struct fields_t);
int fields(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct fields_t f = {};
    u32 pid = t->tgid;
    f.arg_start = t->mm->arg_start;
    f.uid = t->cred->uid.val;
    f.pid_nr = t->thread_pid->numbers[0].nr;
    struct dentry *d = t->mm->exe_file->f_path.dentry;
    f.name_len = d->d_name.len;
    bpf_probe_read_kernel_str(f.exe, sizeof(f.exe), d->d_name.name);
    f.in_execve = t->in_execve;
    bpf_probe_read_kernel_str(f.sysname, sizeof(f.sysname), t->nsproxy->uts_ns->name.sysname);
    f.c0 = t->comm[0];
    task_fields.update(&pid, &f);
    return 0;
}

int trace_connect(struct pt_regs *ctx, struct sock *sk)
{
    u16 dport = sk->__sk_common.skc_dport;
    u32 daddr = sk->__sk_common.skc_daddr;
    bpf_trace_printk("connect %d %x\\n", bpf_ntohs(dport), daddr);
    return 0;
}
`;

/** Starts `sleep`, waits until `ready(pid)` holds, reads its /proc status, then ends it. */
async function withSleeper<T>(ready: (pid: number) => boolean, read: (pid: number) => T): Promise<T> {
  const child = spawn("/bin/sleep", ["10"], { stdio: "ignore" });
  const pid = child.pid;
  assert.ok(pid !== undefined);
  try {
    assert.ok(await waitFor(() => ready(pid), 5000), "the program saw the exec");
    return read(pid);
  } finally {
    child.kill();
  }
}

/** Name and PPid of a live process, from /proc. */
function procStatus(pid: number): { name: string; ppid: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return { name: /^Name:\s+(.*)$/m.exec(s)?.[1] ?? "", ppid: Number(/^PPid:\s+(\d+)$/m.exec(s)?.[1]) };
}

describe("implicit kernel reads", { skip: skipUnlessRoot }, () => {
  const open: BPF[] = [];
  after(() => {
    for (const b of open) b.close();
  });

  it("loads every program that dereferences kernel pointers (the verifier accepts the probe reads)", async () => {
    const b = await BPF.load({ text: PROGRAM });
    open.push(b);
    for (const fn of ["from_current", "from_args", "through_map", "fields"])
      assert.ok(b.loadFunc(fn, BPF.RAW_TRACEPOINT).fd > 0, fn);
    // A declared-argument probe reading a union member of an embedded struct.
    assert.ok(b.loadFunc("trace_connect", BPF.KPROBE).fd > 0);
    assert.match(b.compiled.translated, /bpf_probe_read_kernel\(\(void \*\)&__tsbpf_v\d+/);
    b.close();
  });

  it("reads real_parent->tgid through bpf_get_current_task(), ctx->args[0] and a map", async () => {
    const b = await BPF.load({ text: PROGRAM });
    open.push(b);
    for (const fn of ["from_current", "from_args", "through_map"])
      b.attachRawTracepoint({ tp: "sched_process_exec", fnName: fn });
    const cur = b.getTable<HashTable<number, number>>("ppid_cur");
    const args =
      b.getTable<HashTable<number, { pid: number; ppid: number; pp2: number; comm: string }>>("exec_args");
    const viaMap = b.getTable<HashTable<number, number>>("ppid_map");
    const seen = await withSleeper(
      (pid) => cur.has(pid) && args.has(pid) && viaMap.has(pid),
      (pid) => ({
        pid,
        proc: procStatus(pid),
        cur: cur.get(pid),
        args: args.get(pid),
        viaMap: viaMap.get(pid),
      }),
    );
    assert.equal(seen.proc.ppid, process.pid, "the test spawned it");
    assert.equal(seen.cur, process.pid);
    assert.equal(seen.viaMap, process.pid);
    assert.deepEqual(seen.args, { pid: seen.pid, ppid: process.pid, pp2: process.pid, comm: seen.proc.name });
    assert.equal(seen.proc.name, "sleep");
    b.close();
  });

  it("reads embedded struct, union, array and bit-field members", async () => {
    const b = await BPF.load({ text: PROGRAM });
    open.push(b);
    b.attachRawTracepoint({ tp: "sched_process_exec", fnName: "fields" });
    type Fields = {
      arg_start: bigint;
      uid: number;
      pid_nr: number;
      name_len: number;
      in_execve: number;
      sysname: string;
      exe: string;
      c0: number;
    };
    const table = b.getTable<HashTable<number, Fields>>("task_fields");
    const { pid, f } = await withSleeper(
      (p) => table.has(p),
      (p) => ({ pid: p, f: table.get(p) as Fields }),
    );
    assert.ok(f.arg_start > 0n, "mm->arg_start");
    assert.equal(f.uid, process.getuid?.(), "cred->uid.val");
    assert.equal(f.pid_nr, pid, "thread_pid->numbers[0].nr");
    assert.equal(f.exe, "sleep", "mm->exe_file->f_path.dentry->d_name.name");
    assert.equal(f.name_len, "sleep".length, "d_name.len: a struct in a union");
    assert.equal(f.in_execve, 1, "a bit-field: set while execve runs");
    assert.equal(f.sysname, "Linux", "nsproxy->uts_ns->name.sysname");
    assert.equal(f.c0, "s".charCodeAt(0), "comm[0]");
    b.close();
  });

  it("reads through a tracepoint record's own pointer field (args->cred->uid in capability:cap_capable)", async (t) => {
    // The record's `const struct cred *cred` is kernel memory as it stands, with no cast of the
    // program's own: only the dialect's casts of the map (which say nothing, and once made the
    // pass run by chance).
    if (!tracepointExists("capability", "cap_capable")) {
      t.skip("this kernel has no capability:cap_capable tracepoint (Linux 6.13+)");
      return;
    }
    const b = await BPF.load({
      text: `
BPF_HASH(uids, u32, u32);
TRACEPOINT_PROBE(capability, cap_capable)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u32 uid = args->cred->uid.val;
    if (args->cap == 23 /* CAP_SYS_NICE */)
        uids.update(&pid, &uid);
    return 0;
}`,
    });
    open.push(b);
    assert.match(b.compiled.translated, /bpf_probe_read_kernel\(/);
    // A process of uid 65534 asking for CAP_SYS_NICE: nice's setpriority(-1).
    const child = spawn("/usr/bin/nice", ["-n", "-1", "/bin/true"], {
      uid: 65534,
      gid: 65534,
      stdio: "ignore",
    });
    const pid = child.pid as number;
    const uids = b.getTable<HashTable<number, number>>("uids");
    assert.ok(
      await waitFor(() => uids.get(pid) !== undefined, 5000),
      `no CAP_SYS_NICE check from pid ${pid}`,
    );
    assert.equal(uids.get(pid), 65534);
    b.close();
  });

  it("does not read user pointers implicitly: the verifier refuses them", async () => {
    const b = await BPF.load({
      text: `
int syscall__execve(struct pt_regs *ctx, const char __user *filename)
{
    char c = filename[0];
    bpf_trace_printk("%c", c);
    return 0;
}`,
    });
    open.push(b);
    const line = b.compiled.translated.split("\n").find((l) => l.includes("char c ="));
    assert.equal(line, "    char c = filename[0];");
    assert.throws(
      () => b.loadFunc("syscall__execve", BPF.TRACEPOINT),
      (err: unknown) => {
        assert.ok(err instanceof VerifierError, String(err));
        // The verifier's refusal of a load through a pointer that is not the kernel's to read.
        assert.match(err.log, /invalid mem access|R\d+ invalid mem access 'scalar'/);
        return true;
      },
    );
    b.close();
  });
});
