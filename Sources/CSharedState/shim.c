#define _GNU_SOURCE
#include "CSharedState.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int fl_segment_init_lock(fl_segment *segment) {
    pthread_mutexattr_t attributes;
    int error = pthread_mutexattr_init(&attributes);
    if (error) return error;
    if (!(error = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED)) &&
        !(error = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST))) {
        error = pthread_mutex_init(&segment->lock, &attributes);
    }
    pthread_mutexattr_destroy(&attributes);
    return error;
}

int fl_segment_lock(fl_segment *segment) {
    int error = pthread_mutex_lock(&segment->lock);
    if (error == EOWNERDEAD) {
        pthread_mutex_consistent(&segment->lock);
        return 1;
    }
    return error;
}

void fl_segment_unlock(fl_segment *segment) { pthread_mutex_unlock(&segment->lock); }

int fl_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec timeout = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    /* Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes. */
    return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
}

int fl_futex_wake(uint32_t *word, int32_t count) { return (int)syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0); }

int fl_random_seed(uint64_t *seed) {
    return getrandom(seed, sizeof *seed, 0) == (ssize_t)sizeof *seed ? 0 : -1;
}
