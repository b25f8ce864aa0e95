/** What a hook module needs of the BPF object it attaches for. */
import type { CompiledObject } from "../compile/compile.js";
import type { LoadedFunction, ProgramLoader } from "../loader.js";

export interface AttachContext {
  /** The compiled program (source, ELF, what the rewriter learnt). */
  readonly compiled: CompiledObject;
  /** Loads functions as one program type each (bcc's lazy load). */
  readonly loader: ProgramLoader;
  /** bcc's load_func: loads fnName as progType, with tsbpf's typed errors. */
  loadFunc(fnName: string, progType: number): LoadedFunction;
  /** Kernel and user probes and tracepoints the object has open (for the probe cap, quota.ts). */
  openProbes(): number;
}
