/**
 * Chapter 7, raw tracepoints: does this kernel have them? BPF.supportRawTracepoint()
 * (bcc's BPF.support_raw_tracepoint()) loads a tiny raw tracepoint program to
 * find out (Linux 4.17+), and the example prints the answer.
 *
 *   tsbpf example raw_tracepoint/check_raw_tracepoint
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const example = defineExample({ name: "raw_tracepoint/check_raw_tracepoint" }, async () => {
  printf("raw tracepoints supported: %s\n", BPF.supportRawTracepoint() ? "yes" : "no");
});

runIfMain(import.meta.url, example);
