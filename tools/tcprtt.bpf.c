// SPDX-License-Identifier: Apache-2.0
/* tcprtt: the smoothed round-trip time of TCP sockets as a histogram, from
 * the tcp_probe tracepoint (raw: its arguments are the socket and the skb),
 * which tcp_rcv_established fires for each segment it receives: bcc
 * kprobes tcp_rcv_established itself. The RTT is tcp_sock's srtt_us >> 3. */
#include "net.bpf.h"

const volatile u16 targ_lport = 0;
const volatile u16 targ_rport = 0;
const volatile u32 targ_laddr = 0;
const volatile u32 targ_raddr = 0;
const volatile u16 targ_family = 0;
const volatile bool milliseconds = false;
const volatile bool by_laddr = false;
const volatile bool by_raddr = false;
const volatile bool extension = false;

struct sock_latency {
    u64 latency;
    u64 count;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct hist_key);
    __type(value, u64);
} hists SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, u32);
    __type(value, struct sock_latency);
} latency SEC(".maps");

SEC("raw_tp/tcp_probe")
int BPF_PROG(on_tcp_probe, struct sock *sk, struct sk_buff *skb)
{
    u32 srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
    u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    /* IPv4 addresses (0 for IPv6 sockets), as bcc's filters and sections */
    u32 saddr = 0, daddr = 0, addr = 0;

    if (targ_family && targ_family != family)
        return 0;
    if (targ_lport && targ_lport != BPF_CORE_READ(sk, __sk_common.skc_num))
        return 0;
    if (targ_rport && targ_rport != bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)))
        return 0;
    if (family == AF_INET) {
        saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    }
    if (targ_laddr && targ_laddr != saddr)
        return 0;
    if (targ_raddr && targ_raddr != daddr)
        return 0;
    if (milliseconds)
        srtt /= 1000;
    if (by_laddr)
        addr = saddr;
    else if (by_raddr)
        addr = daddr;
    hist_add(&hists, addr, log2_slot(srtt));
    if (extension) {
        struct sock_latency *lat = bpf_map_lookup_elem(&latency, &addr);

        if (!lat) {
            struct sock_latency newlat = {.latency = srtt, .count = 1};

            bpf_map_update_elem(&latency, &addr, &newlat, BPF_NOEXIST);
        } else {
            __sync_fetch_and_add(&lat->latency, srtt);
            __sync_fetch_and_add(&lat->count, 1);
        }
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
