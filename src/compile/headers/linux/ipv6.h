/* tsbpf shim for <linux/ipv6.h>: an IPv6 socket's own part (struct ipv6_pinfo) hangs off its inet_sock. */
#define inet6_sk(sk) BPF_CORE_READ((struct inet_sock *)(sk), pinet6)
