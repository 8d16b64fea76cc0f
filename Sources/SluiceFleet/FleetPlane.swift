import Glibc
import SluiceRouting

/// Whether the local control plane follows the fleet.
public enum FleetMode: Sendable, Hashable {
    /// No `fleet` section: decide alone.
    case standalone
    /// etcd answers: apply the fleet state; only the leader judges and steps.
    case connected
    /// etcd unreachable (or not reached yet): keep the last applied state, no step, local rollback rules act,
    /// operator POSTs answer 503.
    case disconnected
}

/// A route as the fleet sees it on this replica.
public struct FleetRouteInfo: Sendable, Hashable {
    /// Route name.
    public var name: String
    /// ``FleetDefinition/hash(route:targetNames:)`` of the local definition.
    public var definition: String
    /// Backend name of each target.
    public var targets: [String]
    /// Whether the route has rollback rules (only those publish windows).
    public var hasRollback: Bool
    /// The rollback window, seconds (0 without rules): how much history the leader keeps for the route.
    public var windowSeconds: Int

    /// Creates route info.
    public init(name: String, definition: String, targets: [String], hasRollback: Bool, windowSeconds: Int = 0) {
        self.name = name
        self.definition = definition
        self.targets = targets
        self.hasRollback = hasRollback
        self.windowSeconds = windowSeconds
    }
}

/// A state change this replica wants to write to the fleet.
public struct FleetProposal: Sendable, Equatable {
    /// Mod revision of the route's state key the change was computed from (0: no state yet).
    public var baseRevision: Int64
    /// The new state (``FleetRouteState/generation`` is filled in by the commit).
    public var record: FleetRouteState
    /// Whether the write is the leader's (fenced by the leader key's create revision).
    public var fenced: Bool

    /// Creates a proposal.
    public init(baseRevision: Int64, record: FleetRouteState, fenced: Bool) {
        self.baseRevision = baseRevision
        self.record = record
        self.fenced = fenced
    }
}

/// How a commit ended.
public enum FleetCommitResult: Sendable, Equatable {
    /// Written: the record with its generation, and its key's new mod revision.
    case committed(FleetRouteState, revision: Int64)
    /// The route's state changed since the proposal's base: the current record (if decodable) and revision.
    case conflict(FleetRouteState?, revision: Int64)
    /// A fenced write found another leader key (this replica was deposed).
    case notLeader
    /// Every try lost to changes of other routes (the generation kept moving): etcd answers, try again later.
    case contended
    /// etcd unreachable or refusing.
    case unavailable(String)
}

/// Writes proposals to the fleet store (compare-and-swap on the route's revision and the generation counter).
public protocol FleetCommitter: AnyObject, Sendable {
    /// Commits an operator's (unfenced) proposal.
    func commit(_ proposal: FleetProposal) -> FleetCommitResult
}

/// What the fleet agent needs from the local control plane (SluiceProxy's `ControlPlane` conforms).
/// Every method is thread-safe: the agent thread and the watch thread call them.
public protocol FleetLocalPlane: AnyObject, Sendable {
    /// Sets the mode (connected or disconnected) and the committer used by operator actions.
    func fleetSetMode(_ mode: FleetMode)
    /// The configured routes.
    func fleetRoutes() -> [FleetRouteInfo]
    /// Config version, to resync after a reload.
    var fleetConfigVersion: Int { get }
    /// Applies a state read from the fleet (ignored when its definition differs, or older than the one applied).
    func fleetAdopt(_ record: FleetRouteState, revision: Int64)
    /// A proposal of this replica was committed: apply it and notify as its author.
    func fleetCommitted(_ record: FleetRouteState, revision: Int64)
    /// This replica's traffic in the last `count` wall seconds (the last one still filling), routes with rollback rules.
    func fleetLocalSeconds(count: Int) -> [FleetSecond]
    /// Leader only: runs the rollout machines on fleet-wide `figures(route, definition, targets, range)` and returns the
    /// changes to write (each fenced). Unchanged machines keep their counters locally.
    func fleetLeaderTick(instance: String, figures: (String, String, Int, RolloutWindowRange) -> [RolloutWindowFigures]) -> [FleetProposal]
    /// Rollbacks decided locally while disconnected, to write now (unfenced).
    func fleetPendingRollbacks(instance: String) -> [FleetProposal]
    /// Leader: the merged windows of its latest evaluations, to publish.
    func fleetMergedWindows() -> [FleetMergedWindow]
    /// Other replicas: the merged windows the leader published, for `/stats`.
    func fleetSetMergedWindows(_ windows: [FleetMergedWindow])
}

/// The fixed offset between this process's monotonic seconds and wall-clock seconds, taken once, so the
/// seconds a replica publishes and the seconds the leader asks for line up.
public enum FleetClock {
    /// `wall second − monotonic second` at process start.
    public static let wallOffsetSeconds: Int64 = {
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        return Int64(wall.tv_sec) - Int64(mono.tv_sec)
    }()

    /// Wall second of monotonic second `mono`.
    public static func wall(monoSecond mono: UInt64) -> UInt64 {
        UInt64(max(0, Int64(mono) + wallOffsetSeconds))
    }
}
