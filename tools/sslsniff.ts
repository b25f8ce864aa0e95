/**
 * sslsniff: print the plain text that programs read and write through TLS
 * libraries (OpenSSL, GnuTLS, NSS), bcc's layout and options. Hooks:
 * uprobes and uretprobes on the libraries' read/write functions, as bcc;
 * also on the running node binary, which carries its own OpenSSL.
 */
import { existsSync } from "node:fs";
import { resolveName } from "../src/elf/procmaps.js";
import { BPF, type RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import type { Tool } from "./lib/runtime.js";

interface SslEvent {
  timestamp_ns: bigint;
  delta_ns: bigint;
  pid: number;
  tid: number;
  uid: number;
  len: number;
  copied: number;
  buf_filled: number;
  rw: number;
  comm: string;
}

type LibType = "openssl" | "gnutls" | "nss";

/** [symbol, exit function] of each library's read and write calls. */
const FUNCS: Record<LibType, Array<[string, string]>> = {
  openssl: [
    ["SSL_write", "probe_SSL_write_exit"],
    ["SSL_read", "probe_SSL_read_exit"],
    ["SSL_write_ex", "probe_SSL_write_ex_exit"],
    ["SSL_read_ex", "probe_SSL_read_ex_exit"],
  ],
  gnutls: [
    ["gnutls_record_send", "probe_SSL_write_exit"],
    ["gnutls_record_recv", "probe_SSL_read_exit"],
  ],
  nss: [
    ["PR_Write", "probe_SSL_write_exit"],
    ["PR_Send", "probe_SSL_write_exit"],
    ["PR_Read", "probe_SSL_read_exit"],
    ["PR_Recv", "probe_SSL_read_exit"],
  ],
};
const RW_EVENT = ["READ/RECV", "WRITE/SEND", "HANDSHAKE"];
const MAX_BUF_SIZE = 16384;
/** Where a record's bytes start (sslsniff.bpf.c checks it). */
const BUF_OFFSET = 60;

/** The node binary when it exports OpenSSL's functions (it links OpenSSL statically). */
function nodeWithOpenssl(): string | undefined {
  try {
    // by name: node's 260,000 symbols are not all read for one (elf.ts's elfSymbolsMatching)
    return resolveName(process.execPath, "SSL_write") !== undefined ? process.execPath : undefined;
  } catch {
    return undefined;
  }
}

/** bcc's block for one call: the line, then the data between markers. */
export function formatEvent(
  e: {
    func: string;
    time: number;
    comm: string;
    pid: number;
    len: number;
    uid?: number;
    tid?: number;
    lat?: string;
  },
  data: Buffer,
  hexdump: boolean,
): string {
  let base = `${e.func.padEnd(12)} ${e.time.toFixed(9).padEnd(18)} ${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.len).padEnd(6)}`;
  if (e.uid !== undefined) base += ` ${String(e.uid).padEnd(7)} ${String(e.tid).padEnd(7)}`;
  if (e.lat !== undefined) base += ` ${e.lat.padEnd(7)}`;
  if (data.length === 0) return `${base}\n`;
  const lost = e.len - data.length;
  const end = lost > 0 ? `----- END DATA (TRUNCATED, ${lost} bytes lost) -----` : "----- END DATA -----";
  const text = hexdump ? (data.toString("hex").match(/.{1,32}/g) ?? []).join("\n") : data.toString("utf8");
  return `${base}\n----- DATA -----\n${text}\n${end}\n\n\n`;
}

export const tool: Tool = {
  name: "sslsniff",
  summary: "Sniff SSL data",
  options: [
    { short: "p", long: "pid", type: "int", help: "sniff this PID only." },
    { short: "u", long: "uid", type: "int", help: "sniff this UID only." },
    { short: "x", long: "extra", type: "flag", help: "show extra fields (UID, TID)" },
    { short: "c", long: "comm", type: "string", help: "sniff only commands matching string." },
    { short: "o", long: "no-openssl", type: "flag", help: "do not show OpenSSL calls." },
    { short: "g", long: "no-gnutls", type: "flag", help: "do not show GnuTLS calls." },
    { short: "n", long: "no-nss", type: "flag", help: "do not show NSS calls." },
    { short: "d", long: "debug", type: "flag", help: "debug mode." },
    {
      long: "hexdump",
      type: "flag",
      help: "show data as hexdump instead of trying to decode it as UTF-8",
    },
    { long: "max-buffer-size", type: "int", help: "Size of captured buffer" },
    { short: "l", long: "latency", type: "flag", help: "show function latency" },
    {
      long: "handshake",
      type: "flag",
      help: "show SSL handshake latency, enabled only if latency option is on.",
    },
    {
      long: "extra-lib",
      type: "list",
      help: "Intercept calls from extra library (format: lib_type:lib_path)",
    },
  ],
  examples: [
    "tsbpf sslsniff              # sniff OpenSSL and GnuTLS functions",
    "tsbpf sslsniff -p 181       # sniff PID 181 only",
    "tsbpf sslsniff -u 1000      # sniff only UID 1000",
    "tsbpf sslsniff -c curl      # sniff curl command only",
    "tsbpf sslsniff --no-openssl # don't show OpenSSL calls",
    "tsbpf sslsniff --no-gnutls  # don't show GnuTLS calls",
    "tsbpf sslsniff --no-nss     # don't show NSS calls",
    "tsbpf sslsniff --hexdump    # show data as hex instead of trying to decode it as UTF-8",
    "tsbpf sslsniff -x           # show process UID and TID",
    "tsbpf sslsniff -l           # show function latency",
    "tsbpf sslsniff -l --handshake  # show SSL handshake latency",
    "tsbpf sslsniff --extra-lib openssl:/path/libssl.so.1.1 # sniff extra library",
  ],
  jsonFields: ["time", "func", "time_s", "comm", "pid", "tid", "uid", "len", "lat_ms", "data", "truncated"],
  hookNote: () =>
    nodeWithOpenssl()
      ? `also traces ${process.execPath}, which links OpenSSL statically (bcc: the shared libraries only)`
      : undefined,
  hooks: () => {
    const libs = ["ssl", "gnutls", "nspr4"].filter((l) => BPF.findLibrary(l));
    const node = nodeWithOpenssl();
    return `uprobes+uretprobes on ${[...libs.map((l) => `lib${l}`), ...(node ? [node] : [])].join(", ") || "(no TLS library found)"}`;
  },

  async run(ctx) {
    const a = ctx.args;
    const maxBuf = a.num("max-buffer-size") ?? 8192;
    if (maxBuf < 1 || maxBuf > MAX_BUF_SIZE)
      throw new UsageError(`--max-buffer-size: expected 1 to ${MAX_BUF_SIZE}`);
    const extra: Array<[LibType, string]> = a.list("extra-lib").map((s) => {
      const i = s.indexOf(":");
      const type = s.slice(0, i) as LibType;
      const path = s.slice(i + 1);
      if (i < 0) throw new UsageError(`--extra-lib: Invalid SSL library param: '${s}'`);
      if (!(type in FUNCS)) throw new UsageError(`--extra-lib: Invalid SSL library type: '${type}'`);
      if (!existsSync(path)) throw new UsageError(`--extra-lib: Invalid library path: '${path}'`);
      return [type, path];
    });
    const pid = a.num("pid");
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: pid ?? 0,
        targ_uid: a.num("uid") ?? 0xffffffff,
        max_buf: maxBuf,
      },
    });
    const attached: string[] = [];
    const attach = (type: LibType, lib: string): void => {
      for (const [sym, exit] of FUNCS[type]) {
        const enter = sym.endsWith("_ex") ? "probe_SSL_rw_ex_enter" : "probe_SSL_rw_enter";
        b.attachUprobe({ name: lib, sym, fnName: enter, pid: pid ?? -1 });
        b.attachUretprobe({ name: lib, sym, fnName: exit, pid: pid ?? -1 });
      }
      if (type === "openssl" && a.flag("latency") && a.flag("handshake")) {
        b.attachUprobe({
          name: lib,
          sym: "SSL_do_handshake",
          fnName: "probe_SSL_do_handshake_enter",
          pid: pid ?? -1,
        });
        b.attachUretprobe({
          name: lib,
          sym: "SSL_do_handshake",
          fnName: "probe_SSL_do_handshake_exit",
          pid: pid ?? -1,
        });
      }
      attached.push(lib);
    };
    const libs: Array<[LibType, string, boolean]> = [
      ["openssl", "ssl", a.flag("no-openssl")],
      ["gnutls", "gnutls", a.flag("no-gnutls")],
      ["nss", "nspr4", a.flag("no-nss")],
    ];
    for (const [type, name, off] of libs) {
      if (off) continue;
      const path = BPF.findLibrary(name);
      if (!path) {
        ctx.note(`lib${name} not found: ${type} calls are not traced`);
        continue;
      }
      attach(type, path);
    }
    const node = a.flag("no-openssl") ? undefined : nodeWithOpenssl();
    if (node) attach("openssl", node);
    for (const [type, path] of extra) attach(type, path);
    if (a.flag("debug")) ctx.note(`attached to ${attached.join(", ")}`);
    if (attached.length === 0) throw new UsageError("no TLS library to trace");

    const out = ctx.out;
    let header = `${"FUNC".padEnd(12)} ${"TIME(s)".padEnd(18)} ${"COMM".padEnd(16)} ${"PID".padEnd(7)} ${"LEN".padEnd(7)}`;
    if (a.flag("extra")) header += ` ${"UID".padEnd(7)} ${"TID".padEnd(7)}`;
    if (a.flag("latency")) header += ` ${"LAT(ms)".padEnd(7)}`;
    out.line(header);
    const comm = a.str("comm");
    let start = 0n;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, raw) => {
      const e = events.event(raw) as SslEvent;
      if (comm !== undefined && comm !== e.comm) return;
      const data =
        e.buf_filled === 1 ? Buffer.from(raw.subarray(BUF_OFFSET, BUF_OFFSET + e.copied)) : Buffer.alloc(0);
      if (start === 0n) start = e.timestamp_ns;
      const time = Number(e.timestamp_ns - start) / 1e9;
      const latMs = Number(e.delta_ns) / 1e6;
      const func = RW_EVENT[e.rw] ?? "?";
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          func,
          time_s: time,
          comm: e.comm,
          pid: e.pid,
          tid: e.tid,
          uid: e.uid,
          len: e.len,
          lat_ms: latMs,
          data: a.flag("hexdump") ? data.toString("hex") : data.toString("utf8"),
          truncated: e.len - data.length > 0 && e.rw !== 2 ? e.len - data.length : 0,
        });
        return;
      }
      out.text(
        formatEvent(
          {
            func,
            time,
            comm: e.comm,
            pid: e.pid,
            len: e.len,
            ...(a.flag("extra") ? { uid: e.uid, tid: e.tid } : {}),
            ...(a.flag("latency") ? { lat: e.delta_ns ? latMs.toFixed(3) : "N/A" } : {}),
          },
          data,
          a.flag("hexdump"),
        ),
      );
    });
    await ctx.done();
  },
};
