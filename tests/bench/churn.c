/*
 * Load generator for scripts/bench. Loopback only (127.0.0.0/8).
 *
 *   churn run [--seconds S] [--threads T] [--rate R]
 *       T threads, each with its own listener, each doing both ends of a connection in a loop:
 *       connect, accept, server closes, client reads EOF (so the client socket passes through
 *       CLOSE_WAIT), client closes. Prints one line:
 *       "connections N seconds S rate R cpu C errors E": C is the CPU time the process used
 *       (user + system, which here includes the loopback softirq work done in its context).
 *       --rate R paces the threads to R connections per second in all (default 0: flat out).
 *
 *   churn hold --count N --index I [--listeners L]
 *       Creates N client sockets in CLOSE_WAIT (the accepted ends are closed) and holds them
 *       until stdin reaches EOF, SIGTERM/SIGINT, or the parent dies. Prints "ready N" once they
 *       all exist. Holder I listens on 127.(16 + I / 256).(I % 256).{1..L}, so every holder has
 *       destinations of its own and the ephemeral port range is reused per destination.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_LISTENERS 64

static void die(const char* what) {
    perror(what);
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static struct sockaddr_in loopback(uint32_t host_order_addr, uint16_t port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(host_order_addr);
    return addr;
}

/* A listener on addr with a kernel-chosen port; *bound receives the full address. */
static int listen_on(uint32_t host_order_addr, int backlog, struct sockaddr_in* bound) {
    struct sockaddr_in addr = loopback(host_order_addr, 0);
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) die("socket");
    if (bind(fd, (struct sockaddr*)&addr, sizeof(addr))) die("bind");
    if (listen(fd, backlog)) die("listen");
    if (getsockname(fd, (struct sockaddr*)bound, &len)) die("getsockname");
    return fd;
}

/* One connection's worth of connect + accept; returns the accepted fd, or -1 (errno set)
 * with *client closed. */
static int open_pair(int listener, const struct sockaddr_in* dest, int* client) {
    int server;

    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*client < 0) return -1;
    if (connect(*client, (const struct sockaddr*)dest, sizeof(*dest))) goto fail;
    server = accept(listener, NULL, NULL);
    if (server < 0) goto fail;
    return server;
fail:;
    int saved = errno;
    close(*client);
    *client = -1;
    errno = saved;
    return -1;
}

/* ---- churn run ---------------------------------------------------------------------------- */

struct churn_thread {
    pthread_t thread;
    int listener;
    struct sockaddr_in dest;
    uint64_t connections;
    uint64_t errors;
    int last_errno;
};

static atomic_bool churn_stop;
static double churn_period_s; /* per thread, between connection starts; 0: flat out */

/* Sleeps until `next` (CLOCK_MONOTONIC seconds), then moves it one period on. A thread behind
 * schedule (sleeps overshoot on a busy machine) catches up without sleeping, but never by more
 * than a second's worth of connections in a burst. */
static void pace(double* next) {
    double now = now_seconds();
    if (*next > now) {
        double wait = *next - now;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    } else if (now - *next > 1.0) {
        *next = now;
    }
    *next += churn_period_s;
}

static int one_connection(struct churn_thread* t) {
    char byte;
    int client;
    int server = open_pair(t->listener, &t->dest, &client);

    if (server < 0) return -1;
    close(server);
    ssize_t n = read(client, &byte, 1);
    int saved = errno;
    close(client);
    if (n != 0) {
        errno = n < 0 ? saved : EPROTO;
        return -1;
    }
    return 0;
}

static void* churn_loop(void* arg) {
    struct churn_thread* t = arg;
    double next = now_seconds();

    while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
        if (churn_period_s > 0) pace(&next);
        if (one_connection(t) == 0) {
            t->connections++;
        } else {
            t->errors++;
            t->last_errno = errno;
            /* Port exhaustion or a full backlog is transient: back off instead of spinning. */
            if (t->errors % 64 == 0) usleep(1000);
        }
    }
    return NULL;
}

static int cmd_run(double seconds, int threads) {
    struct churn_thread t[MAX_THREADS] = {0};
    uint64_t connections = 0, errors = 0;
    int last_errno = 0;

    for (int i = 0; i < threads; i++) {
        /* One destination address per thread: their 4-tuples never compete for a port. */
        t[i].listener = listen_on(0x7f000001 + (uint32_t)i, 1024, &t[i].dest);
    }
    double start = now_seconds();
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i].thread, NULL, churn_loop, &t[i])) die("pthread_create");
    }
    struct timespec pause = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&pause, &pause) && errno == EINTR)
        ;
    atomic_store(&churn_stop, true);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i].thread, NULL);
        connections += t[i].connections;
        errors += t[i].errors;
        if (t[i].last_errno) last_errno = t[i].last_errno;
        close(t[i].listener);
    }
    double elapsed = now_seconds() - start;
    printf("connections %llu seconds %.3f rate %.0f cpu %.3f errors %llu",
           (unsigned long long)connections, elapsed, (double)connections / elapsed, cpu_seconds(),
           (unsigned long long)errors);
    if (errors) printf(" last_error %s", strerror(last_errno));
    printf("\n");
    return 0;
}

/* ---- churn hold --------------------------------------------------------------------------- */

static void raise_fd_limit(void) {
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim)) die("getrlimit");
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim)) die("setrlimit");
}

static uint32_t holder_addr(int index, int listener) {
    return (127u << 24) | ((uint32_t)(16 + index / 256) << 16) | ((uint32_t)(index % 256) << 8) |
           (uint32_t)(listener + 1);
}

/* Closes the accepted end of a held connection. Its orphan then waits in FIN_WAIT2 for a FIN
 * that never comes. With the default 60 s FIN timeout, a few orphans in 20,000 (those whose
 * ACK was processed while close() held the socket lock) are reset by their FIN_WAIT2 timer
 * after 60 s, and the RST takes the client out of CLOSE_WAIT. With a FIN timeout just above
 * TCP_TIMEWAIT_LEN (60 s), that timer fires after 1 s and makes a time-wait entry instead,
 * which expires silently. */
static void close_peer(int server) {
    int fin_timeout_seconds = 61;

    if (setsockopt(server, IPPROTO_TCP, TCP_LINGER2, &fin_timeout_seconds,
                   sizeof(fin_timeout_seconds)))
        die("setsockopt TCP_LINGER2");
    close(server);
}

/* Opens `count` connections to `listener`, closes the accepted ends and keeps the client ends,
 * which the server's FIN puts in CLOSE_WAIT. */
static void hold_on(int listener, const struct sockaddr_in* dest, int count) {
    for (int i = 0; i < count; i++) {
        int client;
        int server = open_pair(listener, dest, &client);

        if (server < 0) die("hold: connect/accept");
        close_peer(server);
    }
}

static int cmd_hold(long count, int index, int listeners) {
    int fds[MAX_LISTENERS];
    struct sockaddr_in dests[MAX_LISTENERS];
    char buf[64];

    /* Whatever way the bench ends, its holders must not outlive it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 1;
    raise_fd_limit();
    for (int l = 0; l < listeners; l++) fds[l] = listen_on(holder_addr(index, l), 4096, &dests[l]);
    for (int l = 0; l < listeners; l++) {
        long share = count / listeners + (l < count % listeners ? 1 : 0);
        hold_on(fds[l], &dests[l], (int)share);
    }
    printf("ready %ld\n", count);
    fflush(stdout);
    /* Hold until the bench closes our stdin (or kills us). */
    while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
        ;
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: churn run [--seconds S] [--threads T] [--rate R]\n"
            "       churn hold --count N --index I [--listeners L]\n");
    exit(2);
}

static const char* option_value(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    return fallback;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc % 2 != 0) usage();
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "run") == 0) {
        double seconds = atof(option_value(argc, argv, "--seconds", "5"));
        int threads = atoi(option_value(argc, argv, "--threads", "2"));
        double rate = atof(option_value(argc, argv, "--rate", "0"));
        if (seconds <= 0 || threads < 1 || threads > MAX_THREADS || rate < 0) usage();
        if (rate > 0) churn_period_s = threads / rate;
        return cmd_run(seconds, threads);
    }
    if (strcmp(argv[1], "hold") == 0) {
        long count = atol(option_value(argc, argv, "--count", "0"));
        int index = atoi(option_value(argc, argv, "--index", "-1"));
        int listeners = atoi(option_value(argc, argv, "--listeners", "4"));
        if (count < 1 || index < 0 || index >= 256 * 239 || listeners < 1 ||
            listeners > MAX_LISTENERS)
            usage();
        return cmd_hold(count, index, listeners);
    }
    usage();
}
