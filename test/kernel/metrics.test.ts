/**
 * Maps as Prometheus metrics (b.metrics on a prom-client Registry): a
 * program counts the execs of a uniquely named program and the sizes of the
 * writes of a uniquely named dd, and the registry's exposition text shows
 * exactly those counts: a counter labelled by BTF field, a log2 histogram
 * keyed by a struct with an enum (its names as label values) and a bucket
 * field, the same map read through ebpf_exporter-style byte labels and
 * decoders, and config errors that name the field and the fix.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { BPF, ConfigError } from "../../src/index.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot, testTempDir } from "../helpers.js";

const PROGRAM = `
struct exec_key { char comm[16]; };
BPF_HASH(tsbpf_test_execs_total, struct exec_key, u64);

enum mt_op { MT_READ = 1, MT_WRITE = 2 };
struct size_key { char comm[16]; enum mt_op op; u32 slot; };
BPF_HISTOGRAM(sizes, struct size_key);
BPF_PERCPU_ARRAY(writes, u64, 1);

static __always_inline int is_ours(const char *comm) {
  const char want[] = "tsbpfmetricdd";
  for (int i = 0; i < sizeof(want); i++)
    if (comm[i] != want[i]) return 0;
  return 1;
}

TRACEPOINT_PROBE(sched, sched_process_exec) {
  struct exec_key k = {};
  bpf_get_current_comm(&k.comm, sizeof(k.comm));
  tsbpf_test_execs_total.increment(k);
  return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_write) {
  struct size_key k = {};
  bpf_get_current_comm(&k.comm, sizeof(k.comm));
  if (!is_ours(k.comm)) return 0;
  k.op = MT_WRITE;
  k.slot = bpf_log2l(args->count);
  sizes.increment(k);
  writes.increment(0);
  return 0;
}
`;

/** The samples of the exposition text: "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe("maps as Prometheus metrics", { skip: skipUnlessRoot }, () => {
  let dir = "";
  let exe = "";
  let dd = "";
  let b: BPF;
  let objects: ReturnType<typeof kernelObjects>;

  before(async () => {
    objects = kernelObjects();
    dir = testTempDir("tsbpf-metrics");
    exe = join(dir, "tsbpfmetricexe");
    dd = join(dir, "tsbpfmetricdd");
    copyFileSync("/bin/true", exe);
    copyFileSync("/bin/dd", dd);
    b = await BPF.load({ text: PROGRAM });
    for (let i = 0; i < 3; i++) assert.equal(spawnSync(exe).status, 0);
    // five writes of 1000 bytes (bpf_log2l: slot 10, 512..1023), none else with status=none
    const r = spawnSync(dd, ["if=/dev/zero", "of=/dev/null", "bs=1000", "count=5", "status=none"]);
    assert.equal(r.status, 0, String(r.stderr));
  });
  after(async () => {
    b?.close();
    await assertNothingLeft(objects);
  });

  it("a counter by BTF field: the three execs of the test's program under its name", async () => {
    const registry = new Registry();
    b.metrics(registry, [
      {
        type: "counter",
        name: "tsbpf_test_execs_total",
        help: "execs by task name",
        labels: [{ name: "comm" }],
      },
    ]);
    const text = await registry.metrics();
    assert.match(
      text,
      /^# HELP tsbpf_test_execs_total execs by task name\n# TYPE tsbpf_test_execs_total counter$/m,
    );
    assert.equal(samples(text).get('tsbpf_test_execs_total{comm="tsbpfmetricexe"}'), 3);
  });

  it("a log2 histogram keyed by a struct: an enum's names as labels, cumulative le buckets, count", async () => {
    const registry = new Registry();
    b.metrics(registry, [
      {
        type: "histogram",
        name: "tsbpf_test_write_bytes",
        help: "write sizes",
        table: "sizes",
        labels: [{ name: "comm" }, { name: "op" }],
        bucketType: "log2",
        bucketField: "slot",
        bucketMax: 12,
      },
      { type: "gauge", name: "tsbpf_test_writes", help: "writes seen", table: "writes" },
    ]);
    const s = samples(await registry.metrics());
    const at = (le: string) =>
      s.get(`tsbpf_test_write_bytes_bucket{comm="tsbpfmetricdd",op="MT_WRITE",le="${le}"}`);
    assert.equal(at("511"), 0);
    assert.equal(at("1023"), 5);
    assert.equal(at("4095"), 5);
    assert.equal(at("+Inf"), 5);
    assert.equal(s.get('tsbpf_test_write_bytes_count{comm="tsbpfmetricdd",op="MT_WRITE"}'), 5);
    // a per-CPU array's value: the CPUs' values summed
    assert.equal(s.get('tsbpf_test_writes{index="0"}') ?? s.get("tsbpf_test_writes"), 5);
  });

  it("ebpf_exporter's layout: byte labels, decoder chains, the bucket as the last label (exp2zero)", async () => {
    const registry = new Registry();
    b.metrics(registry, [
      {
        type: "histogram",
        name: "tsbpf_test_write_bytes",
        help: "write sizes",
        table: "sizes",
        bucketType: "exp2zero",
        bucketMin: 0,
        bucketMax: 12,
        labels: [
          {
            name: "comm",
            size: 16,
            decoders: [{ name: "string" }, { name: "regexp", regexps: ["^tsbpfmetric"] }],
          },
          {
            name: "op",
            size: 4,
            decoders: [{ name: "uint" }, { name: "static_map", static_map: { "2": "write" } }],
          },
          { name: "bucket", size: 4, decoders: [{ name: "uint" }] },
        ],
      },
    ]);
    const s = samples(await registry.metrics());
    // exp2zero: bucket 10's bound is 2^9, as ebpf_exporter says it
    assert.equal(s.get('tsbpf_test_write_bytes_bucket{comm="tsbpfmetricdd",op="write",le="256"}'), 0);
    assert.equal(s.get('tsbpf_test_write_bytes_bucket{comm="tsbpfmetricdd",op="write",le="512"}'), 5);
    assert.equal(s.get('tsbpf_test_write_bytes_sum{comm="tsbpfmetricdd",op="write"}'), 0);
  });

  it("a wrong spec is a ConfigError naming the field and the fix; nothing is registered", () => {
    const registry = new Registry();
    const cases: Array<[Parameters<BPF["metrics"]>[1], RegExp]> = [
      [
        [
          {
            type: "counter",
            name: "x_total",
            help: "h",
            table: "tsbpf_test_execs_total",
            labels: [{ name: "pid", field: "pid" }],
          },
        ],
        /\[0\]\.labels\[0\]\.field: the key of map tsbpf_test_execs_total has no field 'pid'; its fields are comm/,
      ],
      [
        [
          {
            type: "counter",
            name: "x_total",
            help: "h",
            table: "sizes",
            labels: [{ name: "comm", size: 16, decoders: [{ name: "string" }] }],
          },
        ],
        /add up to 16 bytes, but the keys of map sizes are 24 bytes; make size \+ padding/,
      ],
      [
        [{ type: "counter", name: "x_total", help: "h", table: "nosuch" }],
        /\[0\]\.table: no map 'nosuch' in the program/,
      ],
      [
        [{ type: "counter", name: "bad-name", help: "h", table: "sizes" }],
        /'bad-name' is not a Prometheus metric name/,
      ],
      [
        [
          {
            type: "histogram",
            name: "h",
            help: "h",
            table: "sizes",
            bucketType: "log2",
            labels: [{ name: "comm" }],
          },
        ],
        /bucketField: no bucket index in the key of map sizes/,
      ],
    ];
    for (const [specs, re] of cases) {
      assert.throws(
        () => b.metrics(registry, specs),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
      );
    }
    assert.deepEqual(registry.getMetricsAsArray(), []);
  });
});
