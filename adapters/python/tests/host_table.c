/*
 * A stand-in for the POSIX layer's ABI table, for testing the adapter's main.c and _ukernel.c
 * on the host (adapters/python/tests/host-test.sh), before and without the kernel.
 *
 * It provides uk_posix_table() and uk_posix_adopt() with the kernel's semantics where the
 * adapter depends on them: log.write checks and prints each record on stderr as one line
 * ("uk-host: log level=1 message=... key=value"); spans nest per task with the kernel's limit
 * (16 open) and trace.span_end takes any open span's id, as kernel/src/abi/calls.zig does;
 * channels are bounded queues whose fd (an eventfd in semaphore mode, one count per queued
 * message, or one for "closed") io.poll readiness stands for: readable when a message waits or
 * the channel is closed. Writable is always true on an eventfd, so a sender on a full channel
 * retries each loop turn; that is enough for tests, not a model of the kernel's wait.
 * UK_HOST_NO_TABLE=1 in the environment makes uk_posix_table() return NULL (no kernel).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ukernel_abi.h"

#define SPANS_OPEN_MAX 16
#define CHANNELS_MAX 64
#define CHANNEL_CAPACITY_MAX 1024
#define CHANNEL_MESSAGE_BYTES_MAX 65536
#define HANDLE_FIRST 100

typedef struct {
    int used, closes, fd;
    uint32_t capacity, message_bytes_max, head, count;
    uint8_t **messages;
    uint32_t *lengths;
} channel;

static channel channels[CHANNELS_MAX];
static uint64_t spans[SPANS_OPEN_MAX];
static uint32_t span_count;
static uint64_t span_next = 1;

static void print_bytes(const char *label, const uint8_t *data, uint64_t length) {
    fprintf(stderr, " %s=", label);
    fwrite(data, 1, length, stderr);
}

static int64_t log_write(uint32_t level, const uint8_t *message, uint64_t message_length,
                         const uk_log_field *fields, uint32_t count) {
    if (level > UK_LOG_LEVEL_ERROR) return -UK_E_OUT_OF_RANGE;
    if (message_length > UK_WRITE_BYTES_MAX || count > UK_LOG_FIELDS_MAX) return -UK_E_TOO_LARGE;
    for (uint32_t index = 0; index < count; index++) {
        if (fields[index].key_length > 255 || fields[index].value_length > 65535) {
            return -UK_E_TOO_LARGE;
        }
    }
    fprintf(stderr, "uk-host: log level=%u", level);
    print_bytes("message", message, message_length);
    for (uint32_t index = 0; index < count; index++) {
        fprintf(stderr, " ");
        fwrite((const void *)(uintptr_t)fields[index].key_pointer, 1, fields[index].key_length,
               stderr);
        print_bytes("", (const uint8_t *)(uintptr_t)fields[index].value_pointer,
                    fields[index].value_length);
    }
    fprintf(stderr, "\n");
    return 0;
}

static int64_t span_begin(const uint8_t *name, uint64_t length) {
    if (length > UK_NAME_BYTES_MAX) return -UK_E_TOO_LARGE;
    if (span_count == SPANS_OPEN_MAX) return -UK_E_LIMIT_REACHED;
    uint64_t parent = span_count > 0 ? spans[span_count - 1] : 0;
    uint64_t id = span_next++;
    spans[span_count++] = id;
    fprintf(stderr, "uk-host: span_begin span=%llu parent=%llu", (unsigned long long)id,
            (unsigned long long)parent);
    print_bytes("name", name, length);
    fprintf(stderr, "\n");
    return (int64_t)id;
}

static int64_t span_end(uint64_t id) {
    for (uint32_t position = 0; position < span_count; position++) {
        if (spans[position] != id) continue;
        memmove(&spans[position], &spans[position + 1],
                (span_count - position - 1) * sizeof(spans[0]));
        span_count--;
        fprintf(stderr, "uk-host: span_end span=%llu\n", (unsigned long long)id);
        return 1;
    }
    return -UK_E_OUT_OF_RANGE;
}

static int64_t event(const uint8_t *name, uint64_t length, uint64_t value) {
    if (length > UK_NAME_BYTES_MAX) return -UK_E_TOO_LARGE;
    fprintf(stderr, "uk-host: event value=%llu", (unsigned long long)value);
    print_bytes("name", name, length);
    fprintf(stderr, "\n");
    return 0;
}

static uint64_t clock_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int64_t task_self(void) { return 0; }

static channel *find(uint32_t handle) {
    if (handle < HANDLE_FIRST || handle >= HANDLE_FIRST + CHANNELS_MAX) return NULL;
    channel *found = &channels[handle - HANDLE_FIRST];
    return found->used ? found : NULL;
}

static int64_t channel_create(uint32_t capacity, uint32_t message_bytes_max) {
    if (capacity < 1 || capacity > CHANNEL_CAPACITY_MAX) return -UK_E_OUT_OF_RANGE;
    if (message_bytes_max < 1 || message_bytes_max > CHANNEL_MESSAGE_BYTES_MAX) {
        return -UK_E_OUT_OF_RANGE;
    }
    for (uint32_t index = 0; index < CHANNELS_MAX; index++) {
        channel *slot = &channels[index];
        if (slot->used) continue;
        memset(slot, 0, sizeof(*slot));
        slot->fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
        slot->messages = calloc(capacity, sizeof(uint8_t *));
        slot->lengths = calloc(capacity, sizeof(uint32_t));
        if (slot->fd < 0 || !slot->messages || !slot->lengths) return -UK_E_NO_MEMORY;
        slot->used = 1;
        slot->capacity = capacity;
        slot->message_bytes_max = message_bytes_max;
        return HANDLE_FIRST + index;
    }
    return -UK_E_LIMIT_REACHED;
}

static void signal_fd(channel *found) {
    uint64_t one = 1;
    if (write(found->fd, &one, sizeof(one)) != sizeof(one)) abort();
}

static int64_t channel_send(uint32_t handle, const uint8_t *message, uint64_t length,
                            uint32_t flags) {
    channel *found = find(handle);
    if (found == NULL) return -UK_E_BAD_HANDLE;
    if (flags & ~UK_FLAG_NONBLOCKING) return -UK_E_OUT_OF_RANGE;
    if (found->closes > 0) return -UK_E_CLOSED;
    if (length > found->message_bytes_max) return -UK_E_TOO_LARGE;
    if (found->count == found->capacity) return -UK_E_WOULD_BLOCK; /* Never waits here. */
    uint32_t slot = (found->head + found->count) % found->capacity;
    found->messages[slot] = malloc(length ? length : 1);
    memcpy(found->messages[slot], message, length);
    found->lengths[slot] = (uint32_t)length;
    found->count++;
    signal_fd(found);
    return 0;
}

static int64_t channel_recv(uint32_t handle, uint8_t *buffer, uint64_t length, uint32_t flags) {
    channel *found = find(handle);
    if (found == NULL) return -UK_E_BAD_HANDLE;
    if (flags & ~UK_FLAG_NONBLOCKING) return -UK_E_OUT_OF_RANGE;
    if (found->count == 0) return found->closes > 0 ? -UK_E_CLOSED : -UK_E_WOULD_BLOCK;
    uint32_t slot = found->head;
    if (found->lengths[slot] > length) return -UK_E_TOO_LARGE;
    uint64_t taken = 0;
    if (read(found->fd, &taken, sizeof(taken)) != sizeof(taken)) abort();
    memcpy(buffer, found->messages[slot], found->lengths[slot]);
    free(found->messages[slot]);
    found->head = (found->head + 1) % found->capacity;
    found->count--;
    return found->lengths[slot];
}

static int64_t io_close(uint32_t handle) {
    channel *found = find(handle);
    if (found == NULL) return -UK_E_BAD_HANDLE;
    found->closes++;
    if (found->closes == 1) {
        signal_fd(found); /* Closed: readable for ever (one count no recv takes). */
        return 0;
    }
    for (uint32_t index = 0; index < found->count; index++) {
        free(found->messages[(found->head + index) % found->capacity]);
    }
    free(found->messages);
    free(found->lengths);
    close(found->fd);
    found->used = 0;
    fprintf(stderr, "uk-host: channel_released handle=%u\n", handle);
    return 0;
}

static uk_table table = {
    .size_bytes = sizeof(uk_table),
    .log_write = log_write,
    .trace_span_begin = span_begin,
    .trace_span_end = span_end,
    .trace_event = event,
    .clock_now_ns = clock_now,
    .task_self = task_self,
    .ipc_channel_create = channel_create,
    .ipc_send = channel_send,
    .ipc_recv = channel_recv,
    .io_close = io_close,
};

const uk_table *uk_posix_table(void) {
    const char *none = getenv("UK_HOST_NO_TABLE");
    return (none != NULL && none[0] == '1') ? NULL : &table;
}

/* The fd is a dup of the channel's eventfd: closing it leaves the channel alone (borrowed). */
int uk_posix_adopt(uint32_t handle, int kind) {
    if (kind != 1) return -22; /* EINVAL: only channels (adapters/posix/src/streams.zig) */
    channel *found = find(handle);
    if (found == NULL) return -9; /* EBADF */
    int fd = dup(found->fd);
    return fd < 0 ? -24 /* EMFILE */ : fd;
}
