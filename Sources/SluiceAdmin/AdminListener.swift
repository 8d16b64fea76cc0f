import Glibc
import CSluiceLinux
import SluiceCore

/// The admin listening socket: plain `SO_REUSEADDR` (no `SO_REUSEPORT`, so a second process
/// cannot silently share the admin port), non-blocking so the accept loop can poll a stop flag.
enum AdminListener {
    /// Binds and listens; throws the operator-facing reason.
    static func bind(_ address: SocketAddress) throws(AdminStartError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw AdminStartError("admin socket: \(SocketIO.describe(errno))") }
        SocketIO.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            close(fd)
            throw AdminStartError("cannot bind admin address \(address): \(SocketIO.describe(e))")
        }
        if listen(fd, 64) != 0 {
            let e = errno
            close(fd)
            throw AdminStartError("cannot listen on admin address \(address): \(SocketIO.describe(e))")
        }
        return fd
    }
}

/// Accepting an admin connection as a blocking, close-on-exec socket.
enum CSluiceAccept {
    /// `accept4(SOCK_CLOEXEC)`: the accepted socket is blocking whatever the listener's mode.
    static func accept(_ listener: Int32) -> Int32 {
        CSluiceLinux.accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
    }
}
