/**
 * A C target for funccount and funclatency: on SIGUSR1 it calls
 * my_count_a() 300 times, my_count_b() 70 times, my_slow_fn() (20 ms of
 * usleep) 5 times, my_slower_fn() (40 ms) 3 times and my_recurse(3) 10
 * times (it calls itself 3 deep: 40 calls, 4 nested a thread), fires
 * its USDT probes functarget:tick 42 times and functarget:tock 7 times
 * (when <sys/sdt.h> is there), then prints "done";
 * it stays until killed.
 */
import { type CTargets, sdtHeaderPresent } from "../../c_targets.js";

const SOURCE = `
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#ifdef HAVE_SDT
#include <sys/sdt.h>
#else
#define DTRACE_PROBE1(p, n, a) (void)(a)
#endif

static volatile sig_atomic_t go;
static void on_usr1(int sig) { (void)sig; go = 1; }

volatile int sink;
__attribute__((noinline)) int my_count_a(int x) { sink += x; asm volatile("" ::: "memory"); return sink; }
__attribute__((noinline)) int my_count_b(int x) { sink ^= x; asm volatile("" ::: "memory"); return sink; }
__attribute__((noinline)) void my_slow_fn(void) { usleep(20000); asm volatile("" ::: "memory"); }
__attribute__((noinline)) void my_slower_fn(void) { usleep(40000); asm volatile("" ::: "memory"); }
__attribute__((noinline)) int my_recurse(int depth) {
  int r = depth > 0 ? my_recurse(depth - 1) : 0;
  sink += r;
  asm volatile("" ::: "memory");
  return r + 1;
}

int main(void) {
  signal(SIGUSR1, on_usr1);
  printf("%d\\n", getpid());
  fflush(stdout);
  while (!go) pause();
  for (int i = 0; i < 300; i++) my_count_a(i);
  for (int i = 0; i < 70; i++) my_count_b(i);
  for (int i = 0; i < 5; i++) my_slow_fn();
  for (int i = 0; i < 3; i++) my_slower_fn();
  for (int i = 0; i < 10; i++) my_recurse(3);
  for (int i = 0; i < 42; i++) DTRACE_PROBE1(functarget, tick, i);
  for (int i = 0; i < 7; i++) DTRACE_PROBE1(functarget, tock, i);
  printf("done\\n");
  fflush(stdout);
  for (;;) pause();
}
`;

/** The known calls of the target. */
export const CALLS = {
  my_count_a: 300,
  my_count_b: 70,
  my_slow_fn: 5,
  my_slower_fn: 3,
  my_recurse: 40,
  tick: 42,
  tock: 7,
} as const;

/** Builds the target once per CTargets; start() runs one, go() makes its calls and waits for them. */
export function funcTarget(targets: CTargets) {
  let exe: string | undefined;
  return {
    get exe(): string {
      exe ??= targets.build("functarget", SOURCE, sdtHeaderPresent ? ["-DHAVE_SDT"] : []);
      return exe;
    },
    async start(): Promise<{ pid: number; go: () => Promise<void> }> {
      const child = targets.run(this.exe);
      let text = "";
      let exited = false;
      let wake: (() => void) | undefined;
      child.stdout?.on("data", (b: Buffer) => {
        text += b.toString();
        wake?.();
      });
      child.on("exit", () => {
        exited = true;
        wake?.();
      });
      const line = async (n: number): Promise<string> => {
        for (;;) {
          const lines = text.split("\n");
          if (lines.length > n + 1) return lines[n] as string;
          if (exited) throw new Error(`functarget exited: ${text}`);
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      };
      const pid = Number(await line(0));
      return {
        pid,
        go: async () => {
          process.kill(pid, "SIGUSR1");
          await line(1);
        },
      };
    },
  };
}
