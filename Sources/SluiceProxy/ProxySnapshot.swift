import SluiceCore
import SluiceConfig
import SluiceRouting
import SluiceStats
import SluiceTLS

/// Everything a worker needs to serve requests, frozen: the route table, the resolved
/// upstream addresses and the stats objects of every (route, target). Built on the control
/// thread, published through `SnapshotPublisher`, never mutated afterwards.
public final class ProxySnapshot: Sendable {
    /// Increments with every published snapshot (config reload or controller weight change).
    public let generation: UInt64
    /// Config reloads only (weight changes by the controller keep it).
    public let configVersion: Int
    /// Routing decisions are made against this.
    public let table: RouteTable
    /// Data-plane limits.
    public let limits: Limits
    /// Resolved address of every endpoint, indexed by global endpoint id.
    public let endpoints: [SocketAddress]
    /// Global endpoint ids of each backend (same order as `table.backends`).
    public let backendEndpoints: [[Int]]
    /// `x-sluice-target` value of each backend, pre-encoded.
    let backendNames: ByteStrings
    /// Route names, pre-encoded (access log).
    let routeNames: ByteStrings
    /// `x-model-version` value of each backend, pre-encoded, empty when unset.
    let modelVersions: ByteStrings
    /// Stats per route, per target (same indices as `table.routes[r].targets`).
    public let targetStats: [[TargetStats]]
    /// The same objects, for the per-request path (``TargetStatsTable``).
    let targetTable: TargetStatsTable
    /// Shadow stats per route (nil when the route has no shadow).
    public let shadowStats: [ShadowStats?]
    /// Process-wide counters.
    public let global: GlobalStats
    /// TLS contexts of the listeners with `tls:`, by listener name (reloaded with the config).
    let tlsContexts: [String: TLSContext]
    /// Health of every endpoint, aligned with `endpoints` (shared objects that survive reloads).
    public let endpointHealth: [EndpointHealth]
    /// TLS towards every endpoint, aligned with `endpoints` (nil: cleartext).
    let endpointTLS: [UpstreamTLS?]

    /// Assembles a snapshot; `endpoints` must already be resolved. Every endpoint is cleartext.
    public convenience init(generation: UInt64, configVersion: Int, table: RouteTable, limits: Limits,
                            endpoints: [SocketAddress], backendEndpoints: [[Int]],
                            targetStats: [[TargetStats]], shadowStats: [ShadowStats?], global: GlobalStats,
                            endpointHealth: [EndpointHealth]? = nil, tlsContexts: [String: TLSContext] = [:]) {
        self.init(generation: generation, configVersion: configVersion, table: table, limits: limits,
                  endpoints: endpoints, backendEndpoints: backendEndpoints, targetStats: targetStats,
                  shadowStats: shadowStats, global: global, endpointHealth: endpointHealth, tlsContexts: tlsContexts,
                  endpointTLS: Array(repeating: nil, count: endpoints.count))
    }

    /// Assembles a snapshot with upstream TLS (`endpointTLS` aligned with `endpoints`).
    init(generation: UInt64, configVersion: Int, table: RouteTable, limits: Limits,
         endpoints: [SocketAddress], backendEndpoints: [[Int]],
         targetStats: [[TargetStats]], shadowStats: [ShadowStats?], global: GlobalStats,
         endpointHealth: [EndpointHealth]?, tlsContexts: [String: TLSContext], endpointTLS: [UpstreamTLS?]) {
        precondition(endpointTLS.count == endpoints.count, "endpointTLS must align with endpoints")
        self.endpointTLS = endpointTLS
        self.tlsContexts = tlsContexts
        self.generation = generation
        self.configVersion = configVersion
        self.table = table
        self.limits = limits
        self.endpoints = endpoints
        self.backendEndpoints = backendEndpoints
        self.backendNames = ByteStrings(table.backends.map(\.name))
        self.routeNames = ByteStrings(table.routes.map(\.name))
        self.modelVersions = ByteStrings(table.backends.map { $0.modelVersion ?? "" })
        self.targetStats = targetStats
        self.targetTable = TargetStatsTable(targetStats)
        self.shadowStats = shadowStats
        self.global = global
        self.endpointHealth = endpointHealth
            ?? endpoints.map { EndpointHealth(address: $0.description, workers: global.workers) }
        precondition(self.endpointHealth.count == endpoints.count, "endpointHealth must align with endpoints")
    }

    /// The same snapshot with a new route table (the controller changed weights or states).
    public func replacingTable(_ table: RouteTable, generation: UInt64) -> ProxySnapshot {
        ProxySnapshot(generation: generation, configVersion: configVersion, table: table, limits: limits,
                      endpoints: endpoints, backendEndpoints: backendEndpoints,
                      targetStats: targetStats, shadowStats: shadowStats, global: global,
                      endpointHealth: endpointHealth, tlsContexts: tlsContexts, endpointTLS: endpointTLS)
    }
}

/// Strings encoded once into one block, read as raw bytes by index: what a response head or an
/// access-log record copies per request, without retaining an array per read.
/// @unchecked Sendable: written only in `init`, read-only afterwards, freed in `deinit`.
final class ByteStrings: @unchecked Sendable {
    private let storage: UnsafeMutableRawPointer
    private let offsets: UnsafeMutablePointer<Int>
    let count: Int

    init(_ strings: [String]) {
        count = strings.count
        var total = 0
        for s in strings { total += s.utf8.count }
        storage = .allocate(byteCount: max(total, 1), alignment: 1)
        offsets = .allocate(capacity: strings.count + 1)
        var at = 0
        for (i, s) in strings.enumerated() {
            offsets[i] = at
            for b in s.utf8 {
                storage.storeBytes(of: b, toByteOffset: at, as: UInt8.self)
                at += 1
            }
        }
        offsets[strings.count] = at
    }

    deinit {
        storage.deallocate()
        offsets.deallocate()
    }

    /// The bytes of string `i`.
    @inline(__always)
    subscript(i: Int) -> UnsafeRawBufferPointer {
        precondition(i >= 0 && i < count)
        return UnsafeRawBufferPointer(start: storage + offsets[i], count: offsets[i + 1] - offsets[i])
    }
}

/// The stats object of every (route, target) in one block: the request path calls into them at
/// +0, without retaining two nested arrays and the object per call. The objects are kept alive
/// by the snapshot's `targetStats`, which owns them for as long as this table exists.
/// @unchecked Sendable: written only in `init`, read-only afterwards, freed in `deinit`.
final class TargetStatsTable: @unchecked Sendable {
    private let objects: UnsafeMutablePointer<Unmanaged<TargetStats>>
    private let routeStart: UnsafeMutablePointer<Int>
    private let routes: Int
    private let count: Int

    init(_ stats: [[TargetStats]]) {
        routes = stats.count
        count = stats.reduce(0) { $0 + $1.count }
        objects = .allocate(capacity: max(count, 1))
        routeStart = .allocate(capacity: routes + 1)
        var at = 0
        for (r, targets) in stats.enumerated() {
            routeStart[r] = at
            for t in targets {
                (objects + at).initialize(to: Unmanaged.passUnretained(t))
                at += 1
            }
        }
        routeStart[routes] = at
    }

    deinit {
        objects.deallocate()
        routeStart.deallocate()
    }

    /// Runs `body` with the stats of `target` of `route`.
    @inline(__always)
    func with<R>(route: Int, target: Int, _ body: (TargetStats) -> R) -> R {
        let i = routeStart[route] + target
        precondition(route < routes && i < routeStart[route + 1])
        return objects[i]._withUnsafeGuaranteedRef(body)
    }
}
