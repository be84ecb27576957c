#define _GNU_SOURCE
#include "CSystemShims.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t fullyloaded_gettid(void) {
    return (pid_t)syscall(SYS_gettid);
}

int fullyloaded_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

int fullyloaded_set_thread_niceness(int niceness) {
    return setpriority(PRIO_PROCESS, (id_t)fullyloaded_gettid(), niceness);
}

int fullyloaded_set_thread_name(pthread_t thread, const char *name) {
    return pthread_setname_np(thread, name);
}
