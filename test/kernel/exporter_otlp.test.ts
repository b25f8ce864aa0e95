/**
 * `tsbpf exporter --otlp URL`: the registry's metrics pushed over OTLP/HTTP
 * (JSON) to a receiver started here. Two bcc-dialect configs count what
 * uniquely named copies of true and dd do (execs by name: a counter; dd's
 * write sizes: an ebpf_exporter-layout histogram keeping its sum at bucket
 * bucket_max + 1); the pushes carry exactly those counts, the histogram as
 * explicit bounds with per-bucket counts, and the resource's service.name.
 * A push is made at SIGTERM before the maps go; a collector that refuses
 * the pushes is said once on stderr and does not stop /metrics; the SDK
 * missing is a ConfigError naming what to install. Every exit leaves
 * nothing in the kernel.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  histogramFromCumulative,
  loadOtel,
  OTEL_PACKAGES,
  type OtelImports,
  toMetricData,
} from "../../src/export/otlp.js";
import { ConfigError } from "../../src/kernel/errors.js";
import {
  assertNothingLeft,
  kernelObjects,
  repoRoot,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../helpers.js";
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
                - ^tsbpfotlp
`;

const WRITES_C = `
// bcc's dialect: write sizes of tsbpfotlpdd by fd, exp2zero buckets, the sum at bucket 17
struct size_key { u32 fd; u32 bucket; };
BPF_HASH(write_size_bytes, struct size_key, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_write) {
  char comm[16];
  const char want[] = "tsbpfotlpdd";
  bpf_get_current_comm(&comm, sizeof(comm));
  for (int i = 0; i < sizeof(want); i++)
    if (comm[i] != want[i])
      return 0;
  u64 n = args->count;
  struct size_key k = {};
  k.fd = args->fd;
  while (n && k.bucket < 16) {
    n >>= 1;
    k.bucket++;
  }
  write_size_bytes.increment(k);
  k.bucket = 17;
  write_size_bytes.increment(k, args->count);
  return 0;
}
`;

const WRITES_YAML = `
metrics:
  histograms:
    - name: write_size_bytes
      help: Write sizes of tsbpfotlpdd
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
`;

// OTLP JSON, as much of it as the test reads
interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number };
}
interface NumberPoint {
  attributes?: KeyValue[];
  asDouble?: number;
  asInt?: number | string;
  startTimeUnixNano: string | number;
  timeUnixNano: string | number;
}
interface HistogramPoint {
  attributes?: KeyValue[];
  count: number | string;
  sum?: number;
  bucketCounts: Array<number | string>;
  explicitBounds: number[];
}
interface OtlpMetric {
  name: string;
  description?: string;
  sum?: { dataPoints: NumberPoint[]; aggregationTemporality: number; isMonotonic?: boolean };
  gauge?: { dataPoints: NumberPoint[] };
  histogram?: { dataPoints: HistogramPoint[]; aggregationTemporality: number };
}
interface OtlpRequest {
  resourceMetrics: Array<{
    resource: { attributes: KeyValue[] };
    scopeMetrics: Array<{ scope: { name: string }; metrics: OtlpMetric[] }>;
  }>;
}

/** What a receiver got: each POST to /v1/metrics, decoded. */
interface Receiver {
  url: string;
  posts: Array<{ contentType: string; body: OtlpRequest }>;
  close: () => Promise<void>;
}

/** An OTLP/HTTP receiver on 127.0.0.1 answering `status` (200: an empty ExportMetricsServiceResponse). */
async function startReceiver(status = 200): Promise<Receiver> {
  const posts: Receiver["posts"] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/metrics" && status === 200) {
        const contentType = req.headers["content-type"] ?? "";
        posts.push({ contentType, body: JSON.parse(Buffer.concat(chunks).toString()) as OtlpRequest });
      }
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(status === 200 ? "{}" : '{"code":3,"message":"refused by the test"}');
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    posts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const attr = (kvs: KeyValue[] | undefined, key: string): string | undefined =>
  kvs?.find((a) => a.key === key)?.value.stringValue;

function metricOf(req: OtlpRequest, name: string): OtlpMetric | undefined {
  for (const rm of req.resourceMetrics)
    for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.name === name) return m;
  return undefined;
}

/** The counter's value for comm in one request. */
function execs(req: OtlpRequest, comm: string): number | undefined {
  const p = metricOf(req, "ebpf_exporter_execs_total")?.sum?.dataPoints.find(
    (d) => attr(d.attributes, "comm") === comm,
  );
  return p === undefined ? undefined : Number(p.asDouble ?? p.asInt);
}

function writesPoint(req: OtlpRequest): HistogramPoint | undefined {
  return metricOf(req, "ebpf_exporter_write_size_bytes")?.histogram?.dataPoints.find(
    (d) => attr(d.attributes, "fd") === "1",
  );
}

/** The environment without OTEL_* variables (they would change the SDK's resource and endpoint). */
function noOtelEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("OTEL_")) delete env[k];
  return env;
}

/** The line the exporter prints once its push has started. */
const PUSHING = /pushing to \S+ every/;

describe("tsbpf exporter --otlp", { skip: skipUnlessRoot }, () => {
  let dir = "";
  let bin = "";
  let objects: ReturnType<typeof kernelObjects>;

  before(() => {
    objects = kernelObjects();
    dir = testTempDir("tsbpf-otlp");
    bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(dir, "execs.c"), EXECS_C);
    writeFileSync(join(dir, "execs.yaml"), EXECS_YAML);
    writeFileSync(join(dir, "writes.c"), WRITES_C);
    writeFileSync(join(dir, "writes.yaml"), WRITES_YAML);
    copyFileSync("/bin/true", join(bin, "tsbpfotlptrue"));
    copyFileSync("/bin/dd", join(bin, "tsbpfotlpdd"));
  });
  after(async () => {
    await assertNothingLeft(objects);
  });

  /** Three execs of tsbpfotlptrue and one tsbpfotlpdd making five writes of 1000 bytes to fd 1. */
  function activity(): void {
    for (let i = 0; i < 3; i++) assert.equal(spawnSync(join(bin, "tsbpfotlptrue")).status, 0);
    const dd = spawnSync(join(bin, "tsbpfotlpdd"), ["if=/dev/zero", "bs=1000", "count=5", "status=none"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    assert.equal(dd.status, 0, String(dd.stderr));
  }

  it("pushes the counter and the histogram every interval, as JSON, with the resource", async () => {
    const before = kernelObjects();
    const rx = await startReceiver();
    const r = await startExporter(dir, "execs,writes", {
      extra: ["--otlp", rx.url, "--otlp.interval", "1"],
      env: noOtelEnv(),
      ready: PUSHING,
    });
    try {
      activity();
      const done = (): boolean =>
        rx.posts.some(
          (p) => execs(p.body, "tsbpfotlptrue") === 3 && Number(writesPoint(p.body)?.count) === 5,
        );
      assert.ok(await waitFor(done, 15_000, 50), `no push with the activity: ${r.stderr()}`);
      // /metrics is served alongside
      const text = await (await fetch(r.url)).text();
      assert.match(text, /^ebpf_exporter_execs_total\{comm="tsbpfotlptrue"\} 3$/m);

      const post = rx.posts.find(
        (p) => execs(p.body, "tsbpfotlptrue") === 3 && Number(writesPoint(p.body)?.count) === 5,
      ) as Receiver["posts"][number];
      assert.match(post.contentType, /^application\/json/);
      const body = post.body;
      assert.equal(body.resourceMetrics.length, 1);
      const resource = body.resourceMetrics[0]?.resource.attributes;
      assert.equal(attr(resource, "service.name"), "tsbpf-exporter");
      assert.equal(attr(resource, "host.name"), hostname());
      assert.equal(body.resourceMetrics[0]?.scopeMetrics[0]?.scope.name, "tsbpf");

      // the counter: a cumulative (2) monotonic sum, the regexp decoder's label set only
      const counter = metricOf(body, "ebpf_exporter_execs_total");
      assert.equal(counter?.sum?.aggregationTemporality, 2);
      assert.equal(counter?.sum?.isMonotonic, true);
      assert.equal(counter?.description, "Execs by task name");
      assert.equal(execs(body, "tsbpfotlpdd"), 1);
      assert.deepEqual(
        counter?.sum?.dataPoints
          .map((d) => attr(d.attributes, "comm"))
          .filter((c) => !c?.startsWith("tsbpfotlp")),
        [],
      );
      const p0 = counter?.sum?.dataPoints[0] as NumberPoint;
      assert.ok(BigInt(p0.startTimeUnixNano) <= BigInt(p0.timeUnixNano));

      // the histogram: exp2zero bounds 0, 1, 2, 4 … 2^15 (17 of them), 1000 bytes in the bucket
      // whose bound is 512 (as on /metrics), nothing above the last bound, the kept sum
      const h = metricOf(body, "ebpf_exporter_write_size_bytes")?.histogram;
      assert.equal(h?.aggregationTemporality, 2);
      const w = writesPoint(body) as HistogramPoint;
      assert.deepEqual(w.explicitBounds, [0, ...Array.from({ length: 16 }, (_, i) => 2 ** i)]);
      const counts = w.bucketCounts.map(Number);
      assert.equal(counts.length, 18);
      assert.deepEqual(
        counts,
        counts.map((_, i) => (w.explicitBounds[i] === 512 ? 5 : 0)),
      );
      assert.equal(Number(w.count), 5);
      assert.equal(w.sum, 5000);
      assert.deepEqual(
        (w.attributes ?? []).map((a) => a.key),
        ["fd"],
      );
      // the exporter's own metrics go too: a gauge
      const enabled = metricOf(body, "tsbpf_exporter_enabled_configs")?.gauge?.dataPoints;
      assert.deepEqual(enabled?.map((d) => attr(d.attributes, "name")).sort(), ["execs", "writes"]);
      assert.doesNotMatch(r.stderr(), /OTLP push to .*:/);
    } finally {
      assert.equal(await stopExporter(r), 0, r.stderr());
      await rx.close();
    }
    await assertNothingLeft(before);
  });

  it("pushes once more at SIGTERM, before the maps are gone", async () => {
    const before = kernelObjects();
    const rx = await startReceiver();
    // no push within the test from the interval: the one seen is close()'s
    const r = await startExporter(dir, "execs", {
      extra: ["--otlp", rx.url, "--otlp.interval", "600"],
      env: noOtelEnv(),
      ready: PUSHING,
    });
    try {
      activity();
      assert.equal(rx.posts.length, 0);
    } finally {
      assert.equal(await stopExporter(r), 0, r.stderr());
      await rx.close();
    }
    assert.equal(rx.posts.length, 1, r.stderr());
    assert.equal(execs((rx.posts[0] as Receiver["posts"][number]).body, "tsbpfotlptrue"), 3);
    await assertNothingLeft(before);
  });

  it("says a refusing collector once on stderr, keeps pushing and serving /metrics", async () => {
    const before = kernelObjects();
    const rx = await startReceiver(400);
    const r = await startExporter(dir, "execs", {
      extra: ["--otlp", rx.url, "--otlp.interval", "0.5"],
      env: noOtelEnv(),
      ready: PUSHING,
    });
    try {
      assert.ok(await waitFor(() => /OTLP push to .*:/.test(r.stderr()), 10_000), r.stderr());
      // several more intervals: still one line, still running
      await new Promise((res) => setTimeout(res, 2500));
      const lines = r
        .stderr()
        .split("\n")
        .filter((l) => /OTLP push to /.test(l));
      assert.equal(lines.length, 1, r.stderr());
      assert.match(lines[0] as string, /400/);
      assert.equal(r.child.exitCode, null);
      const res = await fetch(r.url);
      assert.equal(res.status, 200);
      await res.text();
    } finally {
      assert.equal(await stopExporter(r), 0, r.stderr());
      await rx.close();
    }
    await assertNothingLeft(before);
  });

  it("rejects a bad --otlp before loading anything", async () => {
    const before = kernelObjects();
    for (const [args, re] of [
      [["--otlp", "collector:4318"], /--otlp: collector:4318: .*scheme/],
      [["--otlp", "not a url"], /--otlp: not a url: not a URL/],
      [
        ["--otlp", "http://127.0.0.1:1/v1/metrics", "--otlp.interval", "0"],
        /--otlp.interval: 0: not a positive/,
      ],
      [["--otlp.interval", "5"], /--otlp.interval: 5: given without --otlp/],
    ] as Array<[string[], RegExp]>) {
      const p = spawnSync(
        process.execPath,
        [CLI, "exporter", "--config.dir", dir, "--config.names", "execs", "--listen", "127.0.0.1:0", ...args],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(p.status, 1, `${args.join(" ")}: ${p.stderr}`);
      assert.match(p.stderr, re);
    }
    await assertNothingLeft(before);
  });
});

describe("OTLP push, without the kernel", () => {
  it("names the packages to install when the SDK is not there", async () => {
    const notFound = (name: string) => () =>
      Promise.reject(
        Object.assign(new Error(`Cannot find package '${name}' imported from /x.js`), {
          code: "ERR_MODULE_NOT_FOUND",
        }),
      );
    const real = await loadOtel();
    const imports: OtelImports = {
      api: async () => real.api,
      metrics: notFound("@opentelemetry/sdk-metrics") as OtelImports["metrics"],
      http: notFound("@opentelemetry/exporter-metrics-otlp-http") as OtelImports["http"],
      resources: async () => real.resources,
    };
    await assert.rejects(loadOtel(imports), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /@opentelemetry\/sdk-metrics, @opentelemetry\/exporter-metrics-otlp-http/);
      assert.match(e.message, /are not installed/);
      assert.match(e.fix, /npm install @opentelemetry\/api@1\.9\.1 /);
      return true;
    });
    // another failure is not "missing": it goes through as it is
    const broken = new SyntaxError("Unexpected token");
    await assert.rejects(
      loadOtel({ ...imports, metrics: () => Promise.reject(broken) }),
      (e: unknown) => e === broken,
    );
  });

  it("pins the versions package.json's optionalDependencies pin", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      optionalDependencies?: Record<string, string>;
    };
    assert.deepEqual(pkg.optionalDependencies, { ...OTEL_PACKAGES });
  });

  it("keeps the SDK out of the bundle: imported only when --otlp asks", () => {
    // (the tsbpf command runs dist/bundle/cli.cjs, which holds the CLI: src/cli/launcher.ts)
    const bundle = readFileSync(join(dirname(CLI), "cli.cjs"), "utf8");
    // (@opentelemetry/api is in the bundle already: prom-client requires it)
    for (const p of Object.keys(OTEL_PACKAGES).filter((p) => p !== "@opentelemetry/api"))
      assert.ok(bundle.includes(`importOptional("${p}")`), p);
    assert.doesNotMatch(bundle, /class PeriodicExportingMetricReader/);
  });

  it("ends --otlp in an error naming the packages when a bundle finds no SDK", () => {
    // the bundle in a package root of its own, with no node_modules
    const root = testTempDir("tsbpf-otlp-nosdk");
    mkdirSync(join(root, "dist", "bundle"), { recursive: true });
    for (const f of ["tsbpf.cjs", "cli.cjs"])
      copyFileSync(join(dirname(CLI), f), join(root, "dist", "bundle", f));
    writeFileSync(join(root, "binding.gyp"), "{}\n");
    writeFileSync(join(root, "package.json"), '{"name": "tsbpf", "type": "module"}\n');
    const p = spawnSync(
      process.execPath,
      [
        join(root, "dist", "bundle", "tsbpf.cjs"),
        "exporter",
        "--config.dir",
        root,
        "--config.names",
        "none",
        "--otlp",
        "http://127.0.0.1:1/v1/metrics",
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(p.status, 1, p.stderr);
    assert.match(
      p.stderr,
      /^tsbpf exporter: --otlp: .*@opentelemetry\/sdk-metrics, @opentelemetry\/exporter-metrics-otlp-http, @opentelemetry\/resources, which are not installed; install them .*npm install @opentelemetry\/api@1\.9\.1 /,
    );
  });

  it("maps prom-client's cumulative buckets to bounds and per-bucket counts", async () => {
    assert.deepEqual(
      histogramFromCumulative(
        [
          { le: Number.POSITIVE_INFINITY, cumulative: 9 },
          { le: 1, cumulative: 2 },
          { le: 0.5, cumulative: 1 },
          { le: 4, cumulative: 7 },
        ],
        12.5,
        9,
      ),
      { buckets: { boundaries: [0.5, 1, 4], counts: [1, 1, 5, 2] }, count: 9, sum: 12.5 },
    );
    // without _count: the +Inf bucket's
    assert.deepEqual(histogramFromCumulative([{ le: 2, cumulative: 3 }], undefined, 3), {
      buckets: { boundaries: [2], counts: [3, 0] },
      count: 3,
    });
    const otel = await loadOtel();
    const data = toMetricData(
      otel,
      [
        {
          name: "h",
          help: "a histogram",
          type: "histogram",
          values: [
            { metricName: "h_bucket", labels: { x: "a", le: 1 }, value: 1 },
            { metricName: "h_bucket", labels: { x: "a", le: "+Inf" }, value: 3 },
            { metricName: "h_sum", labels: { x: "a" }, value: 7 },
            { metricName: "h_count", labels: { x: "a" }, value: 3 },
            { metricName: "h_bucket", labels: { le: 1, x: "b" }, value: 0 },
            { metricName: "h_bucket", labels: { le: "+Inf", x: "b" }, value: 0 },
            { metricName: "h_sum", labels: { x: "b" }, value: 0 },
            { metricName: "h_count", labels: { x: "b" }, value: 0 },
          ],
        },
        { name: "c_total", help: "", type: "counter", values: [{ labels: { n: 2 }, value: 4 }] },
        { name: "g", help: "", type: "gauge", values: [{ labels: {}, value: -1.5 }] },
        { name: "s", help: "", type: "summary", values: [{ labels: { quantile: 0.5 }, value: 1 }] },
        { name: "empty_total", help: "", type: "counter", values: [] },
      ],
      [1, 0],
      [2, 0],
    );
    const { DataPointType } = otel.metrics;
    assert.deepEqual(
      data.map((m) => [m.descriptor.name, m.dataPointType]),
      [
        ["h", DataPointType.HISTOGRAM],
        ["c_total", DataPointType.SUM],
        ["g", DataPointType.GAUGE],
      ],
    );
    const h = data[0];
    assert.ok(h?.dataPointType === DataPointType.HISTOGRAM);
    assert.deepEqual(
      h.dataPoints.map((p) => [p.attributes, p.value]),
      [
        [{ x: "a" }, { buckets: { boundaries: [1], counts: [1, 2] }, count: 3, sum: 7 }],
        [{ x: "b" }, { buckets: { boundaries: [1], counts: [0, 0] }, count: 0, sum: 0 }],
      ],
    );
    const c = data[1];
    assert.ok(c?.dataPointType === DataPointType.SUM);
    assert.equal(c.isMonotonic, true);
    assert.deepEqual(c.dataPoints[0]?.attributes, { n: "2" });
  });
});
