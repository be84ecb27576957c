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

#endif
