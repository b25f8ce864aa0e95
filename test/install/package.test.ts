/**
 * The npm package as users install it (issue 19): `npm pack` of this tree,
 * then, in fresh projects, `npm install --ignore-scripts tsbpf-X.tgz` and
 * pnpm's install of the same tarball, on a machine made to look like one
 * with no compiler and no -dev packages. Every step runs in a private mount
 * namespace (unshare -m) in which empty files and directories are bind-mounted
 * over the shared libraries of libbpf, libelf and zlib, their headers,
 * pkg-config and its .pc files, make, gcc, g++, cc, c++ and clang: what the
 * package needs beyond Node must be in the package. The mounts live and die
 * with the namespace's processes; nothing outside it sees them.
 *
 * In the installed package: a program loads a prebuilt BPF object, sees its
 * child's exec in a map, and gets the typed error for C without clang;
 * require("tsbpf") gets the same library as import; the
 * CLI's execsnoop sees an exec of a marker; without the kernel's BTF, or run
 * by nobody, a tool says what is missing; a machine where no prebuild fits
 * gets an error naming what to install; and the source build that error
 * names works (with the compiler and -dev packages back).
 *
 * Needs root (namespaces, BPF), the prebuilt addon (scripts/bootstrap.sh builds
 * it: npm run build:prebuild), clang on the host (to build the test's own
 * object) and the npm registry (the package's dependencies, and pnpm).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot, skipUnlessRoot, testTempDir } from "../helpers.js";

const PNPM = "pnpm@9.15.9";
const platformDir = `${process.platform}-${process.arch}`;
const triplet = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
const unshare = ["/usr/bin/unshare", "/bin/unshare"].find((p) => existsSync(p));

/** Root, and a private mount namespace (a container without CAP_SYS_ADMIN has none). */
function whyNot(): string | false {
  if (skipUnlessRoot) return skipUnlessRoot;
  if (unshare === undefined) return "needs unshare (util-linux) for a private mount namespace";
  const r = spawnSync(unshare, ["-m", "--propagation", "private", "true"], { encoding: "utf8" });
  return r.status === 0 ? false : `cannot make a private mount namespace: ${r.stderr.trim() || r.error}`;
}
const skip = whyNot();

/**
 * Runs its arguments after hiding, in the mount namespace it runs in, what a
 * machine without a compiler and -dev packages lacks. $1: an empty file, $2:
 * an empty directory, then directories of the test to hide as well, `--`, the
 * command. A path that is a symbolic link hides its target (mount follows it).
 */
const HIDE = `set -eu
file=$1 dir=$2
shift 2
for p in /usr/lib/*/libbpf.so* /usr/lib/*/libelf.so* /usr/lib/*/libelf-*.so* /usr/lib/*/libz.so* \\
    /usr/include/libelf.h /usr/include/gelf.h /usr/include/zlib.h \\
    /usr/lib/*/pkgconfig/libbpf.pc /usr/lib/*/pkgconfig/libelf.pc /usr/lib/*/pkgconfig/zlib.pc \\
    /usr/bin/pkg-config /usr/bin/pkgconf /usr/bin/make /usr/bin/gcc /usr/bin/g++ /usr/bin/cc /usr/bin/c++ \\
    /usr/bin/clang /usr/bin/clang-[0-9]* /usr/lib/llvm-*/bin/clang /usr/lib/llvm-*/bin/clang-[0-9]*; do
    if [ -e "$p" ] && [ ! -d "$p" ]; then mount --bind "$file" "$p"; fi
done
if [ -d /usr/include/bpf ]; then mount --bind "$dir" /usr/include/bpf; fi
while [ "$1" != -- ]; do
    mount --bind "$dir" "$1"
    shift
done
shift
exec "$@"`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const show = (what: string, r: Run): string =>
  `${what}: exit ${r.status}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

describe("the npm package, installed as users install it", { skip }, () => {
  const tmp = skip ? "" : testTempDir("tsbpf-install");
  const emptyFile = join(tmp, "hide", "empty");
  const emptyDir = join(tmp, "hide", "empty.d");
  // A fresh cache of npm's, of tsbpf's (so no compiled object can stand in
  // for clang), of pnpm's and node-gyp's (XDG_*: nothing is left in $HOME),
  // and no TSBPF_CLANG.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_cache: join(tmp, "npm-cache"),
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    TSBPF_CACHE_DIR: join(tmp, "tsbpf-cache"),
    XDG_CACHE_HOME: join(tmp, "xdg-cache"),
    XDG_DATA_HOME: join(tmp, "xdg-data"),
    XDG_STATE_HOME: join(tmp, "xdg-state"),
    XDG_CONFIG_HOME: join(tmp, "xdg-config"),
  };
  delete env.TSBPF_CLANG;
  let tarball = "";
  const npmProject = join(tmp, "npm-project");
  const pnpmProject = join(tmp, "pnpm-project");
  const object = join(tmp, "object", "execs.bpf.o");

  /** Runs argv in a namespace where the build tools and -dev packages are hidden (and the extra dirs). */
  const bare = (argv: string[], opts: { cwd?: string; timeout?: number; hideDirs?: string[] } = {}): Run => {
    const r = spawnSync(
      unshare as string,
      [
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        HIDE,
        "sh",
        emptyFile,
        emptyDir,
        ...(opts.hideDirs ?? []),
        "--",
        ...argv,
      ],
      { cwd: opts.cwd ?? tmp, env, encoding: "utf8", timeout: opts.timeout ?? 120_000 },
    );
    return {
      status: r.status,
      stdout: r.stdout ?? "",
      stderr: (r.stderr ?? "") + (r.error ? `\n${r.error}` : ""),
    };
  };

  /** Starts argv in such a namespace, in its own process group; output collected. */
  const bareStart = (
    argv: string[],
    cwd: string,
  ): { child: ChildProcess; out: () => string; err: () => string } => {
    const child = spawn(
      unshare as string,
      ["-m", "--propagation", "private", "/bin/sh", "-c", HIDE, "sh", emptyFile, emptyDir, "--", ...argv],
      { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    let out = "";
    let err = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on("data", (b: Buffer) => {
      err += b.toString();
    });
    return { child, out: () => out, err: () => err };
  };

  /**
   * Runs execsnoop as argv starts it, execs /bin/true with a marker argument
   * (outside the namespace: execs are global) until execsnoop prints it, then
   * ends it with Ctrl-C (SIGINT to its process group).
   */
  const execsnoopSees = async (argv: string[], cwd: string, what: string): Promise<void> => {
    const marker = `tsbpf-install-${process.pid}-${Date.now()}`;
    const run = bareStart([...argv, "execsnoop", "--json", "--duration", "60"], cwd);
    const exited = new Promise<number | null>((resolve) => run.child.on("exit", (code) => resolve(code)));
    let done = false;
    void exited.then(() => {
      done = true;
    });
    const deadline = Date.now() + 45_000;
    while (!done && Date.now() < deadline && !run.out().includes(marker)) {
      spawnSync("/bin/true", [marker]);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seen = run.out().includes(marker);
    if (!done) process.kill(-(run.child.pid as number), "SIGINT");
    const timer = setTimeout(() => process.kill(-(run.child.pid as number), "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    const r = { status: null, stdout: run.out(), stderr: run.err() };
    assert.ok(seen, show(`${what}: execsnoop never printed the exec of /bin/true ${marker}`, r));
    const line = run
      .out()
      .split("\n")
      .find((l) => l.includes(marker)) as string;
    const rec = JSON.parse(line) as { comm: string; args: string[] };
    assert.deepEqual(rec.args, ["/bin/true", marker], line);
    assert.doesNotMatch(run.err(), /Error/, show(what, r));
  };

  it("packs a lean package: the prebuilt addon, the tools' objects, no tests, no root binding.gyp", () => {
    const prebuild = join(repoRoot, "prebuilds", platformDir, "tsbpf.node");
    assert.ok(
      existsSync(prebuild),
      `${prebuild} is missing: build it with "npm run build:prebuild" (scripts/bootstrap.sh does)`,
    );
    mkdirSync(join(tmp, "hide", "empty.d"), { recursive: true });
    writeFileSync(emptyFile, "");
    chmodSync(emptyFile, 0o644);
    const r = spawnSync("npm", ["pack", "--json", "--pack-destination", tmp], {
      cwd: repoRoot,
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, show("npm pack", { status: r.status, stdout: r.stdout, stderr: r.stderr }));
    const [packed] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    assert.ok(packed);
    tarball = join(tmp, packed.filename);
    const files = packed.files.map((f) => f.path);
    for (const f of [
      `prebuilds/${platformDir}/tsbpf.node`,
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/tools/execsnoop.bpf.o",
      "src/compile/headers/tsbpf/prelude.h",
      "native/binding.gyp",
      "LICENSE",
    ])
      assert.ok(files.includes(f), `the package lacks ${f}`);
    const unwanted = files.filter(
      (f) =>
        /^(dist\/(test|bench)\/|bench\/|test\/|scripts\/|build\/|build-static\/|node_modules\/)/.test(f) ||
        f.endsWith(".map") ||
        f === "binding.gyp",
    );
    assert.deepEqual(unwanted, [], "files the package should not carry");
  });

  it("the namespace hides the compiler, the -dev packages and the shared libraries", () => {
    const r = bare([
      "/bin/sh",
      "-c",
      "for c in cc gcc g++ make pkg-config clang; do if command -v $c >/dev/null && $c --version >/dev/null 2>&1; then echo runs: $c; fi; done; " +
        "ls -A /usr/include/bpf; for f in /usr/lib/*/libbpf.so.1 /usr/lib/*/libelf.so.1 /usr/lib/*/libz.so.1; do if [ -s $f ]; then echo present: $f; fi; done",
    ]);
    assert.equal(r.status, 0, show("the namespace", r));
    assert.equal(r.stdout, "", show("still there in the namespace", r));
  });

  it("npm install --ignore-scripts: nothing built, a prebuilt addon that needs only libc", () => {
    mkdirSync(npmProject, { recursive: true });
    writeFileSync(
      join(npmProject, "package.json"),
      '{ "name": "tsbpf-install-check", "version": "1.0.0", "private": true, "type": "module" }\n',
    );
    const r = bare(
      ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", tarball],
      {
        cwd: npmProject,
      },
    );
    assert.equal(r.status, 0, show("npm install", r));
    const pkg = join(npmProject, "node_modules", "tsbpf");
    assert.ok(
      !existsSync(join(pkg, "build")) && !existsSync(join(pkg, "native", "build")),
      "something was built",
    );
    const addon = join(pkg, "prebuilds", platformDir, "tsbpf.node");
    assert.ok(existsSync(addon), `${addon} is missing`);
    const d = spawnSync("readelf", ["-d", addon], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
    assert.equal(d.status, 0, d.stderr);
    const needed = [...d.stdout.matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]);
    assert.deepEqual(
      needed.filter((l) => l !== "libc.so.6" && !/^ld-linux/.test(l ?? "")),
      [],
      `the prebuild needs more than libc: ${needed.join(", ")}`,
    );
    // and with libbpf, libelf and zlib gone, the dynamic loader finds all it needs
    const l = bare(["ldd", addon]);
    assert.equal(l.status, 0, show("ldd", l));
    assert.doesNotMatch(l.stdout, /not found|libbpf|libelf|libz/, l.stdout);
  });

  it("a program loads a prebuilt object, sees its child's exec, and gets a typed error for C without clang", () => {
    // The object, built here as a user would build one elsewhere (clang is on the host).
    mkdirSync(dirname(object), { recursive: true });
    const src = join(dirname(object), "execs.bpf.c");
    writeFileSync(
      src,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} execs SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve")
int count_exec(void *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 one = 1, *n = bpf_map_lookup_elem(&execs, &pid);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&execs, &pid, &one, BPF_NOEXIST);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const c = spawnSync(
      "clang",
      ["-target", "bpf", "-O2", "-g", `-I/usr/include/${triplet}`, "-c", src, "-o", object],
      {
        encoding: "utf8",
      },
    );
    assert.equal(c.status, 0, `clang: ${c.stderr}`);
    const program = join(npmProject, "check.js");
    writeFileSync(
      program,
      `import { BPF, NotSupportedError } from "tsbpf";
import { spawnSync } from "node:child_process";
const out = {};
const b = await BPF.open({ object: process.argv[2] });
const pid = spawnSync("/bin/true", ["tsbpf-install"]).pid;
for (let i = 0; i < 50 && out.count === undefined; i++) {
  await new Promise((r) => setTimeout(r, 100));
  const n = b.getTable("execs").get(pid);
  if (n !== undefined) out.count = String(n);
}
b.close();
try {
  await BPF.load({ text: "int kprobe__do_nanosleep(void *ctx) { return 0; }" });
  out.compiled = true;
} catch (err) {
  out.error = { name: err.name, typed: err instanceof NotSupportedError, feature: err.feature, message: err.message };
}
console.log(JSON.stringify(out));
`,
    );
    const r = bare(["node", program, object], { cwd: npmProject, timeout: 60_000 });
    assert.equal(r.status, 0, show("the program", r));
    const out = JSON.parse(r.stdout) as {
      count?: string;
      compiled?: boolean;
      error?: { name: string; typed: boolean; feature: string; message: string };
    };
    assert.equal(out.count, "1", show("the child's exec in the map", r));
    assert.equal(out.compiled, undefined, "C compiled with clang hidden");
    assert.equal(out.error?.typed, true, show("BPF.load({ text }) without clang", r));
    assert.equal(out.error?.feature, "clang");
    assert.match(out.error?.message ?? "", /apt-get install clang libbpf-dev/);
    assert.match(
      out.error?.message ?? "",
      /prebuilt object \(BPF\.open\) and the other bundled tools need no compiler/,
    );
    // require() gets the same library (package.json's exports: index.cjs, which index.mjs re-exports)
    const cjs = join(npmProject, "check.cjs");
    writeFileSync(
      cjs,
      `const t = require("tsbpf");
import("tsbpf").then((m) =>
  console.log(JSON.stringify({ same: m.BPF === t.BPF, names: Object.keys(m).sort().join() === Object.keys(t).sort().join(), open: typeof t.BPF.open })),
);
`,
    );
    const rc = bare(["node", cjs], { cwd: npmProject, timeout: 60_000 });
    assert.equal(rc.status, 0, show("require", rc));
    assert.deepEqual(JSON.parse(rc.stdout), { same: true, names: true, open: "function" });
  });

  it("npx tsbpf execsnoop sees an exec (tools need no compiler); the tutorial is in the bundle", async () => {
    await execsnoopSees(["npx", "--no", "tsbpf"], npmProject, "npx tsbpf execsnoop");
    const r = bare(["npx", "--no", "tsbpf", "example", "--list"], { cwd: npmProject, timeout: 60_000 });
    assert.equal(r.status, 0, show("npx tsbpf example --list", r));
    assert.match(r.stdout, /^ {2}first_step\/printk_sample /m, show("npx tsbpf example --list", r));
  });

  it("without the kernel's BTF, or unprivileged, a tool says what is missing and what to do", () => {
    // The kernel's BTF out of sight (an empty file over it, in the namespace only).
    const noBtf = spawnSync(
      unshare as string,
      [
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        'mount --bind "$1" /sys/kernel/btf/vmlinux && shift && exec "$@"',
        "sh",
        emptyFile,
        join(npmProject, "node_modules", ".bin", "tsbpf"),
        "execsnoop",
        "--duration",
        "1",
      ],
      { cwd: npmProject, env, encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(noBtf.status, 1, show("execsnoop without BTF", { ...noBtf, status: noBtf.status }));
    assert.match(noBtf.stderr, /NotSupportedError: kernel BTF .*CONFIG_DEBUG_INFO_BTF=y/);
    // As nobody, with a cache of its own.
    const home = join(tmp, "nobody");
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    chmodSync(tmp, 0o755);
    const unprivileged = spawnSync(
      join(npmProject, "node_modules", ".bin", "tsbpf"),
      ["execsnoop", "--duration", "1"],
      {
        cwd: npmProject,
        env: { ...env, HOME: home, TSBPF_CACHE_DIR: join(home, "cache"), XDG_CACHE_HOME: join(home, "xdg") },
        uid: 65534,
        gid: 65534,
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    assert.equal(
      unprivileged.status,
      1,
      show("execsnoop as nobody", { ...unprivileged, status: unprivileged.status }),
    );
    assert.match(unprivileged.stderr, /PermissionError: .*run as root, or grant CAP_BPF and CAP_PERFMON/);
  });

  it("where no prebuild fits, the error names what to install and the command that builds one", () => {
    const pkg = join(npmProject, "node_modules", "tsbpf");
    const r = bare(
      [
        "node",
        "--input-type=module",
        "-e",
        `import { BPF, AddonError } from "tsbpf";
try { await BPF.open({ object: ${JSON.stringify(object)} }); console.log("loaded"); }
catch (err) { console.log(JSON.stringify({ typed: err instanceof AddonError, message: err.message })); }`,
      ],
      { cwd: npmProject, hideDirs: [join(pkg, "prebuilds")] },
    );
    assert.equal(r.status, 0, show("the program", r));
    const out = JSON.parse(r.stdout) as { typed: boolean; message: string };
    assert.equal(out.typed, true, r.stdout);
    assert.match(
      out.message,
      /apt-get install libbpf-dev libelf-dev zlib1g-dev pkg-config make g\+\+ python3/,
    );
    assert.ok(out.message.includes(`cd ${join(pkg, "native")} && npx --yes node-gyp rebuild`), out.message);
  });

  it("that source build works (with the compiler and -dev packages back)", () => {
    const pkg = join(npmProject, "node_modules", "tsbpf");
    // Node's own headers when they are installed beside it (Debian's and NodeSource's packages),
    // else node-gyp downloads them.
    const nodeDir = dirname(dirname(process.execPath));
    const nodedir = existsSync(join(nodeDir, "include", "node", "node_api.h"))
      ? [`--nodedir=${nodeDir}`]
      : [];
    const b = spawnSync("npx", ["--yes", "node-gyp", "rebuild", ...nodedir], {
      cwd: join(pkg, "native"),
      env,
      encoding: "utf8",
      timeout: 180_000,
    });
    assert.equal(
      b.status,
      0,
      show("node-gyp rebuild", { status: b.status, stdout: b.stdout, stderr: b.stderr }),
    );
    assert.ok(existsSync(join(pkg, "native", "build", "Release", "tsbpf.node")));
    // With the prebuild out of sight, the program runs on the source build.
    const r = spawnSync(
      unshare as string,
      [
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        "sh",
        emptyDir,
        join(pkg, "prebuilds"),
        "node",
        "--input-type=module",
        "-e",
        `import { BPF } from "tsbpf";
const b = await BPF.open({ object: ${JSON.stringify(object)} });
console.log(b.getTable("execs") ? "ok" : "no map");
b.close();`,
      ],
      { cwd: npmProject, env, encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(r.stdout.trim(), "ok", show("the program on the source build", { ...r, status: r.status }));
  });

  it(`pnpm (${PNPM}) installs it, running no script, and its CLI runs`, async () => {
    mkdirSync(pnpmProject, { recursive: true });
    writeFileSync(
      join(pnpmProject, "package.json"),
      '{ "name": "tsbpf-pnpm-check", "version": "1.0.0", "private": true, "type": "module" }\n',
    );
    const r = bare(
      [
        "npx",
        "--yes",
        PNPM,
        "add",
        "--store-dir",
        join(tmp, "pnpm-store"),
        "--reporter=append-only",
        tarball,
      ],
      { cwd: pnpmProject, timeout: 180_000 },
    );
    assert.equal(r.status, 0, show("pnpm add", r));
    const pkg = join(pnpmProject, "node_modules", "tsbpf");
    assert.ok(existsSync(join(pkg, "prebuilds", platformDir, "tsbpf.node")), `no prebuild in ${pkg}`);
    assert.deepEqual(
      readdirSync(pkg).filter((f) => f === "build"),
      [],
      "pnpm built something",
    );
    await execsnoopSees(
      [join(pnpmProject, "node_modules", ".bin", "tsbpf")],
      pnpmProject,
      "pnpm's tsbpf execsnoop",
    );
  });
});
