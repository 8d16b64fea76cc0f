import CSluiceLinux
import Glibc
import Logging
import Synchronization
import SluiceConfig
import SluiceCore
import SluiceProxy
import SluiceStats
import SluiceSupport

/// The admin API listener: `/health`, `/ready`, `/stats`, `/metrics`, `/reload` and the
/// `/routes/NAME/...` operations (contract: docs/admin-api.md).
///
/// One accept thread hands each connection to a thread of its own, at most
/// `AdminServerLimits.maxConnections` (16) at once; a connection accepted while all are busy is
/// answered 503 and closed. Every connection ends by its deadline (10 s from accept to the last byte
/// written), so a silent or dribbling client holds one slot for at most that long and never delays
/// `/health`, `/ready`, `/stats` or a reload on another connection.
///
/// Threads rather than an epoll loop: the handlers block (a reload parses YAML and loads TLS files,
/// `/stats` merges every worker's counters under the control-plane mutex), so a loop would still
/// need threads to keep one slow handler from stalling the others; admin traffic is a few probes and
/// operator calls, and a bounded set of short-lived threads with poll-based, deadline-bounded I/O
/// keeps each connection independent with no shared connection state. The control plane is
/// thread-safe (one mutex), the router is an immutable value.
public final class AdminServer: Sendable {
    /// The address actually bound (port 0 resolved).
    public let address: SocketAddress
    /// The per-second history served at `/stats/history`; the supervisor records it every tick.
    public var history: StatsHistory { loop.router.history }
    private let loop: AdminLoop
    /// Set by the first `stop()`; later calls return at once.
    private let stopped = Atomic<Bool>(false)

    private init(address: SocketAddress, loop: AdminLoop) {
        self.address = address
        self.loop = loop
    }

    /// Reads the token file (if configured), binds `config.host:config.port` (port 0 allowed),
    /// starts the accept thread and returns. Throws `AdminStartError` with the reason otherwise.
    public static func start(config: AdminConfig, control: ControlPlane, logger: Logger,
                             limits: AdminServerLimits = AdminServerLimits(),
                             history: StatsHistory = StatsHistory()) throws -> AdminServer {
        let token = try config.tokenFile.map { path throws(AdminStartError) in try BearerToken.load(path: path) }
        guard let requested = SocketAddress(host: config.host, port: config.port) else {
            throw AdminStartError("admin address \(config.host):\(config.port) does not resolve")
        }
        let fd = try AdminListener.bind(requested)
        let bound = Sockets.localAddress(fd) ?? requested
        let router = AdminRouter(control: control, token: token,
                                 policy: AdminRequestPolicy(allowedHosts: config.allowedHosts), logger: logger,
                                 history: history)
        let loop = AdminLoop(listener: fd, router: router, logger: logger, limits: limits)
        // The system default stack, not DetachedThread's 512 KiB: a reload parses YAML and loads TLS files here.
        if let rc = DetachedThread.start(adminThreadMain, context: loop, stackBytes: nil) {
            close(fd)
            throw AdminStartError("cannot start the admin thread: \(SocketIO.describe(rc))")
        }
        logger.info("admin API listening", metadata: [
            "address": "\(bound)", "auth": "\(token == nil ? "off" : "bearer token")",
            "max_connections": "\(limits.maxConnections)",
            "allowed_hosts": "\(config.allowedHosts.isEmpty ? "IP literals, localhost" : "IP literals, localhost, " + config.allowedHosts.joined(separator: ", "))",
        ])
        return AdminServer(address: bound, loop: loop)
    }

    /// Connections being served right now.
    public var activeConnections: Int { loop.active.load(ordering: .relaxed) }

    /// Stops accepting, lets connection threads end (each notices within about 100 ms unless a
    /// handler is running), and closes the socket. Idempotent; returns when no connection thread is
    /// left, or after the connection deadline plus one second at most.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        loop.stopping.store(true, ordering: .relaxed)
        // The accept thread notices within `pollMillis`; the listener is closed only once it no longer polls it.
        while !loop.acceptEnded.load(ordering: .acquiring) { usleep(1_000) }
        close(loop.listener)
        let giveUp = MonotonicClock.now() &+ loop.limits.connectionDeadlineNanos &+ 1_000_000_000
        while loop.active.load(ordering: .acquiring) > 0 && MonotonicClock.now() < giveUp {
            usleep(5_000)
        }
    }
}

/// The admin threads' shared state: the listening socket, the router, the limits, the stop flag and
/// the number of connection threads running. Everything is immutable or atomic.
final class AdminLoop: Sendable {
    /// Listening socket (non-blocking; polled).
    let listener: Int32
    /// Answers each request.
    let router: AdminRouter
    /// Accept failures, refusals and deadline closes are logged here.
    let logger: Logger
    /// Connection cap and deadline.
    let limits: AdminServerLimits
    /// Set by `AdminServer.stop`; checked at least every `pollMillis`.
    let stopping = Atomic<Bool>(false)
    /// Connection threads running (incremented by the accept thread before starting one).
    let active = Atomic<Int>(0)
    /// Set by the accept thread when it has stopped using the listener (its last act).
    let acceptEnded = Atomic<Bool>(false)
    /// Longest wait in `poll` before the stop flag is checked again.
    static let pollMillis: Int32 = 100
    /// Least time between two "admin connections refused" warnings.
    static let busyLogIntervalNanos: UInt64 = 10_000_000_000

    /// Creates the loop state.
    init(listener: Int32, router: AdminRouter, logger: Logger, limits: AdminServerLimits) {
        self.listener = listener
        self.router = router
        self.logger = logger
        self.limits = limits
    }

    /// The process-wide counters (the same object across reloads).
    var global: GlobalStats { router.control.currentSnapshot.global }

    /// The accept thread: accepts until `stopping` is set, starting one connection thread per
    /// connection while fewer than `limits.maxConnections` run, refusing the others with 503.
    func run() {
        var refusals = AdminBusyRefusals()
        var lastBusyLog: UInt64 = 0
        var refusedSinceLog = 0
        var lastAcceptFailureLog: UInt64 = 0
        var acceptFailuresSinceLog = 0
        while !stopping.load(ordering: .relaxed) {
            var pfds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)] + refusals.pollDescriptors
            let ready = poll(&pfds, nfds_t(pfds.count), Self.pollMillis)
            let now = MonotonicClock.now()
            refusals.service(pfds[1...], now: now)
            if ready <= 0 || pfds[0].revents == 0 { continue }
            let fd = CSluiceAccept.accept(listener)
            if fd < 0 {
                let e = errno
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED {
                    // EMFILE and friends: counted every time, logged at most once per interval, and a
                    // pause so that the level-triggered poll does not spin.
                    global.incrementShared(.acceptFailures)
                    acceptFailuresSinceLog += 1
                    if now &- lastAcceptFailureLog >= Self.busyLogIntervalNanos || lastAcceptFailureLog == 0 {
                        logger.warning("admin accept failed", metadata: [
                            "error": "\(SocketIO.describe(e))", "failures": "\(acceptFailuresSinceLog)",
                        ])
                        lastAcceptFailureLog = now
                        acceptFailuresSinceLog = 0
                    }
                    usleep(50_000)
                }
                continue
            }
            if active.load(ordering: .relaxed) >= limits.maxConnections || !startConnectionThread(fd: fd, acceptedAt: now) {
                global.incrementShared(.adminConnectionsRejected)
                refusals.refuse(fd, response: Self.busyResponse(limits.maxConnections), now: now)
                refusedSinceLog += 1
                if now &- lastBusyLog >= Self.busyLogIntervalNanos || lastBusyLog == 0 {
                    logger.warning("admin connections refused: every connection slot is busy", metadata: [
                        "max_connections": "\(limits.maxConnections)", "refused": "\(refusedSinceLog)",
                    ])
                    lastBusyLog = now
                    refusedSinceLog = 0
                }
            }
        }
        refusals.closeAll()
    }

    /// The 503 a refused connection gets.
    static func busyResponse(_ max: Int) -> [UInt8] {
        var r = AdminResponse.error(503, "busy", "all \(max) admin connection slots are busy; try again shortly")
        r.headers.append((name: "Retry-After", value: "1"))
        return r.serialized
    }

    /// Starts a detached thread serving `fd`; false (nothing started, `active` unchanged) when the
    /// thread cannot be created.
    private func startConnectionThread(fd: Int32, acceptedAt: UInt64) -> Bool {
        active.add(1, ordering: .relaxed)
        let job = AdminConnectionJob(loop: self, fd: fd, acceptedAt: acceptedAt)
        // The system default stack, not DetachedThread's 512 KiB: handlers run reloads and build /stats.
        if let rc = DetachedThread.start(adminConnectionThreadMain, context: job, stackBytes: nil) {
            active.subtract(1, ordering: .relaxed)
            logger.warning("cannot start an admin connection thread", metadata: ["error": "\(SocketIO.describe(rc))"])
            return false
        }
        return true
    }

    /// A connection thread: serves one connection within its deadline, then counts and logs how it ended.
    func serve(fd: Int32, acceptedAt: UInt64) {
        defer { active.subtract(1, ordering: .releasing) }
        let socket = AdminSocket(fd: fd, deadline: acceptedAt &+ limits.connectionDeadlineNanos,
                                 shouldStop: { [self] in stopping.load(ordering: .relaxed) })
        AdminConnection.serve(socket, handler: { router.handle($0) }, finished: { outcome in
            guard outcome == .timedOut else { return }
            global.incrementShared(.adminConnectionTimeouts)
            logger.info("admin connection closed at its deadline", metadata: [
                "deadline_ms": "\(limits.connectionDeadlineNanos / 1_000_000)",
            ])
        })
    }
}

/// What a connection thread is handed: the loop it belongs to and its socket.
final class AdminConnectionJob: Sendable {
    /// The shared admin state.
    let loop: AdminLoop
    /// The accepted socket.
    let fd: Int32
    /// `MonotonicClock` time of the accept; the deadline counts from here.
    let acceptedAt: UInt64

    /// Creates a job.
    init(loop: AdminLoop, fd: Int32, acceptedAt: UInt64) {
        self.loop = loop
        self.fd = fd
        self.acceptedAt = acceptedAt
    }
}

/// pthread entry point of the accept thread. A plain file-level function, not a closure,
/// so it carries no actor isolation.
private func adminThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<AdminLoop>.fromOpaque(arg!).takeRetainedValue()
    loop.run()
    loop.acceptEnded.store(true, ordering: .releasing)
    return nil
}

/// pthread entry point of a connection thread.
private func adminConnectionThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let job = Unmanaged<AdminConnectionJob>.fromOpaque(arg!).takeRetainedValue()
    job.loop.serve(fd: job.fd, acceptedAt: job.acceptedAt)
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

/// Accepting an admin connection as a non-blocking, close-on-exec socket.
enum CSluiceAccept {
    /// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`: every wait on the socket is a deadline-bounded `poll`.
    static func accept(_ listener: Int32) -> Int32 {
        CSluiceLinux.accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
    }
}
