import Synchronization
import SluiceCore
import SluiceProxy
import SluiceRouting
import SluiceStats

/// One target of one route in one history sample: what it did during one second.
struct HistoryTargetSample: Sendable, Equatable {
    /// Backend name.
    var backend: String
    /// Configured (live) weight, basis points.
    var weight: Int
    /// Exchanges finished during the second (= requests per second).
    var requests: UInt64
    /// Of those, errors.
    var errors: UInt64
    /// Median and 99th percentile latency of the second, milliseconds (0 when no requests).
    var p50Ms: Double
    var p99Ms: Double
}

/// A route's shadow during one second: counter increments since the previous sample.
struct HistoryShadowSample: Sendable, Equatable {
    var mirrored: UInt64
    var dropped: UInt64
    var compared: UInt64
    var agreed: UInt64
}

/// One route in one history sample.
struct HistoryRouteSample: Sendable, Equatable {
    /// Route name.
    var route: String
    /// Rollout state at sampling time (`steady`, `progressing`, ...).
    var state: String
    /// One entry per target, route order.
    var targets: [HistoryTargetSample]
    /// Shadow increments, or nil when the route has no shadow.
    var shadow: HistoryShadowSample?
}

/// Everything recorded for one second.
struct HistorySample: Sendable, Equatable {
    /// Sequence number, 1, 2, ... (clients ask for samples after the last one they hold).
    var seq: UInt64
    /// Wall-clock seconds since the epoch at the end of the sampled second.
    var time: Double
    /// One entry per configured route.
    var routes: [HistoryRouteSample]
}

/// A fixed-capacity ring of history samples, oldest dropped first. A pure value: no clock, no lock.
///
/// Its storage is allocated once (``capacity`` slots); memory stays bounded by capacity × routes × targets.
struct HistoryRing: Sendable, Equatable {
    /// Samples kept: ten minutes at one per second.
    static let defaultCapacity = 600

    /// Most samples kept.
    let capacity: Int
    private var slots: [HistorySample?]
    /// Slot the next sample goes to.
    private var next = 0
    /// Samples held (≤ capacity).
    private(set) var count = 0
    /// Sequence number of the newest sample (0: none yet).
    private(set) var latestSeq: UInt64 = 0

    /// An empty ring of `capacity` (≥ 1) slots.
    init(capacity: Int = HistoryRing.defaultCapacity) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
    }

    /// Adds a sample, numbering it `latestSeq + 1`, overwriting the oldest when full.
    mutating func append(time: Double, routes: [HistoryRouteSample]) {
        latestSeq += 1
        slots[next] = HistorySample(seq: latestSeq, time: time, routes: routes)
        next = (next + 1) % capacity
        count = min(count + 1, capacity)
    }

    /// Samples with `seq > after`, oldest first (all of them for `after` 0).
    func samples(after: UInt64 = 0) -> [HistorySample] {
        let wanted = latestSeq > after ? Int(min(UInt64(count), latestSeq - after)) : 0
        var out: [HistorySample] = []
        out.reserveCapacity(wanted)
        var i = (next - wanted + capacity) % capacity
        for _ in 0..<wanted {
            if let s = slots[i] { out.append(s) }
            i = (i + 1) % capacity
        }
        return out
    }
}

/// The history behind `GET /stats/history` and the dashboard's charts: one sample per second of every
/// route's per-target traffic, errors and latency, and of its shadow, kept for ten minutes.
///
/// Sampled by the supervisor's controller tick (``record(control:)``, every ~200 ms, recording each
/// ended second once, and up to five seconds a late tick missed), never on a worker thread: it only
/// reads the per-worker counters the workers already keep, so the data plane does no extra work. The ring sits behind a mutex shared by
/// the tick and admin connection threads; nothing else touches it.
public final class StatsHistory: Sendable {
    private struct State {
        var ring: HistoryRing
        /// Last monotonic second sampled (0: none).
        var lastSecond: UInt64 = 0
        /// Shadow counters at the previous sample, by route name, to turn totals into increments.
        var shadowTotals: [String: HistoryShadowSample] = [:]
    }

    private let state: Mutex<State>

    /// An empty history of `capacity` samples.
    public init(capacity: Int = 600) {
        state = Mutex(State(ring: HistoryRing(capacity: capacity)))
    }

    /// Records the second that just ended, unless it is already recorded. Cheap when it is.
    public func record(control: ControlPlane) {
        record(control: control, now: MonotonicClock.now(), wallNow: MonotonicClock.wallSeconds())
    }

    /// Most seconds recorded at once when the tick comes late: the seconds the tick missed (a stalled
    /// supervisor thread) are read back from the per-second windows, which hold at least this many.
    static let maxBackfillSeconds: UInt64 = 5

    /// ``record(control:)`` at monotonic `now` (nanoseconds) and wall-clock `wallNow` (seconds).
    ///
    /// Records every ended second not recorded yet, at most ``maxBackfillSeconds`` of them (the first
    /// call records only the last one). Shadow counters are totals, not per second: their increment since
    /// the previous sample goes to the newest second recorded.
    func record(control: ControlPlane, now: UInt64, wallNow: Double) {
        let second = now / 1_000_000_000
        guard second >= 1 else { return }
        let newest = second - 1
        let last = state.withLock { $0.lastSecond }
        guard last < newest else { return }
        let oldest = last == 0 ? newest : max(last + 1, newest - min(newest, Self.maxBackfillSeconds - 1))
        let snapshot = control.currentSnapshot
        let runtime = control.routeRuntime
        let table = snapshot.table
        var shadowTotals: [String: HistoryShadowSample] = [:]
        var seconds: [(second: UInt64, routes: [HistoryRouteSample])] = []
        for sampled in oldest...newest {
            var routes: [HistoryRouteSample] = []
            routes.reserveCapacity(table.routes.count)
            for (r, route) in table.routes.enumerated() {
                var targets: [HistoryTargetSample] = []
                targets.reserveCapacity(route.targets.count)
                for (t, target) in route.targets.enumerated() {
                    let w = snapshot.targetStats[r][t].windowSnapshot(nowSecond: sampled, windowSeconds: 1)
                    targets.append(HistoryTargetSample(
                        backend: table.backends[target.backend].name, weight: target.weight,
                        requests: w.requests, errors: w.errors,
                        p50Ms: StatsReport.rounded(w.p50Ms), p99Ms: StatsReport.rounded(w.p99Ms)))
                }
                var shadow: HistoryShadowSample?
                if route.shadow != nil, let stats = snapshot.shadowStats[r] {
                    if sampled == newest {
                        let s = stats.snapshot(nowSecond: sampled)
                        let total = HistoryShadowSample(mirrored: s.mirrored, dropped: s.dropped, compared: s.compared, agreed: s.agreed)
                        shadowTotals[route.name] = total
                        shadow = total
                    } else {
                        shadow = HistoryShadowSample(mirrored: 0, dropped: 0, compared: 0, agreed: 0)
                    }
                }
                routes.append(HistoryRouteSample(route: route.name, state: runtime[route.name]?.state ?? "steady",
                                                 targets: targets, shadow: shadow))
            }
            seconds.append((sampled, routes))
        }
        state.withLock { s in
            for (sampled, var routes) in seconds where s.lastSecond < sampled {
                if sampled == newest {
                    for i in routes.indices {
                        guard let total = routes[i].shadow else { continue }
                        // The first sample of a route counts everything since the process (or the route) started.
                        let before = s.shadowTotals[routes[i].route] ?? HistoryShadowSample(mirrored: 0, dropped: 0, compared: 0, agreed: 0)
                        routes[i].shadow = HistoryShadowSample(
                            mirrored: total.mirrored &- min(before.mirrored, total.mirrored),
                            dropped: total.dropped &- min(before.dropped, total.dropped),
                            compared: total.compared &- min(before.compared, total.compared),
                            agreed: total.agreed &- min(before.agreed, total.agreed))
                    }
                    s.shadowTotals = shadowTotals
                }
                // The end of the sampled second in wall-clock time.
                let end = wallNow - (Double(now) - Double(sampled + 1) * 1e9) / 1e9
                s.lastSecond = sampled
                s.ring.append(time: (end * 1000).rounded() / 1000, routes: routes)
            }
        }
    }

    /// Samples after sequence number `after`, oldest first, and the ring's capacity.
    func samples(after: UInt64) -> (samples: [HistorySample], capacity: Int, latest: UInt64) {
        state.withLock { ($0.ring.samples(after: after), $0.ring.capacity, $0.ring.latestSeq) }
    }

    /// `GET /stats/history[?since=SEQ]` as JSON.
    func report(after: UInt64) -> JSONValue {
        let (samples, capacity, latest) = self.samples(after: after)
        return Self.json(samples: samples, capacity: capacity, latest: latest)
    }

    /// The JSON document (see docs/dashboard.md).
    static func json(samples: [HistorySample], capacity: Int, latest: UInt64) -> JSONValue {
        .obj([
            "interval_seconds": .integer(1),
            "capacity": .integer(capacity),
            "latest": .uint(latest),
            "samples": .array(samples.map { s in
                .obj([
                    "seq": .uint(s.seq),
                    "time": .double(s.time),
                    "routes": .array(s.routes.map(routeJSON)),
                ])
            }),
        ])
    }

    private static func routeJSON(_ r: HistoryRouteSample) -> JSONValue {
        var shadow = JSONValue.null
        if let s = r.shadow {
            shadow = .obj([
                "mirrored": .uint(s.mirrored),
                "dropped": .uint(s.dropped),
                "compared": .uint(s.compared),
                "agreed": .uint(s.agreed),
                "agreement_rate": s.compared == 0 ? .null : .double(Double(s.agreed) / Double(s.compared)),
            ])
        }
        return .obj([
            "name": .string(r.route),
            "state": .string(r.state),
            "targets": .array(r.targets.map { t in
                .obj([
                    "backend": .string(t.backend),
                    "weight": .double(Double(t.weight) / 100),
                    "requests": .uint(t.requests),
                    "errors": .uint(t.errors),
                    "error_rate": t.requests == 0 ? .null : .double(Double(t.errors) / Double(t.requests)),
                    "p50_ms": t.requests == 0 ? .null : .double(t.p50Ms),
                    "p99_ms": t.requests == 0 ? .null : .double(t.p99Ms),
                ])
            }),
            "shadow": shadow,
        ])
    }
}
