// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * BPF iterators (Linux 5.8+; tcp, udp and map elements 5.9+): a program the
 * kernel runs once per object of a kind (task, task_file, bpf_map, tcp, …)
 * each time user space reads the iterator, writing into a seq_file with
 * BPF_SEQ_PRINTF or bpf_seq_write. bcc's BPF_ITER(target) defines one
 * (bpf_iter__<target>); libbpf's SEC("iter/<target>") too. The program is
 * loaded for the kernel's bpf_iter_<target> and attached as a link; every
 * read opens a fresh iterator on it.
 */
import { closeSync, readSync } from "node:fs";
import { Btf } from "../btf/btf.js";
import { codecFor } from "../btf/codec.js";
import { Errno } from "../kernel/constants.js";
import { AttachError, BpfError, ClosedError, NotSupportedError } from "../kernel/errors.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachKind } from "./kinds.js";
import { attachFailure, type Link, nativeLink } from "./link.js";
import { loadBtfFunc } from "./tracing.js";

/** The target of an iterator function: bcc's bpf_iter__<target>, or libbpf's SEC("iter/<target>"). */
export function iterTargetOf(ctx: AttachContext, fnName: string): string {
  const info = ctx.loader.info(fnName);
  if (!info) throw ctx.loader.noFunction(fnName);
  if (fnName.startsWith("bpf_iter__") && fnName.length > "bpf_iter__".length)
    return fnName.slice("bpf_iter__".length);
  const m = /^iter(?:\.s)?\/(.+)$/.exec(info.section);
  if (m) return m[1] as string;
  throw new BpfError(
    `${fnName} is not an iterator: define it with BPF_ITER(target), or in SEC("iter/target")`,
  );
}

/** An iterator attached to its kind of kernel objects: read it as often as wanted. */
export class Iter {
  constructor(
    readonly fnName: string,
    readonly target: string,
    private readonly linkFd: () => number,
    private readonly btf: () => Btf | undefined,
  ) {}

  /** Runs the iterator once over the kernel's objects: everything the program wrote. */
  read(): Buffer {
    let linkFd: number;
    try {
      linkFd = this.linkFd();
    } catch {
      throw new ClosedError(`iterator ${this.fnName} (detached)`);
    }
    const fd = native().iterCreate(linkFd);
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(64 * 1024);
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    return Buffer.concat(chunks);
  }

  /** What BPF_SEQ_PRINTF wrote, as text. */
  text(): string {
    return this.read().toString("utf8");
  }

  /** The lines BPF_SEQ_PRINTF wrote (without the final empty one). */
  lines(): string[] {
    const t = this.text();
    return t === "" ? [] : t.replace(/\n$/, "").split("\n");
  }

  /**
   * The fixed-size records the program wrote with bpf_seq_write, decoded
   * through the object's BTF as `type` ("struct info_t", "u64", …).
   */
  records<T = unknown>(type: string): T[] {
    const btf = this.btf();
    if (!btf) throw new BpfError(`${this.fnName}: the object has no BTF to decode ${type} with`);
    const m = /^(struct|union|enum)\s+(\w+)$/.exec(type.trim());
    const kind =
      m?.[1] === "struct" ? "STRUCT" : m?.[1] === "union" ? "UNION" : m?.[1] === "enum" ? "ENUM" : undefined;
    const id = kind
      ? btf.findByName(m?.[2] as string, kind)
      : (btf.findByName(type.trim(), "TYPEDEF") ?? btf.findByName(type.trim(), "INT"));
    if (id === undefined) throw new BpfError(`${this.fnName}: the object's BTF has no type ${type}`);
    const codec = codecFor(btf, id);
    const bytes = this.read();
    if (bytes.length % codec.size !== 0)
      throw new BpfError(
        `${this.fnName}: read ${bytes.length} bytes, not a whole number of ${type} records (${codec.size} bytes each)`,
      );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: T[] = [];
    for (let off = 0; off < bytes.length; off += codec.size) out.push(codec.decode(view, off) as T);
    return out;
  }
}

/** The iterator targets of the running kernel: those whose context, struct bpf_iter__<target>, its BTF has. */
export function kernelIterTargets(): string[] {
  const out = new Set<string>();
  try {
    // (bpf_iter__task__safe_trusted and the like are kfunc argument types, not contexts)
    for (const t of kernelBtf().all())
      if (t.kind === "STRUCT" && /^bpf_iter__[a-z0-9]+(_[a-z0-9]+)*$/.test(t.name))
        out.add(t.name.slice("bpf_iter__".length));
  } catch {
    // no kernel BTF: nothing to list
  }
  return [...out].sort();
}

/** The error for an iterator the kernel refused (Linux 5.8+), or undefined for another reason. */
function iterRefusal(
  target: string,
  errno: number | undefined,
  stage: "load" | "attach",
  cause: unknown,
): BpfError | undefined {
  const minKernel = attachKind("iter").minKernel;
  if (errno === Errno.EPERM && process.getuid?.() === 0)
    return new NotSupportedError(
      "BPF iterators",
      `the kernel refused to ${stage} an iterator over ${target} with EPERM although this process is root` +
        (stage === "load" ? " (before the verifier examined an instruction)" : "") +
        ": a kernel policy forbids it to this process",
      "read what the kernel exports in /proc or /sys for these objects, or follow their changes with tracepoints",
      { errno, cause, minKernel },
    );
  if (errno === Errno.ESRCH || errno === Errno.ENOENT)
    return new AttachError(
      `iterator ${target}`,
      `this kernel has no iterator over ${target} (no bpf_iter_${target} in its BTF)`,
      `the iterators this kernel has: ${kernelIterTargets().join(", ") || "none"}`,
      { errno, cause },
    );
  return undefined;
}

/** Loads fnName as an iterator over its target's objects (a map's elements: `mapFd`) and attaches it. */
export function attachIter(
  ctx: AttachContext,
  opts: { fnName: string; mapFd?: number },
): { link: Link; iter: Iter } {
  const target = iterTargetOf(ctx, opts.fnName);
  const fn = loadBtfFunc(ctx, opts.fnName, "iter", target, iterRefusal);
  let nativeIterLink: ReturnType<ReturnType<typeof native>["attachIter"]>;
  try {
    nativeIterLink = native().attachIter(fn.object, fn.elfName, opts.mapFd ?? -1);
  } catch (err) {
    throw attachFailure(err, `iterator ${target}`, (e) => iterRefusal(target, e.errno, "attach", e));
  }
  const link = nativeLink("iter", target, opts.fnName, nativeIterLink);
  const btf = () => {
    const raw = ctx.loader.btfRaw();
    return raw ? Btf.parse(raw) : undefined;
  };
  return { link, iter: new Iter(opts.fnName, target, () => nativeIterLink.fd(), btf) };
}
