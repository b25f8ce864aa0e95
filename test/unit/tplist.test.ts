/** `tsbpf tplist -v`: the fields of a tracepoint's record, from its format file. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFieldDecls } from "../../src/cli/tplist.js";

const FORMAT = `name: sched_process_exec
ID: 365
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:__u8 saddr[sizeof(struct sockaddr_in6)];\toffset:16;\tsize:28;\tsigned:0;
\tfield special:int uncommon_pid;\toffset:44;\tsize:4;\tsigned:1;

print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
`;

describe("tplist -v", () => {
  it("prints each field's declaration as the format file writes it, without the common_ fields", () => {
    assert.equal(
      formatFieldDecls(FORMAT),
      [
        "    __data_loc char[] filename;",
        "    pid_t pid;",
        "    __u8 saddr[sizeof(struct sockaddr_in6)];",
        "    int uncommon_pid;",
        "",
      ].join("\n"),
    );
  });
});
