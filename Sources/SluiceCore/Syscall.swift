import Glibc
import CSluiceLinux

/// The outcome of a non-blocking read or write.
public enum IOResult: Equatable {
    /// This many bytes moved (0 on read means the peer closed).
    case bytes(Int)
    /// The call would block: wait for readiness.
    case wouldBlock
    /// The peer or the kernel failed the call with this errno.
    case failed(Int32)
}

/// Every syscall the loop makes goes through here: `EINTR` is retried,
/// `EAGAIN` becomes `.wouldBlock`, anything else is returned for the caller to handle.
@inline(__always)
func syscallIO(_ body: () -> Int) -> IOResult {
    while true {
        let n = body()
        if n >= 0 { return .bytes(n) }
        let e = errno
        if e == EINTR { continue }
        if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
        return .failed(e)
    }
}

/// Non-blocking socket I/O on a raw file descriptor.
public enum SocketIO {
    /// Reads into `buffer` (up to `count` bytes).
    @inline(__always)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        syscallIO { Glibc.read(fd, buffer, count) }
    }

    /// Writes `count` bytes; `MSG_NOSIGNAL` so a closed peer gives `EPIPE`, not SIGPIPE.
    @inline(__always)
    public static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        syscallIO { Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL)) }
    }

    /// Closes a descriptor; errors on close are not actionable for sockets.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// The pending error of a socket (after a non-blocking connect completes).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { return errno }
        return err
    }

    /// Sets an integer socket option; failures are ignored (options are optimisations).
    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Human-readable text for an errno.
    public static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// Prints a line to standard error (for fatal operational errors before logging is up).
public func printError(_ message: String) {
    fputs(message + "\n", csluice_stderr())
}
