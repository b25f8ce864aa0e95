// SPDX-License-Identifier: Apache-2.0
/* filetop: reads and writes per thread and file, summed per interval. Two
 * ways in: bcc's hook, vfs_read()/vfs_write() (kprobes or fentry), which
 * counts each call with the bytes asked for; or the system call tracepoints
 * of read(), write() and their p/v variants, where at entry the file is found
 * from the fd through the task's file table and kept per thread, and at exit
 * the call is counted with the bytes it moved. */
#include "tool.bpf.h"

#define TASK_COMM_LEN 16
/* bcc's name column: DNAME_INLINE_LEN (32) bytes of the dentry's name; one
 * more here for the NUL of bpf_probe_read_kernel_str */
#define NAME_LEN 33

#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000

const volatile pid_t targ_pid = 0;
const volatile bool all_files = false;

struct info {
    u64 inode;
    u32 dev;
    u32 rdev;
    u32 pid; /* the thread id, as bcc's key has it */
    u32 name_len;
    char comm[TASK_COMM_LEN];
    char name[NAME_LEN];
    char type;
};

struct val {
    u64 reads;
    u64 writes;
    u64 rbytes;
    u64 wbytes;
};

struct pending {
    struct info info;
    u32 is_read;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct pending);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct info);
    __type(value, struct val);
} counts SEC(".maps");

/* Fills info for f when the tool counts I/O on it. */
static __always_inline bool file_info(struct file *f, struct info *info)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct dentry *de;
    struct inode *ino;
    u32 mode, len;

    de = BPF_CORE_READ(f, f_path.dentry);
    ino = BPF_CORE_READ(f, f_inode);
    mode = BPF_CORE_READ(ino, i_mode);
    len = BPF_CORE_READ(de, d_name.len);
    /* bcc skips I/O on files without a name and, without -a, all but
     * regular files */
    if (len == 0 || (!all_files && (mode & S_IFMT) != S_IFREG))
        return false;
    /* the whole key zeroed, padding too: it is hashed as bytes */
    __builtin_memset(info, 0, sizeof(*info));
    info->pid = tid;
    info->inode = BPF_CORE_READ(ino, i_ino);
    info->dev = BPF_CORE_READ(ino, i_sb, s_dev);
    info->rdev = BPF_CORE_READ(ino, i_rdev);
    info->name_len = len;
    bpf_get_current_comm(info->comm, sizeof(info->comm));
    bpf_probe_read_kernel_str(info->name, sizeof(info->name), BPF_CORE_READ(de, d_name.name));
    /* a longer name shows its first 29 bytes and "...", as bcc's column
     * (so does the key: the metrics' file label is the name as it is) */
    if (len > NAME_LEN - 1) {
        info->name[NAME_LEN - 4] = '.';
        info->name[NAME_LEN - 3] = '.';
        info->name[NAME_LEN - 2] = '.';
        info->name[NAME_LEN - 1] = 0;
    }
    if ((mode & S_IFMT) == S_IFREG)
        info->type = 'R';
    else if ((mode & S_IFMT) == S_IFSOCK)
        info->type = 'S';
    else
        info->type = 'O';
    return true;
}

static __always_inline bool task_wanted(void)
{
    if (targ_pid && (bpf_get_current_pid_tgid() >> 32) != (u32)targ_pid)
        return false;
    return tool_cgroup_ok();
}

static __always_inline void count(struct info *info, u32 is_read, u64 bytes)
{
    static const struct val zero;
    struct val *v;

    v = bpf_map_lookup_elem(&counts, info);
    if (!v) {
        bpf_map_update_elem(&counts, info, &zero, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&counts, info);
        if (!v)
            return;
    }
    if (is_read) {
        __sync_fetch_and_add(&v->reads, 1);
        __sync_fetch_and_add(&v->rbytes, bytes);
    } else {
        __sync_fetch_and_add(&v->writes, 1);
        __sync_fetch_and_add(&v->wbytes, bytes);
    }
}

/* bcc's way: each vfs_read()/vfs_write() call, with the bytes asked for. */
static __always_inline int on_vfs(struct file *f, u32 is_read, u64 bytes)
{
    struct info info;

    if (!task_wanted() || !file_info(f, &info))
        return 0;
    count(&info, is_read, bytes);
    return 0;
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(vfs_read_kprobe, struct file *file, char *buf, size_t n)
{
    return on_vfs(file, 1, n);
}

SEC("kprobe/vfs_write")
int BPF_KPROBE(vfs_write_kprobe, struct file *file, const char *buf, size_t n)
{
    return on_vfs(file, 0, n);
}

SEC("fentry/vfs_read")
int BPF_PROG(vfs_read_fentry, struct file *file, char *buf, size_t n)
{
    return on_vfs(file, 1, n);
}

SEC("fentry/vfs_write")
int BPF_PROG(vfs_write_fentry, struct file *file, const char *buf, size_t n)
{
    return on_vfs(file, 0, n);
}

/* The syscall tracepoints: the file from the fd at entry, kept per thread. */
static __always_inline int on_enter(int fd, u32 is_read)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct task_struct *task;
    struct pending p;
    struct file *f;

    if (!task_wanted())
        return 0;
    task = (struct task_struct *)bpf_get_current_task();
    f = task_fd_file(task, fd);
    __builtin_memset(&p, 0, sizeof(p)); /* padding too: the value is copied as bytes */
    if (!f || !file_info(f, &p.info))
        return 0;
    p.is_read = is_read;
    bpf_map_update_elem(&start, &tid, &p, BPF_ANY);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int read_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], 1);
}

SEC("tracepoint/syscalls/sys_enter_write")
int write_enter(struct trace_event_raw_sys_enter *ctx)
{
    return on_enter((int)ctx->args[0], 0);
}

/* attached to the exit of every call on_enter notes (the section only
 * gives the program type). Every call counts, as bcc counts each vfs_read()/vfs_write(); bytes are
 * those the call moved (bcc adds the size asked for) */
SEC("tracepoint/syscalls/sys_exit_read")
int rw_exit(struct trace_event_raw_sys_exit *ctx)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct pending *p;
    long ret = ctx->ret;

    p = bpf_map_lookup_elem(&start, &tid);
    if (!p)
        return 0;
    count(&p->info, p->is_read, ret > 0 ? ret : 0);
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
