// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * scripts/bench's floor: an empty program where cwtrace's tracer sits, the raw tracepoint
 * inet_sock_set_state. What it costs is what any program there costs; cwtrace's overhead is
 * measured on top of it.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("raw_tp/inet_sock_set_state")
int bench_floor(struct bpf_raw_tracepoint_args* ctx) { return 0; }
