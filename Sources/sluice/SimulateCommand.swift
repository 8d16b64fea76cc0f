import ArgumentParser
import Glibc
import SluiceConfig
import SluiceCore
import SluiceSimulate

/// `sluice simulate --config FILE [--route NAME] [traffic model]`: the route's real rollout rules on
/// simulated traffic, for many rollouts, in seconds.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a route's rollout and rollback rules on simulated traffic: false-rollback rate and detection delay.",
        discussion: """
        Every run is one rollout of --duration on simulated time (no sleeping): Poisson arrivals at --rps \
        split by the route's weights (progressive steps, or --share), errors and latencies drawn from the \
        baseline's and the candidate's models, and the same rule engine as `sluice run`, ticked once per \
        simulated second. The candidate behaves like the baseline until --bad-from, then like its own model.

        Latency models (times such as 20ms, 2.5ms, 800us, 1s):
          lognormal:MEDIAN,SIGMA   constant:X   exponential:MEAN
          pareto:SCALE,SHAPE       uniform:MIN,MAX

        Examples:
          sluice simulate -c config/full.yaml --runs 1000 --duration 1h
          sluice simulate -c config/full.yaml --candidate-errors 0.03 --bad-from 5m
          sluice simulate -c canary.yaml --share 5 --baseline-latency pareto:10ms,2.5

        See docs/simulate.md.
        """
    )

    @Option(name: .shortAndLong, help: "Path of the YAML config.")
    var config: String

    @Option(help: "Route to simulate (default: the first route with `rollback`).")
    var route: String?

    @Option(help: "Mean requests per second on the route, all targets together (Poisson arrivals).")
    var rps: Double = 200

    @Option(help: "Length of one simulated rollout (e.g. 10m, 1h).")
    var duration: String = "1h"

    @Option(help: "Number of simulated rollouts.")
    var runs: Int = 1000

    @Option(help: "Seed of the random generator; the same seed gives the same results.")
    var seed: UInt64 = 1

    @Option(help: "Threads sharing the runs (default: one per CPU).")
    var threads: Int?

    @Option(help: "Error probability of each baseline request, 0..1.")
    var baselineErrors: Double = 0.01

    @Option(help: "Error probability of each candidate request once bad (default: --baseline-errors).")
    var candidateErrors: Double?

    @Option(help: "Latency model of the baseline, e.g. lognormal:20ms,0.5.")
    var baselineLatency: String = "lognormal:20ms,0.5"

    @Option(help: "Latency model of the candidate once bad (default: --baseline-latency).")
    var candidateLatency: String?

    @Option(help: "When the candidate starts behaving as its own model, from the start of the rollout (e.g. 0s, 10m).")
    var badFrom: String = "0s"

    @Option(help: "Candidate's share in percent for routes without `progressive` (the baseline gets the rest).")
    var share: String?

    @Option(help: "Output: table or json.")
    var format: String = "table"

    func run() throws {
        do {
            let plan = try makePlan()
            let result = SimulationRunner.run(plan)
            print(format == "json" ? SimulationReport.json(result, configPath: config)
                                   : SimulationReport.table(result, configPath: config))
        } catch let error as SimulationSetupError {
            printError("sluice simulate: \(error.message)")
            throw ExitCode(2)
        }
    }

    /// The plan the flags describe, or the first thing wrong with them.
    private func makePlan() throws -> SimulationPlan {
        guard format == "table" || format == "json" else { throw SimulationSetupError("--format must be table or json") }
        let loaded: SluiceConfig
        do {
            loaded = try ConfigLoader.load(path: config)
        } catch {
            throw SimulationSetupError(error.description)
        }
        var shareBasisPoints: Int?
        if let share {
            guard let bp = Percent.parseBasisPoints(share.hasSuffix("%") ? String(share.dropLast()) : share) else {
                throw SimulationSetupError("--share must be a percentage above 0 and at most 100, up to 2 decimals (got \(share))")
            }
            shareBasisPoints = bp
        }
        let simulated = try SimulatedRoute(config: loaded, routeName: route, shareBasisPoints: shareBasisPoints)
        guard let seconds = SimulationFormat.parseSeconds(duration) else {
            throw SimulationSetupError("--duration must be a whole number of seconds with a unit, e.g. 10m or 1h (got \(duration))")
        }
        guard let badFromSeconds = SimulationFormat.parseSeconds(badFrom) else {
            throw SimulationSetupError("--bad-from must be a whole number of seconds with a unit, e.g. 0s or 10m (got \(badFrom))")
        }
        guard (1...10_000_000).contains(runs) else { throw SimulationSetupError("--runs must be 1 ... 10000000") }
        let baselineModel = try LatencyDistribution.parse(baselineLatency)
        let candidateModel = try candidateLatency.map(LatencyDistribution.parse) ?? baselineModel
        let traffic = TrafficModel(
            requestsPerSecond: rps, durationSeconds: seconds,
            baseline: BackendBehaviour(errorRate: baselineErrors, latency: baselineModel),
            candidate: BackendBehaviour(errorRate: candidateErrors ?? baselineErrors, latency: candidateModel),
            badFromSecond: badFromSeconds)
        try traffic.validate()
        let cpus = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
        let threadCount = threads ?? min(cpus, 64)
        guard (1...256).contains(threadCount) else { throw SimulationSetupError("--threads must be 1 ... 256") }
        return SimulationPlan(route: simulated, traffic: traffic, runs: runs, seed: seed, threads: threadCount)
    }
}
