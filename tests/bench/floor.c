/*
 * scripts/bench's floor: loads an empty BPF program on the raw tracepoint inet_sock_set_state
 * (where cwtrace's tracer sits), prints "attached", and holds it until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "bench_floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(void) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct bench_floor_bpf* skel = bench_floor_bpf__open_and_load();
    if (!skel) {
        perror("floor: load");
        return 1;
    }
    if (bench_floor_bpf__attach(skel)) {
        perror("floor: attach");
        bench_floor_bpf__destroy(skel);
        return 1;
    }
    printf("attached\n");
    fflush(stdout);
    while (!stop) pause();
    bench_floor_bpf__destroy(skel);
    return 0;
}
