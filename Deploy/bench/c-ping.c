/* The C ceiling for the cheap route: a libfcgi ping server with a thread per connection, as
 * a plain libfcgi deployment would run it. Built and run by Deploy/bench/core.sh only, for a side-by-side ratio.
 *   cc -O2 -o c-ping c-ping.c -lfcgi -lpthread && ./c-ping /tmp/c-ping.sock 128 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd;

static void *serve(void *unused) {
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    static const char body[] =
        "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(body, sizeof body - 1, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET THREADS\n", argv[0]);
        return 2;
    }
    FCGX_Init();
    unlink(argv[1]);
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) return 1;
    chmod(argv[1], 0666);
    int threads = atoi(argv[2]);
    pthread_t thread;
    for (int i = 1; i < threads; i++) pthread_create(&thread, NULL, serve, NULL);
    serve(NULL);
    return 0;
}
