import Glibc
import SluiceCore
import SluiceConfig

/// The data plane: N worker threads, each with its own epoll loop and its own
/// SO_REUSEPORT socket for every listener.
public final class ProxyServer: @unchecked Sendable {
    // @unchecked: `workers` is fixed after init and each Worker is only touched on its own
    // thread (other threads reach it through `loop.execute`); `bound` is written once by
    // `bind` before `start` and read-only afterwards.
    private let workers: [Worker]
    private let gauges: [WorkerGauges]
    private var threads: [pthread_t] = []
    /// Actual address of each listener by name (port 0 resolved), after `bind`.
    public private(set) var bound: [String: SocketAddress] = [:]

    /// Open client connections across workers against `limits.max_connections`; owned here,
    /// shared by every worker.
    public let budget: ConnectionBudget

    /// Creates `workerCount` workers serving the publisher's snapshots. `budget` defaults to one
    /// sized from this process's `RLIMIT_NOFILE`.
    public init(workerCount: Int, publisher: SnapshotPublisher, accessLog: AccessLog? = nil, budget: ConnectionBudget = ConnectionBudget()) {
        self.budget = budget
        var ws: [Worker] = []
        var gs: [WorkerGauges] = []
        for i in 0..<workerCount {
            let g = WorkerGauges()
            gs.append(g)
            ws.append(Worker(index: i, publisher: publisher, gauges: g, budget: budget, accessLog: accessLog))
        }
        workers = ws
        gauges = gs
    }

    /// Binds every listener once per worker. Port 0 is resolved by the first socket and
    /// reused by the others so all workers share one port.
    public func bind(_ listeners: [ListenerConfig]) throws(SocketError) {
        for l in listeners {
            guard var address = SocketAddress(host: l.host, port: l.port) else {
                throw SocketError(operation: "resolve \(l.host)", code: EINVAL)
            }
            for (i, w) in workers.enumerated() {
                let fd = try Sockets.listen(address, backlog: l.backlog)
                if i == 0, l.port == 0, let actual = Sockets.localAddress(fd) { address = actual }
                w.addListener(fd: fd, name: l.name)
            }
            bound[l.name] = address
        }
    }

    /// Starts the worker threads.
    public func start() {
        for w in workers {
            var thread = pthread_t()
            let arg = Unmanaged.passRetained(w).toOpaque()
            let rc = pthread_create(&thread, nil, workerThreadMain, arg)
            precondition(rc == 0, "pthread_create failed")
            threads.append(thread)
        }
    }

    /// Open downstream connections across workers.
    public var openConnections: Int {
        gauges.reduce(0) { $0 + $1.connections.load(ordering: .relaxed) }
    }

    /// Stops accepting, lets in-flight exchanges finish, and waits up to `timeoutNanos`.
    /// Returns true when every connection closed in time.
    public func drain(timeoutNanos: UInt64) -> Bool {
        for w in workers {
            w.loop.execute { [w] in w.beginDrain() }
        }
        let deadline = MonotonicClock.now() + timeoutNanos
        while MonotonicClock.now() < deadline {
            if openConnections == 0 { return true }
            usleep(20_000)
        }
        return openConnections == 0
    }

    /// Stops every loop at once (after drain, or in tests).
    public func stop() {
        for w in workers {
            w.loop.execute { [w] in w.loop.stop() }
        }
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }
}

/// pthread entry point: runs one worker's loop. A plain function, not a closure in
/// main.swift, so it carries no actor isolation.
private func workerThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let worker = Unmanaged<Worker>.fromOpaque(arg!).takeRetainedValue()
    worker.run()
    return nil
}

// Worker is used only on its own thread; the pointer crosses once, at thread start.
extension Worker: @unchecked Sendable {}
