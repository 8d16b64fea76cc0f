import Synchronization

/// What `/stats`, `/metrics` and `sluice stats` show about the fleet.
public struct FleetStatusSnapshot: Sendable, Equatable {
    /// The fleet's name.
    public var name: String
    /// This replica's instance name.
    public var instance: String
    /// Whether etcd answered the last call.
    public var connected: Bool = false
    /// The current leader's instance name, if known.
    public var leader: String?
    /// Whether this replica leads.
    public var isLeader: Bool = false
    /// Live instance names (replicas whose lease-bound windows key exists), sorted.
    public var members: [String] = []
    /// Fleet-wide generation, as last seen.
    public var generation: UInt64 = 0
    /// etcd calls that write (put, txn, lease grant/renew/revoke) made by this replica.
    public var etcdWrites: UInt64 = 0
    /// etcd range reads made by this replica.
    public var etcdReads: UInt64 = 0
    /// The last etcd error, if the last call failed.
    public var lastError: String?

    /// Creates a status.
    public init(name: String, instance: String) {
        self.name = name
        self.instance = instance
    }
}

/// The fleet status shared between the fleet agent (writer) and the admin threads (readers).
public final class FleetStatus: Sendable {
    private let state: Mutex<FleetStatusSnapshot>

    /// Creates a status for `instance` of fleet `name`.
    public init(name: String, instance: String) {
        state = Mutex(FleetStatusSnapshot(name: name, instance: instance))
    }

    /// The current status.
    public var snapshot: FleetStatusSnapshot { state.withLock { $0 } }

    /// Changes the status.
    public func update(_ body: (inout FleetStatusSnapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    /// Raises the generation to `g` if it is higher.
    public func observeGeneration(_ g: UInt64) {
        state.withLock { if g > $0.generation { $0.generation = g } }
    }
}
