/**
 * Chapter 9: does this kernel run kfunc / kretfunc (fentry / fexit)
 * programs? The original prints BPF.support_kfunc(); so does this, in
 * Python's spelling (True / False) so the output reads the same.
 *
 * On this project's 6.18 machine the answer is False (the kernel refuses
 * fentry); on Debian's 6.1 in the kernel matrix it is True.
 *
 *   tsbpf example kfunc/check_kfunc
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const example = defineExample({ name: "kfunc/check_kfunc" }, async () => {
  printf("%s\n", BPF.supportKfunc() ? "True" : "False");
});

runIfMain(import.meta.url, example);
