/* drydock-on-demand MARK SOCKET... -- PROGRAM [ARG...]
 *
 * Socket activation, as systemd does it, for the sandbox's own Docker daemon:
 * make each unix SOCKET (an old file at its path removed first) and listen on
 * it, make the file MARK (the host reads it: the sandbox is ready), then sleep
 * until a client connects to one of them. Then become PROGRAM (same pid) with
 * the listening sockets as descriptors 3, 4, ... and LISTEN_FDS and LISTEN_PID
 * set, which `dockerd -H fd://` takes; the client that woke it is answered by
 * the daemon once it runs, its connection waiting in the socket's backlog.
 *
 * An idle sandbox then holds no daemon: no CPU at its start, a few hundred KiB
 * instead of ~30 MiB. The socket's peer (SO_PEERCRED: the process that
 * listened) is this pid, which PROGRAM becomes, so the grader's check that the
 * daemon runs in the sandbox's own pid namespace holds before and after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FIRST_FD 3
#define MAX_SOCKETS 8

static void die(const char *what, const char *path) {
    fprintf(stderr, "drydock-on-demand: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int listen_on(const char *path) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        die("cannot listen on", path);
    }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        die("cannot make a socket for", path);
    if (unlink(path) != 0 && errno != ENOENT)
        die("cannot remove the old", path);
    mode_t old = umask(0117); /* rw for root and its group, as dockerd makes them */
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0)
        die("cannot bind", path);
    umask(old);
    if (listen(fd, 128) != 0)
        die("cannot listen on", path);
    return fd;
}

int main(int argc, char **argv) {
    int dash = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dash = i;
            break;
        }
    int count = dash - 2;
    if (dash < 3 || dash == argc - 1 || count > MAX_SOCKETS) {
        fprintf(stderr, "usage: drydock-on-demand MARK SOCKET... -- PROGRAM [ARG...] (at most %d sockets)\n", MAX_SOCKETS);
        return 2;
    }
    const char *mark = argv[1];
    struct pollfd waiting[MAX_SOCKETS];
    for (int n = 0; n < count; n++) {
        int fd = listen_on(argv[2 + n]);
        /* Where PROGRAM expects them: 3, 4, ... in the order given; kept across exec. */
        if (fd != FIRST_FD + n) {
            if (dup2(fd, FIRST_FD + n) < 0)
                die("cannot move the descriptor of", argv[2 + n]);
            close(fd);
        }
        fcntl(FIRST_FD + n, F_SETFD, 0);
        waiting[n] = (struct pollfd){.fd = FIRST_FD + n, .events = POLLIN};
    }
    int made = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (made < 0)
        die("cannot make the mark", mark);
    close(made);
    while (poll(waiting, count, -1) < 0)
        if (errno != EINTR)
            die("cannot wait on", argv[2]);
    char fds[16], pid[16];
    snprintf(fds, sizeof fds, "%d", count);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("LISTEN_FDS", fds, 1);
    setenv("LISTEN_PID", pid, 1);
    unsetenv("LISTEN_FDNAMES");
    execvp(argv[dash + 1], argv + dash + 1);
    die("cannot run", argv[dash + 1]);
}
