/** The shape of the example catalog (examples/catalog.ts and each chapter's chapter.ts). */

export interface ProgramEntry {
  /** File name without .ts: examples/<chapter>/<name>.ts. */
  name: string;
  /** What the program shows, in one line. */
  summary: string;
  /**
   * How it runs on this project's development kernel (6.18, no kprobes, no fentry):
   * "native"; "fallback: <the equivalent it uses>"; "error" (the program's point is a
   * typed error); "matrix" (runs only in the kernel matrix).
   */
  here: string;
}

export interface Chapter {
  /** The tutorial's chapter number (1–14). */
  number: number;
  /** Directory under examples/. */
  dir: string;
  title: string;
  programs: ProgramEntry[];
}
