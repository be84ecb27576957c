#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/// The calling thread's kernel id (gettid), which Swift cannot reach through the variadic syscall().
pid_t fl_gettid(void);

/// Asks the kernel to send `signal` to the calling process when its parent dies (prctl is variadic).
/// Returns 0 or -1 with errno set.
int fl_set_parent_death_signal(int signal);

/// Makes the process non-dumpable (no core file, no ptrace or /proc/PID/mem by its own user) and
/// sets its core size limit to 0. Returns 0 or -1 with errno set.
int fl_forbid_core_dumps(void);
/// Lowers the calling thread's CPU priority to `niceness` (Linux nice is per thread).
/// Returns 0 or -1 with errno set.
int fl_set_thread_niceness(int niceness);

/// Names a thread for ps/top (at most 15 bytes are kept).
int fl_set_thread_name(pthread_t thread, const char *name);

/// Installs a handler that does nothing for `signal`, without SA_RESTART: a thread that gets the
/// signal returns from a blocking call with EINTR. Returns 0 or -1 with errno set.
int fl_install_interrupting_signal(int signal);

/// Gives up the calling process's controlling terminal, `terminal` (TIOCNOTTY; ioctl is variadic).
/// Returns 0 or -1 with errno set.
int fl_drop_controlling_terminal(int terminal);

/// posix_spawn's flag that makes the child a session leader (POSIX_SPAWN_SETSID, a GNU
/// extension Swift's Glibc does not show).
short fl_posix_spawn_setsid_flag(void);

/// accept4(2) with SOCK_CLOEXEC (a GNU extension Swift's Glibc does not show). Returns the
/// descriptor or -1 with errno set.
int fl_accept(int listener);

/// An epoll instance, close-on-exec. Returns its descriptor or -1 with errno set.
int fl_epoll_create(void);
/// Watches `descriptor` for input and for the peer's hang-up, one event per arrival
/// (edge-triggered), with `descriptor` as its token. Returns 0 or -1 with errno set.
int fl_epoll_watch(int epoll, int descriptor);
/// Stops watching `descriptor`. Returns 0 or -1 with errno set.
int fl_epoll_forget(int epoll, int descriptor);
/// Waits at most `timeout_ms` for events and writes the ready descriptors to `ready` (epoll's
/// structure is packed, which Swift cannot lay out). Returns their count or -1 with errno set.
int fl_epoll_wait(int epoll, int *ready, int capacity, int timeout_ms);

/// An eventfd(2) counter, non-blocking and close-on-exec. Returns its descriptor or -1.
int fl_eventfd(void);

/// poll(2)'s POLLRDHUP (a GNU extension).
short fl_poll_read_hangup(void);

#endif
