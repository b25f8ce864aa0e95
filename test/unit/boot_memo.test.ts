/**
 * The boot memo (src/kernel/boot_memo.ts): a refusal is remembered in the
 * cache directory for this boot only, another boot's memo is removed, a
 * damaged memo is ignored; a refused fentry/fexit is remembered (not an
 * LSM's); the tools' hook chooser then goes to the tracepoint without
 * trying fentry, unless fentry is the last hope.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { TRAMPOLINE_REFUSAL, trampolineRefusal } from "../../src/attach/kfunc.js";
import { BPF } from "../../src/index.js";
import { rememberedRefusal, rememberRefusal } from "../../src/kernel/boot_memo.js";
import { Errno } from "../../src/kernel/constants.js";
import { NotSupportedError } from "../../src/kernel/errors.js";
import { type HookOffer, hookCandidates } from "../../tools/lib/hooks.js";

const boot = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
let dir = "";
let saved: string | undefined;

beforeEach(() => {
  saved = process.env.TSBPF_CACHE_DIR;
  dir = mkdtempSync(join(tmpdir(), "tsbpf-boot-memo-"));
  process.env.TSBPF_CACHE_DIR = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.TSBPF_CACHE_DIR;
  else process.env.TSBPF_CACHE_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe("boot memo", () => {
  it("remembers a refusal for this boot, in the cache directory, and forgets other boots'", () => {
    assert.equal(rememberedRefusal("thing"), undefined);
    mkdirSync(join(dir, "features"), { recursive: true, mode: 0o700 });
    const stale = join(dir, "features", "00000000-1111-2222-3333-444444444444.json");
    writeFileSync(stale, '{"thing":{"errno":1,"reason":"another boot"}}\n', { mode: 0o600 });
    rememberRefusal("thing", { errno: Errno.EPERM, reason: "refused" });
    assert.deepEqual(rememberedRefusal("thing"), { errno: Errno.EPERM, reason: "refused" });
    assert.equal(rememberedRefusal("other"), undefined);
    assert.ok(existsSync(join(dir, "features", `${boot}.json`)));
    assert.ok(!existsSync(stale), "another boot's memo is removed");
  });

  it("ignores a damaged memo", () => {
    mkdirSync(join(dir, "features"), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "features", `${boot}.json`), '{"thing": {"errno": "x"', { mode: 0o600 });
    assert.equal(rememberedRefusal("thing"), undefined);
    rememberRefusal("thing", { errno: Errno.ENOTSUPP, reason: "no JIT" });
    assert.equal(rememberedRefusal("thing")?.errno, Errno.ENOTSUPP);
  });

  it("a refused fentry or fexit is remembered; an LSM program's refusal is not", {
    skip: process.getuid?.() !== 0,
  }, () => {
    const lsm = trampolineRefusal("lsm", "file_open", Errno.EPERM, "load");
    assert.ok(lsm instanceof NotSupportedError);
    assert.equal(rememberedRefusal(TRAMPOLINE_REFUSAL), undefined);
    const err = trampolineRefusal("kretfunc", "cap_capable", Errno.EPERM, "load");
    assert.ok(err instanceof NotSupportedError);
    assert.deepEqual(rememberedRefusal(TRAMPOLINE_REFUSAL), { errno: Errno.EPERM, reason: err.reason });
  });

  it("the hook chooser skips a remembered fentry refusal before a tracepoint, not when fentry is the last hope", () => {
    const partial: HookOffer = { functions: ["cap_capable"], tracepoint: true, tracepointPartial: true };
    const fentryOnly: HookOffer = { functions: ["cap_capable"], tracepoint: false, tracepointPartial: false };
    const before = hookCandidates("t", undefined, partial);
    const lastHope = hookCandidates("t", undefined, fentryOnly);
    // without kprobes, fentry is tried before a tracepoint that sees less
    if (BPF.supports("kprobe") !== "yes") assert.deepEqual(before, ["fentry", "tracepoint"]);
    rememberRefusal(TRAMPOLINE_REFUSAL, { errno: Errno.EPERM, reason: "refused" });
    assert.deepEqual(
      hookCandidates("t", undefined, partial),
      before.filter((k) => k !== "fentry"),
    );
    assert.deepEqual(hookCandidates("t", undefined, fentryOnly), lastHope);
    // a kind asked for by hand is tried whatever was remembered
    assert.deepEqual(hookCandidates("t", "fentry", partial), ["fentry"]);
  });
});
