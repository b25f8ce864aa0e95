/*
 * tsbpf shim for <net/request_sock.h>: a request sock (a connection in
 * SYN_RECV) begins with a struct sock_common, __req_common.
 */
#define rsk_refcnt __req_common.skc_refcnt
#define rsk_hash __req_common.skc_hash
#define rsk_ops __req_common.skc_prot
#define rsk_listener __req_common.skc_listener
#define rsk_window_clamp __req_common.skc_window_clamp
#define rsk_rcv_wnd __req_common.skc_rcv_wnd
#define inet_reqsk(sk) ((struct request_sock *)(sk))
#define req_to_sk(req) ((struct sock *)(req))
