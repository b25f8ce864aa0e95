/**
 * The native addon against the real kernel: vmlinux.h generation, open, load,
 * attach, maps, ids, verifier failures and the errors' shape.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import vm from "node:vm";
import type { BtfType } from "../src/btf/btf.js";
import { encodeBtf } from "../src/btf/writer.js";
import { kernelBtfBytes, kernelVersion } from "../src/kernel/kernel_info.js";
import { type NativeError, native } from "../src/native.js";

const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";
const TRACEFS = "/sys/kernel/tracing";
const isRoot = process.getuid?.() === 0;
const haveBtf = existsSync(VMLINUX_BTF);

const BPF_PROG_TYPE_TRACEPOINT = 5;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_MAP_TYPE_HASH = 1;
const BPF_FUNC_map_lookup_elem = 1;
const BPF_NOEXIST = 1;

const GOOD_C = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u32);
} pids SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u32 one = 1;
    bpf_map_update_elem(&pids, &pid, &one, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

/* Dereferences a scalar the compiler cannot see is 0: the verifier refuses it. */
const BAD_C = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_execve")
int bad_deref(void *ctx)
{
    long addr = 0;
    asm volatile("" : "+r"(addr));
    return *(int *)addr;
}

char LICENSE[] SEC("license") = "GPL";
`;

/** The vmlinux names libbpf's bpf_helpers.h, bpf_tracing.h, bpf_core_read.h and bpf_endian.h use. */
const LIBBPF_HEADER_NAMES = [
  "__u8",
  "__u16",
  "__u32",
  "__u64",
  "__s8",
  "__s16",
  "__s32",
  "__s64",
  "__be16",
  "__be32",
  "__wsum",
  "pt_regs",
];

const SUBSET_NAMES = [
  "pt_regs",
  "u32",
  "u64",
  "TASK_COMM_LEN",
  "task_struct",
  "bpf_raw_tracepoint_args",
  "__u64",
  "__wsum",
  "__be32",
  "not_a_kernel_type_xyz",
];

const LIBBPF_HEADERS = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
`;

const SUBSET_C = `${LIBBPF_HEADERS}
SEC("kprobe/do_nanosleep")
int on_nanosleep(struct pt_regs *ctx)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    int tgid = BPF_CORE_READ(t, tgid);
    u64 arg = PT_REGS_PARM1(ctx);
    char comm[TASK_COMM_LEN];
    __be32 net = bpf_htonl((u32)tgid);
    bpf_get_current_comm(comm, sizeof(comm));
    bpf_printk("%s %d %llu %u", comm, tgid, arg, net);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

/*
 * Reaches types only through members (mm_struct, file, dentry, qstr) and an
 * enumerator of an anonymous enum a typedef defines (socket_state).
 */
const MEMBERS_C = `${LIBBPF_HEADERS}
SEC("kprobe/do_nanosleep")
int BPF_KPROBE(on_nanosleep, void *rqtp)
{
    struct task_struct *t = (void *)bpf_get_current_task();
    unsigned long start = BPF_CORE_READ(t, mm, arg_start);
    const unsigned char *exe = BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
    int ppid = BPF_CORE_READ(t, real_parent, tgid);
    bpf_printk("%lx %s %d %d", start, exe, ppid, SS_CONNECTED);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

let dir = "";
let goodElf: Uint8Array = new Uint8Array();
let badElf: Uint8Array = new Uint8Array();

/** Compiles source in `where` (default: the dir with the full vmlinux.h), which has its vmlinux.h. */
function compile(name: string, source: string, where = dir): Uint8Array {
  const src = join(where, `${name}.bpf.c`);
  const obj = join(where, `${name}.bpf.o`);
  writeFileSync(src, source);
  execFileSync(
    "clang",
    ["-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86", `-I${where}`, "-c", src, "-o", obj],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  return readFileSync(obj);
}

/** Asserts that fn throws a NativeError and returns it. */
function nativeError(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Error, "an Error");
    const e = err as NativeError;
    assert.equal(typeof e.errno, "number");
    assert.equal(typeof e.code, "string");
    assert.equal(typeof e.op, "string");
    assert.equal(typeof e.libbpfLog, "string");
    return e;
  }
  assert.fail("expected a throw");
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** Polls until cond() holds (the kernel frees programs and links asynchronously). */
async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

before(() => {
  if (!haveBtf) return;
  dir = mkdtempSync(join(tmpdir(), "tsbpf-native-"));
  writeFileSync(join(dir, "vmlinux.h"), native().btfDumpHeader(VMLINUX_BTF));
  goodElf = compile("good", GOOD_C);
  badElf = compile("bad", BAD_C);
  if (isRoot && !existsSync(join(TRACEFS, "events"))) {
    execFileSync("mount", ["-t", "tracefs", "nodev", TRACEFS]);
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("libbpfVersion is major.minor", () => {
  assert.match(native().libbpfVersion(), /^\d+\.\d+$/);
});

test("btfDumpHeader emits a vmlinux.h like bpftool's", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const h = readFileSync(join(dir, "vmlinux.h"), "utf8");
  assert.ok(h.startsWith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n"));
  assert.ok(
    h.includes("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)"),
  );
  assert.ok(h.includes("struct task_struct {"));
  assert.ok(h.endsWith("#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n"));

  const e = nativeError(() => native().btfDumpHeader(join(dir, "no-such-file")));
  assert.equal(e.op, "btf__parse");
  assert.equal(e.errno, 2);
  assert.equal(e.code, "ENOENT");
});

/** Writes a subset header as vmlinux.h in a directory of its own and compiles source against it. */
function compileWithSubset(name: string, header: string, source: string): Uint8Array {
  const where = mkdtempSync(join(tmpdir(), "tsbpf-subset-"));
  try {
    writeFileSync(join(where, "vmlinux.h"), header);
    return compile(name, source, where);
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
}

test("btfDumpSubset emits the named types and what they need", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const full = readFileSync(join(dir, "vmlinux.h"), "utf8");
  const subset = native().btfDumpSubset(VMLINUX_BTF, [...LIBBPF_HEADER_NAMES, ...SUBSET_NAMES]);
  assert.deepEqual(subset.missing, ["not_a_kernel_type_xyz"]);
  assert.ok(subset.types >= SUBSET_NAMES.length - 1, `${subset.types} root types`);
  const h = subset.header;
  assert.ok(h.startsWith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n"));
  assert.ok(
    h.includes("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)"),
  );
  assert.ok(h.endsWith("#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n"));
  assert.ok(h.includes("struct pt_regs {"));
  assert.ok(h.includes("struct task_struct {"));
  assert.ok(h.includes("struct bpf_raw_tracepoint_args {"));
  assert.match(h, /\bTASK_COMM_LEN = 16,/);
  assert.match(h, /^typedef (__u32|unsigned int) u32;$/m);
  assert.ok(!h.includes("()"), "empty parameter lists are (void)");
  assert.ok(h.length * 20 < full.length, `${h.length} bytes vs ${full.length}`);
  // Each type once: btf_dump never repeats a definition.
  const defs = h.match(/^(struct|union|enum) \w+ \{$/gm) ?? [];
  assert.equal(new Set(defs).size, defs.length);

  // The second call uses the cached BTF and gives the same text; so does one after the cache is freed.
  assert.equal(native().btfDumpSubset(VMLINUX_BTF, [...LIBBPF_HEADER_NAMES, ...SUBSET_NAMES]).header, h);
  native().btfCacheRelease();
  native().btfCacheRelease();
  assert.equal(native().btfDumpSubset(VMLINUX_BTF, [...LIBBPF_HEADER_NAMES, ...SUBSET_NAMES]).header, h);

  const elf = compileWithSubset("subset", h, SUBSET_C);
  assert.equal(Buffer.from(elf.subarray(0, 4)).toString("latin1"), "\x7fELF");
});

test("btfDumpSubset: libbpf's headers compile with LIBBPF_HEADER_NAMES alone", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const subset = native().btfDumpSubset(VMLINUX_BTF, LIBBPF_HEADER_NAMES);
  assert.deepEqual(subset.missing, []);
  compileWithSubset("headers", subset.header, `${LIBBPF_HEADERS}\nchar LICENSE[] SEC("license") = "GPL";\n`);
});

test("btfDumpSubset follows the members a program names", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  // What the TypeScript side passes: every identifier of the source.
  const names = [...new Set(MEMBERS_C.match(/[A-Za-z_]\w*/g)), ...LIBBPF_HEADER_NAMES];
  const { header } = native().btfDumpSubset(VMLINUX_BTF, names);
  for (const def of ["struct mm_struct {", "struct file {", "struct dentry {", "struct qstr {"]) {
    assert.ok(header.includes(def), def);
  }
  assert.match(header, /\bSS_CONNECTED = 3,/);
  assert.match(header, /^\} socket_state;$/m);
  compileWithSubset("members", header, MEMBERS_C);
});

test("btfDumpSubset errors", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const e = nativeError(() => native().btfDumpSubset(join(dir, "no-such-file"), ["task_struct"]));
  assert.equal(e.op, "readBtf");
  assert.equal(e.code, "ENOENT");
  const notArray = nativeError(() => native().btfDumpSubset(VMLINUX_BTF, "task_struct" as never));
  assert.ok(notArray instanceof TypeError);
  assert.equal(notArray.code, "EINVAL");
  const notString = nativeError(() => native().btfDumpSubset(VMLINUX_BTF, ["u32", 7 as never]));
  assert.ok(notString instanceof TypeError);
  assert.match(notString.message, /names\[1\] must be a string/);
  // Still usable (and still cached) after the failures.
  assert.deepEqual(native().btfDumpSubset(VMLINUX_BTF, ["u32", "u32", "nope", "nope"]).missing, ["nope"]);
});

/** A small BTF: what the subset keeps whole, and what it keeps only as a name. */
function handMadeBtf(): BtfType[] {
  const int = {
    id: 1,
    name: "int",
    kind: "INT",
    size: 4,
    signed: true,
    char: false,
    bool: false,
    bits: 32,
    bitOffset: 0,
  };
  const member = (name: string, type: number, bitOffset: number) => ({
    name,
    type,
    bitOffset,
    bitfieldSize: 0,
  });
  // biome-ignore format: one type per line
  return [
    { id: 0, name: "", kind: "VOID" },
    int,
    { id: 2, name: "pointed", kind: "STRUCT", size: 4, members: [member("secret_member", 1, 0)] },
    { id: 3, name: "", kind: "PTR", type: 2 },
    { id: 4, name: "held", kind: "STRUCT", size: 4, members: [member("held_member", 1, 0)] },
    { id: 5, name: "", kind: "STRUCT", size: 4, members: [member("anon_member", 1, 0)] },
    { id: 6, name: "", kind: "PTR", type: 5 },
    { id: 7, name: "pointed_t", kind: "TYPEDEF", type: 2 },
    { id: 8, name: "", kind: "PTR", type: 7 },
    { id: 9, name: "", kind: "ARRAY", type: 4, indexType: 1, nelems: 2 },
    { id: 10, name: "", kind: "ENUM", size: 4, signed: false, values: [{ name: "COLOR_RED", value: 1 }] },
    { id: 11, name: "root", kind: "STRUCT", size: 40, members: [
      member("p", 3, 0), member("h", 9, 64), member("a", 6, 128), member("t", 8, 192), member("c", 10, 256),
    ] },
    { id: 12, name: "unused", kind: "STRUCT", size: 4, members: [member("unused_member", 1, 0)] },
  ] as BtfType[];
}

test("btfDumpSubset on a hand-made BTF: pointed-to structs forward-declared, held ones whole; bad BTF refused", () => {
  const where = mkdtempSync(join(tmpdir(), "tsbpf-btfsub-"));
  try {
    const file = join(where, "btf");
    writeFileSync(file, encodeBtf(handMadeBtf()));
    const { header, types, missing } = native().btfDumpSubset(file, ["root", "nothing"]);
    assert.deepEqual([types, missing], [1, ["nothing"]]);
    assert.match(header, /^struct pointed;$/m);
    assert.match(header, /^typedef struct pointed pointed_t;$/m);
    assert.ok(!header.includes("secret_member"), header);
    assert.ok(!header.includes("unused"), header);
    for (const text of ["struct held {", "held_member", "anon_member", "COLOR_RED", "struct held h[2];"])
      assert.ok(header.includes(text), `${text} in\n${header}`);
    // what the full dump of the same BTF says about root's part, the subset says too
    const full = native().btfDumpHeader(file);
    const rootDef = (h: string) =>
      h.slice(h.indexOf("struct root {"), h.indexOf("};", h.indexOf("struct root {")));
    assert.equal(rootDef(header), rootDef(full));
    // named by the enumerator: the struct that holds the anonymous enum
    assert.equal(native().btfDumpSubset(file, ["COLOR_RED"]).types, 1);

    // a reference to a type the BTF lacks; a type running past the section's end
    const bytes = encodeBtf(handMadeBtf());
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const badRef = Uint8Array.from(bytes);
    new DataView(badRef.buffer).setUint32(24 + 16 + 16, 99, true); // type 2's member -> type 99
    writeFileSync(file, badRef);
    assert.deepEqual(errorOf(file), ["readBtf", "EINVAL"]);
    const cut = Uint8Array.from(bytes);
    new DataView(cut.buffer).setUint32(12, view.getUint32(12, true) - 4, true); // type_len
    writeFileSync(file, cut);
    assert.deepEqual(errorOf(file), ["readBtf", "EINVAL"]);
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
  function errorOf(file: string): [string | undefined, string | undefined] {
    const e = nativeError(() => native().btfDumpSubset(file, ["root"]));
    return [e.op, e.code];
  }
});

test("mapFile maps a whole file read-only; the kernel's BTF since 6.15", (t) => {
  const where = mkdtempSync(join(tmpdir(), "tsbpf-mapfile-"));
  try {
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));
    writeFileSync(join(where, "data"), bytes);
    assert.deepEqual(Buffer.from(native().mapFile(join(where, "data"))), bytes);
    assert.equal(nativeError(() => native().mapFile(join(where, "none"))).code, "ENOENT");
    writeFileSync(join(where, "empty"), "");
    assert.equal(nativeError(() => native().mapFile(join(where, "empty"))).code, "EINVAL");
    assert.equal(nativeError(() => native().mapFile(where)).code, "EINVAL");
    assert.equal(nativeError(() => native().mapFile("/proc/self/status")).code, "EINVAL");
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const [major, minor] = kernelVersion();
  if (major < 6 || (major === 6 && minor < 15)) return t.skip("sysfs's BTF is mappable since Linux 6.15");
  const mapped = new Uint8Array(native().mapFile(VMLINUX_BTF));
  assert.ok(Buffer.from(mapped).equals(readFileSync(VMLINUX_BTF)));
  assert.equal(kernelBtfBytes().buffer.byteLength, mapped.byteLength);
});

/** The resident and whole size (kB) of this process's mappings of `file` (undefined: not mapped). */
function mappingKb(file: string): { rss: number; size: number } | undefined {
  let out: { rss: number; size: number } | undefined;
  for (const entry of readFileSync("/proc/self/smaps", "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    if (!entry.split("\n")[0]?.endsWith(` ${file}`)) continue;
    out ??= { rss: 0, size: 0 };
    out.rss += Number(/^Rss:\s+(\d+)/m.exec(entry)?.[1]);
    out.size += Number(/^Size:\s+(\d+)/m.exec(entry)?.[1]);
  }
  return out;
}

test("mapText keeps a text file's characters in its mapped pages, read only when the string is", () => {
  const where = mkdtempSync(join(tmpdir(), "tsbpf-maptext-"));
  try {
    // 4 MB of ASCII, then a script's text: more than the largest page-cache
    // folio (2 MB), which Linux 6.18 maps whole at a read fault of any page
    // of it that lies within the fault's VMA (native/mapfile.c)
    const file = join(where, "text.js");
    const line = (i: number): string => `//${String(i).padStart(253, ".")}\n`;
    const body = Array.from({ length: 16384 }, (_, i) => line(i)).join("");
    writeFileSync(file, `${body}(() => 6 * 7)`);
    const text = native().mapText(file);
    assert.equal(typeof text, "string", "this Node has node_api_create_external_string_latin1 (20.4+)");
    assert.equal((text as string).length, body.length + 13);
    // mapped, and nothing read yet: none of its pages is resident
    assert.deepEqual(mappingKb(file), { rss: 0, size: 4100 });
    // a read maps the pages of its 8 KB VMA, not the folio's megabytes around them
    assert.equal(
      (text as string).slice(100_000, 100_256),
      line(390).slice(160).concat(line(391).slice(0, 160)),
    );
    assert.equal(mappingKb(file)?.rss, 8);
    assert.equal(text, readFileSync(file, "latin1"));
    assert.equal(new vm.Script(text as string).runInThisContext()(), 42);
    assert.equal(nativeError(() => native().mapText(join(where, "none"))).code, "ENOENT");
    writeFileSync(join(where, "empty"), "");
    assert.equal(nativeError(() => native().mapText(join(where, "empty"))).code, "EINVAL");
    assert.equal(nativeError(() => native().mapText(where)).code, "EINVAL");
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
});

test("btfDumpSubset reads a BTF file it maps as it reads one it cannot (sysfs's before 6.15, an ELF)", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const where = mkdtempSync(join(tmpdir(), "tsbpf-btfcopy-"));
  try {
    // a regular file's copy (read: only sysfs's is mapped) against sysfs's (mapped since 6.15, read before)
    const copy = join(where, "vmlinux");
    writeFileSync(copy, readFileSync(VMLINUX_BTF));
    const names = ["task_struct", "pt_regs", "u32"];
    assert.equal(
      native().btfDumpSubset(copy, names).header,
      native().btfDumpSubset(VMLINUX_BTF, names).header,
    );
    // a file with BTF's magic and nothing valid after it
    writeFileSync(join(where, "bad"), Buffer.from([0x9f, 0xeb, 1, 0, 0, 0, 0, 0]));
    const bad = nativeError(() => native().btfDumpSubset(join(where, "bad"), names));
    assert.deepEqual([bad.op, bad.code], ["readBtf", "EINVAL"]);
    // an ELF file's .BTF: a tool's object, with its own event struct
    const object = join(import.meta.dirname, "../tools/execsnoop.bpf.o");
    if (existsSync(object))
      assert.match(native().btfDumpSubset(object, ["event"]).header, /^struct event \{$/m);
  } finally {
    rmSync(where, { recursive: true, force: true });
  }
});

test("NativeObject lists programs, maps and BTF before load", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const obj = new (native().NativeObject)(goodElf, "good");
  try {
    assert.deepEqual(obj.programs(), [
      {
        name: "on_execve",
        section: "tracepoint/syscalls/sys_enter_execve",
        type: BPF_PROG_TYPE_TRACEPOINT,
        insnCount: obj.programs()[0]?.insnCount,
      },
    ]);
    assert.ok((obj.programs()[0]?.insnCount ?? 0) > 0);
    const map = obj.maps().find((m) => m.name === "pids");
    assert.ok(map);
    assert.equal(map.type, BPF_MAP_TYPE_HASH);
    assert.equal(map.keySize, 4);
    assert.equal(map.valueSize, 4);
    assert.equal(map.maxEntries, 1024);
    assert.equal(map.fd, -1);
    assert.ok(map.btfKeyTypeId > 0 && map.btfValueTypeId > 0);
    assert.equal(obj.mapFd("pids"), -1);
    assert.equal(obj.programFd("on_execve"), -1);
    const btf = obj.btfRaw();
    assert.ok(btf && btf.length > 24);
    assert.equal(btf[0], 0x9f); // BTF magic 0xeB9F, little-endian
    assert.equal(btf[1], 0xeb);
    const e = nativeError(() => obj.programFd("nope"));
    assert.equal(e.code, "ENOENT");
  } finally {
    obj.close();
  }
});

test("open of a bad ELF throws with libbpf's log", () => {
  const e = nativeError(() => new (native().NativeObject)(new TextEncoder().encode("not an elf"), "junk"));
  assert.equal(e.op, "bpf_object__open_mem");
  assert.ok(e.errno > 0);
  assert.ok(e.libbpfLog.length > 0);
  assert.match(e.message, /^bpf_object__open_mem: /);
});

test("methods after close() throw; close and destroy are idempotent", (t) => {
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const obj = new (native().NativeObject)(goodElf, "closed");
  obj.close();
  obj.close();
  for (const call of [
    () => obj.programs(),
    () => obj.maps(),
    () => obj.load({ logLevel: 0, logSize: 4096 }),
    () => obj.programFd("on_execve"),
    () => obj.btfRaw(),
  ]) {
    const e = nativeError(call);
    assert.equal(e.code, "ECLOSED");
    assert.match(e.message, /object is closed/);
  }
  const e = nativeError(() => native().attachTracepoint(obj, "on_execve", "syscalls", "sys_enter_execve"));
  assert.equal(e.code, "ECLOSED");
});

test("probes answer", (t) => {
  if (!isRoot) return t.skip("needs root");
  const n = native();
  assert.equal(n.probeProgType(BPF_PROG_TYPE_SOCKET_FILTER), 1);
  assert.equal(n.probeMapType(BPF_MAP_TYPE_HASH), 1);
  assert.equal(n.probeHelper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_map_lookup_elem), 1);
  assert.ok([0, 1].includes(n.probeTracing()) || n.probeTracing() < 0);
});

test("load, attach a tracepoint, see execve in the map, and clean up", async (t) => {
  if (!isRoot) return t.skip("needs root");
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const n = native();
  const progs0 = new Set(n.progIds());
  const maps0 = new Set(n.mapIds());
  const links0 = new Set(n.linkIds());

  const obj = new n.NativeObject(goodElf, "good");
  obj.load({ logLevel: 1, logSize: 1 << 20 });
  assert.match(obj.verifierLog("on_execve"), /processed \d+ insns/);
  const progFd = obj.programFd("on_execve");
  const mapFd = obj.mapFd("pids");
  assert.ok(progFd >= 0 && mapFd >= 0);
  assert.equal(obj.maps().find((m) => m.name === "pids")?.fd, mapFd);
  const newProgs = n.progIds().filter((id) => !progs0.has(id));
  const newMaps = n.mapIds().filter((id) => !maps0.has(id));
  assert.ok(newProgs.length >= 1, "progIds grew on load");
  assert.ok(newMaps.length >= 1, "mapIds grew on load");

  const link = n.attachTracepoint(obj, "on_execve", "syscalls", "sys_enter_execve");
  try {
    assert.ok(link.fd() >= 0);
    const newLinks = n.linkIds().filter((id) => !links0.has(id));
    assert.ok(newLinks.length >= 1, "linkIds grew on attach");

    const child = spawnSync("/bin/true");
    assert.equal(child.status, 0);
    const pid = child.pid;
    assert.ok(pid);
    const value = new Uint8Array(4);
    assert.equal(n.mapLookup(mapFd, u32(pid), value), true, "the child's execve was seen");
    assert.equal(new DataView(value.buffer).getUint32(0, true), 1);

    // Walk the keys: the pid is among them.
    const keys: number[] = [];
    const next = new Uint8Array(4);
    let key: Uint8Array | null = null;
    while (n.mapNextKey(mapFd, key, next)) {
      keys.push(new DataView(next.buffer).getUint32(0, true));
      key = next.slice();
    }
    assert.ok(keys.includes(pid));

    // Update, lookup, delete from user space.
    const mine = u32(0xfffffff0);
    n.mapUpdate(mapFd, mine, u32(7), 0);
    assert.equal(n.mapLookup(mapFd, mine, value), true);
    assert.equal(new DataView(value.buffer).getUint32(0, true), 7);
    const exists = nativeError(() => n.mapUpdate(mapFd, mine, u32(8), BPF_NOEXIST));
    assert.equal(exists.code, "EEXIST");
    assert.equal(exists.op, "bpf_map_update_elem");
    assert.equal(n.mapDelete(mapFd, mine), true);
    assert.equal(n.mapDelete(mapFd, mine), false);
    assert.equal(n.mapLookup(mapFd, mine, value), false);
    const short = nativeError(() => n.mapLookup(mapFd, new Uint8Array(2), value));
    assert.equal(short.code, "EINVAL");

    // No kprobes here (and no such function anywhere): the attach throws.
    const kp = nativeError(() =>
      n.attachKprobe(obj, "on_execve", {
        func: "tsbpf_no_such_function",
        offset: 0,
        retprobe: false,
        cookie: 0,
      }),
    );
    assert.equal(kp.op, "bpf_program__attach_kprobe_opts");
    assert.ok(kp.errno > 0);
    assert.ok(kp.libbpfLog.length > 0);

    link.destroy();
    link.destroy();
    assert.equal(nativeError(() => link.fd()).code, "ECLOSED");
    assert.ok(
      await eventually(() => n.linkIds().every((id) => !newLinks.includes(id))),
      "linkIds back to what they were after destroy",
    );
  } finally {
    link.destroy();
    obj.close();
  }
  assert.ok(
    await eventually(() => n.progIds().every((id) => !newProgs.includes(id))),
    "progIds back to what they were after close",
  );
  assert.ok(
    await eventually(() => n.mapIds().every((id) => !newMaps.includes(id))),
    "mapIds back to what they were after close",
  );
});

test("a program the verifier rejects throws with its log and name", (t) => {
  if (!isRoot) return t.skip("needs root");
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  for (const logLevel of [0, 1]) {
    const obj = new (native().NativeObject)(badElf, "bad");
    try {
      const e = nativeError(() => obj.load({ logLevel, logSize: 1 << 20 }));
      assert.equal(e.op, "bpf_object__load");
      assert.equal(e.errno, 13);
      assert.equal(e.code, "EACCES");
      assert.equal(e.program, "bad_deref");
      assert.ok(e.verifierLog && e.verifierLog.length > 0, "verifierLog is set");
      assert.match(e.verifierLog, /invalid mem access/);
      assert.match(e.libbpfLog, /bad_deref/);
      assert.match(e.message, /^bpf_object__load: Permission denied \(EACCES\)/);
      assert.equal(obj.programFd("bad_deref"), -1);
    } finally {
      obj.close();
    }
  }
});

test("a program left out with setAutoload(false) is not loaded", (t) => {
  if (!isRoot) return t.skip("needs root");
  if (!haveBtf) return t.skip(`no ${VMLINUX_BTF}`);
  const obj = new (native().NativeObject)(badElf, "bad");
  try {
    obj.setAutoload("bad_deref", false);
    obj.load({ logLevel: 0, logSize: 4096 });
    assert.equal(obj.programFd("bad_deref"), -1);
    assert.equal(obj.verifierLog("bad_deref"), "");
  } finally {
    obj.close();
  }
});

test("btfTypeOffsets and btfTypesNamed walk a BTF type section (host byte order words)", () => {
  const INT = 1 << 24;
  const PTR = 2 << 24;
  const STRUCT = 4 << 24;
  const TYPEDEF = 8 << 24;
  const ENUM = 6 << 24;
  // biome-ignore format: one type per line
  const words = new Uint32Array([
    1, INT, 4, 0x20, // 1: int "at 1"
    0, PTR, 1, // 2: pointer to 1
    5, STRUCT | 1, 8, 9, 1, 0, // 3: struct "at 5", one member "at 9"
    1, TYPEDEF, 1, // 4: typedef, the same name as 1
    0, ENUM | 2, 4, 13, 0, 14, 1, // 5: anonymous enum, two values
  ]);
  const n = native();
  const layout = n.btfTypeOffsets(words);
  assert.deepEqual([...layout.offsets], [0, 0, 4, 7, 13, 16]);
  assert.equal(layout.count, 6);
  assert.deepEqual([...layout.enums], [5]);
  assert.equal(layout.entries, 3 + 2);
  assert.equal(layout.end, words.length);
  assert.equal(layout.stop, undefined);
  // [id, index of the offset], ids ascending; an offset no type has matches nothing
  assert.deepEqual([...(n.btfTypesNamed(words, new Uint32Array([77, 5, 1])) ?? [])], [1, 2, 3, 1, 4, 2]);
  assert.deepEqual([...(n.btfTypesNamed(words, new Uint32Array([])) ?? [])], []);

  const badKind = words.slice();
  badKind[8] = (31 << 24) | 1;
  assert.deepEqual(
    { ...n.btfTypeOffsets(badKind), offsets: undefined, enums: undefined },
    {
      offsets: undefined,
      enums: undefined,
      count: 3,
      entries: 1,
      end: 7,
      stop: "kind",
      stopId: 3,
      stopAt: 7,
    },
  );
  assert.equal(n.btfTypesNamed(badKind, new Uint32Array([1])), null);
  const pastEnd = words.slice(0, 12);
  const cut = n.btfTypeOffsets(pastEnd);
  assert.deepEqual([cut.stop, cut.stopId, cut.stopAt, cut.count], ["end", 3, 7, 3]);
  assert.throws(() => n.btfTypeOffsets(new Uint8Array(4) as unknown as Uint32Array), /must be a Uint32Array/);
});
