import Glibc
import Logging
import SluiceCore
import SluiceRouting
import Synchronization

/// Active health checks: ONE thread that probes every endpoint of every backend with a
/// `health_check`, each on its backend's `interval`, and writes the verdicts into the
/// endpoints' `EndpointHealth` words (the workers read them on every pick).
///
/// Each round it re-reads the published snapshot, so a reload's new backends, paths and
/// intervals apply at once. An endpoint listed by several backends is probed with the first
/// backend (config order) that has a `health_check`; an endpoint of a backend with `tls:`
/// is probed over TLS (ALPN `http/1.1`, the backend's trust settings). An endpoint whose backends no longer
/// have a `health_check` is reset to healthy. Probes run one after another, so a probe that
/// times out delays the others by at most its timeout.
public final class HealthChecker: Sendable {
    /// The snapshots to read the endpoints, specs and health objects from.
    let publisher: SnapshotPublisher
    /// Longest sleep between two looks at the schedule (bounds stop and reload latency).
    static let maxSleepNanos: UInt64 = 50_000_000
    private let stopRequested = Atomic<Bool>(false)
    /// The running thread, if started.
    private let thread = Mutex<pthread_t?>(nil)

    /// A checker for `publisher`'s snapshots; call `start()` to run it.
    public init(publisher: SnapshotPublisher) {
        self.publisher = publisher
    }

    /// Starts the checker thread (no-op when already running).
    public func start() {
        thread.withLock { t in
            guard t == nil else { return }
            stopRequested.store(false, ordering: .relaxed)
            var handle = pthread_t()
            let arg = Unmanaged.passRetained(self).toOpaque()
            guard pthread_create(&handle, nil, healthCheckerThreadMain, arg) == 0 else {
                Unmanaged<HealthChecker>.fromOpaque(arg).release()
                Logger(label: "sluice.health").error("cannot start the health-checker thread")
                return
            }
            t = handle
        }
    }

    /// Stops the thread and waits for it (at most one probe timeout).
    public func stop() {
        let handle: pthread_t? = thread.withLock { t in
            defer { t = nil }
            return t
        }
        guard let handle else { return }
        stopRequested.store(true, ordering: .relaxed)
        pthread_join(handle, nil)
    }

    /// The thread body: probe what is due, sleep until the next due time, until stopped.
    func run() {
        var logger = Logger(label: "sluice.health")
        logger.logLevel = .info
        var due: [String: UInt64] = [:]
        while !stopRequested.load(ordering: .relaxed) {
            let next = round(due: &due, logger: logger)
            let now = MonotonicClock.now()
            let sleep = min(next > now ? next - now : 0, Self.maxSleepNanos)
            if sleep > 0 { usleep(UInt32(sleep / 1000)) }
        }
    }

    /// Probes every endpoint whose time has come; returns the earliest next due time.
    func round(due: inout [String: UInt64], logger: Logger) -> UInt64 {
        let snapshot = publisher.load()
        var spec = [HealthCheckSpec?](repeating: nil, count: snapshot.endpoints.count)
        var backendOf = [String](repeating: "", count: snapshot.endpoints.count)
        for (b, backend) in snapshot.table.backends.enumerated() {
            guard let hc = backend.healthCheck else { continue }
            for e in snapshot.backendEndpoints[b] where spec[e] == nil {
                spec[e] = hc
                backendOf[e] = backend.name
            }
        }
        var next = MonotonicClock.now() + Self.maxSleepNanos
        var seen = Set<String>()
        for (e, health) in snapshot.endpointHealth.enumerated() {
            if stopRequested.load(ordering: .relaxed) { break }
            seen.insert(health.address)
            guard let hc = spec[e] else {
                if health.activeState != EndpointHealthState() {
                    if !health.isHealthy {
                        logger.info("endpoint healthy again: health check removed", metadata: ["endpoint": "\(health.address)"])
                    }
                    health.storeActive(EndpointHealthState())
                }
                due[health.address] = nil
                continue
            }
            let now = MonotonicClock.now()
            if let d = due[health.address], d > now {
                next = min(next, d)
                continue
            }
            // A TLS endpoint is probed over TLS with its backend's ca, server_name and verify.
            let tls = snapshot.endpointTLS[e].flatMap { t in t.http1.map { (context: $0, serverName: t.peer.serverName) } }
            let outcome = HealthCheckProbe.run(address: snapshot.endpoints[e], path: hc.path, timeoutNanos: hc.timeoutNanos, tls: tls)
            var state = health.activeState
            let transition = state.record(passed: outcome.passed, unhealthyAfter: hc.unhealthyAfter, healthyAfter: hc.healthyAfter)
            health.storeActive(state)
            switch transition {
            case .becameUnhealthy:
                snapshot.global.incrementShared(.endpointsMarkedUnhealthy)
                logger.warning("endpoint unhealthy", metadata: [
                    "backend": "\(backendOf[e])", "endpoint": "\(health.address)", "path": "\(hc.path)",
                    "failures": "\(state.consecutiveFailures)", "last": "\(outcome)",
                ])
            case .becameHealthy:
                logger.info("endpoint healthy again", metadata: [
                    "backend": "\(backendOf[e])", "endpoint": "\(health.address)", "passes": "\(state.consecutivePasses)",
                ])
            case nil:
                break
            }
            let d = MonotonicClock.now() + max(hc.intervalNanos, 1_000_000)
            due[health.address] = d
            next = min(next, d)
        }
        due = due.filter { seen.contains($0.key) }
        return next
    }
}

/// pthread entry point of the health checker: a plain function, so it carries no actor isolation.
private func healthCheckerThreadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let checker = Unmanaged<HealthChecker>.fromOpaque(arg!).takeRetainedValue()
    checker.run()
    return nil
}
