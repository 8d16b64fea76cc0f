import SluiceRouting
import SluiceStats

/// One target's traffic in one wall-clock second as a replica publishes it: counts and the latency
/// histogram (sparse `[bucket, count]` pairs in `LatencyBuckets` layout), never percentiles, so the
/// leader can add replicas up exactly.
public struct FleetTargetSecond: Sendable, Equatable, Codable {
    /// Finished exchanges.
    public var n: UInt64
    /// Of those, errors.
    public var e: UInt64
    /// Non-empty latency buckets as `[index, count]`.
    public var h: [[UInt64]]

    /// Creates a target second from dense figures.
    public init(requests: UInt64, errors: UInt64, histogram: [UInt64]) {
        n = requests
        e = errors
        h = []
        for (i, c) in histogram.enumerated() where c > 0 { h.append([UInt64(i), c]) }
    }

    /// Whether nothing happened.
    public var isEmpty: Bool { n == 0 && h.isEmpty }
}

/// One replica's traffic in one wall-clock second, by route (only routes with rollback rules).
public struct FleetSecond: Sendable, Equatable, Codable {
    /// Wall-clock second (Unix time).
    public var s: UInt64
    /// Per route name, one entry per target in route order.
    public var routes: [String: [FleetTargetSecond]]

    /// Creates a second.
    public init(s: UInt64, routes: [String: [FleetTargetSecond]]) {
        self.s = s
        self.routes = routes
    }
}

/// What a replica publishes at `/sluice/<fleet>/windows/<instance>` every `publish_every`, bound to its lease:
/// its latest seconds (overlapping the previous publication, so a missed read loses nothing).
public struct FleetWindowPublication: Sendable, Equatable, Codable {
    /// The publishing instance.
    public var instance: String
    /// Wall-clock time of the publication.
    public var publishedAt: Double
    /// The latest seconds, oldest first (the last one may still be filling).
    public var seconds: [FleetSecond]
    /// Definition hash of each published route on this replica: the leader only adds up replicas whose
    /// definition of the route is its own (during a rolling config update target lists may differ).
    public var definitions: [String: String]

    enum CodingKeys: String, CodingKey {
        case instance
        case publishedAt = "published_at"
        case seconds, definitions
    }

    /// Creates a publication.
    public init(instance: String, publishedAt: Double, seconds: [FleetSecond], definitions: [String: String] = [:]) {
        self.instance = instance
        self.publishedAt = publishedAt
        self.seconds = seconds
        self.definitions = definitions
    }
}

/// The leader's merge of every live replica's seconds: a pure value, fed publications and asked for the sum
/// over a range of wall-clock seconds.
public struct FleetWindowStore: Sendable {
    /// Seconds kept per instance, by wall second.
    private var byInstance: [String: [UInt64: FleetSecond]] = [:]
    /// Route definitions per instance, from its latest publication.
    private var definitions: [String: [String: String]] = [:]
    /// Seconds kept (the longest rollback window plus slack).
    public var horizonSeconds: UInt64

    /// Creates an empty store keeping `horizonSeconds` of history.
    public init(horizonSeconds: UInt64 = 3600) {
        self.horizonSeconds = max(horizonSeconds, 2)
    }

    /// Instances with data.
    public var instances: Set<String> { Set(byInstance.keys) }

    /// Takes a publication: each of its seconds replaces what the store had for that (instance, second).
    public mutating func ingest(_ p: FleetWindowPublication) {
        var seconds = byInstance[p.instance] ?? [:]
        for s in p.seconds { seconds[s.s] = s }
        if let newest = seconds.keys.max() {
            let oldest = newest > horizonSeconds ? newest - horizonSeconds : 0
            seconds = seconds.filter { $0.key > oldest }
        }
        byInstance[p.instance] = seconds
        definitions[p.instance] = p.definitions
    }

    /// Drops instances that are no longer live (their lease-bound key is gone).
    public mutating func retain(live: Set<String>) {
        byInstance = byInstance.filter { live.contains($0.key) }
        definitions = definitions.filter { live.contains($0.key) }
    }

    /// Sum over every instance of route `route`'s targets (`targets` of them) in wall seconds
    /// `(endSecond − seconds, endSecond]`; with `definition`, only instances that published the route with it.
    public func figures(route: String, definition: String? = nil, targets: Int, endSecond: UInt64, seconds: Int) -> [RolloutWindowFigures] {
        var requests = Array(repeating: UInt64(0), count: targets)
        var errors = Array(repeating: UInt64(0), count: targets)
        var histograms = Array(repeating: [UInt64](), count: targets)
        let first = endSecond >= UInt64(max(seconds, 1)) ? endSecond - UInt64(max(seconds, 1)) + 1 : 0
        for (instance, secs) in byInstance {
            if let definition, definitions[instance]?[route] != definition { continue }
            for (second, sec) in secs where second >= first && second <= endSecond {
                guard let ts = sec.routes[route] else { continue }
                for (t, fig) in ts.enumerated() where t < targets {
                    requests[t] &+= fig.n
                    errors[t] &+= fig.e
                    if !fig.h.isEmpty && histograms[t].isEmpty { histograms[t] = Array(repeating: 0, count: LatencyBuckets.count) }
                    for pair in fig.h where pair.count == 2 && pair[0] < UInt64(LatencyBuckets.count) {
                        histograms[t][Int(pair[0])] &+= pair[1]
                    }
                }
            }
        }
        return (0..<targets).map {
            RolloutWindowFigures(requests: requests[$0], errors: errors[$0],
                                 latencyHistogram: histograms[$0].isEmpty ? Array(repeating: 0, count: LatencyBuckets.count) : histograms[$0])
        }
    }
}

/// The leader's merged window of one route, as it publishes it at `/sluice/<fleet>/merged` for every replica's
/// `/stats` (bound to the leader's lease).
public struct FleetMergedWindow: Sendable, Equatable, Codable {
    /// One target's fleet-wide figures.
    public struct Target: Sendable, Equatable, Codable {
        /// Finished exchanges.
        public var requests: UInt64
        /// Errors among them.
        public var errors: UInt64
        /// Median latency, µs.
        public var p50Micros: UInt64
        /// 99th percentile latency, µs.
        public var p99Micros: UInt64

        enum CodingKeys: String, CodingKey {
            case requests, errors
            case p50Micros = "p50_us"
            case p99Micros = "p99_us"
        }

        /// Creates target figures.
        public init(requests: UInt64, errors: UInt64, p50Micros: UInt64, p99Micros: UInt64) {
            self.requests = requests
            self.errors = errors
            self.p50Micros = p50Micros
            self.p99Micros = p99Micros
        }
    }

    /// Route name.
    public var route: String
    /// Window length, seconds.
    public var seconds: Int
    /// Per target, route order.
    public var targets: [Target]

    /// Creates a merged window.
    public init(route: String, seconds: Int, targets: [Target]) {
        self.route = route
        self.seconds = seconds
        self.targets = targets
    }
}
