import Glibc
import CSluiceLinux

/// Why a socket could not be set up; carries the operator-facing reason.
public struct SocketError: Error, CustomStringConvertible {
    /// What was attempted, e.g. "bind 0.0.0.0:8080".
    public let operation: String
    /// The errno.
    public let code: Int32
    /// "bind 0.0.0.0:8080: Address already in use"
    public var description: String { "\(operation): \(SocketIO.describe(code))" }

    /// Wraps a failed operation and its errno.
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }
}

/// Creation of listening and connecting sockets.
public enum Sockets {
    /// Opens a non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT,
    /// so every worker can own one for the same address and the kernel spreads connections.
    public static func listen(_ address: SocketAddress, backlog: Int32 = 4096) throws(SocketError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError(operation: "socket", code: errno) }
        SocketIO.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        SocketIO.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            SocketIO.close(fd)
            throw SocketError(operation: "bind \(address)", code: e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = errno
            SocketIO.close(fd)
            throw SocketError(operation: "listen \(address)", code: e)
        }
        return fd
    }

    /// The address a socket is bound to (to learn the port after binding port 0).
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress(raw: UnsafeRawBufferPointer(rebasing: $0[0..<Int(len)])) }
    }

    /// Accepts one connection, non-blocking and close-on-exec.
    /// Returns the fd and writes the peer address into `peer` (a 128-byte scratch buffer).
    @inline(__always)
    public static func accept(_ listener: Int32, peer: UnsafeMutableRawPointer, peerLength: inout socklen_t) -> IOResult {
        syscallIO {
            Int(CSluiceLinux.accept4(listener, peer.assumingMemoryBound(to: sockaddr.self), &peerLength,
                                     Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)))
        }
    }

    /// Starts a non-blocking connect. Returns the fd and whether the connect is still in progress.
    public static func connect(_ address: SocketAddress) -> (fd: Int32, inProgress: Bool)? {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return nil }
        SocketIO.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return (fd, false) }
        if errno == EINPROGRESS { return (fd, true) }
        SocketIO.close(fd)
        return nil
    }

    /// Formats a peer address from an accept scratch buffer as ASCII bytes (IP only), for x-forwarded-for.
    public static func peerIP(_ raw: UnsafeRawPointer, into out: inout [UInt8]) {
        var text = [CChar](repeating: 0, count: 64)
        let family = Int32(raw.load(as: sa_family_t.self))
        if family == AF_INET {
            var a = raw.load(as: sockaddr_in.self).sin_addr
            inet_ntop(AF_INET, &a, &text, 64)
        } else if family == AF_INET6 {
            var a = raw.load(as: sockaddr_in6.self).sin6_addr
            inet_ntop(AF_INET6, &a, &text, 64)
        }
        out.removeAll(keepingCapacity: true)
        for c in text { if c == 0 { break }; out.append(UInt8(bitPattern: c)) }
    }
}
