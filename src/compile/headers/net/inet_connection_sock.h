/* tsbpf shim for <net/inet_connection_sock.h>: a connection-oriented socket begins with its inet_sock. */
#define inet_csk(sk) ((struct inet_connection_sock *)(sk))
