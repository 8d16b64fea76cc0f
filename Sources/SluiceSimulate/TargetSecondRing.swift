import SluiceStats

/// One target's simulated traffic, second by second, kept so that the rollout rules can read the exact
/// figures of any recent range of whole seconds cheaply.
///
/// - Every second's requests are stored as their latency bucket indices (2 bytes each) in one arena used
///   as a ring (positions are absolute and only grow; position `p` lives at `p mod arena.count`), with the
///   second's request and error counts in a ring of ``capacitySeconds`` slots. The arena grows (rarely,
///   while warming up) when the seconds kept need more room; nothing is allocated per second after that.
/// - A running histogram of the last ``windowSeconds`` seconds (the rollback window) is kept up to date
///   as seconds are recorded: a window read is a copy of it, and a shorter range ending at the latest
///   second is the running histogram minus the oldest seconds when that is less work than adding the
///   range up. Any other range is added up from the stored seconds, at one operation per request.
struct TargetSecondRing {
    /// Seconds kept for reading; older ones are overwritten.
    let capacitySeconds: Int
    /// Length of the running histogram's window.
    let windowSeconds: Int
    /// Latency bucket index of every request kept.
    private var arena: [UInt16]
    /// Absolute position of the next write.
    private var head = 0
    /// Per slot (second mod capacity): the second held, `Int.min` for none.
    private var slotSecond: [Int]
    /// Per slot: arena position of the second's first request.
    private var slotStart: [Int]
    /// Per slot: the second's requests.
    private var slotRequests: [Int]
    /// Per slot: the second's errors.
    private var slotErrors: [Int]
    /// Latency histogram of the seconds `(latest − windowSeconds, latest]`.
    private var running: [UInt64]
    /// Requests in those seconds.
    private var runningRequests = 0
    /// Errors in those seconds.
    private var runningErrors = 0
    /// First second of the run.
    private(set) var first = 0
    /// Last second recorded (`first − 1` before any).
    private(set) var latest = -1
    /// An empty histogram, shared by every empty read.
    private let emptyHistogram = [UInt64](repeating: 0, count: LatencyBuckets.count)

    /// A ring keeping `capacitySeconds` seconds (at least `windowSeconds + 1`) with a running window of
    /// `windowSeconds` seconds.
    init(windowSeconds: Int, capacitySeconds: Int) {
        self.windowSeconds = max(windowSeconds, 1)
        self.capacitySeconds = max(capacitySeconds, self.windowSeconds + 1)
        arena = [UInt16](repeating: 0, count: 4096)
        slotSecond = [Int](repeating: Int.min, count: self.capacitySeconds)
        slotStart = [Int](repeating: 0, count: self.capacitySeconds)
        slotRequests = [Int](repeating: 0, count: self.capacitySeconds)
        slotErrors = [Int](repeating: 0, count: self.capacitySeconds)
        running = emptyHistogram
    }

    /// Forgets everything; the next second recorded must be `firstSecond` (≥ 0).
    mutating func reset(firstSecond: Int) {
        precondition(firstSecond >= 0, "seconds are non-negative")
        for i in slotSecond.indices { slotSecond[i] = Int.min }
        running = emptyHistogram
        runningRequests = 0
        runningErrors = 0
        head = 0
        first = firstSecond
        latest = firstSecond - 1
    }

    /// Records second `second` (the one after ``latest``): `requests` requests of which `errors` errors,
    /// each with a latency bucket drawn from `latency`.
    mutating func record(second: Int, requests n: Int, errors e: Int, latency: AliasTable, rng: inout SimulationRandom) {
        precondition(second == latest + 1, "seconds are recorded in order")
        let expiring = second - windowSeconds
        if expiring >= first, slotSecond[expiring % capacitySeconds] == expiring {
            let slot = expiring % capacitySeconds
            runningRequests -= slotRequests[slot]
            runningErrors -= slotErrors[slot]
            running.withUnsafeMutableBufferPointer { h in
                arena.withUnsafeBufferPointer { a in
                    Self.forEachPosition(slotStart[slot], count: slotRequests[slot], arenaCount: a.count) { h[Int(a[$0])] &-= 1 }
                }
            }
        }
        reserve(n, forSecond: second)
        let slot = second % capacitySeconds
        slotSecond[slot] = second
        slotStart[slot] = head
        slotRequests[slot] = n
        slotErrors[slot] = e
        running.withUnsafeMutableBufferPointer { h in
            arena.withUnsafeMutableBufferPointer { a in
                Self.forEachPosition(head, count: n, arenaCount: a.count) { p in
                    let b = latency.sample(&rng)
                    a[p] = UInt16(truncatingIfNeeded: b)
                    h[b] &+= 1
                }
            }
        }
        head += n
        runningRequests += n
        runningErrors += e
        latest = second
    }

    /// Requests, errors and latency histogram of the seconds `(end − seconds, end]`; seconds never
    /// recorded (before the run, or not yet) count as empty. Traps when the range reaches seconds
    /// already overwritten: the ring was sized too small for the rules' reads.
    func figures(endSecond end: Int, seconds: Int) -> (requests: Int, errors: Int, histogram: [UInt64]) {
        let lo = max(end - seconds + 1, first)
        let hi = min(end, latest)
        guard lo <= hi else { return (0, 0, emptyHistogram) }
        precondition(lo > latest - capacitySeconds,
                      "simulate: the rules read second \(lo), older than the \(capacitySeconds) seconds kept")
        let runLo = max(latest - windowSeconds + 1, first)
        if hi == latest && lo == runLo {
            return (runningRequests, runningErrors, running)
        }
        if hi == latest && lo > runLo && lo - runLo <= hi - lo + 1 {
            var h = running
            let (r, e) = accumulate(runLo, lo - 1, into: &h, adding: false)
            return (runningRequests - r, runningErrors - e, h)
        }
        var h = emptyHistogram
        let (r, e) = accumulate(lo, hi, into: &h, adding: true)
        return (r, e, h)
    }

    /// Adds (or subtracts) the buckets of seconds `lo ... hi` to `histogram`; returns their requests and errors.
    private func accumulate(_ lo: Int, _ hi: Int, into histogram: inout [UInt64], adding: Bool) -> (Int, Int) {
        var requests = 0, errors = 0
        histogram.withUnsafeMutableBufferPointer { h in
            arena.withUnsafeBufferPointer { a in
                for s in lo...hi {
                    let slot = s % capacitySeconds
                    guard slotSecond[slot] == s else { continue }
                    requests += slotRequests[slot]
                    errors += slotErrors[slot]
                    if adding {
                        Self.forEachPosition(slotStart[slot], count: slotRequests[slot], arenaCount: a.count) { h[Int(a[$0])] &+= 1 }
                    } else {
                        Self.forEachPosition(slotStart[slot], count: slotRequests[slot], arenaCount: a.count) { h[Int(a[$0])] &-= 1 }
                    }
                }
            }
        }
        return (requests, errors)
    }

    /// Makes room for `n` more requests while keeping every second still readable after `second` is
    /// recorded; grows the arena (copying the live positions) when they would not fit.
    private mutating func reserve(_ n: Int, forSecond second: Int) {
        var oldestStart = head
        let oldestKept = max(second - capacitySeconds + 1, first)
        if oldestKept < second {
            for s in oldestKept..<second {
                let slot = s % capacitySeconds
                if slotSecond[slot] == s { oldestStart = slotStart[slot]; break }
            }
        }
        let needed = head + n - oldestStart
        guard needed > arena.count else { return }
        var size = arena.count * 2
        while size < needed { size *= 2 }
        var grown = [UInt16](repeating: 0, count: size)
        for p in oldestStart..<head { grown[p % size] = arena[p % arena.count] }
        arena = grown
    }

    /// Calls `body` with the arena index of each of the `count` absolute positions from `start`, in two
    /// straight runs around the wrap.
    @inline(__always)
    private static func forEachPosition(_ start: Int, count: Int, arenaCount: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        let from = start % arenaCount
        let firstRun = min(count, arenaCount - from)
        for i in from..<(from + firstRun) { body(i) }
        if firstRun < count {
            for i in 0..<(count - firstRun) { body(i) }
        }
    }
}
