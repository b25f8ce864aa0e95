/*
 * Constants that bcc programs take from kernel headers and that BTF does not
 * carry (they are #defines, not enums). Values are the kernel's uapi ones.
 */
#ifndef __TSBPF_KERNEL_DEFINES_H
#define __TSBPF_KERNEL_DEFINES_H

/* linux/socket.h */
#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_LOCAL 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define AF_PACKET 17
#define PF_INET AF_INET
#define PF_INET6 AF_INET6

/* linux/if_ether.h */
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100

/*
 * linux/byteorder/generic.h: htons & co., which bcc programs (XDP, socket
 * filters) call as the kernel headers define them; here libbpf's bpf_endian.h
 * versions (constant-folded for constants).
 */
#ifndef htons
#define htons(x) bpf_htons(x)
#endif
#ifndef ntohs
#define ntohs(x) bpf_ntohs(x)
#endif
#ifndef htonl
#define htonl(x) bpf_htonl(x)
#endif
#ifndef ntohl
#define ntohl(x) bpf_ntohl(x)
#endif

/* linux/sched.h (task states; the kernel's are #defines) */
#define TASK_RUNNING 0x0000
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define __TASK_STOPPED 0x0004
#define __TASK_TRACED 0x0008
#define EXIT_DEAD 0x0010
#define EXIT_ZOMBIE 0x0020
#define TASK_DEAD 0x0080
#define PF_KTHREAD 0x00200000

/* errno (uapi asm-generic/errno-base.h) */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define E2BIG 7
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ENOSYS 38

/* fcntl */
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_APPEND 00002000

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)

#endif
