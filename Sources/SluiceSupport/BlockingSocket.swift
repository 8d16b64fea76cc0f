import Glibc
import SluiceCore

/// Blocking TCP sockets for the threads off the data plane: `SimpleHTTPClient` and the demo's `ModelServer`.
///
/// Writes use `MSG_NOSIGNAL`, so a peer that went away yields an error instead of SIGPIPE.
package enum BlockingSocket {
    /// Opens a blocking listening socket on `host:port` (port 0 picks a free port); returns it and the bound port.
    package static func listen(host: String, port: UInt16, backlog: Int32 = 1024) throws(SocketError) -> (fd: Int32, port: UInt16) {
        guard let address = SocketAddress(host: host, port: port) else {
            throw SocketError(operation: "resolve \(host)", code: EINVAL)
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError(operation: "socket", code: errno) }
        SocketIO.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if address.withSockAddr({ bind(fd, $0, $1) }) != 0 {
            let e = errno
            Glibc.close(fd)
            throw SocketError(operation: "bind \(address)", code: e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = errno
            Glibc.close(fd)
            throw SocketError(operation: "listen \(address)", code: e)
        }
        let bound = Sockets.localAddress(fd)?.port ?? port
        return (fd, bound)
    }

    /// Connects a blocking socket to `host:port` with send/receive timeouts of `timeoutSeconds`
    /// (the send timeout also bounds the connect).
    package static func connect(host: String, port: UInt16, timeoutSeconds: Double) throws(SocketError) -> Int32 {
        guard let address = SocketAddress(host: host, port: port) else {
            throw SocketError(operation: "resolve \(host)", code: EINVAL)
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError(operation: "socket", code: errno) }
        setTimeouts(fd, seconds: timeoutSeconds)
        SocketIO.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        var rc: Int32
        repeat {
            rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        } while rc != 0 && errno == EINTR
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw SocketError(operation: "connect \(address)", code: e)
        }
        return fd
    }

    /// Sets SO_RCVTIMEO and SO_SNDTIMEO (0 = no timeout).
    package static func setTimeouts(_ fd: Int32, seconds: Double) {
        let whole = max(0, seconds)
        var tv = timeval(tv_sec: Int(whole), tv_usec: Int((whole - Double(Int(whole))) * 1_000_000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, size)
    }

    /// Writes all of `buf`; returns 0 on success or the errno of the failure.
    package static func sendAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> Int32 {
        guard var p = buf.baseAddress else { return 0 }
        var left = buf.count
        while left > 0 {
            let n = send(fd, p, left, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            p += n
            left -= n
        }
        return 0
    }

    /// Writes all of `bytes`; returns 0 on success or the errno of the failure.
    package static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { sendAll(fd, $0) }
    }

    /// Reads at most `count` bytes into `buf`: the number read, 0 at end of stream, or -errno.
    package static func receive(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ count: Int) -> Int {
        while true {
            let n = recv(fd, buf, count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            return -Int(errno)
        }
    }
}
