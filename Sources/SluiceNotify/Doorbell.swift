import Glibc

/// Wakes the notifier thread: a non-blocking pipe that `publish` and `stop` write one byte to
/// and the thread waits on with `poll` (with a timeout: the next retry's due time).
///
/// Writing never blocks (a full pipe already means "wake up"), so publishing stays cheap on any
/// thread. `Synchronization.Mutex` cannot be paired with a pthread condition variable, hence a
/// file descriptor. Should the pipe not open (descriptor exhaustion), waits are capped at 50 ms
/// and the thread simply polls its queue.
final class Doorbell: Sendable {
    private let readFD: Int32
    private let writeFD: Int32

    /// Opens the pipe.
    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        } else {
            fds = [-1, -1]
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    /// Wakes the waiter (or makes its next wait return at once).
    func ring() {
        guard writeFD >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Waits until rung or `timeoutNanos` passed (`nil`: until rung), then clears the bell.
    func wait(timeoutNanos: UInt64?) {
        var limit = timeoutNanos
        if readFD < 0 { limit = min(limit ?? 50_000_000, 50_000_000) }
        let ms: Int32 = limit.map { Int32(min(($0 + 999_999) / 1_000_000, 60_000)) } ?? -1
        guard readFD >= 0 else {
            usleep(UInt32(ms) * 1000)
            return
        }
        var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, ms)
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &scratch, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}
