/**
 * trace's program: bcc-dialect C generated from the parsed probes (as bcc's
 * trace.py generates it), compiled at run time by the tool. One function per
 * probe, one ring buffer for all of them (records of every probe arrive in
 * the order they were written, where bcc's one perf buffer per probe
 * interleaves them by batch), one record layout per probe:
 *
 *   u64 ts; u32 tgid, pid, uid, probe; s32 kernel_stack_id, user_stack_id;
 *   u32 cpu, pad; char comm[16];          (56 bytes: HEADER_SIZE)
 *   then each argument: 8 bytes for a number, the string size (rounded up to
 *   8) for a %s.
 *
 * The tool decodes records from these offsets (recordLayout), so no type
 * information has to come back from the object.
 */
import { UsageError } from "./args.js";
import { closingParen, type ProbeSpec, splitTopLevel } from "./trace_spec.js";

/** Offsets of the header fields of every record. */
export const HEADER = {
  ts: 0,
  tgid: 8,
  pid: 12,
  uid: 16,
  probe: 20,
  kernelStack: 24,
  userStack: 28,
  cpu: 32,
  comm: 40,
  size: 56,
} as const;

export interface CodegenOptions {
  /** -Z: bytes kept of a string (its NUL included). */
  stringSize: number;
  /** -p: only this process. */
  pid?: number;
  /** -L: only this thread. */
  tid?: number;
  /** --uid: only this user. */
  uid?: number;
  /** Without -S: trace's own process is left out. */
  selfPid?: number;
  /** -c: the __cgroup array filters. */
  cgroup: boolean;
  kernelStack: boolean;
  userStack: boolean;
  /** -I headers: paths (made absolute by the caller) or <header> names. */
  includes: string[];
  /** -B: STRCMP's literal is binary (compared byte for byte, without a terminator). */
  binCmp: boolean;
  /** The ring buffer's size in pages (a power of two). */
  ringPages: number;
  /** u: the C type of argument n (from 1) of probe i, from the USDT notes. */
  usdtArgType?: (probe: number, n: number) => string;
}

/** Where each argument is in a probe's records. */
export interface RecordLayout {
  /** The BPF function's name. */
  fnName: string;
  /** Offset of each argument's value. */
  offsets: number[];
  size: number;
}

const round8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Offsets of the arguments of a probe's records. */
export function recordLayout(p: ProbeSpec, fnName: string, stringSize: number): RecordLayout {
  let off = HEADER.size;
  const offsets = p.specs.map((s) => {
    const at = off;
    off += s.conv === "s" ? round8(stringSize) : 8;
    return at;
  });
  return { fnName, offsets, size: off };
}

/** The name of probe i's function: bcc's probe_<func>_<n>, syscall__… for a syscall function's kprobe. */
export function functionName(p: ProbeSpec, i: number): string {
  const base = `probe_${p.function}_${i + 1}`.replace(/[^A-Za-z0-9_]/g, "_");
  return isSyscallKprobe(p) ? `syscall__${base.slice(6)}` : base;
}

/** A kprobe on a syscall's wrapper (__x64_sys_X): its arguments are in the pt_regs it is given. */
export function isSyscallKprobe(p: ProbeSpec): boolean {
  return p.type === "p" && p.library === "" && /^__(x64|arm64|s390x|ia32)_sys_/.test(p.function);
}

/** How a probe reads the memory a string pointer points to. */
type Reader = "user" | "kernel-or-user";

/** C that reads at most `size` bytes of the string at `ptr` into `dst`, as the probe's memory is. */
function readString(reader: Reader, dst: string, size: string, ptr: string): string {
  if (reader === "user") return `bpf_probe_read_user_str(${dst}, ${size}, ${ptr});`;
  // Kernel probes see kernel strings (a dentry's name) and user strings (a
  // syscall's path): on x86 and arm64 the two address ranges are apart, so
  // a failed kernel read means a user pointer (bcc wants arg2@user then).
  return `if (bpf_probe_read_kernel_str(${dst}, ${size}, ${ptr}) < 0) bpf_probe_read_user_str(${dst}, ${size}, ${ptr});`;
}

/** Splits an expression into code and literal runs (literals are never rewritten). */
function codeRuns(expr: string): Array<{ code: boolean; text: string }> {
  const out: Array<{ code: boolean; text: string }> = [];
  const re = /"(\\.|[^"\\])*"|'(\\.|[^'\\])*'/g;
  let last = 0;
  for (let m = re.exec(expr); m; m = re.exec(expr)) {
    if (m.index > last) out.push({ code: true, text: expr.slice(last, m.index) });
    out.push({ code: false, text: m[0] });
    last = re.lastIndex;
  }
  if (last < expr.length) out.push({ code: true, text: expr.slice(last) });
  return out;
}

/** Replaces identifiers in the code runs of expr (literals kept). */
function replaceInCode(expr: string, re: RegExp, f: (m: RegExpExecArray) => string): string {
  return codeRuns(expr)
    .map((r) =>
      r.code ? r.text.replace(re, (...a) => f(a.slice(0, -2) as unknown as RegExpExecArray)) : r.text,
    )
    .join("");
}

/** The bytes of a C string literal's body ("ab\x00c"), escapes decoded. */
function literalBytes(body: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const rest = body.slice(i + 1);
    let m = /^x([0-9a-fA-F]{1,2})/.exec(rest);
    if (m) {
      bytes.push(Number.parseInt(m[1] as string, 16));
      i += m[0].length;
      continue;
    }
    m = /^[0-7]{1,3}/.exec(rest);
    if (m) {
      bytes.push(Number.parseInt(m[0], 8) & 0xff);
      i += m[0].length;
      continue;
    }
    const e = rest[0] ?? "";
    bytes.push(({ n: 10, t: 9, r: 13, "0": 0 } as Record<string, number>)[e] ?? e.charCodeAt(0));
    i++;
  }
  return bytes;
}

/** Per-probe state while its expressions are rewritten. */
interface ProbeCtx {
  p: ProbeSpec;
  index: number;
  /** argN written argN@user. */
  userArgs: Set<number>;
  /** USDT arguments the expressions use. */
  usdtArgs: Set<number>;
  /** Functions the STRCMPs became. */
  helpers: string[];
}

let streqCounter = 0;

/** bcc's STRCMP("literal", expr): true when the string at expr is the literal (-B: starts with its bytes). */
function rewriteStrcmp(pc: ProbeCtx, expr: string, opts: CodegenOptions): string {
  let out = "";
  let rest = expr;
  for (;;) {
    const runs = codeRuns(rest);
    let pos = 0;
    let found = -1;
    for (const r of runs) {
      if (r.code) {
        const m = /\bSTRCMP\s*\(/.exec(r.text);
        if (m) {
          found = pos + m.index;
          break;
        }
      }
      pos += r.text.length;
    }
    if (found < 0) return out + rest;
    const open = rest.indexOf("(", found);
    const close = closingParen(rest, open);
    if (close < 0) throw new UsageError(`error in probe '${pc.p.raw}': STRCMP( is not closed`);
    const args = splitTopLevel(rest.slice(open + 1, close));
    const lit = args[0] ?? "";
    if (args.length !== 2 || !/^"(\\.|[^"\\])*"$/.test(lit))
      throw new UsageError(
        `error in probe '${pc.p.raw}': STRCMP takes a quoted string and an expression: STRCMP("text", arg1)`,
      );
    const needle = literalBytes(lit.slice(1, -1));
    // Without -B the terminator is compared too: "foo" does not match "foobar".
    if (!opts.binCmp) needle.push(0);
    const target = args[1] as string;
    const m = /^arg([1-6])@user$/.exec(target.trim());
    const reader: Reader =
      pc.p.library !== "" || (m && pc.userArgs.has(Number(m[1]))) ? "user" : "kernel-or-user";
    const name = `streq_${streqCounter++}`;
    const n = needle.length;
    const read =
      reader === "user"
        ? `if (bpf_probe_read_user(h, ${n}, p)) bpf_probe_read_user_str(h, ${n}, p);`
        : `if (bpf_probe_read_kernel(h, ${n}, p) && bpf_probe_read_user(h, ${n}, p)) { if (bpf_probe_read_kernel_str(h, ${n}, p) < 0) bpf_probe_read_user_str(h, ${n}, p); }`;
    pc.helpers.push(
      `static inline bool ${name}(unsigned long str) {\n` +
        `  const char needle[${n}] = {${needle.join(", ")}};\n` +
        `  char h[${n}] = {};\n  const void *p = (const void *)str;\n  if (!p) return false;\n  ${read}\n` +
        `  for (int i = 0; i < ${n}; i++)\n    if (needle[i] != h[i]) return false;\n  return true;\n}\n`,
    );
    out += `${rest.slice(0, found)}${name}((unsigned long)(${target}))`;
    rest = rest.slice(close + 1);
  }
}

/** bcc's aliases: argN, retval, $pid, $tgid, $uid, $gid, $cpu, $task; STRCMP. */
function rewriteExpr(pc: ProbeCtx, expr: string, opts: CodegenOptions): string {
  const p = pc.p;
  let e = replaceInCode(expr, /\barg([1-9])@user\b/g, (m) => {
    pc.userArgs.add(Number(m[1]));
    return `arg${m[1]}@user`;
  });
  e = rewriteStrcmp(pc, e, opts);
  e = replaceInCode(e, /\barg([1-9]\d*)(@user)?\b/g, (m) => {
    const n = Number(m[1]);
    if (p.type === "t")
      throw new UsageError(
        `error in probe '${p.raw}': a tracepoint has no arg${n}; use its fields, args->name (tsbpf tplist -v ${p.category}:${p.function} lists them)`,
      );
    if (p.type === "u") {
      pc.usdtArgs.add(n);
      return `__usdt_arg${n}`;
    }
    if (n > 6) throw new UsageError(`error in probe '${p.raw}': only arg1 to arg6 are in registers`);
    return isSyscallKprobe(p) ? `((u64)__TSBPF_SYSCALL_ARG${n}(ctx))` : `((u64)PT_REGS_PARM${n}(ctx))`;
  });
  e = replaceInCode(e, /\bretval\b/g, () => "PT_REGS_RC(ctx)");
  const common: Record<string, string> = {
    uid: "((u32)(bpf_get_current_uid_gid() & 0xffffffff))",
    gid: "((u32)(bpf_get_current_uid_gid() >> 32))",
    pid: "((u32)bpf_get_current_pid_tgid())",
    tgid: "((u32)(bpf_get_current_pid_tgid() >> 32))",
    cpu: "bpf_get_smp_processor_id()",
    task: "((struct task_struct *)bpf_get_current_task())",
  };
  e = replaceInCode(e, /\$([a-z]+)\b/g, (m) => {
    const r = common[m[1] as string];
    if (!r)
      throw new UsageError(
        `error in probe '${p.raw}': unknown $${m[1]} (trace knows $pid $tgid $uid $gid $cpu $task)`,
      );
    return r;
  });
  return e;
}

/** The C of one probe's function. */
function probeFunction(pc: ProbeCtx, layout: RecordLayout, opts: CodegenOptions): string {
  const p = pc.p;
  const ctxName = p.type === "t" ? "args" : "ctx";
  const filter = p.filter === undefined ? "1" : rewriteExpr(pc, p.filter, opts);
  const values = p.args.map((a) => rewriteExpr(pc, a, opts));
  const reader: Reader = p.library !== "" ? "user" : "kernel-or-user";
  const body: string[] = [];
  body.push("u64 __pid_tgid = bpf_get_current_pid_tgid();");
  body.push("u32 __tgid = __pid_tgid >> 32;");
  body.push("u32 __pid = (u32)__pid_tgid;");
  if (opts.pid !== undefined) body.push(`if (__tgid != ${opts.pid}) return 0;`);
  else if (opts.selfPid !== undefined) body.push(`if (__tgid == ${opts.selfPid}) return 0;`);
  if (opts.tid !== undefined) body.push(`if (__pid != ${opts.tid}) return 0;`);
  if (opts.uid !== undefined) body.push(`if ((u32)bpf_get_current_uid_gid() != ${opts.uid}) return 0;`);
  if (opts.cgroup) body.push("if (__cgroup.check_current_task(0) <= 0) return 0;");
  for (const n of [...pc.usdtArgs].sort()) {
    const ctype = opts.usdtArgType?.(pc.index, n) ?? "u64";
    body.push(`${ctype} __usdt_arg${n} = 0;`);
    body.push(`bpf_usdt_readarg(${n}, ctx, &__usdt_arg${n});`);
  }
  body.push(`if (!(${filter})) return 0;`);
  const struct = `${layout.fnName}_data`;
  body.push(`struct ${struct} *__data = events.ringbuf_reserve(sizeof(struct ${struct}));`);
  // a full ring buffer: counted, and said at the end (bcc: "Possibly lost N samples")
  body.push(
    "if (!__data) { u32 __zero = 0; u64 *__n = lost.lookup(&__zero); if (__n) __sync_fetch_and_add(__n, 1); return 0; }",
  );
  body.push("__data->ts = bpf_ktime_get_ns();");
  body.push("__data->tgid = __tgid;");
  body.push("__data->pid = __pid;");
  body.push("__data->uid = (u32)bpf_get_current_uid_gid();");
  body.push(`__data->probe = ${pc.index};`);
  body.push(`__data->kernel_stack_id = ${opts.kernelStack ? `stacks.get_stackid(${ctxName}, 0)` : "-1"};`);
  body.push(
    `__data->user_stack_id = ${opts.userStack ? `stacks.get_stackid(${ctxName}, BPF_F_USER_STACK)` : "-1"};`,
  );
  body.push("__data->cpu = bpf_get_smp_processor_id();");
  body.push("__data->__pad = 0;");
  body.push("bpf_get_current_comm(&__data->comm, sizeof(__data->comm));");
  p.specs.forEach((s, i) => {
    const v = values[i] as string;
    if (s.conv === "s") {
      body.push(
        `{ const void *__p = (const void *)(unsigned long)(${v}); __data->v${i}[0] = 0; if (__p) { ${readString(reader, `__data->v${i}`, `sizeof(__data->v${i})`, "__p")} } }`,
      );
    } else body.push(`__data->v${i} = (u64)(${s.ctype})(${v});`);
  });
  body.push("events.ringbuf_submit(__data, 0);");
  body.push("return 0;");
  const fields = p.specs
    .map((s, i) => (s.conv === "s" ? `  char v${i}[${round8(opts.stringSize)}];` : `  u64 v${i};`))
    .join("\n");
  const decl =
    `struct ${struct} {\n  u64 ts;\n  u32 tgid;\n  u32 pid;\n  u32 uid;\n  u32 probe;\n` +
    `  s32 kernel_stack_id;\n  s32 user_stack_id;\n  u32 cpu;\n  u32 __pad;\n  char comm[16];\n${fields ? `${fields}\n` : ""}};\n`;
  const heading =
    p.type === "t"
      ? // not TRACEPOINT_PROBE: two probes on one tracepoint need two names
        `int ${layout.fnName}(struct tracepoint__${p.category}__${p.function} *args)`
      : `int ${layout.fnName}(struct pt_regs *ctx${p.signature ? `, ${p.signature}` : ""})`;
  return `// probe ${pc.index + 1}\n${pc.helpers.join("\n")}${decl}\n${heading}\n{\n${body.map((l) => `  ${l}`).join("\n")}\n}\n`;
}

/** The whole program for the probes, and where each probe's arguments are in its records. */
export function generateProgram(
  probes: ProbeSpec[],
  opts: CodegenOptions,
): { text: string; layouts: RecordLayout[] } {
  streqCounter = 0;
  const parts: string[] = ["#include <linux/ptrace.h>", "#include <linux/sched.h>"];
  for (const inc of opts.includes)
    parts.push(inc.startsWith("/") ? `#include "${inc}"` : `#include <${inc}>`);
  parts.push("");
  parts.push(`BPF_RINGBUF_OUTPUT(events, ${opts.ringPages});`);
  parts.push("BPF_ARRAY(lost, u64, 1);");
  if (opts.kernelStack || opts.userStack) parts.push("BPF_STACK_TRACE(stacks, 1024);");
  if (opts.cgroup) parts.push("BPF_CGROUP_ARRAY(__cgroup, 1);");
  parts.push("");
  const layouts = probes.map((p, i) => {
    const layout = recordLayout(p, functionName(p, i), opts.stringSize);
    const pc: ProbeCtx = { p, index: i, userArgs: new Set(), usdtArgs: new Set(), helpers: [] };
    parts.push(probeFunction(pc, layout, opts));
    return layout;
  });
  return { text: parts.join("\n"), layouts };
}
