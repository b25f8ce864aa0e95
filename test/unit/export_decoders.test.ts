import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import {
  compileRegexp,
  DECODER_NAMES,
  type DecoderSpec,
  formatInetIp,
  LabelDecoder,
  type LabelSpec,
  SKIP,
} from "../../src/export/decoders.js";
import { ConfigError } from "../../src/kernel/errors.js";

// ---------------------------------------------------------------------------
// Key builders (host byte order is little-endian on every platform tsbpf runs on)

function u8(n: number): number[] {
  return [n & 0xff];
}
function u16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}
function u32(n: number): number[] {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return [...b];
}
function u64(n: bigint | number): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return [...b];
}
/** A char[size] holding s, NUL-padded. */
function cstr(s: string | number[], size: number): number[] {
  const bytes = typeof s === "string" ? [...Buffer.from(s, "utf8")] : s;
  assert.ok(bytes.length <= size);
  return [...bytes, ...new Array<number>(size - bytes.length).fill(0)];
}
function key(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}
function label(name: string, size: number, decoders: DecoderSpec[], padding?: number): LabelSpec {
  return padding === undefined ? { name, size, decoders } : { name, size, padding, decoders };
}

/** Decodes one label of `bytes.length` bytes through `decoders`. */
function decodeOne(
  decoders: DecoderSpec[],
  bytes: number[],
  dec = new LabelDecoder({ cacheSize: 0 }),
): string | typeof SKIP {
  const out = dec.decodeLabels("test_metric", key(bytes), [label("l", bytes.length, decoders)]);
  return out === SKIP ? SKIP : (out[0] as string);
}

/** The ConfigError `fn` throws, checked to name the field and carry the fix. */
function configError(fn: () => unknown, field: string, fix: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.field, field);
  assert.match(caught.fix, fix);
  assert.ok(caught.message.includes(field), caught.message);
  assert.ok(caught.message.includes(caught.fix), caught.message);
  return caught;
}

const WHERE = { file: "biolatency.yaml", field: "metrics.histograms[0].labels" };

function kallsymsAddress(name: string): bigint | undefined {
  const m = new RegExp(`^([0-9a-f]+) [Tt] ${name}$`, "m").exec(readFileSync("/proc/kallsyms", "latin1"));
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

function cgroup2Mount(): string | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep > 0 && f[sep + 1] === "cgroup2") return f[4];
  }
  return undefined;
}

// ---------------------------------------------------------------------------

describe("uint", () => {
  it("reads 1, 2, 4 and 8 bytes in host byte order", () => {
    assert.equal(decodeOne([{ name: "uint" }], u8(200)), "200");
    assert.equal(decodeOne([{ name: "uint" }], u16(0xbeef)), "48879");
    assert.equal(decodeOne([{ name: "uint" }], u32(0xdeadbeef)), "3735928559");
    assert.equal(decodeOne([{ name: "uint" }], u64(0xffffffffffffffffn)), "18446744073709551615");
    assert.equal(
      decodeOne([{ name: "uint" }], [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]),
      "578437695752307201",
    );
  });

  it("cuts a key into labels with padding, as ebpf_exporter's biolatency key", () => {
    // struct { u32 dev; u8 op; (3 bytes hole) u64 slot; }, the op label taking its byte + padding
    const labels = [
      label("device", 4, [{ name: "uint" }]),
      label("op", 1, [{ name: "uint" }], 3),
      label("bucket", 8, [{ name: "uint" }]),
    ];
    const k = key(u32(0x800), [1, 0xaa, 0xbb, 0xcc], u64(27));
    assert.deepEqual(new LabelDecoder().decodeLabels("bio_latency_seconds", k, labels), ["2048", "1", "27"]);
  });
});

describe("string", () => {
  it("stops at the first NUL", () => {
    assert.equal(decodeOne([{ name: "string" }], cstr("bash", 16)), "bash");
    assert.equal(decodeOne([{ name: "string" }], [...Buffer.from("abc"), 0, ...Buffer.from("junk")]), "abc");
  });

  it("takes the whole field when it has no NUL", () => {
    assert.equal(decodeOne([{ name: "string" }], [...Buffer.from("12345678")]), "12345678");
  });

  it("replaces invalid UTF-8 with U+FFFD, and keeps UTF-8 text", () => {
    assert.equal(decodeOne([{ name: "string" }], cstr([0x61, 0xff, 0x62], 8)), "a\ufffdb");
    assert.equal(decodeOne([{ name: "string" }], cstr("café", 8)), "café");
  });

  it("passes bytes on unchanged to the next decoder (string → hex)", () => {
    assert.equal(decodeOne([{ name: "string" }, { name: "hex" }], cstr([0x61, 0xff, 0x62], 8)), "61ff62");
  });
});

describe("hex", () => {
  it("writes lowercase hex of every byte", () => {
    assert.equal(decodeOne([{ name: "hex" }], [0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]), "deadbeef000a");
  });
});

describe("static_map", () => {
  const ops: DecoderSpec = { name: "static_map", static_map: { "0": "read", "1": "write", "2": "flush" } };

  it("maps uint's output (the uint → static_map chain)", () => {
    assert.equal(decodeOne([{ name: "uint" }, ops], u32(1)), "write");
    assert.equal(decodeOne([{ name: "uint" }, ops], u32(2)), "flush");
  });

  it("gives unknown:<value> for an unmapped value, the value itself with allow_unknown", () => {
    assert.equal(decodeOne([{ name: "uint" }, ops], u32(7)), "unknown:7");
    assert.equal(decodeOne([{ name: "uint" }, { ...ops, allow_unknown: true }], u32(7)), "7");
  });

  it("takes YAML numbers and booleans as mapped text", () => {
    assert.equal(decodeOne([{ name: "uint" }, { name: "static_map", static_map: { "3": 30 } }], u8(3)), "30");
  });

  it("does not map names of Object.prototype", () => {
    assert.equal(decodeOne([{ name: "string" }, ops], cstr("constructor", 16)), "unknown:constructor");
  });
});

describe("regexp", () => {
  const comm = (regexps: string[]): DecoderSpec[] => [{ name: "string" }, { name: "regexp", regexps }];

  it("keeps the label set when one expression matches (string → regexp)", () => {
    assert.equal(decodeOne(comm(["^sh$", "^bash$"]), cstr("bash", 16)), "bash");
    assert.equal(decodeOne(comm(["as"]), cstr("bash", 16)), "bash", "matches anywhere, as Go's MatchString");
  });

  it("skips the label set when none matches", () => {
    assert.equal(decodeOne(comm(["^sh$", "^bash$"]), cstr("zsh", 16)), SKIP);
  });

  it("skips the whole key, not only the label", () => {
    const labels = [label("pid", 4, [{ name: "uint" }]), label("comm", 16, comm(["^bash$"]))];
    const dec = new LabelDecoder();
    assert.deepEqual(dec.decodeLabels("m", key(u32(42), cstr("bash", 16)), labels), ["42", "bash"]);
    assert.equal(dec.decodeLabels("m", key(u32(42), cstr("zsh", 16)), labels), SKIP);
  });

  it("takes RE2 syntax: a leading flag group, (?P<name>…), [[:class:]]", () => {
    assert.equal(decodeOne(comm(["(?i)^BASH$"]), cstr("bash", 16)), "bash");
    assert.equal(decodeOne(comm(["^(?P<shell>ba)sh$"]), cstr("bash", 16)), "bash");
    assert.equal(decodeOne(comm(["^[[:alpha:]]+[[:digit:]]$"]), cstr("kworker0", 16)), "kworker0");
    assert.equal(decodeOne(comm(["^[[:alpha:]]+$"]), cstr("kworker0", 16)), SKIP);
    assert.throws(() => compileRegexp("(?U)a+"), SyntaxError);
  });
});

describe("ksym", () => {
  const vfsRead = kallsymsAddress("vfs_read");

  it("names the symbol starting at an address (bare name, as ebpf_exporter)", (t) => {
    if (vfsRead === undefined || vfsRead === 0n)
      return t.skip("vfs_read is not in /proc/kallsyms (or addresses are hidden)");
    assert.equal(decodeOne([{ name: "ksym" }], u64(vfsRead)), "vfs_read");
  });

  it("gives unknown_addr:0x<hex> for an address no symbol starts at", (t) => {
    if (vfsRead === undefined || vfsRead === 0n) return t.skip("vfs_read is not in /proc/kallsyms");
    assert.equal(
      decodeOne([{ name: "ksym" }], u64(vfsRead + 1n)),
      `unknown_addr:0x${(vfsRead + 1n).toString(16)}`,
    );
    assert.equal(decodeOne([{ name: "ksym" }], u64(1)), "unknown_addr:0x1");
  });
});

describe("kstack", () => {
  const vfsRead = kallsymsAddress("vfs_read");
  const vfsWrite = kallsymsAddress("vfs_write");

  it("names the function of each frame up to the first zero, one a line, ?? when unknown", (t) => {
    if (!vfsRead || !vfsWrite) return t.skip("vfs_read/vfs_write are not in /proc/kallsyms");
    const frames = [u64(vfsRead + 0x10n), u64(vfsWrite + 4n), u64(1), u64(0), u64(vfsRead)];
    assert.equal(decodeOne([{ name: "kstack" }], frames.flat()), "vfs_read\nvfs_write\n??");
  });

  it("gives an empty value for an empty stack", () => {
    assert.equal(decodeOne([{ name: "kstack" }], [...u64(0), ...u64(0)]), "");
  });
});

describe("syscall", () => {
  const execve: Record<string, number> = { x64: 59, arm64: 221, riscv64: 221 };

  it("names a system call number of this machine (uint → syscall)", (t) => {
    const nr = execve[process.arch];
    if (nr === undefined) return t.skip(`no known execve number for ${process.arch}`);
    assert.equal(decodeOne([{ name: "uint" }, { name: "syscall" }], u64(nr)), "execve");
    if (process.arch === "x64")
      assert.equal(decodeOne([{ name: "uint" }, { name: "syscall" }], u64(0)), "read");
  });

  it("gives unknown_syscall:<n> for a number the table lacks", () => {
    assert.equal(decodeOne([{ name: "uint" }, { name: "syscall" }], u64(99999)), "unknown_syscall:99999");
  });

  it("the tools' import path still works", async () => {
    const tools = await import("../../tools/lib/syscalls.js");
    const src = await import("../../src/kernel/syscalls.js");
    assert.equal(tools.syscallName, src.syscallName);
    assert.equal(tools.syscallName(99999), "[99999]");
  });
});

describe("errno", () => {
  it("names an errno (uint → errno)", () => {
    assert.equal(decodeOne([{ name: "uint" }, { name: "errno" }], u64(1)), "EPERM");
    assert.equal(decodeOne([{ name: "uint" }, { name: "errno" }], u32(2)), "ENOENT");
    assert.equal(decodeOne([{ name: "uint" }, { name: "errno" }], u8(98)), "EADDRINUSE");
  });

  it("gives unknown:<n> for a number with no name", () => {
    assert.equal(decodeOne([{ name: "uint" }, { name: "errno" }], u64(4095)), "unknown:4095");
    assert.equal(
      decodeOne([{ name: "uint" }, { name: "errno" }], u64(-1n & 0xffffffffffffffffn)),
      "unknown:18446744073709551615",
    );
  });
});

describe("majorminor", () => {
  /** The userspace dev_t encoding ebpf_exporter's programs write (their MKDEV). */
  const encode = (major: number, minor: number) => (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
  const partitions = readFileSync("/proc/partitions", "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && /^\d+$/.test(f[0] as string));

  it("names a block device of /proc/partitions", (t) => {
    const first = partitions[0];
    if (!first) return t.skip("/proc/partitions lists no device");
    const dev = encode(Number(first[0]), Number(first[1]));
    assert.equal(decodeOne([{ name: "majorminor" }], u32(dev)), first[3]);
  });

  it("gives unknown:<major>:<minor> for a device not listed, splitting the encoding right", () => {
    const listed = new Set(partitions.map((f) => `${f[0]}:${f[1]}`));
    assert.ok(!listed.has("136:16") && !listed.has("4000:70000"));
    assert.equal(decodeOne([{ name: "majorminor" }], [0x10, 0x88, 0x00, 0x00]), "unknown:136:16");
    assert.equal(decodeOne([{ name: "majorminor" }], u32(encode(4000, 70000))), "unknown:4000:70000");
  });
});

describe("inet_ip", () => {
  it("writes IPv4 and IPv6 addresses as Go does", () => {
    assert.equal(decodeOne([{ name: "inet_ip" }], [1, 2, 3, 4]), "1.2.3.4");
    const v6 = [0x24, 0x00, 0xcb, 0x00, 0x00, 0x04, 0x10, 0x24, 0, 0, 0, 0, 0xa2, 0x9e, 0xfd, 0x8f];
    assert.equal(decodeOne([{ name: "inet_ip" }], v6), "2400:cb00:4:1024::a29e:fd8f");
    assert.equal(decodeOne([{ name: "inet_ip" }], [...new Array(15).fill(0), 1]), "::1");
    assert.equal(decodeOne([{ name: "inet_ip" }], new Array(16).fill(0)), "::");
  });

  it("writes an IPv4-mapped address as IPv4, and only runs of two zero groups as ::", () => {
    assert.equal(
      formatInetIp(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1])),
      "10.0.0.1",
    );
    const oneZero = [0, 1, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7];
    assert.equal(formatInetIp(Uint8Array.from(oneZero)), "1:0:2:3:4:5:6:7");
    const twoRuns = [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    assert.equal(formatInetIp(Uint8Array.from(twoRuns)), "1:0:0:1::1");
    assert.equal(formatInetIp(Uint8Array.from([1, 2, 3])), "?010203");
  });
});

describe("cgroup", () => {
  const root = cgroup2Mount();

  it("resolves a cgroup id to the path of its cgroup v2 directory (uint → cgroup)", (t) => {
    if (!root) return t.skip("no cgroup2 mount on this machine");
    const dec = new LabelDecoder({ cacheSize: 0 });
    const ino = statSync(root, { bigint: true }).ino;
    assert.equal(decodeOne([{ name: "uint" }, { name: "cgroup" }], u64(ino), dec), root);
  });

  it("finds a cgroup made after the first walk (walks again on a miss)", (t) => {
    if (!root) return t.skip("no cgroup2 mount on this machine");
    const dec = new LabelDecoder({ cacheSize: 0 });
    decodeOne([{ name: "uint" }, { name: "cgroup" }], u64(statSync(root).ino), dec);
    const child = `${root}/tsbpf-decoders-test-${process.pid}`;
    try {
      mkdirSync(child);
    } catch (err) {
      return t.skip(`cannot make a cgroup here: ${(err as Error).message}`);
    }
    try {
      const ino = statSync(child, { bigint: true }).ino;
      assert.equal(decodeOne([{ name: "uint" }, { name: "cgroup" }], u64(ino), dec), child);
    } finally {
      rmdirSync(child);
    }
  });

  it("gives unknown_cgroup_id:<id> for an id no cgroup has", (t) => {
    if (!root) return t.skip("no cgroup2 mount on this machine");
    const id = 0x7fff_ffff_ffff_fff0n;
    assert.equal(decodeOne([{ name: "uint" }, { name: "cgroup" }], u64(id)), `unknown_cgroup_id:${id}`);
  });
});

describe("dname", () => {
  const dname = (bytes: number[] | string) =>
    decodeOne([{ name: "dname" }], typeof bytes === "string" ? [...Buffer.from(bytes, "latin1")] : bytes);

  it("decodes DNS wire-format names", () => {
    assert.equal(dname("\x03com"), "com");
    assert.equal(dname("\x07example\x03com"), "example.com");
    assert.equal(
      dname(cstr("\x03www\x07example\x03com", 24)),
      "www.example.com",
      "the root label ends the name",
    );
    assert.equal(dname([0, 0, 0, 0]), ".");
  });

  it("gives the input back when a length runs past the end", () => {
    assert.equal(dname("\x05com"), "\x05com");
  });

  it("decodes an empty name as the root", () => {
    assert.equal(
      decodeOne([{ name: "string" }, { name: "dname" }], u32(0)),
      ".",
      "a NUL-only string is the empty name",
    );
  });
});

describe("ifname", () => {
  it("names interface 1, the loopback", (t) => {
    if (!existsSync("/sys/class/net/lo/ifindex")) return t.skip("no /sys/class/net/lo");
    assert.equal(readFileSync("/sys/class/net/lo/ifindex", "utf8").trim(), "1");
    assert.equal(decodeOne([{ name: "ifname" }], u32(1)), "lo");
  });

  it("gives unknown:<index> for an index no interface has", () => {
    assert.equal(decodeOne([{ name: "ifname" }], u32(999999)), "unknown:999999");
  });
});

describe("LabelDecoder.decodeLabels", () => {
  it("throws a ConfigError naming both sizes when the labels do not cover the key", () => {
    const labels = [label("pid", 4, [{ name: "uint" }]), label("comm", 12, [{ name: "string" }])];
    const err = configError(
      () => new LabelDecoder().decodeLabels("execs_total", key(u32(1), cstr("sh", 8)), labels),
      "labels",
      /size \+ padding/,
    );
    assert.equal(err.file, "execs_total");
    assert.match(err.message, /the key is 12 bytes, but the labels take 16 \(pid: 4, comm: 12\)/);
  });

  it("throws a ConfigError naming the decoder when it cannot read its input", () => {
    const err = configError(
      () => new LabelDecoder().decodeLabels("m", key([1, 2, 3]), [label("x", 3, [{ name: "uint" }])]),
      "labels[0].decoders[0]",
      /size of its integer field/,
    );
    assert.match(err.message, /reads 1, 2, 4 or 8 bytes, but got 3/);
    configError(
      () => new LabelDecoder().decodeLabels("m", key(u32(1)), [label("x", 4, [{ name: "syscall" }])]),
      "labels[0].decoders[0]",
      /put \{name: uint\} before syscall/,
    );
    configError(
      () => new LabelDecoder().decodeLabels("m", key(u32(1)), [label("x", 4, [{ name: "nope" }])]),
      "labels[0].decoders[0].name",
      /the decoders are/,
    );
  });

  it("caches results per metric by key bytes", () => {
    const map: Record<string, string> = { "1": "one" };
    const labels = [label("n", 4, [{ name: "uint" }, { name: "static_map", static_map: map }])];
    const dec = new LabelDecoder();
    const first = dec.decodeLabels("a", key(u32(1)), labels);
    assert.deepEqual(first, ["one"]);
    map["1"] = "uno"; // a cached result does not run the chain again
    const second = dec.decodeLabels("a", key(u32(1)), labels);
    assert.deepEqual(second, ["one"]);
    assert.notEqual(first, second, "each call gets its own array");
    assert.deepEqual(dec.decodeLabels("b", key(u32(1)), labels), ["uno"], "another metric has its own cache");
    assert.equal(dec.cachedCount("a"), 1);
    dec.clearCache("a");
    assert.deepEqual(dec.decodeLabels("a", key(u32(1)), labels), ["uno"]);
  });

  it("caches skips, and evicts the least recently used key", () => {
    const re: DecoderSpec = { name: "regexp", regexps: ["^1$"] };
    const labels = [label("n", 4, [{ name: "uint" }, re])];
    const dec = new LabelDecoder({ cacheSize: 2 });
    assert.equal(dec.decodeLabels("m", key(u32(2)), labels), SKIP);
    re.regexps = ["^2$"];
    assert.equal(dec.decodeLabels("m", key(u32(2)), labels), SKIP, "the skip came from the cache");
    dec.decodeLabels("m", key(u32(3)), labels);
    dec.decodeLabels("m", key(u32(4)), labels);
    assert.equal(dec.cachedCount("m"), 2);
    assert.deepEqual(dec.decodeLabels("m", key(u32(2)), labels), ["2"], "evicted, so decoded again");
  });

  it("with cacheSize 0 caches nothing", () => {
    const dec = new LabelDecoder({ cacheSize: 0 });
    dec.decodeLabels("m", key(u32(1)), [label("n", 4, [{ name: "uint" }])]);
    assert.equal(dec.cachedCount("m"), 0);
  });
});

describe("LabelDecoder.validate", () => {
  const validate = (labels: unknown[], keySize?: number) =>
    LabelDecoder.validate(labels as LabelSpec[], WHERE, keySize === undefined ? {} : { keySize });
  const F = WHERE.field;

  it("accepts ebpf_exporter's example configs", () => {
    // biolatency.yaml
    validate(
      [
        { name: "device", size: 4, decoders: [{ name: "majorminor" }] },
        {
          name: "operation",
          size: 4,
          decoders: [
            { name: "uint" },
            { name: "static_map", static_map: { 0: "read", 1: "write", 2: "flush" } },
          ],
        },
        { name: "bucket", size: 8, decoders: [{ name: "uint" }] },
      ],
      16,
    );
    // syscalls.yaml, cgroup.yaml, kstack.yaml, regexp.yaml-style
    validate([{ name: "syscall", size: 8, decoders: [{ name: "uint" }, { name: "syscall" }] }]);
    validate([{ name: "errno", size: 8, decoders: [{ name: "uint" }, { name: "errno" }] }]);
    validate([{ name: "cgroup", size: 8, decoders: [{ name: "uint" }, { name: "cgroup" }] }]);
    validate([{ name: "kstack", size: 160, decoders: [{ name: "kstack" }] }]);
    validate([
      {
        name: "command",
        size: 32,
        decoders: [{ name: "string" }, { name: "regexp", regexps: ["^bash$", "^sh$"] }],
      },
    ]);
    validate([
      { name: "addr", size: 16, decoders: [{ name: "regexp", regexps: ["."] }, { name: "inet_ip" }] },
    ]);
    assert.equal(DECODER_NAMES.length, 14);
  });

  it("rejects an unknown decoder, suggesting the closest and listing the known ones", () => {
    const err = configError(
      () => validate([{ name: "op", size: 4, decoders: [{ name: "uint" }, { name: "staticmap" }] }]),
      `${F}[0].decoders[1].name`,
      /did you mean 'static_map'\? the decoders are cgroup, dname, errno/,
    );
    assert.equal(err.file, "biolatency.yaml");
    assert.match(err.message, /unknown decoder 'staticmap'/);
    configError(
      () => validate([{ name: "op", size: 4, decoders: [{ name: "frobnicate" }] }]),
      `${F}[0].decoders[0].name`,
      /^the decoders are /,
    );
  });

  it("says the pci_* decoders are not provided", () => {
    configError(
      () => validate([{ name: "vendor", size: 2, decoders: [{ name: "pci_vendor" }] }]),
      `${F}[0].decoders[0].name`,
      /uint or hex/,
    );
  });

  it("rejects a missing, zero or fractional size, and a negative padding", () => {
    configError(
      () => validate([{ name: "a", decoders: [{ name: "uint" }] }]),
      `${F}[0].size`,
      /size in bytes/,
    );
    configError(
      () => validate([{ name: "a", size: 0, decoders: [{ name: "uint" }] }]),
      `${F}[0].size`,
      /size in bytes/,
    );
    configError(
      () => validate([{ name: "a", size: 2.5, decoders: [{ name: "hex" }] }]),
      `${F}[0].size`,
      /whole number/,
    );
    configError(
      () => validate([{ name: "a", size: 4, padding: -1, decoders: [{ name: "uint" }] }]),
      `${F}[0].padding`,
      /whole number/,
    );
  });

  it("rejects a label without decoders", () => {
    configError(
      () => validate([{ name: "a", size: 4, decoders: [] }]),
      `${F}[0].decoders`,
      /decoders: \[\{name: uint\}\]/,
    );
    configError(() => validate([{ name: "a", size: 4 }]), `${F}[0].decoders`, /decoder chain/);
  });

  it("rejects a static_map decoder without static_map", () => {
    configError(
      () => validate([{ name: "a", size: 4, decoders: [{ name: "uint" }, { name: "static_map" }] }]),
      `${F}[0].decoders[1].static_map`,
      /static_map: \{0: read/,
    );
    configError(
      () =>
        validate([
          {
            name: "a",
            size: 4,
            decoders: [{ name: "uint" }, { name: "static_map", static_map: { 1: { x: 1 } } }],
          },
        ]),
      `${F}[0].decoders[1].static_map.1`,
      /map it to a string/,
    );
  });

  it("rejects a regexp decoder without regexps or with an invalid one", () => {
    configError(
      () => validate([{ name: "c", size: 16, decoders: [{ name: "string" }, { name: "regexp" }] }]),
      `${F}[0].decoders[1].regexps`,
      /regexps: \['\^bash\$'\]/,
    );
    const err = configError(
      () =>
        validate([
          {
            name: "c",
            size: 16,
            decoders: [{ name: "string" }, { name: "regexp", regexps: ["^ok$", "(unclosed"] }],
          },
        ]),
      `${F}[0].decoders[1].regexps[1]`,
      /fix the expression/,
    );
    assert.match(err.message, /invalid regexp '\(unclosed'/);
  });

  it("rejects a decoder given a size it cannot read", () => {
    configError(
      () => validate([{ name: "a", size: 3, decoders: [{ name: "uint" }] }]),
      `${F}[0].decoders[0].name`,
      /label's size/,
    );
    configError(
      () => validate([{ name: "a", size: 4, decoders: [{ name: "ksym" }] }]),
      `${F}[0].decoders[0].name`,
      /label's size/,
    );
    configError(
      () => validate([{ name: "a", size: 8, decoders: [{ name: "inet_ip" }] }]),
      `${F}[0].decoders[0].name`,
      /label's size/,
    );
    configError(
      () => validate([{ name: "a", size: 12, decoders: [{ name: "kstack" }] }]),
      `${F}[0].decoders[0].name`,
      /label's size/,
    );
  });

  it("rejects decoders in an order that cannot work", () => {
    configError(
      () => validate([{ name: "s", size: 8, decoders: [{ name: "syscall" }] }]),
      `${F}[0].decoders[0].name`,
      /put \{name: uint\} before syscall/,
    );
    configError(
      () => validate([{ name: "s", size: 8, decoders: [{ name: "string" }, { name: "uint" }] }]),
      `${F}[0].decoders[1].name`,
      /move uint to the start/,
    );
  });

  it("rejects unknown decoder fields, suggesting the right one", () => {
    configError(
      () =>
        validate([
          {
            name: "a",
            size: 4,
            decoders: [{ name: "uint" }, { name: "static_map", static_map: {}, allowUnknown: true }],
          },
        ]),
      `${F}[0].decoders[1].allowUnknown`,
      /did you mean 'allow_unknown'\?/,
    );
    configError(
      () => validate([{ name: "a", size: 4, decoders: [{ name: "uint", regexps: ["x"] }] }]),
      `${F}[0].decoders[0].regexps`,
      /remove it/,
    );
  });

  it("rejects bad and repeated label names", () => {
    configError(
      () => validate([{ name: "0x", size: 4, decoders: [{ name: "uint" }] }]),
      `${F}[0].name`,
      /letters, digits/,
    );
    configError(
      () =>
        validate([
          { name: "a", size: 4, decoders: [{ name: "uint" }] },
          { name: "a", size: 4, decoders: [{ name: "uint" }] },
        ]),
      `${F}[1].name`,
      /its own name/,
    );
  });

  it("with keySize, rejects labels that do not cover the key", () => {
    const err = configError(
      () =>
        validate(
          [
            { name: "dev", size: 4, decoders: [{ name: "uint" }] },
            { name: "op", size: 1, padding: 3, decoders: [{ name: "uint" }] },
          ],
          16,
        ),
      F,
      /size \+ padding/,
    );
    assert.match(err.message, /take 8 bytes \(dev: 4, op: 1\+3\), but the map's keys are 16 bytes/);
  });
});
