import Glibc
import Synchronization

/// The process-wide count of open client connections, checked against `limits.max_connections`
/// when a worker accepts one.
///
/// Owned by the `ProxyServer`, which creates one and hands it to every worker; each worker takes a
/// slot when it adopts an accepted socket and gives it back when that connection closes (an
/// HTTP/1 connection that switches to HTTP/2 keeps its slot). The count is one `Atomic<Int>` used
/// with relaxed ordering: it publishes no other memory, it only has to be exact, which the
/// compare-exchange in `tryAcquire` makes it (two workers racing for the last slot cannot both win).
public final class ConnectionBudget: Sendable {
    /// Open client connections across every worker.
    private let open = Atomic<Int>(0)
    /// The limit in force when the config leaves `limits.max_connections` unset.
    public let defaultLimit: Int

    /// Descriptors kept out of the default for everything that is not a client connection:
    /// listening sockets (one per worker and listener), each worker's epoll and eventfd, the
    /// admin listener and its client, health-check probes, the access log, config and
    /// certificate files read on reload, stdio.
    public static let reservedDescriptors = 128

    /// `limits.max_connections` when unset: half of what remains of the soft `RLIMIT_NOFILE`
    /// after `reservedDescriptors`, since every client connection in flight also holds a
    /// connection to a backend; at least 16. With `ulimit -n 1024`: 448; with 65536: 32704.
    public static func defaultLimit(softDescriptorLimit soft: Int) -> Int {
        max(16, (soft - reservedDescriptors) / 2)
    }

    /// The soft `RLIMIT_NOFILE` of this process (capped at 2^31 when unlimited).
    public static func softDescriptorLimit() -> Int {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 1024 }
        return rl.rlim_cur >= rlim_t(Int32.max) ? Int(Int32.max) : Int(rl.rlim_cur)
    }

    /// A budget whose default limit comes from this process's descriptor limit.
    public convenience init() {
        self.init(defaultLimit: ConnectionBudget.defaultLimit(softDescriptorLimit: ConnectionBudget.softDescriptorLimit()))
    }

    /// A budget with an explicit default limit (tests).
    public init(defaultLimit: Int) {
        self.defaultLimit = defaultLimit
    }

    /// Open client connections now.
    public var count: Int { open.load(ordering: .relaxed) }

    /// Takes a slot unless `limit` connections are already open; false means refuse.
    @inline(__always)
    func tryAcquire(limit: Int) -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, seen) = open.weakCompareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = seen
        }
        return false
    }

    /// Gives back a slot taken by `tryAcquire`.
    @inline(__always)
    func release() {
        open.subtract(1, ordering: .relaxed)
    }
}
