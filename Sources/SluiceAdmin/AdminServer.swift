import CSluiceLinux
import Glibc
import Logging
import Synchronization
import SluiceConfig
import SluiceCore
import SluiceProxy

/// The admin API listener: `/health`, `/ready`, `/stats`, `/metrics`, `/reload` and the
/// `/routes/NAME/...` operations (see the README's admin API contract).
///
/// Not the hot path, so deliberately plain: one background thread with a blocking accept loop,
/// one connection at a time, one request per connection (`Connection: close`), a 5 s read timeout.
public final class AdminServer: Sendable {
    /// The address actually bound (port 0 resolved).
    public let address: SocketAddress
    private let loop: AdminLoop
    private let thread: Mutex<pthread_t?>

    private init(address: SocketAddress, loop: AdminLoop, thread: pthread_t) {
        self.address = address
        self.loop = loop
        self.thread = Mutex(thread)
    }

    /// Reads the token file (if configured), binds `config.host:config.port` (port 0 allowed),
    /// starts the admin thread and returns. Throws `AdminStartError` with the reason otherwise.
    public static func start(config: AdminConfig, control: ControlPlane, logger: Logger) throws -> AdminServer {
        let token = try config.tokenFile.map { path throws(AdminStartError) in try BearerToken.load(path: path) }
        guard let requested = SocketAddress(host: config.host, port: config.port) else {
            throw AdminStartError("admin address \(config.host):\(config.port) does not resolve")
        }
        let fd = try AdminListener.bind(requested)
        let bound = Sockets.localAddress(fd) ?? requested
        let router = AdminRouter(control: control, token: token, logger: logger)
        let loop = AdminLoop(listener: fd, router: router, logger: logger)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, adminThreadMain, Unmanaged.passRetained(loop).toOpaque())
        guard rc == 0 else {
            Unmanaged.passUnretained(loop).release()
            close(fd)
            throw AdminStartError("cannot start the admin thread: \(SocketIO.describe(rc))")
        }
        logger.info("admin API listening", metadata: [
            "address": "\(bound)", "auth": "\(token == nil ? "off" : "bearer token")",
        ])
        return AdminServer(address: bound, loop: loop, thread: thread)
    }

    /// Stops accepting, waits for the request in progress (if any) to finish, closes the socket.
    /// Idempotent; returns within about 200 ms plus the time the current request takes.
    public func stop() {
        let t = thread.withLock { t -> pthread_t? in
            let current = t
            t = nil
            return current
        }
        guard let t else { return }
        loop.stopping.store(true, ordering: .relaxed)
        pthread_join(t, nil)
        close(loop.listener)
    }
}

/// The admin thread's state: the listening socket, the router and the stop flag.
final class AdminLoop: Sendable {
    /// Listening socket (non-blocking; polled).
    let listener: Int32
    /// Answers each request.
    let router: AdminRouter
    /// Accept failures are logged here.
    let logger: Logger
    /// Set by `AdminServer.stop`; checked at least every `pollMillis`.
    let stopping = Atomic<Bool>(false)
    /// Longest wait in `poll` before the stop flag is checked again.
    static let pollMillis: Int32 = 100

    /// Creates the loop state.
    init(listener: Int32, router: AdminRouter, logger: Logger) {
        self.listener = listener
        self.router = router
        self.logger = logger
    }

    /// Accepts and serves connections one at a time until `stopping` is set.
    func run() {
        while !stopping.load(ordering: .relaxed) {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Self.pollMillis)
            if ready <= 0 { continue }
            let fd = CSluiceAccept.accept(listener)
            if fd < 0 {
                let e = errno
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED {
                    logger.warning("admin accept failed", metadata: ["error": "\(SocketIO.describe(e))"])
                    usleep(50_000)
                }
                continue
            }
            AdminConnection.serve(fd: fd) { router.handle($0) }
        }
    }
}

/// pthread entry point of the admin thread. A plain file-level function, not a closure,
/// so it carries no actor isolation.
private func adminThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<AdminLoop>.fromOpaque(arg!).takeRetainedValue()
    loop.run()
    return nil
}

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
