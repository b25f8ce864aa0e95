/*
 * tsbpf shim for <linux/tcp.h>: a TCP socket (struct tcp_sock) begins with
 * its inet_connection_sock, which begins with its inet_sock and struct sock;
 * tcp_sk() is the socket seen as a tcp_sock, tcp_rsk() a request sock as a
 * tcp_request_sock.
 */
#define tcp_sk(sk) ((struct tcp_sock *)(sk))
#define tcp_rsk(req) ((struct tcp_request_sock *)(req))
#define tcp_twsk(sk) ((struct tcp_timewait_sock *)(sk))
/* A TCP time-wait socket (its tw_sk first) keeps two sequence numbers in its common part. */
#define tw_rcv_nxt tw_sk.__tw_common.skc_tw_rcv_nxt
#define tw_snd_nxt tw_sk.__tw_common.skc_tw_snd_nxt
