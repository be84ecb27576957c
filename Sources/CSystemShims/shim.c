#define _GNU_SOURCE
#include "CSystemShims.h"

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
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
