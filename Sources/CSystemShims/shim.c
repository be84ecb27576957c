#define _GNU_SOURCE
#include "CSystemShims.h"

#include <pthread.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t fl_gettid(void) {
    return (pid_t)syscall(SYS_gettid);
}

int fl_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

int fl_forbid_core_dumps(void) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return -1;
    return prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
}

int fl_set_thread_niceness(int niceness) {
    return setpriority(PRIO_PROCESS, (id_t)fl_gettid(), niceness);
}

int fl_set_thread_name(pthread_t thread, const char *name) {
    return pthread_setname_np(thread, name);
}

int fl_epoll_control(int epoll, int operation, int fd, uint32_t events) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = events;
    event.data.fd = fd;
    return epoll_ctl(epoll, operation, fd, &event);
}

int fl_epoll_wait(int epoll, int *fds, uint32_t *events, int capacity, int timeout_milliseconds) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll, ready, capacity, timeout_milliseconds);
    for (int index = 0; index < count; index++) {
        fds[index] = ready[index].data.fd;
        events[index] = ready[index].events;
    }
    return count;
}

int fl_accept_connection(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

short fl_posix_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}

int fl_drop_controlling_terminal(int terminal) {
    return ioctl(terminal, TIOCNOTTY);
}
