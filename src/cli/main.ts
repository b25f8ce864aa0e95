#!/usr/bin/env node
/**
 * The tsbpf command.
 *
 *   tsbpf printk-sample [--duration S] [--strict]   the seed's printk_sample
 *   tsbpf example CHAPTER/PROGRAM [--duration S] [--strict] [ARGS]   a tutorial program
 *   tsbpf example --list                             the tutorial programs
 *   tsbpf tplist [-v] [REGEX]                        list tracepoints (bcc's tplist; -v: their fields)
 *   tsbpf gen-types PROGRAM.c [-o OUT.d.ts]          TypeScript types of maps and events
 *   tsbpf tools                                      the tools, with their hooks on this kernel
 *   tsbpf exporter --config.dir DIR --config.names A,B   maps as Prometheus metrics
 *   tsbpf TOOL [options]                             run a tool (execsnoop, …; -h for its options)
 */

import { pauseWhileQuiet } from "../compile_pause.js";
import { onStdioUse, watchStdio } from "../stdio.js";

const USAGE = `usage: tsbpf <command> [options]

commands:
  printk-sample [--duration SECONDS] [--strict]   run the seed's printk_sample
  example CHAPTER/PROGRAM [--duration SECONDS] [--strict] [ARGS]
                                                   run a program of the tutorial
  example --list                                   list the tutorial's programs
  tplist [-v] [REGEX]                              list tracepoints, optionally filtered (-v: their fields)
  gen-types PROGRAM.c [-o OUT.d.ts]                TypeScript types of a program's maps and events
  compile PROGRAM.c [-o OUT] [--emit obj|c|asm]   a BPF object for BPF.open (or the C, the assembly)
  tools                                            list the tools and the hooks each uses here
  exporter --config.dir DIR --config.names A,B     serve BPF maps as Prometheus metrics (ebpf_exporter configs)
  TOOL [options]                                   run a tool (tsbpf execsnoop -h)
  help                                             this text
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // V8's optimizer and young-generation growth wait until the command is busy (compile_pause.ts)
  using _quiet = process.env.TSBPF_V8_EAGER ? undefined : pauseWhileQuiet();
  switch (cmd) {
    case "printk-sample": {
      const { exampleMain } = await import("./example_cmd.js");
      return exampleMain(["first_step/printk_sample", ...rest]);
    }
    case "example": {
      const { exampleMain } = await import("./example_cmd.js");
      return exampleMain(rest);
    }
    case "tplist": {
      const { tplistMain } = await import("./tplist.js");
      return tplistMain(rest, (t) => process.stdout.write(t));
    }
    case "compile": {
      const { compileMain } = await import("./compile_cmd.js");
      return compileMain(rest);
    }
    case "gen-types": {
      const { genTypesMain } = await import("./gen_types.js");
      return genTypesMain(rest);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    case "exporter": {
      const { exporterMain } = await import("./exporter_cmd.js");
      return exporterMain(rest);
    }
    case "tools": {
      const { toolsMain } = await import("./tools_cmd.js");
      return toolsMain();
    }
    default: {
      const { toolMain } = await import("./tools_cmd.js");
      const code = await toolMain(cmd, rest);
      if (code !== undefined) return code;
      process.stderr.write(`tsbpf: unknown command "${cmd}"\n${USAGE}`);
      return 2;
    }
  }
}

// The commands print with writeStdio (src/stdio.ts) and never make process.stdout
// or process.stderr (~5 ms of a start) unless something uses them.
watchStdio();
// A reader that goes away (`tsbpf tplist | head`) ends the command quietly.
onStdioUse("stdout", (stdout) =>
  stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  }),
);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tsbpf: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exitCode = 1;
  },
);
