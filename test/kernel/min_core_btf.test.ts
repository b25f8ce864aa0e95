/**
 * The minimized CO-RE BTF (src/btf/min_core.ts) against libbpf itself: an
 * object loaded with it (btf_custom_path) must get exactly the instructions
 * it gets with the kernel's BTF (or with the full target BTF it was cut
 * from): every tool object, a synthetic target with every relocation kind
 * clang emits, and a program written against this kernel's types. Then a
 * tool runs through it, and its second start reads the cache.
 *
 * Instructions are libbpf's final ones (bpf_program__insns after the load:
 * what went to the kernel), compared whether the kernel accepted the
 * program or not; map and BTF object fds in ld_imm64 are masked, the only
 * thing two loads of one object may differ in.
 *
 * @kernel-matrix another kernel's BTF (other layouts, other candidates) and modules with BTF (9p), which the host lacks.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Btf } from "../../src/btf/btf.js";
import { minimizeCoreBtf, readObjectCore } from "../../src/btf/min_core.js";
import { coreBtfFor } from "../../src/btf/min_core_cache.js";
import { encodeBtf } from "../../src/btf/writer.js";
import { BPF, DEBUG_BTF } from "../../src/index.js";
import { VMLINUX_BTF } from "../../src/kernel/kernel_info.js";
import { native } from "../../src/native.js";
import { freshCacheDir, repoRoot, sameOnEveryKernel, skipUnlessRoot, testTempDir } from "../helpers.js";
import { AMBIGUOUS_C, compileBpf, elfSection, LOCAL_C, TARGET_C } from "../unit/min_core_fixtures.js";
import { traceWhile } from "./tools/run_tool.js";

interface Loaded {
  /** The load's error (first line), null when the kernel took every program. */
  error: string | null;
  /** Program name → its final instructions, fds masked. */
  insns: Map<string, Buffer>;
  /** What libbpf printed while loading. */
  log: string;
}

/**
 * Instructions with the fds in ld_imm64 zeroed: a map's (BPF_PSEUDO_MAP_FD,
 * BPF_PSEUDO_MAP_VALUE: the first imm) and a module BTF's (BPF_PSEUDO_BTF_ID:
 * the second).
 */
function maskFds(insns: Uint8Array): Buffer {
  const b = Buffer.from(insns);
  for (let i = 0; i + 16 <= b.length; i += 8) {
    if (b[i] !== 0x18) continue; // ld_imm64 (BPF_LD | BPF_IMM | BPF_DW), two slots
    const src = (b[i + 1] as number) >> 4;
    if (src === 1 || src === 2) b.writeInt32LE(0, i + 4);
    if (src === 3) b.writeInt32LE(0, i + 12);
    i += 8;
  }
  return b;
}

/** Opens and loads every program of an object (section types), with a custom BTF or the kernel's. */
function load(elf: Uint8Array, btfCustomPath?: string): Loaded {
  const N = native();
  const obj = new N.NativeObject(elf, "mincore", btfCustomPath ? { btfCustomPath } : undefined);
  try {
    let error: string | null = null;
    try {
      obj.load({ logLevel: 0, logSize: 0 });
    } catch (err) {
      error = (err as Error).message.split("\n")[0] as string;
    }
    const log = N.libbpfLog();
    const insns = new Map(obj.programs().map((p) => [p.name, maskFds(obj.programInsns(p.name))]));
    return { error, insns, log };
  } finally {
    obj.close();
  }
}

/** Asserts both loads relocated (libbpf printed its CO-RE lines) and ended with the same instructions. */
function assertSame(what: string, want: Loaded, got: Loaded): void {
  assert.match(want.log, /relo #\d+:/, `${what}: libbpf relocated with the reference BTF`);
  assert.match(got.log, /relo #\d+:/, `${what}: libbpf relocated with the minimized BTF`);
  assert.equal(got.error, want.error, `${what}: the same load result`);
  assert.deepEqual([...got.insns.keys()], [...want.insns.keys()]);
  for (const [name, insns] of want.insns)
    assert.ok(insns.equals(got.insns.get(name) as Buffer), `${what}: program ${name} differs`);
}

/** A CO-RE program against this kernel's types, as a libbpf-tools program writes them (no vmlinux.h needed). */
const KERNEL_PROGRAM = `
#define __pai __attribute__((preserve_access_index))
#define SEC(n) __attribute__((section(n), used))
#define F(x, k) __builtin_preserve_field_info(x, k)
#define T(t, k) __builtin_preserve_type_info(*(t *)0, k)
#define E(t, v, k) __builtin_preserve_enum_value(*(t *)v, k)
struct css_set;
struct task_struct {
  int pid;
  int tgid;
  unsigned int __state;
  struct task_struct *real_parent;
  char comm[16];
  unsigned int sched_reset_on_fork : 1;
  struct css_set *cgroups;
} __pai;
struct task_struct___old { long state; } __pai;
struct task_struct___wide { unsigned long tgid; } __pai;
struct cgroup { int level; struct cgroup *ancestors[]; } __pai;
struct css_set { struct cgroup *dfl_cgrp; } __pai;
struct sock_common {
  union { struct { unsigned int skc_daddr; unsigned int skc_rcv_saddr; }; };
  unsigned short skc_family;
} __pai;
struct sock { struct sock_common __sk_common; } __pai;
struct tsbpf_not_in_any_kernel { int x; } __pai;
enum bpf_func_id { BPF_FUNC_map_lookup_elem = 1, BPF_FUNC_ringbuf_output = 2, BPF_FUNC_tsbpf_nope = 3 };
typedef int pid_t;
volatile unsigned long long out[64];
char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_nanosleep")
int kinds(void *ctx)
{
  struct task_struct *t = ctx;
  int i = 0;
  out[i++] = t->tgid + t->real_parent->pid;
  out[i++] = ((struct task_struct___wide *)t)->tgid;
  out[i++] = F(t->comm[3], 0);
  out[i++] = F(t->comm, 1);
  out[i++] = F(t->__state, 2);
  out[i++] = F(((struct task_struct___old *)t)->state, 2);
  out[i++] = F(t->sched_reset_on_fork, 0);
  out[i++] = F(t->sched_reset_on_fork, 1);
  out[i++] = F(t->sched_reset_on_fork, 4);
  out[i++] = F(t->sched_reset_on_fork, 5);
  out[i++] = F(t->sched_reset_on_fork, 3);
  out[i++] = F(t->cgroups->dfl_cgrp->ancestors[2], 0);
  out[i++] = F(((struct sock *)t)->__sk_common.skc_rcv_saddr, 0);
  out[i++] = F(((struct sock *)t)->__sk_common.skc_family, 1);
  out[i++] = T(struct task_struct, 1);
  out[i++] = T(struct cgroup, 0);
  out[i++] = T(pid_t, 1);
  out[i++] = T(struct tsbpf_not_in_any_kernel, 0);
  out[i++] = E(enum bpf_func_id, BPF_FUNC_map_lookup_elem, 1);
  out[i++] = E(enum bpf_func_id, BPF_FUNC_ringbuf_output, 1);
  out[i++] = E(enum bpf_func_id, BPF_FUNC_tsbpf_nope, 0);
  return 0;
}
`;

describe("minimized CO-RE BTF", { skip: skipUnlessRoot }, () => {
  const dir = testTempDir("tsbpf-min-core");
  let kernel: Btf | undefined;
  let kernelRaw: Buffer | undefined;
  const kernelBtf = (): Btf => {
    kernelRaw ??= readFileSync(VMLINUX_BTF);
    kernel ??= Btf.parseLazy(kernelRaw);
    return kernel;
  };
  /** The minimized BTF of an object against the kernel's, written to a file. */
  const minimized = (name: string, elf: Uint8Array): string => {
    const core = readObjectCore(elf);
    assert.ok(core.btf);
    const min = minimizeCoreBtf(core.btf, core.relos, kernelBtf(), kernelRaw);
    const path = join(dir, `${name}.btf`);
    writeFileSync(path, min.raw);
    return path;
  };

  it("relocates every tool object exactly as the kernel's BTF does", () => {
    const tools = readdirSync(join(repoRoot, "dist/tools")).filter((f) => f.endsWith(".bpf.o"));
    assert.ok(tools.length > 40, `tool objects in dist/tools: ${tools.length}`);
    let compared = 0;
    for (const file of tools) {
      const elf = readFileSync(join(repoRoot, "dist/tools", file));
      if (readObjectCore(elf).relos.length === 0) continue;
      assertSame(file, load(elf), load(elf, minimized(file, elf)));
      compared++;
    }
    assert.ok(compared > 35, `objects with CO-RE relocations: ${compared}`);
  });

  it("relocates a program written against this kernel's types exactly (flavors, bitfields, flexible arrays, anonymous members, enums, missing types)", () => {
    const elf = compileBpf(dir, "kernel_program", KERNEL_PROGRAM);
    assertSame("kernel_program", load(elf), load(elf, minimized("kernel_program", elf)));
  });

  it("relocates every relocation kind exactly as the full BTF it was cut from (a synthetic target)", {
    skip: sameOnEveryKernel,
  }, () => {
    const target = elfSection(compileBpf(dir, "target", TARGET_C), ".BTF");
    const targetPath = join(dir, "target.btf");
    writeFileSync(targetPath, target);
    for (const [name, source] of [
      ["local", LOCAL_C],
      ["ambiguous", AMBIGUOUS_C],
    ] as const) {
      const elf = compileBpf(dir, name, source);
      const core = readObjectCore(elf);
      const min = minimizeCoreBtf(core.btf as Btf, core.relos, Btf.parse(target));
      const minPath = join(dir, `${name}.min.btf`);
      writeFileSync(minPath, min.raw);
      const want = load(elf, targetPath);
      assertSame(name, want, load(elf, minPath));
      if (name === "ambiguous")
        assert.match(want.log, /relocation decision ambiguity|field offset ambiguity/);
      else assert.match(want.log, /no matching targets found/);
    }
  });

  it("would see a wrong relocation: the same BTF with one offset changed relocates differently", {
    skip: sameOnEveryKernel,
  }, () => {
    const elf = readFileSync(join(repoRoot, "dist/tools/execsnoop.bpf.o"));
    const path = minimized("execsnoop_control", elf);
    const min = Btf.parse(readFileSync(path));
    const types = [...min.all()].map((t) =>
      t.kind === "STRUCT" && t.name === "task_struct"
        ? { ...t, members: t.members.map((m) => ({ ...m, bitOffset: m.bitOffset + 64 })) }
        : t,
    );
    assert.ok(types.some((t) => t.kind === "STRUCT" && t.name === "task_struct"));
    const wrong = join(dir, "wrong.btf");
    writeFileSync(wrong, encodeBtf(types));
    const a = load(elf, path);
    const b = load(elf, wrong);
    assert.ok(
      [...a.insns].some(([n, insns]) => !insns.equals(b.insns.get(n) as Buffer)),
      "moved offsets change the instructions",
    );
  });

  it("spares libbpf the kernel's BTF for an object that needs it only for CO-RE", () => {
    const elf = readFileSync(join(repoRoot, "dist/tools/execsnoop.bpf.o"));
    const withKernel = load(elf);
    assert.match(withKernel.log, /loading kernel BTF/);
    const withMin = load(elf, minimized("execsnoop", elf));
    assert.doesNotMatch(withMin.log, /loading kernel BTF/);
    assert.equal(withMin.error, null);
  });

  it("leaves a type that only a module's BTF has to the kernel's BTF (libbpf searches the modules then)", () => {
    // 9pnet is a module on Debian's kernels (the kernel matrix's root is on 9p,
    // so it is loaded there) and absent from the host's 6.18.
    const source = `
#define SEC(n) __attribute__((section(n), used))
struct p9_client { unsigned int msize; } __attribute__((preserve_access_index));
volatile unsigned long long out[4];
SEC("kprobe/p9_client_rpc")
int p9(struct p9_client *c)
{
  out[0] = __builtin_preserve_type_info(*(struct p9_client *)0, 0);
  out[1] = __builtin_preserve_field_info(c->msize, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
    const elf = compileBpf(dir, "p9", source);
    const saved = process.env.TSBPF_CACHE_DIR;
    process.env.TSBPF_CACHE_DIR = freshCacheDir();
    try {
      const choice = coreBtfFor(elf);
      const modules = readdirSync("/sys/kernel/btf").filter((m) => m === "9p" || m === "9pnet");
      if (modules.length > 0 && kernelBtf().findAllByName("p9_client").length === 0) {
        assert.equal(choice.path, undefined, choice.why);
        assert.match(choice.why, /module 9p(net)? has p9_client/);
      } else {
        assert.ok(choice.path, choice.why);
        assertSame("p9", load(elf), load(elf, choice.path));
      }
      assert.equal(coreBtfFor(elf).cached, true);
    } finally {
      if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
      else process.env.TSBPF_CACHE_DIR = saved;
    }
  });

  it("BPF.open loads through it, and through the kernel's BTF when a load with it fails (a damaged cache file)", {
    skip: sameOnEveryKernel,
  }, async () => {
    const cache = freshCacheDir();
    const saved = process.env.TSBPF_CACHE_DIR;
    process.env.TSBPF_CACHE_DIR = cache;
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      said.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const open = async () => {
        const b = await BPF.open({
          object: join(repoRoot, "dist/tools/execsnoop.bpf.o"),
          autoAttach: false,
          debug: DEBUG_BTF,
        });
        try {
          b.loadFuncs(BPF.TRACEPOINT, ["execve_enter", "execve_exit"]);
        } finally {
          b.close();
        }
      };
      await open();
      assert.match(said.join(""), /; CO-RE BTF of execsnoop_bpf: minimized BTF: \d+ types/);
      assert.doesNotMatch(said.join(""), /loading kernel BTF/);
      said.length = 0;
      await open();
      assert.match(said.join(""), /; CO-RE BTF of execsnoop_bpf \(cached\): minimized BTF/);
      const coreDir = join(cache, "core-btf");
      const btf = readdirSync(coreDir).find((f) => f.endsWith(".btf")) as string;
      writeFileSync(join(coreDir, btf), "not BTF");
      said.length = 0;
      await open();
      assert.match(said.join(""), /with the minimized BTF failed .*; again with the kernel's/);
      assert.match(said.join(""), /loading kernel BTF/);
    } finally {
      process.stderr.write = write;
      if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
      else process.env.TSBPF_CACHE_DIR = saved;
    }
  });

  it("runs a tool through it (execsnoop sees a child's exec), and its second start reads the cache", async () => {
    const cache = freshCacheDir();
    const saved = process.env.TSBPF_CACHE_DIR;
    process.env.TSBPF_CACHE_DIR = cache;
    try {
      const snoop = async (marker: string) => {
        const r = await traceWhile("execsnoop", [], () =>
          spawnSync("/bin/echo", [marker], { stdio: "ignore" }),
        );
        assert.equal(r.code, 0, r.stderr);
        assert.ok(
          r.lines.some((l) => l.endsWith(`/bin/echo ${marker}`)),
          r.stdout,
        );
      };
      await snoop("tsbpf-min-core-first");
      const coreDir = join(cache, "core-btf");
      const files = readdirSync(coreDir).sort();
      const meta = files.find((f) => f.endsWith(".json"));
      assert.ok(meta, `cache files: ${files.join(", ")}`);
      const decided = JSON.parse(readFileSync(join(coreDir, meta), "utf8")) as { btf?: string; why: string };
      assert.ok(decided.btf, decided.why);
      assert.match(decided.why, /^minimized BTF: \d+ types/);
      const btfPath = join(coreDir, decided.btf);
      assert.ok(statSync(btfPath).size < 16 * 1024, "a few KB at most");
      const inodes = [statSync(join(coreDir, meta)).ino, statSync(btfPath).ino];
      await snoop("tsbpf-min-core-second");
      // Rewritten files would be new inodes (written to a temporary file, renamed over).
      assert.deepEqual([statSync(join(coreDir, meta)).ino, statSync(btfPath).ino], inodes);
      assert.deepEqual(readdirSync(coreDir).sort(), files);
    } finally {
      if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
      else process.env.TSBPF_CACHE_DIR = saved;
    }
  });
});
