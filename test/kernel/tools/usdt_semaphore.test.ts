/**
 * USDT probes guarded by a semaphore fire only while a tracer has raised
 * it: funccount and stackcount attach uprobes on the probe's sites with the
 * semaphore's offset, and the kernel counts it up (Linux 4.20+). Without
 * that, the counts below would be zero.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CTargets, ccPresent, sdtHeaderPresent } from "../../c_targets.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const SOURCE = `
#define _SDT_HAS_SEMAPHORES 1
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/sdt.h>
__extension__ unsigned short gatedtarget_gated_semaphore __attribute__((unused)) __attribute__((section(".probes")));
static volatile sig_atomic_t go;
static void on_usr1(int sig) { (void)sig; go = 1; }
int main(void) {
  signal(SIGUSR1, on_usr1);
  printf("%d\\n", getpid());
  fflush(stdout);
  for (;;) {
    while (!go) pause();
    go = 0;
    for (int i = 0; i < 25; i++)
      if (gatedtarget_gated_semaphore) DTRACE_PROBE1(gatedtarget, gated, i);
    printf("done\\n");
    fflush(stdout);
  }
}
`;

const skip = skipUnlessRoot || (!ccPresent && "no C compiler") || (!sdtHeaderPresent && "no <sys/sdt.h>");

describe("USDT probes with a semaphore", { skip }, () => {
  const targets = new CTargets("tsbpf-usdt-sem");
  after(() => targets.cleanup());

  /** Starts the target; fire() makes it run its 25 guarded probes and waits until it has. */
  async function target(): Promise<{ pid: number; exe: string; fire: () => Promise<void> }> {
    const exe = targets.build("gatedtarget", SOURCE);
    const child = targets.run(exe);
    let out = "";
    let wake: () => void = () => {};
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      wake();
    });
    const until = async (re: RegExp): Promise<void> => {
      while (!re.test(out)) await new Promise<void>((r) => (wake = r));
    };
    await until(/^\d+\n/);
    const pid = Number(out.split("\n")[0]);
    return {
      pid,
      exe,
      fire: async () => {
        out = "";
        process.kill(pid, "SIGUSR1");
        await until(/done\n/);
      },
    };
  }

  it("funccount u:exe:gated counts each of the 25 guarded firings", async () => {
    const t = await target();
    const r = await traceWhile("funccount", ["-p", String(t.pid), `u:${t.exe}:gated`], t.fire);
    assert.equal(r.code, 0, r.stderr);
    const row = r.lines.find((l) => /^gated\s/.test(l));
    assert.ok(row, r.stdout);
    assert.equal(Number(row.trim().split(/\s+/).pop()), 25);
  });

  it("stackcount u:exe:gated: 25 in main (bcc's folded line without -P: an empty name first)", async () => {
    const t = await target();
    const r = await traceWhile("stackcount", ["-p", String(t.pid), "-f", `u:${t.exe}:gated`], t.fire);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.lines.filter((l) => /^;(.*;)?main \d+$/.test(l));
    assert.ok(lines.length > 0, r.stdout);
    assert.equal(
      lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0),
      25,
    );
  });
});
