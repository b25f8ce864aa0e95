/**
 * `tsbpf exporter` with configs in ebpf_exporter's format: a bcc-dialect
 * program and a libbpf-style one (with a header of its own next to it)
 * count what uniquely named copies of true and dd do; /metrics shows
 * exactly those counts, a real Prometheus server (Debian's) scrapes them
 * and answers a query with them, and bad configs end in an error naming the
 * file, the field and the fix. Every exit leaves nothing in the kernel.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertNothingLeft, kernelObjects, skipUnlessRoot, testTempDir } from "../helpers.js";
import { CLI, startExporter, stopExporter } from "./exporter_cli.js";

const EXECS_C = `
// bcc's dialect: execs by task name
struct key_t { char comm[16]; };
BPF_HASH(execs_total, struct key_t, u64);
TRACEPOINT_PROBE(sched, sched_process_exec) {
  struct key_t k = {};
  bpf_get_current_comm(&k.comm, sizeof(k.comm));
  execs_total.increment(k);
  return 0;
}
`;

const EXECS_YAML = `
metrics:
  counters:
    - name: execs_total
      help: Execs by task name
      labels:
        - name: comm
          size: 16
          decoders:
            - name: string
            - name: regexp
              regexps:
                - ^tsbpfexp
`;

const LOCAL_H = `
/* the program's own helpers, found through the config directory */
static __always_inline void add_to(void *map, void *key, u64 by)
{
    u64 zero = 0, *count = bpf_map_lookup_elem(map, key);
    if (!count) {
        bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
        count = bpf_map_lookup_elem(map, key);
        if (!count)
            return;
    }
    __sync_fetch_and_add(count, by);
}
`;

const WRITES_BPF_C = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "local.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct size_key { u32 fd; u32 bucket; };

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct size_key);
    __type(value, u64);
} write_size_bytes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, u64);
    __type(value, u64);
} syscalls_total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int on_write(struct trace_event_raw_sys_enter *ctx)
{
    char comm[16];
    const char want[] = "tsbpfexpdd";
    bpf_get_current_comm(comm, sizeof(comm));
    for (int i = 0; i < sizeof(want); i++)
        if (comm[i] != want[i])
            return 0;
    u64 n = ctx->args[2], nr = ctx->id;
    struct size_key k = { .fd = ctx->args[0], .bucket = 0 };
    /* exp2zero: 0 for 0, else floor(log2(n)) + 1 */
    while (n && k.bucket < 32) {
        n >>= 1;
        k.bucket++;
    }
    add_to(&write_size_bytes, &k, 1);
    add_to(&syscalls_total, &nr, 1);
    return 0;
}
`;

const WRITES_YAML = `
metrics:
  histograms:
    - name: write_size_bytes
      help: Write sizes of tsbpfexpdd
      bucket_type: exp2zero
      bucket_min: 0
      bucket_max: 16
      labels:
        - name: fd
          size: 4
          decoders:
            - name: uint
        - name: bucket
          size: 4
          decoders:
            - name: uint
  counters:
    - name: syscalls_total
      help: System calls of tsbpfexpdd by name
      labels:
        - name: syscall
          size: 8
          decoders:
            - name: uint
            - name: syscall
`;

const prometheusPresent = spawnSync("prometheus", ["--version"]).status === 0;

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe("tsbpf exporter", { skip: skipUnlessRoot }, () => {
  let dir = "";
  let bin = "";
  let objects: ReturnType<typeof kernelObjects>;

  before(() => {
    objects = kernelObjects();
    dir = testTempDir("tsbpf-exporter");
    bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(dir, "execs.c"), EXECS_C);
    writeFileSync(join(dir, "execs.yaml"), EXECS_YAML);
    writeFileSync(join(dir, "local.bpf.h"), LOCAL_H);
    writeFileSync(join(dir, "writes.bpf.c"), WRITES_BPF_C);
    writeFileSync(join(dir, "writes.yaml"), WRITES_YAML);
    copyFileSync("/bin/true", join(bin, "tsbpfexptrue"));
    copyFileSync("/bin/dd", join(bin, "tsbpfexpdd"));
  });
  after(async () => {
    await assertNothingLeft(objects);
  });

  /** Three execs of tsbpfexptrue and one tsbpfexpdd making five writes of 1000 bytes to fd 1. */
  function activity(): void {
    for (let i = 0; i < 3; i++) assert.equal(spawnSync(join(bin, "tsbpfexptrue")).status, 0);
    const dd = spawnSync(join(bin, "tsbpfexpdd"), ["if=/dev/zero", "bs=1000", "count=5", "status=none"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    assert.equal(dd.status, 0, String(dd.stderr));
  }

  it("serves both configs' maps at /metrics: the counts of the activity, ebpf_exporter's names", async () => {
    const before = kernelObjects();
    const r = await startExporter(dir, "execs,writes");
    activity();
    const res = await fetch(`${r.url}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(sample(text, 'ebpf_exporter_execs_total{comm="tsbpfexptrue"}'), 3);
    assert.equal(sample(text, 'ebpf_exporter_execs_total{comm="tsbpfexpdd"}'), 1);
    // the regexp decoder left every other task out
    assert.deepEqual(
      text
        .split("\n")
        .filter((l) => l.startsWith("ebpf_exporter_execs_total{") && !l.includes('comm="tsbpfexp')),
      [],
    );
    // exp2zero: 1000 bytes is bucket 10, whose bound is 2^9 as ebpf_exporter says it
    assert.equal(sample(text, 'ebpf_exporter_write_size_bytes_bucket{fd="1",le="256"}'), 0);
    assert.equal(sample(text, 'ebpf_exporter_write_size_bytes_bucket{fd="1",le="512"}'), 5);
    assert.equal(sample(text, 'ebpf_exporter_write_size_bytes_bucket{fd="1",le="+Inf"}'), 5);
    assert.equal(sample(text, 'ebpf_exporter_write_size_bytes_count{fd="1"}'), 5);
    assert.equal(sample(text, 'ebpf_exporter_syscalls_total{syscall="write"}'), 5);
    assert.equal(sample(text, 'tsbpf_exporter_enabled_configs{name="writes"}'), 1);
    assert.match(
      text,
      /^tsbpf_exporter_ebpf_program_info\{config="writes",program="on_write",tag="[0-9a-f]{16}",id="\d+"\} 1$/m,
    );
    assert.equal(
      sample(text, 'tsbpf_exporter_decoder_errors_total{config="execs",metric="ebpf_exporter_execs_total"}'),
      0,
    );
    assert.ok(
      (sample(
        text,
        'tsbpf_exporter_label_sets_skipped_total{config="execs",metric="ebpf_exporter_execs_total"}',
      ) ?? 0) >= 1,
    );
    assert.equal((await fetch(r.url.replace(/\/metrics$/, "/nosuch"))).status, 404);
    assert.equal(await stopExporter(r), 0);
    await assertNothingLeft(before);
  });

  it("a real Prometheus scrapes it and answers a query with the count", {
    skip: prometheusPresent ? false : "needs Debian's prometheus (scripts/bootstrap.sh --test)",
    timeout: 120_000,
  }, async () => {
    const r = await startExporter(dir, "execs");
    activity();
    const target = new URL(r.url);
    const port = await freePort();
    const pdir = join(dir, `prometheus-${port}`);
    mkdirSync(pdir);
    writeFileSync(
      join(pdir, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tsbpf\n    static_configs:\n      - targets: ["${target.host}"]\n`,
    );
    const prom = spawn(
      "prometheus",
      [
        `--config.file=${join(pdir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(pdir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    prom.stderr?.on("data", (b: Buffer) => {
      log += b.toString();
    });
    try {
      const query = encodeURIComponent('ebpf_exporter_execs_total{comm="tsbpfexptrue"}');
      let value: string | undefined;
      let up: string | undefined;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (value === undefined || up === undefined)) {
        await new Promise((res) => setTimeout(res, 500));
        try {
          const q = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${query}`)).json()) as {
            data: { result: Array<{ value: [number, string] }> };
          };
          value = q.data.result[0]?.value[1];
          const u = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`)).json()) as {
            data: { result: Array<{ value: [number, string] }> };
          };
          up = u.data.result[0]?.value[1];
        } catch {
          // not serving yet
        }
      }
      assert.equal(up, "1", `Prometheus did not scrape the exporter:\n${log.slice(-2000)}`);
      assert.equal(value, "3");
    } finally {
      prom.kill("SIGTERM");
      await once(prom, "exit");
      assert.equal(await stopExporter(r, "SIGINT"), 0);
    }
  });

  it("--config.check reads the configs without loading anything", () => {
    const before = kernelObjects();
    const r = spawnSync(
      process.execPath,
      [CLI, "exporter", "--config.dir", dir, "--config.names", "execs,writes", "--config.check"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      `execs: 1 metrics, program ${join(dir, "execs.c")} (bcc)\nwrites: 2 metrics, program ${join(dir, "writes.bpf.c")} (libbpf)\n`,
    );
    assert.deepEqual(kernelObjects().progs, before.progs);
  });

  it("bad configs: an error naming the file, the field and the fix; nothing left", async () => {
    const before = kernelObjects();
    const cases: Array<[string, string, RegExp, boolean]> = [
      [
        "baddecoder",
        EXECS_YAML.replace("- name: string", "- name: strin"),
        /baddecoder\.yaml: metrics\.counters\[0\]\.labels\[0\]\.decoders\[0\]\.name: .*strin.*string/,
        true,
      ],
      [
        "badsize",
        EXECS_YAML.replace("size: 16", "size: 8"),
        /badsize\.yaml: metrics\.counters\[0\]\.labels: the labels' sizes and paddings add up to 8 bytes, but the keys of map execs_total are 16 bytes/,
        false,
      ],
      [
        "badmap",
        EXECS_YAML.replace("name: execs_total", "name: nosuch_total"),
        /badmap\.yaml: metrics\.counters\[0\]\.name: no map 'nosuch_total' in the program/,
        false,
      ],
      [
        "badfield",
        EXECS_YAML.replace("help: Execs by task name", "help: x\n      perf_event_array: true"),
        /badfield\.yaml: metrics\.counters\[0\]\.perf_event_array: .*not run by tsbpf's exporter; count into a hash map/,
        true,
      ],
      ["badyaml", "metrics:\n  counters: [\n", /badyaml\.yaml: line \d+: not valid YAML/, true],
    ];
    for (const [name, yaml, re, checkFinds] of cases) {
      writeFileSync(join(dir, `${name}.yaml`), yaml);
      writeFileSync(join(dir, `${name}.c`), EXECS_C);
      const run = (extra: string[]) =>
        spawnSync(
          process.execPath,
          [CLI, "exporter", "--config.dir", dir, "--config.names", name, ...extra],
          {
            encoding: "utf8",
            timeout: 60_000,
          },
        );
      const r = run(checkFinds ? ["--config.check"] : ["--web.listen-address", "127.0.0.1:0"]);
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, re, name);
    }
    const missing = spawnSync(
      process.execPath,
      [CLI, "exporter", "--config.dir", dir, "--config.names", "nosuch", "--config.check"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nosuch\.yaml: \(file\): cannot read it \(ENOENT\); check --config\.dir/);
    await assertNothingLeft(before);
  });
});
