/// The etcd keys of one fleet, all under `/sluice/<name>/` (docs/fleet.md).
public struct FleetKeys: Sendable, Hashable {
    /// `/sluice/<name>/`.
    public let root: String

    /// Keys of fleet `name`.
    public init(fleet name: String) { root = "/sluice/\(name)/" }

    /// Everything every replica watches: leader, generation, route states.
    public var state: String { root + "state/" }
    /// The leader key, bound to the leader's lease, created only when absent; value: the instance name.
    public var leader: String { state + "leader" }
    /// The fleet-wide generation counter (decimal text), raised by every state change.
    public var generation: String { state + "generation" }
    /// Prefix of the route states.
    public var routes: String { state + "routes/" }
    /// The state key of `route`.
    public func route(_ route: String) -> String { routes + route }
    /// The leader's merged windows (bound to its lease), read by every replica for `/stats`.
    public var merged: String { root + "merged" }
    /// Prefix of the windows (one per live replica, bound to its lease: the members list).
    public var windows: String { root + "windows/" }
    /// The windows key of `instance`.
    public func windows(_ instance: String) -> String { windows + instance }
}
