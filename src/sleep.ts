/**
 * Waits ms milliseconds, or less if signal aborts first; resolves to whether
 * it aborted. Node's `timers/promises` setTimeout takes a signal too, with
 * more machinery: its first call cost a process ~1.2 ms more than this (Node
 * 20), on the way to a tracer's first row. setTimeout fires at once for more
 * than 2^31-1 ms (bcc's tools default to 99999999 s), so a longer wait is
 * made of several.
 */
export async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<boolean> {
  const MAX = 2 ** 31 - 1;
  for (; ms > MAX; ms -= MAX) if (await sleepUnlessAborted(MAX, signal)) return true;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
