#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

/// Adds, changes or removes `fd` in an epoll set, with the descriptor as the event's data
/// (struct epoll_event is packed, which Swift does not lay out). Returns 0 or -1 with errno set.
int fl_epoll_control(int epoll, int operation, int fd, uint32_t events);

/// Waits for events on an epoll set: at most `capacity` of them into `fds` and `events`.
/// Returns how many, or -1 with errno set.
int fl_epoll_wait(int epoll, int *fds, uint32_t *events, int capacity, int timeout_milliseconds);

/// Accepts a connection on `listener`, close-on-exec and blocking (accept4 is a GNU extension
/// Swift's Glibc does not show). Returns the descriptor, or -1 with errno set.
int fl_accept_connection(int listener);

/// Gives up the calling process's controlling terminal, `terminal` (TIOCNOTTY; ioctl is variadic).
/// Returns 0 or -1 with errno set.
int fl_drop_controlling_terminal(int terminal);

/// posix_spawn's flag that makes the child a session leader (POSIX_SPAWN_SETSID, a GNU
/// extension Swift's Glibc does not show).
short fl_posix_spawn_setsid_flag(void);

#endif
