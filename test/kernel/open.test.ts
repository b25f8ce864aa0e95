/**
 * BPF.open: objects built ahead of time, by clang for libbpf (no tsbpf
 * metadata) or by `tsbpf compile -o` (bcc's dialect, with it), run with no
 * compiler: read-only globals set before load, maps resized, functions
 * attached by section or bcc name.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { compileBcc } from "../../src/compile/compile.js";
import { readMeta } from "../../src/compile/object_meta.js";
import { BPF, BpfError, ElfError } from "../../src/index.js";
import {
  assertNothingLeft,
  kernelObjects,
  repoRoot,
  runChild,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../helpers.js";

/** A libbpf-style CO-RE program configured through .rodata, as libbpf-tools are. */
const LIBBPF_STYLE = `
#include <bpf/bpf_core_read.h>
const volatile u32 parent_tgid = 0;
const volatile u64 marker = 7;
const volatile char tag[8] = "none";
struct seen_t { u64 marker; char tag[8]; };
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, u32);
    __type(value, struct seen_t);
} seen SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    if (parent_tgid && BPF_CORE_READ(t, real_parent, tgid) != parent_tgid)
        return 0;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct seen_t v = { .marker = marker };
    // Element by element: a cast that drops volatile would let clang fold the default in.
    for (int i = 0; i < sizeof(v.tag); i++)
        v.tag[i] = tag[i];
    bpf_map_update_elem(&seen, &pid, &v, BPF_ANY);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

/** The object clang makes of it, as a libbpf user would ship it (no tsbpf metadata). */
async function libbpfObject(): Promise<Uint8Array> {
  const { elf } = await compileBcc({ text: LIBBPF_STYLE, fileName: "configured.bpf.c" });
  assert.equal(readMeta(elf, "x"), undefined);
  return elf;
}

describe("BPF.open", { skip: skipUnlessRoot }, () => {
  it("sets .rodata globals by name, resizes maps, attaches SEC() functions at open", async () => {
    const object = await libbpfObject();
    const before = kernelObjects();
    const b = await BPF.open({
      object,
      rodata: { parent_tgid: process.pid, marker: 0x1234_5678_9abcn, tag: "tsbpf" },
      mapSizes: { seen: 1000 },
    });
    try {
      assert.equal(b.numOpenTracepoints(), 1);
      const seen = b.getTable("seen");
      assert.equal(seen.maxEntries, 1000);
      const pid = runChild(["/bin/true"]);
      assert.ok(await waitFor(() => seen.get(pid) !== undefined, 3000), "the child's execve was seen");
      assert.deepEqual(seen.get(pid), { marker: 0x1234_5678_9abcn, tag: "tsbpf" });
      // parent_tgid filtered: only this process's children are there.
      // sh forks for the first /bin/true: a grandchild, whose parent is sh.
      const other = runChild(["/bin/sh", "-c", "/bin/true; /bin/true"]);
      assert.ok(await waitFor(() => seen.get(other) !== undefined, 3000));
      const keys = [...seen.keys()].map(Number);
      assert.ok(
        keys.every((k) => k === pid || k === other),
        `only our children: ${keys.join(", ")}`,
      );
    } finally {
      b.close();
    }
    await assertNothingLeft(before);
  });

  it("keeps the object's defaults when nothing is set, and opens from a path", async () => {
    const dir = testTempDir("tsbpf-open");
    const path = join(dir, "configured.bpf.o");
    writeFileSync(path, await libbpfObject());
    await using b = await BPF.open({ object: path });
    const seen = b.getTable("seen");
    assert.equal(seen.maxEntries, 16);
    const pid = runChild(["/bin/true"]);
    assert.ok(await waitFor(() => seen.get(pid) !== undefined, 3000));
    assert.deepEqual(seen.get(pid), { marker: 7n, tag: "none" });
  });

  it("runs a bcc-dialect program that tsbpf compile -o made, with its metadata and without clang", async () => {
    const dir = testTempDir("tsbpf-open-cli");
    const src = join(dir, "execs.bpf.c");
    writeFileSync(
      src,
      `BPF_HASH(execs, u32, u64);
// 実行された回数を数える
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    execs.increment(pid);
    return 0;
}
int syscall__execve(struct pt_regs *ctx, const char __user *filename) { return 0; }
`,
    );
    const cli = join(repoRoot, "dist/bundle/tsbpf.cjs");
    const out = join(dir, "execs.bpf.o");
    const c = spawnSync(process.execPath, [cli, "compile", src, "-o", out], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
    const meta = readMeta(readFileSync(out), out);
    assert.equal(meta?.fileName, "execs.bpf.c");
    assert.deepEqual(
      meta?.programs.map((p) => p.name),
      ["tracepoint__syscalls__sys_enter_execve", "syscall__execve"],
    );
    // In a process where no clang can be found, the object loads, attaches and counts.
    const script = `
      import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
      import { spawnSync } from "node:child_process";
      const b = await BPF.open({ object: ${JSON.stringify(out)} });
      const pid = spawnSync("/bin/true").pid;
      await new Promise((r) => setTimeout(r, 200));
      console.log(JSON.stringify({ tracepoints: b.numOpenTracepoints(), count: String(b.getTable("execs").get(pid)) }));
      b.close();`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, PATH: dir, TSBPF_CLANG: join(dir, "no-clang") },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { tracepoints: 1, count: "1" });
  });

  it("finds the programs a macro defines, at load and in a compiled object", async () => {
    // A source scan cannot see these functions; the object's ELF lists them (libbpf's rule).
    const text = `
struct key_t { u32 pid; u32 slot; };
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct key_t);
    __type(value, u64);
} calls SEC(".maps");
static __always_inline int count(u32 slot)
{
    struct key_t k = { .pid = bpf_get_current_pid_tgid() >> 32, .slot = slot };
    u64 one = 1, *v = bpf_map_lookup_elem(&calls, &k);
    if (v) __sync_fetch_and_add(v, 1); else bpf_map_update_elem(&calls, &k, &one, BPF_NOEXIST);
    return 0;
}
#define COUNTER(name, slot) \\
    SEC("tracepoint/syscalls/sys_enter_getppid") int name(void *ctx) { return count(slot); }
COUNTER(first, 1)
COUNTER(second, 2)
#define TP_COUNTER(name, ev, slot) \\
    SEC("tp/syscalls/" #ev) int name(void *ctx) { return count(slot); }
TP_COUNTER(third, sys_enter_getppid, 3)
char LICENSE[] SEC("license") = "GPL";
`;
    const before = kernelObjects();
    const b = await BPF.load({ text });
    try {
      // SEC("tracepoint/…") functions attach themselves at load
      assert.ok(process.ppid > 0); // getppid()
      const calls = b.getTable("calls");
      for (const slot of [1, 2, 3]) {
        const n = calls.get({ pid: process.pid, slot }) as bigint | undefined;
        assert.ok((n ?? 0n) >= 1n, `slot ${slot}: ${n}`);
      }
    } finally {
      b.close();
    }
    await assertNothingLeft(before);
  });

  it("says what is wrong with an object, a global or a map size", async () => {
    const object = await libbpfObject();
    const dir = testTempDir("tsbpf-open-bad");
    const text = join(dir, "notes.txt");
    writeFileSync(text, "not an object\n");
    await assert.rejects(BPF.open({ object: text }), (err: unknown) => {
      assert.ok(err instanceof ElfError, String(err));
      assert.equal(err.path, text);
      return true;
    });
    await assert.rejects(
      BPF.open({ object: "/bin/true" }),
      /\/bin\/true is not a BPF object: its ELF machine is \d+, not BPF \(247\); make one with "tsbpf compile/,
    );
    await assert.rejects(BPF.open({ object: join(dir, "missing.o") }), (err: unknown) => {
      assert.ok(err instanceof BpfError && err.errno === 2, String(err));
      assert.match(err.message, /cannot read the BPF object .*missing\.o/);
      return true;
    });
    // (from JavaScript, where nothing checks the options' type)
    await assert.rejects(
      BPF.open({} as Parameters<typeof BPF.open>[0]),
      (err: unknown) =>
        err instanceof BpfError &&
        /^BPF\.open needs \{ object \}: the object's path or its bytes \(a Uint8Array\), not undefined$/.test(
          err.message,
        ),
    );
    await assert.rejects(
      BPF.open({ object, rodata: { parent_pid: 1 } }),
      /no read-only global parent_pid in the object; its read-only globals are: parent_tgid, marker, tag/,
    );
    await assert.rejects(
      BPF.open({ object, rodata: { tag: "far too long for eight bytes" } }),
      /rodata\.tag \(.*char.*\) cannot hold "far too long/,
    );
    await assert.rejects(
      BPF.open({ object, mapSizes: { sen: 10 } }),
      /no map sen in the object; did you mean seen\?/,
    );
    await assert.rejects(
      BPF.open({ object, mapSizes: { seen: 0 } }),
      /mapSizes\.seen must be a positive integer, not 0/,
    );
    const noRodata = (await compileBcc({ text: "BPF_HASH(h, u32, u64);\nint f(void *ctx) { return 0; }" }))
      .elf;
    await assert.rejects(BPF.open({ object: noRodata, rodata: { x: 1 } }), /has no read-only globals to set/);
  });
});
