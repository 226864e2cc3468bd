/* redis_priv.c - private redis-servers for tests (see redis_priv.h). */
#include "redis_priv.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int fg_tredis_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int accepting(int port) {
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int up = c && !c->err;
    if (c) redisFree(c);
    return up;
}

void fg_tredis_start(fg_tredis_t *r, const char *extra_args) {
    if (!r->port) r->port = fg_tredis_free_port();
    snprintf(r->pidfile, sizeof(r->pidfile), "/tmp/fg-test-redis-%d.pid", r->port);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --daemonize yes "
             "--dir /tmp --pidfile %s --logfile '' %s >/dev/null",
             r->port, r->pidfile, extra_args ? extra_args : "");
    cr_assert_eq(system(cmd), 0, "could not start redis-server");
    for (int i = 0; i < 200; i++) { /* up to ~4 s */
        if (accepting(r->port)) return;
        usleep(20000);
    }
    cr_assert_fail("private redis-server on port %d did not come up", r->port);
}

void fg_tredis_stop(fg_tredis_t *r, const char *user, const char *password) {
    redisContext *c = redisConnect("127.0.0.1", r->port);
    cr_assert(c && !c->err, "cannot reach redis on %d", r->port);
    if (password) {
        redisReply *a = user ? redisCommand(c, "AUTH %s %s", user, password) : redisCommand(c, "AUTH %s", password);
        if (a) freeReplyObject(a);
    }
    redisReply *s = redisCommand(c, "SHUTDOWN NOSAVE");
    if (s) freeReplyObject(s); /* normally NULL: the server closes the connection */
    redisFree(c);
    for (int i = 0; i < 200; i++) { /* wait until the port refuses */
        if (!accepting(r->port)) return;
        usleep(20000);
    }
    cr_assert_fail("private redis-server on port %d did not stop", r->port);
}

void fg_tredis_crash(fg_tredis_t *r) {
    FILE *f = fopen(r->pidfile, "r");
    cr_assert(f, "private redis-server on port %d: no pidfile %s", r->port, r->pidfile);
    int pid = 0;
    int got = fscanf(f, "%d", &pid);
    fclose(f);
    cr_assert(got == 1 && pid > 1, "private redis-server on port %d: bad pidfile %s", r->port, r->pidfile);
    cr_assert_eq(kill(pid, SIGKILL), 0, "cannot kill redis-server %d", pid);
    for (int i = 0; i < 200; i++) { /* the port refuses once the process is gone */
        if (!accepting(r->port) && kill(pid, 0) != 0) return;
        usleep(20000);
    }
    cr_assert_fail("private redis-server on port %d (pid %d) did not go away", r->port, pid);
}

void fg_tredis_kill(fg_tredis_t *r) {
    if (!r->pidfile[0]) return;
    FILE *f = fopen(r->pidfile, "r");
    if (!f) return;
    int pid = 0;
    if (fscanf(f, "%d", &pid) == 1 && pid > 1) kill(pid, SIGTERM);
    fclose(f);
    unlink(r->pidfile);
}
