/*
 * Only in the prebuilt addon (scripts/prebuild.sh, native/binding.gyp's static
 * variant). glibc 2.33 made stat(), fstat() and their kin exported functions;
 * before, its headers turned them into calls of __xstat() and friends. libbpf
 * and libelf compiled against glibc ≥ 2.33 therefore need glibc 2.33 at run
 * time, while Node 20 itself needs only 2.28. The link sends those calls here
 * (-Wl,--wrap=stat, …), and these make the system calls themselves, so the
 * prebuild loads on every glibc that Node 20 runs on.
 *
 * struct stat (= struct stat64) is the kernel's own layout on the 64-bit
 * architectures built for (x86-64, arm64), so the kernel fills it directly.
 * newfstatat is on both (stat and lstat are not on arm64).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WRAP __attribute__((visibility("hidden")))

WRAP int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags);
WRAP int __wrap_fstatat64(int dirfd, const char *path, struct stat *st, int flags);
WRAP int __wrap_stat(const char *path, struct stat *st);
WRAP int __wrap_stat64(const char *path, struct stat *st);
WRAP int __wrap_lstat(const char *path, struct stat *st);
WRAP int __wrap_lstat64(const char *path, struct stat *st);
WRAP int __wrap_fstat(int fd, struct stat *st);
WRAP int __wrap_fstat64(int fd, struct stat *st);

int __wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

int __wrap_fstatat64(int dirfd, const char *path, struct stat *st, int flags)
{
    return __wrap_fstatat(dirfd, path, st, flags);
}

int __wrap_stat(const char *path, struct stat *st)
{
    return __wrap_fstatat(AT_FDCWD, path, st, 0);
}

int __wrap_stat64(const char *path, struct stat *st)
{
    return __wrap_fstatat(AT_FDCWD, path, st, 0);
}

int __wrap_lstat(const char *path, struct stat *st)
{
    return __wrap_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __wrap_lstat64(const char *path, struct stat *st)
{
    return __wrap_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __wrap_fstat(int fd, struct stat *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

int __wrap_fstat64(int fd, struct stat *st)
{
    return __wrap_fstat(fd, st);
}
