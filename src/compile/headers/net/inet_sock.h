/*
 * tsbpf shim for <net/inet_sock.h>: struct inet_sock begins with its
 * struct sock (member sk), and names the addresses and ports kept in the
 * socket's common part with inet_ aliases. inet_sk() is the socket seen as
 * an inet_sock; inet_rsk() a request sock seen as an inet_request_sock, whose
 * ir_ names alias its common part.
 */
#define inet_daddr sk.__sk_common.skc_daddr
#define inet_rcv_saddr sk.__sk_common.skc_rcv_saddr
#define inet_dport sk.__sk_common.skc_dport
#define inet_num sk.__sk_common.skc_num
#define inet_sk(sk) ((struct inet_sock *)(sk))

#define ir_loc_addr req.__req_common.skc_rcv_saddr
#define ir_rmt_addr req.__req_common.skc_daddr
#define ir_num req.__req_common.skc_num
#define ir_rmt_port req.__req_common.skc_dport
#define ir_v6_rmt_addr req.__req_common.skc_v6_daddr
#define ir_v6_loc_addr req.__req_common.skc_v6_rcv_saddr
#define ir_iif req.__req_common.skc_bound_dev_if
#define ir_cookie req.__req_common.skc_cookie
#define ireq_net req.__req_common.skc_net
#define ireq_state req.__req_common.skc_state
#define ireq_family req.__req_common.skc_family
#define inet_rsk(sk) ((struct inet_request_sock *)(sk))
