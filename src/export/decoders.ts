// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Label decoders for BPF map keys, with the config semantics of
 * cloudflare/ebpf_exporter, so that its YAML `labels:` sections work as they are.
 *
 * A map key is cut into labels in order: each label takes `size` bytes, then
 * `padding` bytes are skipped (struct holes); the sizes and paddings must add
 * up to the key's size exactly. Each label runs a chain of decoders: the
 * first gets the label's raw bytes, each next one gets the previous one's
 * output, and the last output (as UTF-8, invalid bytes replaced) is the label
 * value. A decoder may answer {@link SKIP}: the whole label set (the key) is
 * then left out of the metric, e.g. `regexp` when no expression matches.
 *
 * Decoders (as ebpf_exporter's; what each reads and writes):
 * - `uint`: 1, 2, 4 or 8 raw bytes, host byte order → decimal.
 * - `string`: bytes up to the first NUL (a C string).
 * - `hex`: bytes → lowercase hex.
 * - `static_map`: its input looked up in `static_map`; an unknown value gives
 *   "unknown:<value>", or the value itself with `allow_unknown: true`.
 * - `regexp`: passes its input on when one of `regexps` matches it (anywhere,
 *   as Go's MatchString), else skips the label set.
 * - `ksym`: an 8-byte kernel address → the name of the symbol that starts
 *   exactly there, else "unknown_addr:0x<hex>".
 * - `kstack`: an array of 8-byte kernel addresses (bpf_get_stack's output),
 *   ending at the first 0 → the functions containing them, one a line, "??"
 *   for an address no symbol covers.
 * - `syscall`: a decimal number (after `uint`) → this machine's system call
 *   name, else "unknown_syscall:<n>".
 * - `errno`: a decimal number (after `uint`) → "EPERM"-style name, else "unknown:<n>".
 * - `majorminor`: a u32 device number in the userspace encoding (the kernel's
 *   new_encode_dev(): minor's low 8 bits, then 12 bits of major, then the
 *   rest of minor; ebpf_exporter's programs build it with such an MKDEV) →
 *   the device's name from /proc/partitions ("sda"), else "unknown:<major>:<minor>".
 * - `inet_ip`: 4 or 16 bytes → IPv4 or IPv6 text as Go prints it (an
 *   IPv4-mapped IPv6 address as plain IPv4).
 * - `cgroup`: a decimal cgroup id (after `uint`; the inode number of a cgroup
 *   v2 directory) → that directory's path, e.g. "/sys/fs/cgroup/system.slice",
 *   else "unknown_cgroup_id:<id>".
 * - `dname`: a DNS name in wire format (length-prefixed labels) → "example.com".
 * - `ifname`: a u32 interface index → its name ("eth0"), else "unknown:<index>".
 *
 * Not provided: the `pci_*` decoders (they need the pci.ids database), and
 * ebpf_exporter's separate skip cache (skips are cached with the other results).
 *
 * Results are cached per metric by the key's raw bytes (a bounded LRU), since
 * some decoders (ksym, cgroup) are costly. Config mistakes are found by
 * {@link LabelDecoder.validate} when the config loads, not at scrape time.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { endianness } from "node:os";
import { errnoName } from "../kernel/constants.js";
import { ConfigError } from "../kernel/errors.js";
import { kallsymsLookup, refreshKallsyms } from "../kernel/kallsyms.js";
import { mounts } from "../kernel/mounts.js";
import { syscallTable } from "../kernel/syscalls.js";

/** One decoder of a label's chain: ebpf_exporter's `config.Decoder`, field for field. */
export interface DecoderSpec {
  /** Which decoder: "uint", "string", "static_map", … ({@link DECODER_NAMES}). */
  name: string;
  /** `static_map`: input → label value. YAML may give numbers or booleans as values; they count as their text. */
  static_map?: Record<string, string | number | boolean>;
  /** `regexp`: the label set is kept when one of these matches (Go RE2 syntax; see {@link compileRegexp}). */
  regexps?: string[];
  /** `static_map`: pass an unmapped input on as it is, instead of "unknown:<input>". */
  allow_unknown?: boolean;
}

/** One label of a metric: ebpf_exporter's `config.Label`. */
export interface LabelSpec {
  /** The Prometheus label name. */
  name: string;
  /** Bytes of the key the label takes. */
  size: number;
  /** Bytes skipped after it (struct padding). */
  padding?: number;
  /** The decoder chain, first to last. */
  decoders: DecoderSpec[];
}

/** A decoder's answer meaning "leave this label set (key) out of the metric". */
export const SKIP: unique symbol = Symbol("tsbpf.export.skipLabelSet");

/** A value passed along a chain: bytes, or text once a decoder has made some. */
type Value = Uint8Array | string;

/**
 * What a decoder reads: the label's raw bytes (so it must come first, or
 * after decoders that pass their input on), a decimal number as text (after
 * `uint`), or anything.
 */
type InputKind = "raw" | "number" | "any";
/** What it writes: text, bytes of no fixed size, or its input unchanged. */
type OutputKind = "text" | "bytes" | "same";

/** A runtime decode failure, turned into a ConfigError naming the metric and label. */
class DecodeProblem extends Error {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(problem);
  }
}

interface DecoderDef {
  input: InputKind;
  output: OutputKind;
  /** For raw input: what is wrong with a label of this size, if anything. */
  checkSize?: (size: number) => string | undefined;
  /** The decoder-specific fields it reads (others are reported as unknown). */
  fields?: ReadonlyArray<keyof DecoderSpec>;
  decode(input: Value, spec: DecoderSpec, r: Resolvers): Value | typeof SKIP;
}

const LITTLE_ENDIAN = endianness() === "LE";

function toBytes(v: Value): Uint8Array {
  return typeof v === "string" ? Buffer.from(v, "utf8") : v;
}

/** Bytes as UTF-8 text, invalid sequences replaced by U+FFFD (Prometheus label values must be UTF-8). */
function toText(v: Value): string {
  return typeof v === "string" ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8");
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readUint(b: Uint8Array): bigint | number {
  const dv = view(b);
  switch (b.length) {
    case 1:
      return dv.getUint8(0);
    case 2:
      return dv.getUint16(0, LITTLE_ENDIAN);
    case 4:
      return dv.getUint32(0, LITTLE_ENDIAN);
    case 8:
      return dv.getBigUint64(0, LITTLE_ENDIAN);
    default:
      throw new DecodeProblem(
        `uint reads 1, 2, 4 or 8 bytes, but got ${b.length}`,
        "give the label the size of its integer field",
      );
  }
}

function rawBytes(v: Value, name: string, min: number): Uint8Array {
  if (typeof v === "string" || v.length < min)
    throw new DecodeProblem(
      `${name} reads ${min} raw bytes, but got ${typeof v === "string" ? `the text '${v}'` : `${v.length} bytes`}`,
      `put ${name} first in the chain, on a label of at least ${min} bytes`,
    );
  return v;
}

/** A decimal number written by an earlier decoder (ebpf_exporter parses the text, so uint comes first). */
function decimal(v: Value, name: string): bigint {
  const text = toText(v);
  if (!/^\d+$/.test(text))
    throw new DecodeProblem(
      `${name} expects a decimal number, got '${text}'`,
      `put {name: uint} before ${name}`,
    );
  return BigInt(text);
}

function sizeIn(allowed: number[], what: string): (size: number) => string | undefined {
  return (size) =>
    allowed.includes(size) ? undefined : `${what} is ${allowed.join(", ")} bytes, not ${size}`;
}

// ---------------------------------------------------------------------------
// Resolvers: machine state some decoders look things up in, refreshed on a miss.

/** A small LRU map: Map keeps insertion order, so the first key is the least recently used. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * Kernel symbols, re-reading /proc/kallsyms when an address is not found
 * (a module or BPF program loaded since), at most every REFRESH_MS: a read
 * costs tens of milliseconds.
 */
class KernelSymbols {
  private static readonly REFRESH_MS = 10_000;
  private lastRefresh = 0;

  private refreshOnce(): boolean {
    const now = Date.now();
    if (now - this.lastRefresh < KernelSymbols.REFRESH_MS) return false;
    this.lastRefresh = now;
    refreshKallsyms();
    return true;
  }

  /** The symbol starting exactly at addr (ebpf_exporter's ksym), or undefined. */
  exact(addr: bigint): string | undefined {
    const find = () => {
      const s = kallsymsLookup(addr);
      return s && s.offset === 0n ? s.name : undefined;
    };
    return find() ?? (this.refreshOnce() ? find() : undefined);
  }

  /** The function containing each address, undefined where none does. */
  containing(addrs: bigint[]): Array<string | undefined> {
    const find = () => addrs.map((a) => kallsymsLookup(a)?.name);
    const names = find();
    return names.includes(undefined) && this.refreshOnce() ? find() : names;
  }
}

/** Where cgroup v2 is mounted: /sys/fs/cgroup on unified systems, /sys/fs/cgroup/unified on hybrid ones. */
export function cgroup2Root(): string {
  const v2 = mounts().filter((m) => m.type === "cgroup2");
  return (v2.find((m) => m.dir === "/sys/fs/cgroup") ?? v2[0])?.dir ?? "/sys/fs/cgroup";
}

/**
 * cgroup id → path. A cgroup v2 id is its directory's inode number, so a
 * walk of the cgroup2 mount maps them all. An unknown id walks again (the
 * cgroup may be new); an id still unknown after that is remembered as such,
 * so it does not walk again (kernfs ids are not reused). Both caches are bounded.
 */
class CgroupPaths {
  private readonly paths = new Lru<string, string>(65_536);
  private readonly unknown = new Lru<string, true>(4096);
  private root: string | undefined;

  constructor(root?: string) {
    this.root = root;
  }

  resolve(id: string): string | undefined {
    const hit = this.paths.get(id);
    if (hit !== undefined || this.unknown.get(id)) return hit;
    this.walk();
    const path = this.paths.get(id);
    if (path === undefined) this.unknown.set(id, true);
    return path;
  }

  private walk(): void {
    this.root ??= cgroup2Root();
    const pending = [this.root];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      try {
        this.paths.set(statSync(dir, { bigint: true }).ino.toString(), dir);
        for (const e of readdirSync(dir, { withFileTypes: true }))
          if (e.isDirectory()) pending.push(dir === "/" ? `/${e.name}` : `${dir}/${e.name}`);
      } catch {
        // cgroups come and go while we walk
      }
    }
  }
}

/** Interface index → name, from /sys/class/net/<name>/ifindex, read again on a miss. */
class InterfaceNames {
  private names = new Map<number, string>();

  resolve(index: number): string | undefined {
    const hit = this.names.get(index);
    if (hit !== undefined) return hit;
    this.names = new Map();
    let entries: string[] = [];
    try {
      entries = readdirSync("/sys/class/net");
    } catch {}
    for (const name of entries) {
      try {
        this.names.set(Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim()), name);
      } catch {}
    }
    return this.names.get(index);
  }
}

/** "major:minor" → block device name, from /proc/partitions, read again on a miss. */
class BlockDevices {
  private names = new Map<string, string>();

  resolve(major: number, minor: number): string | undefined {
    const key = `${major}:${minor}`;
    const hit = this.names.get(key);
    if (hit !== undefined) return hit;
    this.names = new Map();
    let text = "";
    try {
      text = readFileSync("/proc/partitions", "utf8");
    } catch {}
    for (const line of text.split("\n")) {
      // "major minor  #blocks  name"
      const f = line.trim().split(/\s+/);
      if (f.length === 4 && /^\d+$/.test(f[0] as string)) this.names.set(`${f[0]}:${f[1]}`, f[3] as string);
    }
    return this.names.get(key);
  }
}

interface Resolvers {
  symbols: KernelSymbols;
  cgroups: CgroupPaths;
  interfaces: InterfaceNames;
  devices: BlockDevices;
  regexps: Map<string, RegExp>;
}

// ---------------------------------------------------------------------------
// Regular expressions: ebpf_exporter's are Go's (RE2).

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

/**
 * A Go (RE2) regular expression as a JavaScript RegExp. The two agree on
 * the common syntax; this also takes RE2's leading flag group ("(?i)", "(?s)",
 * "(?m)"), `(?P<name>…)` groups and `[[:alpha:]]`-style classes. Throws a
 * SyntaxError for what JavaScript cannot express.
 */
export function compileRegexp(expr: string): RegExp {
  let flags = "";
  let body = expr;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1] as string) {
      if (!"ims".includes(f))
        throw new SyntaxError(`the flag '${f}' of (?${lead[1]}) has no JavaScript equivalent`);
      if (!flags.includes(f)) flags += f;
    }
    body = body.slice(lead[0].length);
  }
  body = body
    .replace(/\(\?P</g, "(?<")
    .replace(/\[:(\w+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
  return new RegExp(body, flags);
}

function regexpFor(expr: string, cache: Map<string, RegExp>): RegExp {
  let re = cache.get(expr);
  if (!re) {
    try {
      re = compileRegexp(expr);
    } catch (err) {
      throw new DecodeProblem(`invalid regexp '${expr}': ${(err as Error).message}`, "fix the expression");
    }
    cache.set(expr, re);
  }
  return re;
}

// ---------------------------------------------------------------------------
// Formatting

/** An IP address as Go's net.IP.String() writes it (ebpf_exporter's inet_ip). */
export function formatInetIp(b: Uint8Array): string {
  if (b.length === 0) return "<nil>";
  const isMapped4 =
    b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (b.length === 4 || isMapped4) return Array.from(b.subarray(b.length - 4)).join(".");
  if (b.length !== 16) return `?${Buffer.from(b).toString("hex")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // The longest run of two or more zero groups (the first of equal ones) becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * A DNS name in wire format ("\x07example\x03com") as text ("example.com").
 * The root label (a 0 length) ends the name; a length running past the end
 * gives the input back unchanged, as ebpf_exporter does.
 */
function decodeDname(b: Uint8Array): Value {
  if (b.length === 0) return ".";
  const labels: Uint8Array[] = [];
  for (let off = 0; off < b.length; ) {
    const n = b[off] as number;
    if (n === 0) break;
    if (off + 1 + n > b.length) return b;
    labels.push(b.subarray(off + 1, off + 1 + n));
    off += 1 + n;
  }
  if (labels.length === 0) return ".";
  const out: number[] = [];
  labels.forEach((l, i) => {
    if (i > 0) out.push(0x2e);
    out.push(...l);
  });
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------
// The decoders

const DECODERS: Record<string, DecoderDef> = {
  uint: {
    input: "raw",
    output: "text",
    checkSize: sizeIn([1, 2, 4, 8], "an integer"),
    decode: (v) => readUint(rawBytes(v, "uint", 1)).toString(),
  },
  string: {
    input: "any",
    output: "bytes",
    decode(v) {
      const b = toBytes(v);
      const nul = b.indexOf(0);
      return nul === -1 ? b : b.subarray(0, nul);
    },
  },
  hex: {
    input: "any",
    output: "text",
    decode: (v) => Buffer.from(toBytes(v)).toString("hex"),
  },
  static_map: {
    input: "any",
    output: "text",
    fields: ["static_map", "allow_unknown"],
    decode(v, spec) {
      if (!spec.static_map) return "empty mapping";
      const key = toText(v);
      if (Object.hasOwn(spec.static_map, key)) return String(spec.static_map[key]);
      return spec.allow_unknown ? v : `unknown:${key}`;
    },
  },
  regexp: {
    input: "any",
    output: "same",
    fields: ["regexps"],
    decode(v, spec, r) {
      if (!spec.regexps?.length)
        throw new DecodeProblem("the regexp decoder has no regexps", "list them: regexps: ['^bash$']");
      const text = toText(v);
      return spec.regexps.some((e) => regexpFor(e, r.regexps).test(text)) ? v : SKIP;
    },
  },
  ksym: {
    input: "raw",
    output: "text",
    checkSize: sizeIn([8], "a kernel address"),
    decode(v, _spec, r) {
      const addr = view(rawBytes(v, "ksym", 8)).getBigUint64(0, LITTLE_ENDIAN);
      return r.symbols.exact(addr) ?? `unknown_addr:0x${addr.toString(16)}`;
    },
  },
  kstack: {
    input: "raw",
    output: "text",
    checkSize: (size) =>
      size % 8 === 0 ? undefined : `a stack is 8-byte addresses, and ${size} is not a multiple of 8`,
    decode(v, _spec, r) {
      const b = rawBytes(v, "kstack", 0);
      if (b.length % 8 !== 0)
        throw new DecodeProblem(
          `kstack reads 8-byte addresses, but got ${b.length} bytes`,
          "give it a u64 array",
        );
      const dv = view(b);
      const addrs: bigint[] = [];
      for (let off = 0; off < b.length; off += 8) {
        const a = dv.getBigUint64(off, LITTLE_ENDIAN);
        if (a === 0n) break; // bpf_get_stack zero-fills after the last frame
        addrs.push(a);
      }
      return r.symbols
        .containing(addrs)
        .map((name) => name ?? "??")
        .join("\n");
    },
  },
  syscall: {
    input: "number",
    output: "text",
    decode(v) {
      const nr = decimal(v, "syscall");
      return syscallTable().get(Number(nr)) ?? `unknown_syscall:${nr}`;
    },
  },
  errno: {
    input: "number",
    output: "text",
    decode(v) {
      const n = decimal(v, "errno");
      return (n <= 0xffffffffn && errnoName(Number(n))) || `unknown:${n}`;
    },
  },
  majorminor: {
    input: "raw",
    output: "text",
    checkSize: (size) => (size >= 4 ? undefined : `a device number is 4 bytes, not ${size}`),
    decode(v, _spec, r) {
      // The userspace encoding: minor's low 8 bits, 12 bits of major, minor's high bits.
      const dev = view(rawBytes(v, "majorminor", 4)).getUint32(0, LITTLE_ENDIAN);
      const major = (dev >>> 8) & 0xfff;
      const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
      return r.devices.resolve(major, minor) ?? `unknown:${major}:${minor}`;
    },
  },
  inet_ip: {
    input: "raw",
    output: "text",
    checkSize: sizeIn([4, 16], "an IP address"),
    decode: (v) => formatInetIp(rawBytes(v, "inet_ip", 0)),
  },
  cgroup: {
    input: "number",
    output: "text",
    decode(v, _spec, r) {
      const id = decimal(v, "cgroup").toString();
      return r.cgroups.resolve(id) ?? `unknown_cgroup_id:${id}`;
    },
  },
  dname: {
    input: "any",
    output: "text",
    decode: (v) => decodeDname(toBytes(v)),
  },
  ifname: {
    input: "raw",
    output: "text",
    checkSize: (size) => (size >= 4 ? undefined : `an interface index is 4 bytes, not ${size}`),
    decode(v, _spec, r) {
      const index = view(rawBytes(v, "ifname", 4)).getUint32(0, LITTLE_ENDIAN);
      return r.interfaces.resolve(index) ?? `unknown:${index}`;
    },
  },
};

/** The decoder names this module provides, sorted. */
export const DECODER_NAMES: readonly string[] = Object.keys(DECODERS).sort();

const DECODER_FIELDS: ReadonlyArray<keyof DecoderSpec> = ["name", "static_map", "regexps", "allow_unknown"];

// ---------------------------------------------------------------------------
// Validation helpers

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur.push(
        Math.min(
          (prev[j] as number) + 1,
          (cur[j - 1] as number) + 1,
          (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
        ),
      );
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The candidate closest to name, when it is close enough to be a likely typo. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function unknownDecoderFix(name: string): string {
  const near = closest(name, DECODER_NAMES);
  return `${near ? `did you mean '${near}'? ` : ""}the decoders are ${DECODER_NAMES.join(", ")}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What a chain has made so far, to check that each decoder gets what it reads. */
type ChainState = { kind: "raw"; size: number } | { kind: "bytes" | "text"; after: string };

function checkDecoderFields(d: Record<string, unknown>, at: string, file: string): void {
  const def = DECODERS[d.name as string] as DecoderDef;
  for (const key of Object.keys(d)) {
    if (key === "name" || def.fields?.includes(key as keyof DecoderSpec)) continue;
    const near = closest(key, DECODER_FIELDS);
    const known = DECODER_FIELDS.includes(key as keyof DecoderSpec);
    throw new ConfigError(
      file,
      `${at}.${key}`,
      known ? `the ${d.name} decoder does not use '${key}'` : `unknown field '${key}'`,
      known || !near ? `remove it` : `did you mean '${near}'?`,
    );
  }
  if (d.name === "static_map") {
    if (!isMapping(d.static_map))
      throw new ConfigError(
        file,
        `${at}.static_map`,
        d.static_map === undefined
          ? "a static_map decoder without static_map"
          : "static_map is not a mapping",
        "give it the values to map, e.g. static_map: {0: read, 1: write}",
      );
    for (const [k, v] of Object.entries(d.static_map))
      if (!["string", "number", "boolean"].includes(typeof v))
        throw new ConfigError(
          file,
          `${at}.static_map.${k}`,
          "the mapped value is not a string",
          "map it to a string",
        );
  }
  if (d.allow_unknown !== undefined && typeof d.allow_unknown !== "boolean")
    throw new ConfigError(file, `${at}.allow_unknown`, "is not a boolean", "write true or false");
  if (d.name === "regexp") {
    if (!Array.isArray(d.regexps) || d.regexps.length === 0)
      throw new ConfigError(
        file,
        `${at}.regexps`,
        "a regexp decoder without regexps",
        "list the expressions a label value must match, e.g. regexps: ['^bash$']",
      );
    d.regexps.forEach((e, k) => {
      if (typeof e !== "string")
        throw new ConfigError(
          file,
          `${at}.regexps[${k}]`,
          "is not a string",
          "write the expression as a string",
        );
      try {
        compileRegexp(e);
      } catch (err) {
        throw new ConfigError(
          file,
          `${at}.regexps[${k}]`,
          `invalid regexp '${e}': ${(err as Error).message}`,
          "fix the expression (Go RE2 syntax)",
        );
      }
    });
  }
}

/** Checks that the decoder gets the input it reads; returns what the chain has after it. */
function checkDecoderInput(name: string, state: ChainState, at: string, file: string): ChainState {
  const def = DECODERS[name] as DecoderDef;
  if (def.input === "raw") {
    if (state.kind !== "raw")
      throw new ConfigError(
        file,
        `${at}.name`,
        `${name} reads the label's raw bytes, but comes after ${state.after}`,
        `move ${name} to the start of the chain`,
      );
    const problem = def.checkSize?.(state.size);
    if (problem)
      throw new ConfigError(
        file,
        `${at}.name`,
        `${name} cannot decode this label: ${problem}`,
        "fix the label's size",
      );
  }
  if (def.input === "number" && state.kind === "raw")
    throw new ConfigError(
      file,
      `${at}.name`,
      `${name} reads a number as text, but is first in the chain and would get the label's raw bytes`,
      `put {name: uint} before ${name}`,
    );
  if (def.output === "same") return state;
  return { kind: def.output, after: name };
}

// ---------------------------------------------------------------------------

/** Options of {@link LabelDecoder}. */
export interface LabelDecoderOptions {
  /** Results cached per metric, by raw key (LRU). Default 10000; 0 turns the cache off. */
  cacheSize?: number;
  /** Where cgroup v2 is mounted, for `cgroup`. Default: found in /proc/self/mountinfo. */
  cgroupRoot?: string;
}

/** Decodes map keys into label values, caching results per metric. */
export class LabelDecoder {
  private readonly cacheSize: number;
  private readonly caches = new Map<string, Lru<string, string[] | typeof SKIP>>();
  private readonly resolvers: Resolvers;

  constructor(opts: LabelDecoderOptions = {}) {
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.resolvers = {
      symbols: new KernelSymbols(),
      cgroups: new CgroupPaths(opts.cgroupRoot),
      interfaces: new InterfaceNames(),
      devices: new BlockDevices(),
      regexps: new Map(),
    };
  }

  /**
   * The label values of one key of `metric`, or SKIP when a decoder drops the
   * label set. Results (SKIP included) are cached by the key's bytes per
   * metric name: one metric name must always come with the same labels.
   * Throws a ConfigError (file: the metric) when the labels do not cover the
   * key exactly or a decoder cannot read its input.
   */
  decodeLabels(metric: string, key: Uint8Array, labels: LabelSpec[]): string[] | typeof SKIP {
    const raw = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
    const cache = this.caches.get(metric);
    const hit = cache?.get(raw);
    if (hit !== undefined) return hit === SKIP ? SKIP : hit.slice();
    const result = this.decodeLabelsUncached(metric, key, labels);
    if (this.cacheSize > 0) {
      let c = cache;
      if (!c) {
        c = new Lru(this.cacheSize);
        this.caches.set(metric, c);
      }
      c.set(raw, result);
    }
    return result === SKIP ? SKIP : result.slice();
  }

  /** {@link decodeLabels} without the cache (for events, which rarely repeat). */
  decodeLabelsUncached(metric: string, key: Uint8Array, labels: LabelSpec[]): string[] | typeof SKIP {
    checkKeySize(metric, key.length, labels);
    const values: string[] = [];
    let off = 0;
    for (const [i, label] of labels.entries()) {
      const value = this.runChain(metric, i, label, key.subarray(off, off + label.size));
      if (value === SKIP) return SKIP;
      values.push(value);
      off += label.size + (label.padding ?? 0);
    }
    return values;
  }

  /** How many results are cached for a metric. */
  cachedCount(metric: string): number {
    return this.caches.get(metric)?.size ?? 0;
  }

  /** Drops cached results: one metric's, or all. */
  clearCache(metric?: string): void {
    if (metric === undefined) this.caches.clear();
    else this.caches.delete(metric);
  }

  private runChain(metric: string, i: number, label: LabelSpec, bytes: Uint8Array): string | typeof SKIP {
    let value: Value = bytes;
    for (const [j, spec] of label.decoders.entries()) {
      const def = DECODERS[spec.name];
      if (!def)
        throw new ConfigError(
          metric,
          `labels[${i}].decoders[${j}].name`,
          `unknown decoder '${spec.name}'`,
          unknownDecoderFix(spec.name),
        );
      let out: Value | typeof SKIP;
      try {
        out = def.decode(value, spec, this.resolvers);
      } catch (err) {
        if (!(err instanceof DecodeProblem)) throw err;
        throw new ConfigError(
          metric,
          `labels[${i}].decoders[${j}]`,
          `label '${label.name}': ${err.problem}`,
          err.fix,
        );
      }
      if (out === SKIP) return SKIP;
      value = out;
    }
    return toText(value);
  }

  /**
   * Checks a label list as a config loader should, before any key is decoded.
   * `where.field` is the path of the list itself ("metrics.counters[0].labels");
   * errors name the exact field below it ("….labels[1].decoders[0].name") and
   * the fix. With `opts.keySize` (the map's key size) the labels must cover it
   * exactly.
   */
  static validate(
    labels: LabelSpec[],
    where: { file: string; field: string },
    opts: { keySize?: number } = {},
  ): void {
    const { file, field } = where;
    if (!Array.isArray(labels)) throw new ConfigError(file, field, "is not a list", "list the labels");
    const seen = new Map<string, number>();
    labels.forEach((label, i) => {
      const at = `${field}[${i}]`;
      if (!isMapping(label))
        throw new ConfigError(file, at, "is not a mapping", "give the label a name, size and decoders");
      validateLabelName(label.name, seen, i, at, file);
      if (label.size === undefined || label.size === 0)
        throw new ConfigError(
          file,
          `${at}.size`,
          "size is missing or zero",
          "give the label's size in bytes of the key",
        );
      if (!Number.isInteger(label.size) || label.size < 0)
        throw new ConfigError(
          file,
          `${at}.size`,
          `size ${label.size} is not a number of bytes`,
          "give a whole number > 0",
        );
      if (label.padding !== undefined && (!Number.isInteger(label.padding) || label.padding < 0))
        throw new ConfigError(
          file,
          `${at}.padding`,
          `padding ${label.padding} is not a number of bytes`,
          "give a whole number ≥ 0",
        );
      if (!Array.isArray(label.decoders) || label.decoders.length === 0)
        throw new ConfigError(
          file,
          `${at}.decoders`,
          "no decoders",
          "give the label a decoder chain, e.g. decoders: [{name: uint}]",
        );
      let state: ChainState = { kind: "raw", size: label.size };
      label.decoders.forEach((d, j) => {
        const dAt = `${at}.decoders[${j}]`;
        if (!isMapping(d) || typeof d.name !== "string")
          throw new ConfigError(
            file,
            `${dAt}.name`,
            "a decoder without a name",
            `name one of ${DECODER_NAMES.join(", ")}`,
          );
        if (!DECODERS[d.name]) {
          const pci = d.name.startsWith("pci_");
          throw new ConfigError(
            file,
            `${dAt}.name`,
            pci ? `tsbpf does not provide the ${d.name} decoder` : `unknown decoder '${d.name}'`,
            pci ? "label the raw id with uint or hex" : unknownDecoderFix(d.name),
          );
        }
        checkDecoderFields(d as unknown as Record<string, unknown>, dAt, file);
        state = checkDecoderInput(d.name, state, dAt, file);
      });
    });
    if (opts.keySize !== undefined) {
      const total = labels.reduce((s, l) => s + l.size + (l.padding ?? 0), 0);
      if (total !== opts.keySize)
        throw new ConfigError(
          file,
          field,
          `the labels take ${total} bytes (${sizeBreakdown(labels)}), but the map's keys are ${opts.keySize} bytes`,
          "make size + padding of the labels cover the key exactly (padding for the holes of a struct)",
        );
    }
  }
}

function validateLabelName(
  name: unknown,
  seen: Map<string, number>,
  i: number,
  at: string,
  file: string,
): void {
  if (typeof name !== "string" || !LABEL_NAME.test(name) || name.startsWith("__"))
    throw new ConfigError(
      file,
      `${at}.name`,
      `'${String(name)}' is not a Prometheus label name`,
      "use letters, digits and _ (not starting with a digit or __)",
    );
  const first = seen.get(name);
  if (first !== undefined)
    throw new ConfigError(
      file,
      `${at}.name`,
      `label '${name}' is already labels[${first}]`,
      "give each label its own name",
    );
  seen.set(name, i);
}

function sizeBreakdown(labels: LabelSpec[]): string {
  return (
    labels.map((l) => `${l.name}: ${l.size}${l.padding ? `+${l.padding}` : ""}`).join(", ") || "no labels"
  );
}

function checkKeySize(metric: string, keySize: number, labels: LabelSpec[]): void {
  let total = 0;
  for (const [i, l] of labels.entries()) {
    if (!(l.size > 0))
      throw new ConfigError(
        metric,
        `labels[${i}].size`,
        "size is missing or zero",
        "give the label's size in bytes of the key",
      );
    total += l.size + (l.padding ?? 0);
  }
  if (total !== keySize)
    throw new ConfigError(
      metric,
      "labels",
      `the key is ${keySize} bytes, but the labels take ${total} (${sizeBreakdown(labels)})`,
      "make size + padding of the labels cover the key exactly (padding for the holes of a struct)",
    );
}
