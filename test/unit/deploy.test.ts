/**
 * The deployment files under deploy/ stay true to the code: the DaemonSet's
 * exporter flags are ones `tsbpf exporter` takes, its configs are shipped
 * examples, its port, annotations, mounts and privileges agree, and the
 * Containerfile starts the CLI the build makes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below
type Obj = Record<string, any>;

const docs = parseAllDocuments(readFileSync(join(repoRoot, "deploy/daemonset.yaml"), "utf8")).map(
  (d) => d.toJS() as Obj,
);
const ds = docs.find((d) => d.kind === "DaemonSet") as Obj;
const pod = ds?.spec?.template?.spec as Obj;
const container = pod?.containers?.[0] as Obj;
const args = (container?.args ?? []) as string[];
const flag = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

describe("deploy/", () => {
  it("a DaemonSet in its namespace, on every node, in the host's PID namespace", () => {
    assert.ok(ds, "no DaemonSet");
    assert.equal(docs.find((d) => d.kind === "Namespace")?.metadata?.name, ds.metadata.namespace);
    assert.equal(pod.hostPID, true);
    assert.deepEqual(pod.tolerations, [{ operator: "Exists" }]);
    assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
  });

  it("runs tsbpf exporter with flags it takes, on the port it exposes and Prometheus is told", () => {
    assert.equal(args[0], "exporter");
    const help = spawnSync(
      process.execPath,
      [join(repoRoot, "dist/bundle/tsbpf.cjs"), "exporter", "--help"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(help.status, 0, help.stderr);
    for (const a of args.slice(1)) {
      const name = a.split("=")[0] as string;
      assert.ok(help.stdout.includes(name), `tsbpf exporter has no ${name}`);
    }
    const port = Number(/:(\d+)$/.exec(flag("web.listen-address") ?? "")?.[1]);
    assert.equal(container.ports[0].containerPort, port);
    const annotations = ds.spec.template.metadata.annotations as Obj;
    assert.equal(annotations["prometheus.io/port"], String(port));
    assert.equal(annotations["prometheus.io/path"], "/metrics");
    assert.equal(container.readinessProbe.httpGet.path, "/metrics");
  });

  it("its configs are the shipped examples, each with its program", () => {
    const dir = join(repoRoot, "examples/exporter");
    for (const name of (flag("config.names") ?? "").split(",")) {
      assert.ok(existsSync(join(dir, `${name}.yaml`)), `no example config ${name}`);
      assert.ok(
        ["bpf.o", "bpf.c", "c"].some((ext) => existsSync(join(dir, `${name}.${ext}`))),
        `no program for example config ${name}`,
      );
    }
    const configs = container.volumeMounts.find((m: Obj) => m.name === "configs");
    assert.equal(configs.mountPath, flag("config.dir"));
  });

  it("mounts what BPF needs from the host, and has the privileges it needs", () => {
    const volumes = new Map((pod.volumes as Obj[]).map((v) => [v.name, v]));
    const mounts = new Map((container.volumeMounts as Obj[]).map((m) => [m.mountPath, m]));
    for (const m of mounts.values())
      assert.ok(volumes.has(m.name), `mount of an undeclared volume ${m.name}`);
    for (const path of ["/sys/kernel/btf", "/sys/fs/bpf", "/sys/kernel/tracing", "/sys/fs/cgroup"]) {
      const m = mounts.get(path);
      assert.ok(m, `no mount at ${path}`);
      assert.equal(volumes.get(m.name)?.hostPath?.path, path);
    }
    assert.equal(mounts.get("/sys/kernel/btf")?.readOnly, true);
    const caps = container.securityContext.capabilities.add as string[];
    for (const c of ["BPF", "PERFMON"]) assert.ok(caps.includes(c), `no CAP_${c}`);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    // a read-only root: the compile cache and temporary files need somewhere to go
    const cacheEnv = (container.env as Obj[]).find((e) => e.name === "TSBPF_CACHE_DIR");
    // (in a directory of its own below the volume: an emptyDir is 0777, and tsbpf refuses a cache others can write)
    assert.ok(
      cacheEnv && [...mounts.keys()].some((m) => (cacheEnv.value as string).startsWith(`${m}/`)),
      "the compile cache is not in a directory of its own on a volume",
    );
    assert.ok(mounts.has("/tmp"));
  });

  it("the Containerfile builds the package and starts the CLI it builds", () => {
    const text = readFileSync(join(repoRoot, "deploy/Containerfile"), "utf8");
    assert.match(text, /npm ci && npm run build/);
    assert.match(text, /libbpf1 libelf1 zlib1g/);
    const link = /ln -s \/opt\/tsbpf\/(\S+) \/usr\/local\/bin\/tsbpf/.exec(text);
    assert.ok(
      link && existsSync(join(repoRoot, link[1] as string)),
      "the image's tsbpf is not what the build makes",
    );
  });
});
