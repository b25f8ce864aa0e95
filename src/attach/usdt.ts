/**
 * USDT probes (DTRACE_PROBE / STAP_PROBE in the traced program), bcc's USDT
 * class on libbpf's USDT support.
 *
 * tsbpf finds the probes (the .note.stapsdt notes of the binaries, through
 * src/elf) and libbpf attaches them (bpf_program__attach_usdt): a uprobe at
 * every site of the probe, each site's argument locations in the
 * `__bpf_usdt_specs` map that bpf/usdt.bpf.h defines, read back in the
 * program by bcc's bpf_usdt_readarg / bpf_usdt_readarg_p (tsbpf/prelude.h).
 * Semaphores are counted by the kernel (uprobe ref_ctr_offset, Linux 4.20+)
 * for as long as a probe is attached.
 *
 * libbpf keeps the argument specs per bpf_object (its USDT manager hands out
 * spec ids from 0). tsbpf loads each function lazily in an object of its own
 * sharing one set of maps, so two functions attached through two objects
 * would hand out the same spec ids into the one shared specs map. So every
 * USDT function of a BPF object is loaded into one object of their own
 * (ProgramLoader.loadGroup), and every USDT attach goes through it.
 */

import { elfFile, type UsdtNote } from "../elf/elf.js";
import { readProcMaps } from "../elf/procmaps.js";
import { Errno, ProgType } from "../kernel/constants.js";
import { AttachError, BpfError, isNativeError } from "../kernel/errors.js";
import { uprobeSupport } from "../kernel/features.js";
import { closestNames } from "../kernel/tracefs.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link, nativeLink } from "./link.js";
import { resolveBinary, uprobeNotSupported } from "./uprobe.js";

/** One USDT probe of one binary, as {@link USDT.enumerateProbes} lists it. */
export interface UsdtProbe {
  /** Provider ("myprov" in DTRACE_PROBE2(myprov, myprobe, …)). */
  provider: string;
  /** Probe name. */
  name: string;
  /** "provider:name" (bcc's short_name). */
  shortName: string;
  /** The binary holding it (executable or shared library). */
  path: string;
  /** The semaphore's link-time address (0n: the probe has none). */
  semaphore: bigint;
  /** The semaphore's file offset (what the kernel's ref_ctr_offset counts), when it has one. */
  semaphoreOffset: bigint | undefined;
  /** Sites of the probe in the binary (inlining and macros repeat it). */
  locations: number;
  /** Arguments the probe passes. */
  numArguments: number;
  /** The argument locations of its first site, e.g. ["-4@%ebx", "8@%rbp"] (SystemTap's format). */
  args: string[];
}

/**
 * One argument of a USDT site, from SystemTap's spec ("-4@%esi", "8@-16(%rbp)",
 * "4@$5", "8@8(%rax,%rdx,4)"), as bcc's USDTProbeArgument describes it.
 */
export interface UsdtArgument {
  /** The spec as the note writes it. */
  spec: string;
  /** Bytes (1, 2, 4 or 8). */
  size: number;
  signed: boolean;
  /** An immediate ("$5"). */
  constant?: bigint;
  /** The register holding it, or holding the address it is at ("rbp"). */
  register?: string;
  /** Read from memory at register + offset (+ indexRegister * scale). */
  deref: boolean;
  offset?: number;
  indexRegister?: string;
  scale?: number;
}

/** One site of a USDT probe (bcc's USDTProbeLocation): where it is and where its arguments are. */
export interface UsdtLocation {
  /** The site's link-time address (prelink-adjusted). */
  address: bigint;
  args: UsdtArgument[];
}

/**
 * The size and sign of a SystemTap argument spec ("-4@%esi": 4, signed) and
 * its location; a spec without a size is an unsigned machine word (sdt.h
 * before version 3 notes).
 */
function sizedArgument(spec: string): { signed: boolean; size: number; loc: string } {
  const m = /^(-?)(\d+)@(.+)$/.exec(spec);
  return m
    ? { signed: m[1] === "-", size: Number(m[2]), loc: m[3] as string }
    : { signed: false, size: 8, loc: spec };
}

/** A decimal or 0x integer with an optional minus sign (BigInt() takes no sign before 0x). */
function signedInt(text: string): bigint {
  const negative = text.startsWith("-");
  const v = BigInt(negative ? text.slice(1) : text);
  return negative ? -v : v;
}

/** Parses one SystemTap argument spec (x86-64 and aarch64 forms); undefined when it is none of them. */
export function parseUsdtArgument(spec: string): UsdtArgument | undefined {
  const sized = sizedArgument(spec);
  if (![1, 2, 4, 8].includes(sized.size)) return undefined;
  const base = { spec, size: sized.size, signed: sized.signed };
  let x = /^\$(-?(?:0x[0-9a-f]+|\d+))$/i.exec(sized.loc);
  if (x) return { ...base, constant: signedInt(x[1] as string), deref: false };
  x = /^%(\w+)$/.exec(sized.loc);
  if (x) return { ...base, register: x[1], deref: false };
  x = /^(-?(?:0x[0-9a-f]+|\d+))?\(%(\w+)(?:,%(\w+)(?:,(\d+))?)?\)$/i.exec(sized.loc);
  if (x) {
    const offset = x[1] === undefined ? 0 : Number(signedInt(x[1]));
    const scale = Number(x[4] ?? 1);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(scale)) return undefined;
    return {
      ...base,
      register: x[2],
      deref: true,
      offset,
      ...(x[3] ? { indexRegister: x[3], scale } : {}),
    };
  }
  // aarch64: "x0", "[sp, 16]", "[x1]"
  x = /^\[(\w+)(?:,\s*(-?\d+))?\]$/.exec(sized.loc);
  if (x) {
    const offset = Number(x[2] ?? 0);
    return Number.isSafeInteger(offset) ? { ...base, register: x[1], deref: true, offset } : undefined;
  }
  x = /^([xw]\d+|sp)$/.exec(sized.loc);
  if (x) return { ...base, register: x[1], deref: false };
  return undefined;
}

/** A probe enabled with {@link USDT.enableProbe}: attached when the BPF object loads. */
export interface EnabledUsdtProbe {
  provider: string;
  name: string;
  /** The BPF function it runs. */
  fnName: string;
  /** The binaries that hold it. */
  paths: string[];
  /** What bpf_usdt_cookie(ctx) returns in the program. */
  cookie?: number | bigint;
}

/** Splits "provider:name" (or a bare name). */
function splitProbe(probe: string): { provider: string | undefined; name: string } {
  const i = probe.indexOf(":");
  return i < 0
    ? { provider: undefined, name: probe }
    : { provider: probe.slice(0, i), name: probe.slice(i + 1) };
}

function argsOf(note: UsdtNote): string[] {
  return note.args.trim() === "" ? [] : note.args.trim().split(/\s+/);
}

/**
 * The USDT probes of a process or a binary (bcc's USDT). Enable probes with
 * {@link enableProbe}, then pass the context to
 * `BPF.load({ text, usdtContexts: [u] })`, which attaches them; the program
 * reads the probe's arguments with `bpf_usdt_readarg(n, ctx, &v)` (n from 1)
 * and `bpf_usdt_readarg_p(n, ctx, buf, len)`.
 *
 * Needs uprobes (CONFIG_UPROBES; Linux 4.17+ for the uprobe PMU), Linux
 * 4.20+ for probes with semaphores, and BPF cookies (Linux 5.15+) for probes
 * in shared libraries traced without a pid.
 */
export class USDT {
  /**
   * bcc's get_context(): the object BPF.load's `usdtContexts` takes. In
   * bcc it is a native handle; here the USDT object is its own context.
   */
  getContext(): this {
    return this;
  }

  /** The process traced (undefined: every process running the binary). */
  readonly pid: number | undefined;
  /** The binary given (resolved as a uprobe's name is), or undefined with a pid. */
  readonly path: string | undefined;
  private readonly enabled: EnabledUsdtProbe[] = [];

  /**
   * `{ pid }`: the probes of every binary the process has mapped (its
   * executable and libraries), traced in that process only. `{ path }`: the
   * probes of one binary (a path, a library name such as "c", or an
   * executable in $PATH), traced in every process running it. Both: that
   * binary, in that process.
   * @throws BpfError when the process does not exist; AttachError when the binary cannot be found.
   */
  constructor(opts: { pid: number; path?: string } | { pid?: number; path: string }) {
    if (opts.pid === undefined && opts.path === undefined) throw new BpfError("USDT needs a pid or a path");
    if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid <= 0))
      throw new BpfError(`USDT: pid must be a positive integer (got ${opts.pid})`);
    this.pid = opts.pid;
    if (this.pid !== undefined) {
      try {
        readProcMaps(this.pid);
      } catch (err) {
        throw new BpfError(
          `USDT: cannot read the mappings of process ${this.pid}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    this.path = opts.path === undefined ? undefined : resolveBinary(opts.path, this.pid);
  }

  /** The binaries whose probes this context sees. */
  private binaries(): string[] {
    if (this.path !== undefined) return [this.path];
    const pid = this.pid as number;
    const seen = new Set<string>();
    for (const m of readProcMaps(pid)) {
      if (!m.exec || !m.path.startsWith("/") || m.deleted) continue;
      seen.add(m.path);
    }
    // The same file from here: through the process's root.
    return [...seen].map((p) => resolveBinaryQuiet(p, pid)).filter((p): p is string => p !== undefined);
  }

  /** Notes of every binary, grouped by binary. */
  private notes(): Array<{ path: string; notes: UsdtNote[] }> {
    const out: Array<{ path: string; notes: UsdtNote[] }> = [];
    for (const path of this.binaries()) {
      let notes: UsdtNote[];
      try {
        notes = elfFile(path).usdt;
      } catch (err) {
        if (this.path !== undefined) throw new AttachError(`USDT probes of ${path}`, (err as Error).message);
        continue;
      }
      if (notes.length > 0) out.push({ path, notes });
    }
    return out;
  }

  /** Every USDT probe of the binaries, one entry per probe and binary (bcc's enumerate_probes). */
  enumerateProbes(): UsdtProbe[] {
    const out: UsdtProbe[] = [];
    for (const { path, notes } of this.notes()) {
      const byName = new Map<string, UsdtProbe>();
      for (const n of notes) {
        const key = `${n.provider}:${n.name}`;
        const hit = byName.get(key);
        if (hit) {
          hit.locations++;
          continue;
        }
        const args = argsOf(n);
        byName.set(key, {
          provider: n.provider,
          name: n.name,
          shortName: key,
          path,
          semaphore: n.semaphoreAddress,
          semaphoreOffset: n.semaphoreOffset,
          locations: 1,
          numArguments: args.length,
          args,
        });
      }
      out.push(...byName.values());
    }
    return out;
  }

  /**
   * Runs BPF function fnName at probe `probe` ("provider:name", or a bare
   * name when only one provider has it) once the context is passed to
   * BPF.load. A probe present in several binaries (an executable and a
   * library of the process) is attached in each.
   * @throws AttachError naming the closest probes when there is no such probe, or when a bare name is ambiguous.
   */
  enableProbe(opts: { probe: string; fnName: string; cookie?: number | bigint }): void {
    const { provider, name } = splitProbe(opts.probe);
    const probes = this.enumerateProbes();
    const matches = probes.filter(
      (p) => p.name === name && (provider === undefined || p.provider === provider),
    );
    const where = this.path ?? `process ${this.pid}`;
    if (matches.length === 0) {
      const all = [...new Set(probes.map((p) => `${p.provider}:${p.name}`))];
      const close = closestNames(provider === undefined ? name : `${provider}:${name}`, all, 3);
      throw new AttachError(
        `USDT probe ${opts.probe}`,
        `no such probe in ${where}`,
        all.length === 0
          ? "it has no USDT probes (no .note.stapsdt section)"
          : close.length
            ? `did you mean ${close.join(", ")}?`
            : `its probes are ${all.slice(0, 10).join(", ")}${all.length > 10 ? ", …" : ""}`,
      );
    }
    const providers = [...new Set(matches.map((p) => p.provider))];
    if (providers.length > 1) {
      throw new AttachError(
        `USDT probe ${opts.probe}`,
        `probe ${name} is ambiguous in ${where}`,
        `name the provider: ${providers.map((p) => `${p}:${name}`).join(" or ")}`,
      );
    }
    this.enabled.push({
      provider: providers[0] as string,
      name,
      fnName: opts.fnName,
      paths: [...new Set(matches.map((p) => p.path))],
      cookie: opts.cookie,
    });
  }

  /**
   * bcc's enable_probe_or_bail: {@link enableProbe}, or, when the probe is
   * not there, the reason on stderr and exit status 1 (for tools whose
   * target runtime may lack its probes).
   */
  enableProbeOrBail(opts: { probe: string; fnName: string; cookie?: number | bigint }): void {
    try {
      this.enableProbe(opts);
    } catch (err) {
      if (!(err instanceof AttachError)) throw err;
      process.stderr.write(
        `Error attaching USDT probes: ${err.message}. The process may not run the runtime that has this probe, ` +
          "or the runtime was built without USDT probes (look for a configure flag such as --enable-dtrace or " +
          "--with-dtrace); USDT.enumerateProbes() lists the probes it has.\n",
      );
      process.exit(1);
    }
  }

  /**
   * The C type of argument `index` (from 0) of a probe, from its locations'
   * sizes, the largest over all its sites, as bcc's get_probe_arg_ctype says
   * it: "int32_t" for "-4@%eax", "uint64_t" for "8@%rdi".
   * @throws AttachError when there is no such probe or argument.
   */
  getProbeArgCtype(probe: string, index: number): string {
    const sites = this.sitesOf(probe);
    let best: { size: number; signed: boolean } | undefined;
    for (const n of sites) {
      const arg = argsOf(n)[index];
      if (arg === undefined) continue;
      const a = sizedArgument(arg);
      if (best === undefined || a.size > best.size) best = a;
    }
    if (best === undefined)
      throw new AttachError(
        `USDT probe ${probe}`,
        sites.length === 0 ? "no such probe" : `it has no argument ${index} (arguments count from 0)`,
      );
    return `${best.signed ? "int" : "uint"}${best.size * 8}_t`;
  }

  /** The notes of every site of a probe ("provider:name" or a bare name) in the binaries. */
  private sitesOf(probe: string): UsdtNote[] {
    const { provider, name } = splitProbe(probe);
    return this.notes().flatMap(({ notes }) =>
      notes.filter((n) => n.name === name && (provider === undefined || n.provider === provider)),
    );
  }

  /**
   * The sites of a probe ("provider:name" or a bare name), each with its
   * address and parsed arguments (bcc's USDTProbe.get_location and
   * get_argument).
   * @throws AttachError when there is no such probe.
   */
  probeLocations(probe: string): UsdtLocation[] {
    const sites = this.sitesOf(probe);
    if (sites.length === 0) throw new AttachError(`USDT probe ${probe}`, "no such probe");
    return sites.map((n) => ({
      address: n.address,
      args: argsOf(n).map((a) => parseUsdtArgument(a) ?? { spec: a, size: 8, signed: false, deref: false }),
    }));
  }

  /**
   * Every site the enabled probes attach to (bcc's enumerate_active_probes):
   * the binary, the BPF function, the site's address and the process traced
   * (-1: every process running the binary).
   */
  activeProbes(): Array<{ binary: string; fnName: string; address: bigint; pid: number }> {
    const notesOf = new Map(this.notes().map((x) => [x.path, x.notes]));
    return this.enabled.flatMap((p) =>
      p.paths.flatMap((binary) =>
        (notesOf.get(binary) ?? [])
          .filter((n) => n.provider === p.provider && n.name === p.name)
          .map((n) => ({ binary, fnName: p.fnName, address: n.address, pid: this.pid ?? -1 })),
      ),
    );
  }

  /** The probes enabled so far, in order. */
  enabledProbes(): readonly EnabledUsdtProbe[] {
    return this.enabled;
  }
}

function resolveBinaryQuiet(path: string, pid: number): string | undefined {
  try {
    return resolveBinary(path, pid);
  } catch {
    return undefined;
  }
}

/** The AttachError for a failed USDT attach, with libbpf's explanation. */
export function usdtAttachError(
  probe: EnabledUsdtProbe,
  path: string,
  pid: number | undefined,
  cause: unknown,
): AttachError {
  const errno = isNativeError(cause) ? cause.errno : undefined;
  const log = isNativeError(cause) ? cause.libbpfLog : "";
  const why = /usdt: [^\n]*/.exec(log)?.[0];
  let hint: string | undefined;
  if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP)
    hint =
      "the kernel lacks USDT semaphore counting (Linux 4.20+) or BPF cookies (Linux 5.15+; or give a pid)";
  return new AttachError(
    `USDT probe ${probe.provider}:${probe.name} in ${path}${pid !== undefined ? ` (pid ${pid})` : ""}`,
    why ?? (cause as Error).message,
    hint,
    { errno, cause },
  );
}

/**
 * Attaches every enabled probe of the contexts: their functions load
 * together into one object (ProgramLoader.loadGroup), sharing the BPF
 * object's maps, which the loader closes after every link (each probe
 * returns its spec ids to the object's USDT manager as it closes).
 */
export function attachUsdtContexts(
  ctx: AttachContext,
  contexts: readonly USDT[],
  opts: { ignorePid?: boolean } = {},
): Link[] {
  const probes = contexts.flatMap((u) => u.enabledProbes().map((p) => ({ u, p })));
  if (probes.length === 0) return [];
  if (uprobeSupport() === "no") throw uprobeNotSupported(false);
  const fnNames = [...new Set(probes.map(({ p }) => p.fnName))];
  // One object for all of them, owned by the loader (closed after every link).
  const obj = ctx.loader.loadGroup(fnNames, ProgType.KPROBE);
  const links: Link[] = [];
  try {
    for (const { u, p } of probes) {
      // bcc's attach_usdt_ignore_pid: the probes of a process's binaries, in every process running them.
      const pid = opts.ignorePid ? -1 : (u.pid ?? -1);
      for (const path of p.paths) {
        try {
          const link = native().attachUsdt(obj, p.fnName, {
            pid,
            path,
            provider: p.provider,
            name: p.name,
            cookie: p.cookie ?? 0,
          });
          links.push(nativeLink("usdt", `usdt:${p.provider}:${p.name}:${path}:${pid}`, p.fnName, link));
        } catch (err) {
          throw attachFailure(err, path, (e) => usdtAttachError(p, path, u.pid, e));
        }
      }
    }
  } catch (err) {
    for (let k = links.length - 1; k >= 0; k--) (links[k] as Link).close();
    throw err;
  }
  return links;
}

/** The clang flags a program with USDT probes needs (usdt.bpf.h in tsbpf/prelude.h). */
export function usdtCflags(text: string, contexts: readonly USDT[]): string[] {
  const used = contexts.some((u) => u.enabledProbes().length > 0) || /\bbpf_usdt_\w+\s*\(/.test(text);
  return used ? ["-D__TSBPF_USDT=1"] : [];
}
