#define _GNU_SOURCE
#include "CSystemShims.h"

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

static void fl_ignore_signal(int signal) { (void)signal; }

int fl_install_interrupting_signal(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = fl_ignore_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    return sigaction(signal, &action, NULL);
}

int fl_drop_controlling_terminal(int terminal) {
    return ioctl(terminal, TIOCNOTTY);
}

short fl_posix_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}

int fl_accept(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

int fl_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int fl_epoll_watch(int epoll, int descriptor) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.fd = descriptor;
    return epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event);
}

int fl_epoll_forget(int epoll, int descriptor) {
    return epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, NULL);
}

int fl_epoll_wait(int epoll, int *ready, int capacity, int timeout_ms) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epoll, events, capacity, timeout_ms);
    for (int index = 0; index < count; index++) ready[index] = events[index].data.fd;
    return count;
}

int fl_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

short fl_poll_read_hangup(void) {
    return POLLRDHUP;
}
