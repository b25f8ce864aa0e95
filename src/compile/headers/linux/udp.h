/* tsbpf shim for <linux/udp.h>: a UDP socket (struct udp_sock) begins with its inet_sock. */
#define udp_sk(sk) ((struct udp_sock *)(sk))
