import Dispatch
import SluiceRouting

/// What to simulate: a route from a config, a traffic model, how many runs, the seed and the threads.
public struct SimulationPlan: Sendable {
    /// The route and its candidate.
    public var route: SimulatedRoute
    /// The traffic of every run.
    public var traffic: TrafficModel
    /// Number of independent rollouts.
    public var runs: Int
    /// Seed of the whole simulation: run `i` uses the generator of stream `i` of this seed, so results
    /// depend only on the seed, never on the number of threads or their timing.
    public var seed: UInt64
    /// Threads sharing the runs (at least 1).
    public var threads: Int

    /// Creates a plan.
    public init(route: SimulatedRoute, traffic: TrafficModel, runs: Int, seed: UInt64, threads: Int) {
        self.route = route
        self.traffic = traffic
        self.runs = runs
        self.seed = seed
        self.threads = threads
    }
}

/// How one simulated rollout ended.
public struct RunOutcome: Sendable, Hashable {
    /// The route's state after the last second (or at the rollback).
    public var finalState: RouteState
    /// Seconds from the start of the rollout to the end of the second whose tick rolled the candidate back.
    public var rollbackSecond: Int?
    /// Seconds from the start of the rollout to the end of the second whose tick promoted the candidate.
    public var promotedSecond: Int?
    /// The engine's reason for the rollback.
    public var reason: String?
    /// Requests simulated in the run, all targets together.
    public var requests: Int

    /// Creates an outcome.
    public init(finalState: RouteState, rollbackSecond: Int? = nil, promotedSecond: Int? = nil, reason: String? = nil, requests: Int = 0) {
        self.finalState = finalState
        self.rollbackSecond = rollbackSecond
        self.promotedSecond = promotedSecond
        self.reason = reason
        self.requests = requests
    }
}

/// The outcomes of every run of a plan, by run index, and the wall time they took.
public struct SimulationResult: Sendable {
    /// The plan simulated.
    public var plan: SimulationPlan
    /// One outcome per run, in run order.
    public var outcomes: [RunOutcome]
    /// Wall-clock seconds of the whole simulation.
    public var wallSeconds: Double
}

/// Runs a plan: every run drives a fresh ``RolloutStateMachine`` of the route (the proxy's rule engine)
/// on simulated time, second by second, with no sleeping.
///
/// **Simulated clock.** The machine's monotonic clock starts at second `S` (``originSecond``). Second
/// `S + k` of traffic (k = 0 ..< duration) is recorded with the weights the machine wants, and the
/// machine then ticks once at the last nanosecond of that second, `(S + k)·10^9 + 999 999 999`, when the
/// second is complete; the machine is started by a tick at the last nanosecond of second `S − 1`, before
/// any traffic. So every tick is exactly 1 s after the previous one, a sliding window ending at the
/// current second holds that many complete seconds (the proxy, ticking every 200 ms, reads the current
/// second while it is still filling), and an evaluation due every 5 s reads exactly the 5 s since the
/// start on the first one. A rollback decided at the tick of second `k` takes effect from second `k + 1`;
/// it is reported as `k + 1` seconds after the start.
public enum SimulationRunner {
    /// First second of the simulated monotonic clock (an uptime of about 11.6 days).
    public static let originSecond = 1_000_000

    /// Runs every run of `plan`, its runs interleaved over `plan.threads` threads.
    public static func run(_ plan: SimulationPlan) -> SimulationResult {
        let start = ContinuousClock.now
        let runs = max(plan.runs, 0)
        let threads = min(max(plan.threads, 1), max(runs, 1))
        let slots = OutcomeSlots(count: runs)
        defer { slots.free() }
        DispatchQueue.concurrentPerform(iterations: threads) { w in
            var worker = RunWorker(plan)
            var i = w
            while i < runs {
                slots.store(worker.run(index: i), at: i)
                i += threads
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return SimulationResult(plan: plan, outcomes: slots.array(), wallSeconds: seconds)
    }

    /// One run of `plan` on the current thread (tests, debugging).
    public static func runOne(_ plan: SimulationPlan, index: Int) -> RunOutcome {
        var worker = RunWorker(plan)
        return worker.run(index: index)
    }
}

/// Outcome storage written by several threads, each run's slot by exactly one thread.
private final class OutcomeSlots: @unchecked Sendable {
    /// One slot per run (at least one, so that the allocation is never empty).
    private let buffer: UnsafeMutableBufferPointer<RunOutcome>
    /// Number of runs.
    private let count: Int

    /// `count` slots.
    init(count: Int) {
        self.count = count
        buffer = .allocate(capacity: max(count, 1))
        buffer.initialize(repeating: RunOutcome(finalState: .steady))
    }

    /// Stores run `index`'s outcome.
    func store(_ outcome: RunOutcome, at index: Int) { buffer[index] = outcome }

    /// The outcomes, in run order (after every thread has finished).
    func array() -> [RunOutcome] { Array(buffer.prefix(count)) }

    /// Releases the storage.
    func free() {
        buffer.deinitialize()
        buffer.deallocate()
    }
}
