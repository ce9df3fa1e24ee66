// The Linux counterparts of bench/abi's guest figures, on the host, in the same run
// (bench/abi/run.mjs compiles this with the system cc into a temporary directory).
// Prints `linux: key=value` lines:
//
//   pipe_pingpong_rt_ns         two threads, one byte-pipe each way, 8-byte request and reply,
//   pipe_pingpong_1cpu_rt_ns    unpinned (the scheduler's choice) and both pinned to one CPU
//   eventfd_pingpong_rt_ns      the same over two eventfds
//   eventfd_pingpong_1cpu_rt_ns
//   pipe_msgs_per_s             16-byte writes and reads through a pipe, producer and consumer
//   poll_wake_ns                a thread blocked in poll() on an eventfd; the other reads the
//   poll_wake_1cpu_ns           clock and writes: clock → poller awake (median)
//   sched_yield_rt_ns           two threads pinned to one CPU calling sched_yield in turn
//   nanosleep_{100us,1ms,10ms}_ns      median achieved sleep (21 samples each)
//   nanosleep_{100us,1ms,10ms}_max_ns  the longest of those 21
//
// usage: linux_baseline [SCALE]   (SCALE multiplies the iteration counts, default 1)
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "linux_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) die("pthread_setaffinity_np");
}

static void unpin(void) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < CPU_SETSIZE; i++) CPU_SET(i, &all);
    pthread_setaffinity_np(pthread_self(), sizeof all, &all);
}

static void full_write(int fd, const void *buffer, size_t bytes) {
    if (write(fd, buffer, bytes) != (ssize_t)bytes) die("write");
}

static void full_read(int fd, void *buffer, size_t bytes) {
    size_t done = 0;
    while (done < bytes) {
        ssize_t n = read(fd, (char *)buffer + done, bytes - done);
        if (n <= 0) die("read");
        done += (size_t)n;
    }
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// ---- Ping-pong over pipes or eventfds -----------------------------------------------------------

struct pingpong {
    int request[2];  // pipe: [read, write]; eventfd: both the same fd
    int reply[2];
    int eventfd;
    long n;
    int cpu;
};

static void pp_send(int fd, int eventfd, uint64_t value) {
    if (eventfd) value = 1;
    full_write(fd, &value, 8);
}

static void pp_recv(int fd) {
    uint64_t value;
    full_read(fd, &value, 8);
}

static void *pp_server(void *argument) {
    struct pingpong *p = argument;
    pin(p->cpu);
    for (long i = 0; i < p->n; i++) {
        pp_recv(p->request[0]);
        pp_send(p->reply[1], p->eventfd, (uint64_t)i);
    }
    return NULL;
}

static double pingpong(int use_eventfd, long n, int cpu) {
    struct pingpong p = {.n = n, .cpu = cpu, .eventfd = use_eventfd};
    if (use_eventfd) {
        int a = eventfd(0, 0), b = eventfd(0, 0);
        if (a < 0 || b < 0) die("eventfd");
        p.request[0] = p.request[1] = a;
        p.reply[0] = p.reply[1] = b;
    } else {
        if (pipe(p.request) != 0 || pipe(p.reply) != 0) die("pipe");
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, pp_server, &p) != 0) die("pthread_create");
    pin(cpu);
    // Warm up, then time.
    for (long i = 0; i < n / 10; i++) {
        pp_send(p.request[1], use_eventfd, 0);
        pp_recv(p.reply[0]);
    }
    uint64_t t0 = now_ns();
    for (long i = n / 10; i < n; i++) {
        pp_send(p.request[1], use_eventfd, (uint64_t)i);
        pp_recv(p.reply[0]);
    }
    uint64_t elapsed = now_ns() - t0;
    pthread_join(thread, NULL);
    close(p.request[0]);
    close(p.reply[0]);
    if (!use_eventfd) {
        close(p.request[1]);
        close(p.reply[1]);
    }
    if (cpu >= 0) unpin();
    return (double)elapsed / (double)(n - n / 10);
}

// ---- Pipe throughput ---------------------------------------------------------------------------

struct stream {
    int fds[2];
    long n;
};

static void *producer(void *argument) {
    struct stream *s = argument;
    char message[16];
    memset(message, 7, sizeof message);
    for (long i = 0; i < s->n; i++) {
        memcpy(message, &i, sizeof i);
        full_write(s->fds[1], message, sizeof message);
    }
    return NULL;
}

static double pipe_throughput(long n) {
    struct stream s = {.n = n};
    if (pipe(s.fds) != 0) die("pipe");
    pthread_t thread;
    uint64_t t0 = now_ns();
    if (pthread_create(&thread, NULL, producer, &s) != 0) die("pthread_create");
    char message[16];
    for (long i = 0; i < n; i++) {
        full_read(s.fds[0], message, sizeof message);
        long got;
        memcpy(&got, message, sizeof got);
        if (got != i) {
            fprintf(stderr, "linux_baseline: pipe message %ld out of order\n", i);
            exit(1);
        }
    }
    uint64_t elapsed = now_ns() - t0;
    pthread_join(thread, NULL);
    close(s.fds[0]);
    close(s.fds[1]);
    return (double)n * 1e9 / (double)elapsed;
}

// ---- poll() wake-up ------------------------------------------------------------------------------

struct waker {
    int wake, ack;
    long n;
    int cpu;
};

static void *waker_thread(void *argument) {
    struct waker *w = argument;
    pin(w->cpu);
    for (long i = 0; i < w->n; i++) {
        uint64_t stamp = now_ns();
        full_write(w->wake, &stamp, 8);  // eventfd adds the stamp; the poller reads it back
        uint64_t ack;
        full_read(w->ack, &ack, 8);
    }
    return NULL;
}

static uint64_t poll_wake(long n, int cpu) {
    struct waker w = {.wake = eventfd(0, 0), .ack = eventfd(0, 0), .n = n, .cpu = cpu};
    if (w.wake < 0 || w.ack < 0) die("eventfd");
    uint64_t *samples = calloc((size_t)n, sizeof *samples);
    if (!samples) die("calloc");
    pthread_t thread;
    if (pthread_create(&thread, NULL, waker_thread, &w) != 0) die("pthread_create");
    pin(cpu);
    for (long i = 0; i < n; i++) {
        struct pollfd item = {.fd = w.wake, .events = POLLIN};
        if (poll(&item, 1, -1) != 1) die("poll");
        uint64_t woke = now_ns(), stamp;
        full_read(w.wake, &stamp, 8);
        samples[i] = woke > stamp ? woke - stamp : 0;
        uint64_t one = 1;
        full_write(w.ack, &one, 8);
    }
    pthread_join(thread, NULL);
    if (cpu >= 0) unpin();
    close(w.wake);
    close(w.ack);
    qsort(samples, (size_t)n, sizeof *samples, compare_u64);
    uint64_t median = samples[n / 2];
    free(samples);
    return median;
}

// ---- sched_yield -----------------------------------------------------------------------------------

static pthread_barrier_t yield_barrier;

struct yielder {
    long n;
    uint64_t elapsed;
};

static void *yield_thread(void *argument) {
    struct yielder *y = argument;
    pin(0);
    pthread_barrier_wait(&yield_barrier);
    uint64_t t0 = now_ns();
    for (long i = 0; i < y->n; i++) sched_yield();
    y->elapsed = now_ns() - t0;
    return NULL;
}

static double yield_round_trip(long n) {
    struct yielder a = {.n = n}, b = {.n = n};
    pthread_barrier_init(&yield_barrier, NULL, 2);
    pthread_t ta, tb;
    if (pthread_create(&ta, NULL, yield_thread, &a) != 0 || pthread_create(&tb, NULL, yield_thread, &b) != 0) die("pthread_create");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&yield_barrier);
    // Each of the n iterations of one thread is a switch there and back.
    return (double)(a.elapsed < b.elapsed ? a.elapsed : b.elapsed) / (double)n;
}

// ---- nanosleep -------------------------------------------------------------------------------------

/* Prints the median and the longest of 21 achieved sleeps of `request` ns. */
static void sleep_accuracy(const char *name, uint64_t request) {
    uint64_t samples[21];
    for (int i = 0; i < 21; i++) {
        struct timespec t = {.tv_sec = (time_t)(request / 1000000000u), .tv_nsec = (long)(request % 1000000000u)};
        uint64_t t0 = now_ns();
        while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
        samples[i] = now_ns() - t0;
    }
    qsort(samples, 21, sizeof samples[0], compare_u64);
    printf("linux: nanosleep_%s_ns=%llu\n", name, (unsigned long long)samples[10]);
    printf("linux: nanosleep_%s_max_ns=%llu\n", name, (unsigned long long)samples[20]);
}

int main(int argc, char **argv) {
    long scale = argc > 1 ? atol(argv[1]) : 1;
    if (scale < 1) scale = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("linux: cpus=%ld\n", cpus);
    printf("linux: pipe_pingpong_rt_ns=%.1f\n", pingpong(0, 50000 * scale, -1));
    printf("linux: pipe_pingpong_1cpu_rt_ns=%.1f\n", pingpong(0, 50000 * scale, 0));
    printf("linux: eventfd_pingpong_rt_ns=%.1f\n", pingpong(1, 50000 * scale, -1));
    printf("linux: eventfd_pingpong_1cpu_rt_ns=%.1f\n", pingpong(1, 50000 * scale, 0));
    printf("linux: pipe_msgs_per_s=%.0f\n", pipe_throughput(200000 * scale));
    printf("linux: poll_wake_ns=%llu\n", (unsigned long long)poll_wake(5000 * scale, -1));
    printf("linux: poll_wake_1cpu_ns=%llu\n", (unsigned long long)poll_wake(5000 * scale, 0));
    printf("linux: sched_yield_rt_ns=%.1f\n", yield_round_trip(200000 * scale));
    sleep_accuracy("100us", 100000);
    sleep_accuracy("1ms", 1000000);
    sleep_accuracy("10ms", 10000000);
    return 0;
}
