import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTpFormat, type TpField, tpArgsStruct, tpStructName } from "../../src/compile/tp_format.js";
import { BpfError } from "../../src/kernel/errors.js";

const COMMON = [
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
].join("\n");

function fmtFile(name: string, id: number, fields: string[], print = '"x"'): string {
  return `name: ${name}\nID: ${id}\nformat:\n${COMMON}\n\n${fields.map((f) => `\t${f}`).join("\n")}\n\nprint fmt: ${print}\n`;
}

// Real files from a 6.18 x86_64 kernel.
const SCHED_SWITCH = fmtFile(
  "sched_switch",
  372,
  [
    "field:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;",
    "field:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;",
    "field:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;",
    "field:long prev_state;\toffset:32;\tsize:8;\tsigned:1;",
    "field:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;",
    "field:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;",
    "field:int next_prio;\toffset:60;\tsize:4;\tsigned:1;",
  ],
  '"prev_comm=%s prev_pid=%d", REC->prev_comm, REC->prev_pid',
);

const SYS_ENTER_EXECVE = fmtFile("sys_enter_execve", 862, [
  "field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;",
  "field:const char * filename;\toffset:16;\tsize:8;\tsigned:0;",
  "field:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;",
  "field:const char *const * envp;\toffset:32;\tsize:8;\tsigned:0;",
]);

const SYS_ENTER_OPENAT = fmtFile("sys_enter_openat", 782, [
  "field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;",
  "field:int dfd;\toffset:16;\tsize:8;\tsigned:0;",
  "field:const char * filename;\toffset:24;\tsize:8;\tsigned:0;",
  "field:int flags;\toffset:32;\tsize:8;\tsigned:0;",
  "field:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;",
]);

const SCHED_PROCESS_EXEC = fmtFile(
  "sched_process_exec",
  365,
  [
    "field:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;",
    "field:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;",
    "field:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;",
  ],
  '"filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid',
);

const INET_SOCK_SET_STATE = fmtFile("inet_sock_set_state", 2287, [
  "field:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;",
  "field:int oldstate;\toffset:16;\tsize:4;\tsigned:1;",
  "field:int newstate;\toffset:20;\tsize:4;\tsigned:1;",
  "field:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;",
  "field:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;",
  "field:__u16 family;\toffset:28;\tsize:2;\tsigned:0;",
  "field:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;",
  "field:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;",
  "field:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;",
  "field:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;",
  "field:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;",
]);

const FTRACE_FUNCTION = fmtFile("function", 1, [
  "field:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;",
  "field:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;",
  "field:unsigned long args[];\toffset:24;\tsize:0;\tsigned:0;",
]);

const PERCPU_FREE = fmtFile("percpu_free_percpu", 690, [
  "field:void * base_addr;\toffset:8;\tsize:8;\tsigned:0;",
  "field:int off;\toffset:16;\tsize:4;\tsigned:1;",
  "field:void __seg_gs * ptr;\toffset:24;\tsize:8;\tsigned:0;",
]);

const XFS_BMAP_DEFER = fmtFile("xfs_bmap_defer", 3000, [
  "field:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;",
  "field:enum xfs_group_type type;\toffset:12;\tsize:1;\tsigned:0;",
  "field:xfs_agnumber_t agno;\toffset:16;\tsize:4;\tsigned:0;",
]);

// print fmt with a literal newline inside the C string (ext4_fsmap_high_key).
const EXT4_FSMAP = `name: ext4_fsmap_high_key
ID: 1172
format:
${COMMON}

\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
\tfield:u64 owner;\toffset:16;\tsize:8;\tsigned:0;

print fmt: "dev %d:%d owner %lld
", ((unsigned int) ((REC->dev) >> 20)), REC->owner
`;

function field(fmt: string, name: string): TpField {
  const f = parseTpFormat(fmt).fields.find((x) => x.name === name);
  assert.ok(f, `field ${name} not found`);
  return f;
}

describe("parseTpFormat", () => {
  it("parses name, ID, print fmt and all fields including common_ ones in file order", () => {
    const f = parseTpFormat(SCHED_SWITCH);
    assert.equal(f.name, "sched_switch");
    assert.equal(f.id, 372);
    assert.equal(f.printFmt, '"prev_comm=%s prev_pid=%d", REC->prev_comm, REC->prev_pid');
    assert.deepEqual(
      f.fields.map((x) => x.name),
      [
        "common_type",
        "common_flags",
        "common_preempt_count",
        "common_pid",
        "prev_comm",
        "prev_pid",
        "prev_prio",
        "prev_state",
        "next_comm",
        "next_pid",
        "next_prio",
      ],
    );
    assert.deepEqual(f.fields[0], {
      name: "common_type",
      type: "unsigned short",
      offset: 0,
      size: 2,
      signed: false,
      dataLoc: false,
      relLoc: false,
    });
    assert.deepEqual(f.fields[3], {
      name: "common_pid",
      type: "int",
      offset: 4,
      size: 4,
      signed: true,
      dataLoc: false,
      relLoc: false,
    });
  });

  it("splits arrays into type, name and length", () => {
    assert.deepEqual(field(SCHED_SWITCH, "prev_comm"), {
      name: "prev_comm",
      type: "char",
      arrayLen: 16,
      offset: 8,
      size: 16,
      signed: false,
      dataLoc: false,
      relLoc: false,
    });
    const saddr = field(INET_SOCK_SET_STATE, "saddr");
    assert.equal(saddr.type, "__u8");
    assert.equal(saddr.arrayLen, 4);
    assert.equal(field(INET_SOCK_SET_STATE, "daddr_v6").arrayLen, 16);
  });

  it("keeps multi-word and pointer types as written", () => {
    assert.equal(field(SYS_ENTER_EXECVE, "filename").type, "const char *");
    assert.equal(field(SYS_ENTER_EXECVE, "argv").type, "const char *const *");
    assert.equal(field(INET_SOCK_SET_STATE, "skaddr").type, "const void *");
    assert.equal(field(FTRACE_FUNCTION, "ip").type, "unsigned long");
    assert.equal(field(PERCPU_FREE, "ptr").type, "void __seg_gs *");
    assert.equal(field(XFS_BMAP_DEFER, "type").type, "enum xfs_group_type");
  });

  it("marks __data_loc fields as dynamic arrays of their element type", () => {
    assert.deepEqual(field(SCHED_PROCESS_EXEC, "filename"), {
      name: "filename",
      type: "char",
      arrayLen: "dynamic",
      offset: 8,
      size: 4,
      signed: false,
      dataLoc: true,
      relLoc: false,
    });
    const f = parseTpFormat(
      fmtFile("x", 1, ["field:__data_loc unsigned int[] lengths;\toffset:8;\tsize:4;\tsigned:0;"]),
    );
    assert.equal(f.fields[4]?.type, "unsigned int");
    assert.equal(f.fields[4]?.dataLoc, true);
  });

  it("marks __rel_loc fields", () => {
    const f = field(fmtFile("x", 1, ["field:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;"]), "msg");
    assert.equal(f.dataLoc, true);
    assert.equal(f.relLoc, true);
    assert.equal(f.type, "char");
    assert.equal(f.arrayLen, "dynamic");
  });

  it("distinguishes name[] (dynamic) from name[0]", () => {
    assert.equal(field(FTRACE_FUNCTION, "args").arrayLen, "dynamic");
    assert.equal(field(FTRACE_FUNCTION, "args").size, 0);
    const f = field(
      fmtFile("x", 1, ["field:unsigned char __data[0];\toffset:8;\tsize:0;\tsigned:0;"]),
      "__data",
    );
    assert.equal(f.arrayLen, 0);
    assert.equal(f.type, "unsigned char");
  });

  it("derives the length of arrays sized by an expression (older kernels)", () => {
    const f = field(
      fmtFile("tcp_probe", 1, [
        "field:__u8 saddr[sizeof(struct sockaddr_in6)];\toffset:8;\tsize:28;\tsigned:0;",
      ]),
      "saddr",
    );
    assert.equal(f.arrayLen, 28);
    assert.equal(f.arrayLenExpr, "sizeof(struct sockaddr_in6)");
    const g = field(fmtFile("x", 1, ["field:char name[16 + 1];\toffset:8;\tsize:17;\tsigned:0;"]), "name");
    assert.equal(g.arrayLen, 17);
    assert.equal(g.arrayLenExpr, undefined);
    const h = field(fmtFile("x", 1, ["field:u32 m[2][3];\toffset:8;\tsize:24;\tsigned:0;"]), "m");
    assert.equal(h.arrayLen, 6);
  });

  it("accepts lines without signed: and 'field special:' lines", () => {
    const f = parseTpFormat(
      "name: old\nID: 7\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\n\tfield special:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n",
    );
    assert.equal(f.fields[0]?.signed, false);
    assert.equal(f.fields[1]?.name, "caller");
    assert.equal(f.fields[1]?.arrayLen, 8);
    assert.equal(f.printFmt, undefined);
  });

  it("takes a print fmt that spans several lines", () => {
    const f = parseTpFormat(EXT4_FSMAP);
    assert.equal(f.fields.length, 6);
    assert.equal(f.printFmt, '"dev %d:%d owner %lld\n", ((unsigned int) ((REC->dev) >> 20)), REC->owner');
  });

  it("handles CRLF line endings and pointers without a space before the name", () => {
    const f = parseTpFormat(
      "name: a\r\nID: 1\r\nformat:\r\n\tfield:char *buf;\toffset:8;\tsize:8;\tsigned:0;\r\n",
    );
    assert.equal(f.fields[0]?.type, "char *");
    assert.equal(f.fields[0]?.name, "buf");
  });

  it("throws clear errors on malformed input", () => {
    assert.throws(() => parseTpFormat(""), /no "name:" line/);
    assert.throws(
      () => parseTpFormat("name: x\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n"),
      /no "ID:" line/,
    );
    assert.throws(() => parseTpFormat("name: x\nID: abc\n"), /line 2: bad event ID/);
    assert.throws(() => parseTpFormat("name: x\nID: 1\nformat:\n"), /no field lines/);
    assert.throws(
      () => parseTpFormat("name: x\nID: 1\nformat:\n\tfield:int a;\toffset:eight;\tsize:4;\tsigned:1;\n"),
      /line 4: malformed field line/,
    );
    assert.throws(
      () => parseTpFormat("name: x\nID: 1\nformat:\n\tfield:int;\toffset:8;\tsize:4;\tsigned:1;\n"),
      /cannot split "int" into a type and a field name/,
    );
    assert.throws(
      () => parseTpFormat("name: x\nID: 1\nhello world\n"),
      /line 3: unrecognized line "hello world"/,
    );
    assert.throws(
      () => parseTpFormat("name: x\nID: 1\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n"),
      /outside the "format:" section/,
    );
    assert.throws(
      () => parseTpFormat(fmtFile("x", 1, ["field:struct foo bar[N];\toffset:8;\tsize:24;\tsigned:0;"])),
      /cannot determine the length of array bar\[N\]/,
    );
  });

  it("throws BpfErrors, and refuses a type that would break the C struct (fuzzed)", () => {
    // The errors were plain Errors; a type like "struct { int a; } s; }" went into the struct verbatim.
    assert.throws(() => parseTpFormat(""), BpfError);
    assert.throws(
      () =>
        parseTpFormat(fmtFile("x", 1, ["field:struct { int a; } s; } s;\toffset:8;\tsize:4;\tsigned:0;"])),
      (e: unknown) =>
        e instanceof BpfError && /is not a C type tsbpf can declare field s with/.test((e as Error).message),
    );
    const ok = parseTpFormat(fmtFile("x", 1, ["field:struct { int a; } s;\toffset:8;\tsize:4;\tsigned:0;"]));
    assert.equal(ok.fields.at(-1)?.type, "struct { int a; }");
  });
});

describe("tpStructName", () => {
  it("builds bcc's struct name", () => {
    assert.equal(tpStructName("sched", "sched_switch"), "tracepoint__sched__sched_switch");
    assert.equal(tpStructName("9p", "9p_client_req"), "tracepoint__9p__9p_client_req");
  });
  it("rejects names that are not C identifier parts", () => {
    assert.throws(() => tpStructName("sched", "a-b"), /event "a-b" is not usable in a C identifier/);
    assert.throws(() => tpStructName("", "x"), /category/);
  });
});

function members(src: string): string[] {
  const body = src.slice(src.indexOf("{\n") + 2, src.indexOf("\n}"));
  return body.split("\n").map((l) => l.trim());
}

describe("tpArgsStruct", () => {
  it("emits bcc's layout for sched_switch with offset and size assertions", () => {
    const src = tpArgsStruct("sched", "sched_switch", parseTpFormat(SCHED_SWITCH));
    assert.ok(src.startsWith("struct tracepoint__sched__sched_switch {\n"));
    assert.deepEqual(members(src), [
      "u64 __do_not_use__;",
      "char prev_comm[16];",
      "pid_t prev_pid;",
      "int prev_prio;",
      "long prev_state;",
      "char next_comm[16];",
      "pid_t next_pid;",
      "int next_prio;",
    ]);
    assert.match(src, /\n};\n/);
    assert.ok(
      src.includes(
        '_Static_assert(__builtin_offsetof(struct tracepoint__sched__sched_switch, prev_pid) == 24, "tracepoint sched:sched_switch: field prev_pid must be at offset 24 as in its format file");',
      ),
    );
    assert.ok(
      src.includes(
        '_Static_assert(sizeof(((struct tracepoint__sched__sched_switch *)0)->next_comm) == 16, "tracepoint sched:sched_switch: field next_comm must be 16 bytes as in its format file");',
      ),
    );
    assert.equal(src.match(/__builtin_offsetof/g)?.length, 7);
    assert.equal(src.match(/_Static_assert\(sizeof/g)?.length, 7);
    assert.doesNotMatch(src, /common_/);
  });

  it("pads gaps explicitly and widens syscall arguments like bcc", () => {
    const src = tpArgsStruct("syscalls", "sys_enter_openat", parseTpFormat(SYS_ENTER_OPENAT));
    assert.deepEqual(members(src), [
      "u64 __do_not_use__;",
      "int __syscall_nr;",
      "char __pad_12[4];",
      "s64 dfd;",
      "const char *filename;",
      "s64 flags;",
      "u64 mode;",
    ]);
    assert.match(src, /offsetof\(struct tracepoint__syscalls__sys_enter_openat, dfd\) == 16/);
    assert.match(src, /->mode\) == 8/);
    assert.doesNotMatch(src, /__pad_12\) ==/, "no assertions on padding members");
  });

  it("keeps pointer-to-pointer types", () => {
    const src = tpArgsStruct("syscalls", "sys_enter_execve", parseTpFormat(SYS_ENTER_EXECVE));
    assert.deepEqual(members(src).slice(3), [
      "const char *filename;",
      "const char *const *argv;",
      "const char *const *envp;",
    ]);
  });

  it("wraps unknown 8-byte syscall argument types in a union", () => {
    const f = parseTpFormat(
      fmtFile("sys_enter_capget", 5, [
        "field:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;",
        "field:cap_user_header_t header;\toffset:16;\tsize:8;\tsigned:0;",
      ]),
    );
    const src = tpArgsStruct("syscalls", "sys_enter_capget", f);
    assert.ok(members(src).includes("union { cap_user_header_t header; u64 __raw_header; };"));
    assert.match(src, /offsetof\(struct tracepoint__syscalls__sys_enter_capget, header\) == 16/);
    assert.doesNotMatch(src, /->header\)/, "no size assertion on the union member");
    // Outside syscalls, unknown types are trusted as written.
    const other = tpArgsStruct("foo", "bar", f);
    assert.ok(members(other).includes("cap_user_header_t header;"));
  });

  it("turns __data_loc fields into int data_loc_<name>", () => {
    const src = tpArgsStruct("sched", "sched_process_exec", parseTpFormat(SCHED_PROCESS_EXEC));
    assert.deepEqual(members(src), [
      "u64 __do_not_use__;",
      "int data_loc_filename;",
      "pid_t pid;",
      "pid_t old_pid;",
    ]);
    assert.match(src, /offsetof\(struct tracepoint__sched__sched_process_exec, data_loc_filename\) == 8/);
    assert.match(src, /field filename must be at offset 8/);
  });

  it("turns __rel_loc fields into int rel_loc_<name>", () => {
    const f = parseTpFormat(
      fmtFile("rl", 9, [
        "field:int a;\toffset:8;\tsize:4;\tsigned:1;",
        "field:__rel_loc char[] msg;\toffset:12;\tsize:4;\tsigned:0;",
      ]),
    );
    assert.deepEqual(members(tpArgsStruct("t", "rl", f)), [
      "u64 __do_not_use__;",
      "int a;",
      "int rel_loc_msg;",
    ]);
  });

  it("keeps array lengths and emits dynamic arrays as zero-length arrays", () => {
    const src = tpArgsStruct("sock", "inet_sock_set_state", parseTpFormat(INET_SOCK_SET_STATE));
    assert.ok(members(src).includes("__u8 saddr[4];"));
    assert.ok(members(src).includes("__u8 daddr_v6[16];"));
    assert.ok(members(src).includes("const void *skaddr;"));
    const fn = tpArgsStruct("ftrace", "function", parseTpFormat(FTRACE_FUNCTION));
    assert.deepEqual(members(fn), [
      "u64 __do_not_use__;",
      "unsigned long ip;",
      "unsigned long parent_ip;",
      "unsigned long args[0];",
    ]);
    assert.match(fn, /->args\) == 0/);
    const data0 = tpArgsStruct(
      "x",
      "y",
      parseTpFormat(fmtFile("y", 1, ["field:unsigned char __data[0];\toffset:8;\tsize:0;\tsigned:0;"])),
    );
    assert.ok(members(data0).includes("unsigned char __data[0];"));
  });

  it("emits arrays sized by an expression with their computed length", () => {
    const f = parseTpFormat(
      fmtFile("tcp_probe", 1, [
        "field:__u8 saddr[sizeof(struct sockaddr_in6)];\toffset:8;\tsize:28;\tsigned:0;",
        "field:__u8 daddr[sizeof(struct sockaddr_in6)];\toffset:36;\tsize:28;\tsigned:0;",
      ]),
    );
    assert.deepEqual(members(tpArgsStruct("tcp", "tcp_probe", f)).slice(1), [
      "__u8 saddr[28];",
      "__u8 daddr[28];",
    ]);
  });

  it("strips kernel address-space qualifiers from emitted types", () => {
    const src = tpArgsStruct("percpu", "percpu_free_percpu", parseTpFormat(PERCPU_FREE));
    assert.deepEqual(members(src), [
      "u64 __do_not_use__;",
      "void *base_addr;",
      "int off;",
      "char __pad_20[4];",
      "void *ptr;",
    ]);
  });

  it("narrows enums whose record size is not 4", () => {
    const src = tpArgsStruct("xfs", "xfs_bmap_defer", parseTpFormat(XFS_BMAP_DEFER));
    assert.deepEqual(members(src), [
      "u64 __do_not_use__;",
      "dev_t dev;",
      "u8 type;",
      "char __pad_13[3];",
      "xfs_agnumber_t agno;",
    ]);
  });

  it("applies bcc's size adjustments to small types stored wider", () => {
    const f = parseTpFormat(
      fmtFile("w", 1, [
        "field:char c;\toffset:8;\tsize:2;\tsigned:1;",
        "field:unsigned short us;\toffset:12;\tsize:4;\tsigned:0;",
        "field:pid_t p;\toffset:16;\tsize:8;\tsigned:1;",
        "field:unsigned int u;\toffset:24;\tsize:8;\tsigned:0;",
      ]),
    );
    assert.deepEqual(
      members(tpArgsStruct("a", "w", f)).filter((m) => !m.startsWith("char __pad")),
      ["u64 __do_not_use__;", "s16 c;", "u32 us;", "s64 p;", "u64 u;"],
    );
  });

  it("skips extra common fields (PREEMPT_RT kernels) with padding", () => {
    const f = parseTpFormat(
      `name: rt\nID: 3\nformat:\n${COMMON}\n` +
        "\tfield:unsigned char common_migrate_disable;\toffset:8;\tsize:1;\tsigned:0;\n" +
        "\tfield:unsigned char common_preempt_lazy_count;\toffset:9;\tsize:1;\tsigned:0;\n\n" +
        "\tfield:int x;\toffset:12;\tsize:4;\tsigned:1;\n",
    );
    assert.deepEqual(members(tpArgsStruct("a", "rt", f)), [
      "u64 __do_not_use__;",
      "char __pad_8[4];",
      "int x;",
    ]);
  });

  it("adds packed when a field is misaligned for its type", () => {
    const f = parseTpFormat(
      fmtFile("pk", 1, [
        "field:char c;\toffset:8;\tsize:1;\tsigned:1;",
        "field:u64 v;\toffset:9;\tsize:8;\tsigned:0;",
      ]),
    );
    const src = tpArgsStruct("a", "pk", f);
    assert.match(src, /\n} __attribute__\(\(packed\)\);\n/);
    assert.match(src, /offsetof\(struct tracepoint__a__pk, v\) == 9/);
    const aligned = tpArgsStruct("sched", "sched_switch", parseTpFormat(SCHED_SWITCH));
    assert.doesNotMatch(aligned, /packed/);
  });

  it("rejects overlapping fields", () => {
    const early = parseTpFormat("name: e\nID: 1\nformat:\n\tfield:int a;\toffset:4;\tsize:4;\tsigned:1;\n");
    assert.throws(
      () => tpArgsStruct("c", "e", early),
      /field a at offset 4 overlaps the 8-byte common header/,
    );
    const overlap = parseTpFormat(
      fmtFile("o", 1, [
        "field:u64 a;\toffset:8;\tsize:8;\tsigned:0;",
        "field:int b;\toffset:12;\tsize:4;\tsigned:1;",
      ]),
    );
    assert.throws(
      () => tpArgsStruct("c", "o", overlap),
      /field b at offset 12 overlaps the previous field \(which ends at 16\)/,
    );
  });

  it("emits the struct name through tpStructName validation", () => {
    assert.throws(
      () => tpArgsStruct("bad-cat", "x", parseTpFormat(SCHED_SWITCH)),
      /not usable in a C identifier/,
    );
  });
});
