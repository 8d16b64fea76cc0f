import ArgumentParser
import Foundation
import Glibc
import SluiceConfig
import SluiceCore
import SluiceDemo
import SluiceSupport
import Synchronization

/// `sluice demo`: two model versions behind Sluice, told as a story in about a minute: a 90/10 canary
/// split, a progressive rollout stepping up, the candidate starting to fail and Sluice's automatic
/// rollback with its reason, all live on the dashboard whose URL it prints first. What `sluice` with no
/// arguments runs.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a self-contained demo: a canary split, a progressive rollout, a failing candidate and its automatic rollback.",
        discussion: """
        Starts two local model servers (v2.3.1 and v2.4.0), runs Sluice in front of them on 127.0.0.1:PORT \
        with its admin API and dashboard on http://127.0.0.1:ADMIN-PORT/, sends --requests predictions through \
        it and prints the split it observed and the curl commands to try. Then, with steady traffic, the story: \
        the candidate climbs from 10% by progressive steps every --step-interval seconds; once it carries 50% it \
        starts failing, and Sluice rolls it back on its own and says why (about a minute with the defaults). \
        It keeps serving until Ctrl-C (or for --duration seconds in all). \
        If port 8080 or 9901 is taken, pick others with --port and --admin-port.
        """
    )

    @Option(help: "Port of Sluice's public listener on 127.0.0.1 (use another if 8080 is taken).")
    var port: UInt16 = 8080

    @Option(name: .customLong("admin-port"), help: "Port of Sluice's admin API on 127.0.0.1.")
    var adminPort: UInt16 = 9901

    @Option(help: "Predictions to send through Sluice at start.")
    var requests: Int = 200

    @Option(help: "Seconds to run in all (story included), then drain and exit 0 (default: until Ctrl-C).")
    var duration: Double?

    @Option(name: .customLong("step-interval"), help: "Seconds between two progressive steps of the story.")
    var stepInterval: Double = 12

    func validate() throws {
        guard requests >= 0 else { throw ValidationError("--requests must be 0 or more") }
        guard stepInterval >= 1 && stepInterval <= 600 else { throw ValidationError("--step-interval must be 1 to 600 seconds") }
        if let d = duration, !(d >= 0) { throw ValidationError("--duration must be 0 or more seconds") }
    }

    func run() throws {
        // Block SIGTERM/SIGINT/SIGHUP before any thread starts, so only the supervisor receives them.
        _ = Supervisor.blockSignals()
        let current: ModelServer
        let candidate: ModelServer
        do {
            current = try ModelServer.start(behavior: ModelBehavior(
                modelVersion: "v2.3.1", baseLatencyMicros: 2_000, errorRate: 0, fraudProbabilityOffset: 0))
            candidate = try ModelServer.start(behavior: ModelBehavior(
                modelVersion: "v2.4.0", baseLatencyMicros: 3_000, errorRate: 0, fraudProbabilityOffset: 0.02))
        } catch {
            printError("sluice demo: cannot start the demo model servers: \(error)")
            throw ExitCode(1)
        }
        let yaml = DemoPlan.configYAML(port: port, adminPort: adminPort, currentPort: current.port, candidatePort: candidate.port,
                                       stepIntervalMillis: Int((stepInterval * 1000).rounded()))
        let config: SluiceConfig
        do {
            config = try ConfigLoader.parse(yaml: yaml, file: "demo.yaml")
        } catch {
            printError("sluice demo: the built-in config was rejected (a bug):\n\(error.description)")
            throw ExitCode(1)
        }
        let plan = DemoPlan(port: port, adminPort: adminPort, requests: requests, duration: duration, yaml: yaml,
                            currentAddress: current.address, candidateAddress: candidate.address,
                            candidate: candidate, stepInterval: stepInterval)
        let code = Supervisor.run(config: config, configPath: nil) { _, _, _ in
            plan.startedAt.store(monotonicSeconds().bitPattern, ordering: .releasing)
            plan.started.store(true, ordering: .releasing)
            if !DetachedThread.spawn(demoTrafficMain, context: plan) {
                printError("sluice demo: cannot start the traffic thread")
            }
        }
        current.stop()
        candidate.stop()
        if code != 0 && !plan.started.load(ordering: .acquiring) {
            printError("sluice demo: Sluice did not start. If port \(port) or \(adminPort) is taken, choose free ones with --port PORT --admin-port PORT.")
        }
        throw ExitCode(code)
    }
}

/// Everything the demo's traffic thread needs.
final class DemoPlan: Sendable {
    static let route = "fraud-detector"
    static let current = "fraud-v2-3-1"
    static let candidate = "fraud-v2-4-0"
    static let path = "/v1/models/fraud-detector/predict"

    let port: UInt16
    let adminPort: UInt16
    let requests: Int
    let duration: Double?
    let yaml: String
    let currentAddress: String
    let candidateAddress: String
    /// The candidate's model server (the story makes it fail).
    let candidate: ModelServer
    /// Seconds between progressive steps.
    let stepInterval: Double
    /// Set once Sluice listens (the `started` callback ran).
    let started = Atomic<Bool>(false)
    /// When Sluice started listening (`monotonicSeconds()` as bits); `--duration` counts from there.
    let startedAt = Atomic<UInt64>(0)
    var startedAtSeconds: Double { Double(bitPattern: startedAt.load(ordering: .acquiring)) }
    /// Set before the demo drains, so the traffic threads stop sending.
    let stopping = Atomic<Bool>(false)
    /// The candidate's behavior once the story breaks it: 30% HTTP 500 and slower.
    static let failingCandidate = ModelBehavior(modelVersion: "v2.4.0", baseLatencyMicros: 12_000, errorRate: 0.3,
                                                fraudProbabilityOffset: 0.02)
    /// Traffic threads of the story and the rate of each (requests per second).
    static let trafficThreads = 2
    static let trafficRatePerThread = 40.0

    init(port: UInt16, adminPort: UInt16, requests: Int, duration: Double?, yaml: String,
         currentAddress: String, candidateAddress: String, candidate: ModelServer, stepInterval: Double) {
        self.port = port
        self.adminPort = adminPort
        self.requests = requests
        self.duration = duration
        self.yaml = yaml
        self.currentAddress = currentAddress
        self.candidateAddress = candidateAddress
        self.candidate = candidate
        self.stepInterval = stepInterval
    }

    /// The demo's Sluice config.
    static func configYAML(port: UInt16, adminPort: UInt16, currentPort: UInt16, candidatePort: UInt16,
                           stepIntervalMillis: Int = 12_000) -> String {
        """
        listeners:
          - name: public
            address: 127.0.0.1:\(port)
        admin:
          address: 127.0.0.1:\(adminPort)
        backends:
          - name: \(current)
            endpoints: [127.0.0.1:\(currentPort)]
            model_version: v2.3.1
            health_check: { path: /v1/models/fraud-detector, interval: 2s }
          - name: \(candidate)
            endpoints: [127.0.0.1:\(candidatePort)]
            model_version: v2.4.0
            health_check: { path: /v1/models/fraud-detector, interval: 2s }
        routes:
          - name: \(route)
            match: { path_prefix: /v1/models/fraud-detector }
            baseline: \(current)
            targets:
              - { backend: \(current), weight: 90 }
              - { backend: \(candidate), weight: 10 }
            override_header: x-sluice-target
            progressive: { target: \(candidate), steps: [10, 25, 50, 75, 100], interval: \(stepIntervalMillis)ms }
            rollback: { window: 10s, evaluate_every: 1s, min_requests: 20, max_error_rate: 0.05, breaches_to_trip: 3 }

        """
    }

    /// The JSON body of demo prediction `i`: amounts spread over 0 ... 1000 so some are flagged as fraud.
    static func predictBody(_ i: Int, requestID: String) -> String {
        let amount = Double((i &* 7919 &+ 499) % 1000) + 0.99
        return """
        {"request_id": "\(requestID)", "inputs": {"transaction_amount": \(amount), "merchant_category": "electronics"}, \
        "parameters": {"threshold": 0.7}}
        """
    }
}

/// Writes `text` and a newline to standard output at once, unbuffered (safe from any thread).
private func demoSay(_ text: String) {
    let line = Array((text + "\n").utf8)
    line.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(1, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Thread entry of the demo traffic: the argument is the retained `DemoPlan`.
func demoTrafficMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let plan = Unmanaged<DemoPlan>.fromOpaque(arg!).takeRetainedValue()
    runDemoTraffic(plan)
    return nil
}

/// Sends the demo traffic, prints what it saw and what to try, keeps a live split line, and sends
/// SIGTERM to this process after `--duration` seconds.
private func runDemoTraffic(_ plan: DemoPlan) {
    let proxy = "127.0.0.1:\(plan.port)"
    let admin = "127.0.0.1:\(plan.adminPort)"
    demoSay("""

    ━━ Sluice demo ━━
    Dashboard: http://\(admin)/   (open it in a browser and watch the story live)
    Model servers: \(DemoPlan.current) (v2.3.1, ~2 ms) on \(plan.currentAddress), \
    \(DemoPlan.candidate) (v2.4.0, ~3 ms, predicts +0.02) on \(plan.candidateAddress)
    Sluice: proxy on \(proxy), admin API on \(admin), running this config:

    \(plan.yaml.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    Sending \(plan.requests) predictions to POST \(proxy)\(DemoPlan.path) over one keep-alive connection...
    """)

    var tally = SplitTally()
    var sample: SimpleHTTPResponse?
    var firstError: SimpleHTTPResponse?
    var consecutiveFailures = 0
    let client = SimpleHTTPClient(host: "127.0.0.1", port: plan.port, timeoutSeconds: 5)
    for i in 0..<plan.requests {
        let id = "demo-\(i + 1)"
        do {
            let r = try client.request("POST", DemoPlan.path, headers: [("content-type", "application/json")],
                                       text: DemoPlan.predictBody(i, requestID: id))
            tally.record(target: r.header("x-sluice-target"), status: r.status, elapsedMicros: r.elapsedMicros)
            if r.status == 200 && sample == nil { sample = r }
            if r.status != 200 && firstError == nil { firstError = r }
            consecutiveFailures = 0
        } catch {
            tally.recordFailure(error.description)
            consecutiveFailures += 1
            if consecutiveFailures >= 5 {
                let left = plan.requests - i - 1
                if left > 0 { demoSay("  5 requests in a row got no response; skipping the other \(left).") }
                break
            }
        }
    }
    client.close()

    if let r = sample {
        demoSay("""

        One answer, as the caller sees it (x-sluice-target: \(r.header("x-sluice-target") ?? "missing"), \
        x-model-version: \(r.header("x-model-version") ?? "missing"), x-request-id: \(r.header("x-request-id") ?? "missing")):
          \(r.text)
        """)
    }
    if let e = firstError {
        demoSay("\nFirst non-200 answer: HTTP \(e.status) \(e.text.prefix(300))")
    }

    let configured: [(name: String, weight: Double)] = [(DemoPlan.current, 90), (DemoPlan.candidate, 10)]
    let stats = fetchStats(plan.adminPort)
    demoSay("\nSplit observed by the demo client (x-sluice-target of each response):")
    demoSay(tally.render(configured: configured, admin: stats.object.map { StatsReport.targetRequests($0, route: DemoPlan.route) }))
    if let why = stats.problem { demoSay("  (admin GET /stats: \(why))") }

    let predict = "curl -si -X POST \(proxy)\(DemoPlan.path) -H 'content-type: application/json' " +
        "-d '{\"request_id\": \"try-1\", \"inputs\": {\"transaction_amount\": 499.99, \"merchant_category\": \"electronics\"}}'"
    demoSay("""

    Try it yourself:
      # a prediction: 90% answered by v2.3.1, 10% by v2.4.0 (see x-sluice-target / x-model-version)
      \(predict)
      # send one request to the candidate, whatever the split
      \(predict) -H 'x-sluice-target: \(DemoPlan.candidate)'
      # per-target requests, status classes, window latency percentiles, error rates
      curl -s \(admin)/stats        # or, as a table: sluice stats --admin \(admin)
      curl -s \(admin)/metrics
      # the same table, redrawn every second
      sluice stats --watch --admin \(admin)
      # move the canary to 50/50 without a restart (this ends the progressive rollout)
      curl -s -X POST \(admin)/routes/\(DemoPlan.route)/weights -H 'content-type: application/json' -d '{"\(DemoPlan.current)": 50, "\(DemoPlan.candidate)": 50}'

    """)
    tellStory(plan)
}

/// Thread entry of one steady-traffic client: the argument is the retained `DemoPlan`.
func demoLoadMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let plan = Unmanaged<DemoPlan>.fromOpaque(arg!).takeRetainedValue()
    let client = SimpleHTTPClient(host: "127.0.0.1", port: plan.port, timeoutSeconds: 5)
    defer { client.close() }
    let interval = 1 / DemoPlan.trafficRatePerThread
    var next = monotonicSeconds()
    var i = 0
    while !plan.stopping.load(ordering: .relaxed) {
        i += 1
        do {
            _ = try client.request("POST", DemoPlan.path, headers: [("content-type", "application/json")],
                                   text: DemoPlan.predictBody(i, requestID: "story-\(i)"), collectBody: false)
        } catch {
            client.close()
            usleep(200_000)
        }
        next += interval
        let now = monotonicSeconds()
        if next > now { usleep(UInt32((next - now) * 1_000_000)) } else { next = now }
    }
    return nil
}

/// The story: steady traffic, the progressive steps and every route event as they happen, the candidate
/// broken once it carries half the traffic, the automatic rollback and its reason; then a status line now
/// and then until Ctrl-C or `--duration`, when it stops the traffic and sends SIGTERM to this process.
private func tellStory(_ plan: DemoPlan) {
    let admin = "127.0.0.1:\(plan.adminPort)"
    let start = monotonicSeconds()
    func say(_ text: String) {
        let t = monotonicSeconds() - start
        let stamp = NumberFormat.fixed(t, 1)
        demoSay("[" + String(repeating: " ", count: max(0, 5 - stamp.count)) + stamp + "s] " + text)
    }
    let rate = Double(DemoPlan.trafficThreads) * DemoPlan.trafficRatePerThread
    demoSay("""
    The story (\(NumberFormat.compact(rate)) predictions per second from now on; watch http://\(admin)/ or `sluice stats --watch --admin \(admin)`):
    """)
    for _ in 0..<DemoPlan.trafficThreads {
        if !DetachedThread.spawn(demoLoadMain, context: plan) { printError("sluice demo: cannot start a traffic thread") }
    }
    var story = DemoStory(holdSeconds: plan.stepInterval / 2)
    var seenEvents = Set<String>()
    var lastStatus = -1000.0
    var over = false
    while true {
        if let d = plan.duration, monotonicSeconds() - plan.startedAtSeconds >= d {
            demoSay("Demo duration over: stopping the traffic and sending SIGTERM to drain and exit.")
            plan.stopping.store(true, ordering: .relaxed)
            usleep(300_000)
            kill(getpid(), SIGTERM)
            return
        }
        usleep(250_000)
        guard let stats = fetchStats(plan.adminPort).object,
              let route = (stats["routes"] as? [[String: Any]])?.first(where: { $0["name"] as? String == DemoPlan.route }) else { continue }
        for e in (route["events"] as? [[String: Any]]) ?? [] {
            let type = e["type"] as? String ?? "?", reason = e["reason"] as? String ?? ""
            let key = "\(e["time"] ?? "")|\(type)|\(reason)"
            if seenEvents.insert(key).inserted { say("event \(type): \(reason)") }
        }
        let weights = StatsReport.targetWeights(stats, route: DemoPlan.route)
        let elapsed = monotonicSeconds() - start
        let observation = DemoStory.Observation(elapsed: elapsed, state: route["state"] as? String ?? "?",
                                                candidateWeight: weights[DemoPlan.candidate] ?? 0, reason: route["reason"] as? String)
        for action in story.observe(observation) {
            switch action {
            case .say(let text):
                say(text)
            case .breakCandidate:
                plan.candidate.setBehavior(DemoPlan.failingCandidate)
                say("\(DemoPlan.candidate) starts failing: 30% of its answers are now HTTP 500, and it is slower (~12 ms).")
            case .finished:
                over = true
                lastStatus = elapsed
                say(statusLine(route, state: observation.state))
                let end = plan.duration.map { "; stopping in \(NumberFormat.compact(max(0, $0 - (monotonicSeconds() - plan.startedAtSeconds)).rounded())) s" } ?? "; Ctrl-C to stop"
                demoSay("The story is over. Sluice keeps serving on the baseline: try the commands above, resume with curl -X POST \(admin)/routes/\(DemoPlan.route)/resume, or watch the dashboard\(end).")
            }
        }
        if elapsed - lastStatus >= (over ? 30 : 5) {
            lastStatus = elapsed
            say(statusLine(route, state: observation.state))
        }
    }
}

/// `progressing · fraud-v2-3-1 75% (err 0.0%) · fraud-v2-4-0 25% (err 0.0%)` from a `/stats` route object.
private func statusLine(_ route: [String: Any], state: String) -> String {
    let targets = (route["targets"] as? [[String: Any]]) ?? []
    let parts = targets.map { t -> String in
        let name = t["backend"] as? String ?? "?"
        let weight = (t["weight"] as? NSNumber)?.doubleValue ?? 0
        let window = t["window"] as? [String: Any]
        let rate = (window?["error_rate"] as? NSNumber)?.doubleValue ?? 0
        let p99 = (window?["p99_ms"] as? NSNumber)?.doubleValue ?? 0
        return "\(name) \(NumberFormat.compact(weight))% (errors \(NumberFormat.percent(rate * 100)), p99 \(NumberFormat.fixed(p99, 1)) ms)"
    }
    return "status: \(state) · " + parts.joined(separator: " · ")
}

/// GET /stats from the admin port: the parsed object, or why not.
private func fetchStats(_ adminPort: UInt16) -> (object: [String: Any]?, problem: String?) {
    do {
        let r = try SimpleHTTPClient.get(port: adminPort, path: "/stats", timeoutSeconds: 2)
        guard r.status == 200 else { return (nil, "HTTP \(r.status) \(r.text.prefix(200))") }
        guard let object = r.jsonObject() else { return (nil, "answer is not a JSON object") }
        return (object, nil)
    } catch {
        return (nil, error.description)
    }
}

/// Seconds on the monotonic clock.
private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
