/*
 * tsbpf shim for <linux/fs.h>: the bits of struct file's f_mode (fmode_t).
 * The kernel defines them as macros, so BTF does not carry them, and Linux
 * renumbered some of them: the ones below that depend on the version pick
 * the running kernel's value from LINUX_VERSION_CODE (set by tsbpf for the
 * running kernel); the rest have kept their value since they were added.
 * (S_ISREG & co. come from the UAPI <linux/stat.h>.)
 */
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_LSEEK 0x4
#define FMODE_PREAD 0x8
#define FMODE_PWRITE 0x10
#define FMODE_EXEC 0x20
#define FMODE_32BITHASH 0x200
#define FMODE_64BITHASH 0x400
#define FMODE_NOCMTIME 0x800
#define FMODE_RANDOM 0x1000
#define FMODE_PATH 0x4000
#define FMODE_ATOMIC_POS 0x8000
#define FMODE_WRITER 0x10000
#define FMODE_CAN_READ 0x20000
#define FMODE_CAN_WRITE 0x40000
#define FMODE_OPENED 0x80000
#define FMODE_CREATED 0x100000
#define FMODE_STREAM 0x200000
#define FMODE_CAN_ODIRECT 0x400000
#define FMODE_NOWAIT 0x8000000
#define FMODE_NEED_UNMOUNT 0x10000000
#define FMODE_NOACCOUNT 0x20000000
/* Gone in 6.5 (block devices use blk_mode_t since): non-blocking, exclusive, ioctl write. */
#define FMODE_NDELAY 0x40
#define FMODE_EXCL 0x80
#define FMODE_WRITE_IOCTL 0x100
/* Moved to file_operations.fop_flags in 6.12; bit 13 means "has metadata" since 6.17. */
#define FMODE_UNSIGNED_OFFSET (LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0) ? 0x2000 : 0)
/* Bit 26 until 6.14, then bit 25 (and bit 26 is FMODE_NONOTIFY_PERM). */
#define FMODE_NONOTIFY (LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0) ? 0x4000000 : 0x2000000)
#define FMODE_NONOTIFY_PERM (LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0) ? 0 : 0x4000000)
/* Buffered async reads/writes: bits 30 and 31 from 5.9/6.0 until 6.10 moved them to fop_flags. */
#define FMODE_BUF_RASYNC (LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0) ? 0x40000000 : 0)
#define FMODE_BUF_WASYNC (LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0) ? 0x80000000 : 0)
