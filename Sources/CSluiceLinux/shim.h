// Linux APIs that Swift's Glibc module does not expose: epoll, eventfd, timerfd,
// and accept4 (hidden without _GNU_SOURCE, which would break sockaddr* calls).
#ifndef CSLUICE_LINUX_SHIM_H
#define CSLUICE_LINUX_SHIM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>

extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/// Write to stderr from Swift 6, where the mutable C global is rejected.
static inline FILE *csluice_stderr(void) { return stderr; }
static inline int csluice_errno(void) { return errno; }
#endif
