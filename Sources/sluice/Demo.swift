import ArgumentParser
import Glibc
import SluiceConfig
import SluiceCore
import SluiceDemo
import Synchronization

/// `sluice demo`: two model versions behind Sluice with a 90/10 canary split, some traffic, and the
/// commands to try next. What `sluice` with no arguments runs.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a self-contained demo: two fraud-detector versions behind Sluice with a 90/10 canary split.",
        discussion: """
        Starts two local model servers (v2.3.1 and v2.4.0), runs Sluice in front of them on 127.0.0.1:PORT \
        with its admin API on 127.0.0.1:ADMIN-PORT, sends --requests predictions through it, prints the split \
        it observed and the curl commands to try, then keeps serving until Ctrl-C (or for --duration seconds).
        If port 8080 or 9901 is taken, pick others with --port and --admin-port.
        """
    )

    @Option(help: "Port of Sluice's public listener on 127.0.0.1 (use another if 8080 is taken).")
    var port: UInt16 = 8080

    @Option(name: .customLong("admin-port"), help: "Port of Sluice's admin API on 127.0.0.1.")
    var adminPort: UInt16 = 9901

    @Option(help: "Predictions to send through Sluice at start.")
    var requests: Int = 200

    @Option(help: "Seconds to keep running after the traffic, then drain and exit 0 (default: until Ctrl-C).")
    var duration: Double?

    func validate() throws {
        guard requests >= 0 else { throw ValidationError("--requests must be 0 or more") }
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
        let yaml = DemoPlan.configYAML(port: port, adminPort: adminPort, currentPort: current.port, candidatePort: candidate.port)
        let config: SluiceConfig
        do {
            config = try ConfigLoader.parse(yaml: yaml, file: "demo.yaml")
        } catch {
            printError("sluice demo: the built-in config was rejected (a bug):\n\(error.description)")
            throw ExitCode(1)
        }
        let plan = DemoPlan(port: port, adminPort: adminPort, requests: requests, duration: duration, yaml: yaml,
                            currentAddress: current.address, candidateAddress: candidate.address)
        let code = Supervisor.run(config: config, configPath: nil) { _, _, _ in
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
    /// Set once Sluice listens (the `started` callback ran).
    let started = Atomic<Bool>(false)

    init(port: UInt16, adminPort: UInt16, requests: Int, duration: Double?, yaml: String,
         currentAddress: String, candidateAddress: String) {
        self.port = port
        self.adminPort = adminPort
        self.requests = requests
        self.duration = duration
        self.yaml = yaml
        self.currentAddress = currentAddress
        self.candidateAddress = candidateAddress
    }

    /// The demo's Sluice config.
    static func configYAML(port: UInt16, adminPort: UInt16, currentPort: UInt16, candidatePort: UInt16) -> String {
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
      # move the canary to 50/50 without a restart
      curl -s -X POST \(admin)/routes/\(DemoPlan.route)/weights -H 'content-type: application/json' -d '{"\(DemoPlan.current)": 50, "\(DemoPlan.candidate)": 50}'

    """)
    if let d = plan.duration {
        demoSay("Live split from GET \(admin)/stats (refreshed when it changes); stopping in \(NumberFormat.compact(d)) s.")
    } else {
        demoSay("Live split from GET \(admin)/stats (refreshed when it changes). Ctrl-C to stop.")
    }
    liveSplit(plan)
}

/// Polls `/stats` every two seconds, prints a one-line split when the counts or weights change, and sends
/// SIGTERM to this process once `--duration` has passed.
private func liveSplit(_ plan: DemoPlan) {
    var last = ""
    let start = monotonicSeconds()
    while true {
        if let d = plan.duration {
            let left = d - (monotonicSeconds() - start)
            if left <= 0 {
                demoSay("Demo duration over: sending SIGTERM to drain and exit.")
                kill(getpid(), SIGTERM)
                return
            }
            usleep(UInt32(min(2.0, left) * 1_000_000))
        } else {
            sleep(2)
        }
        guard let object = fetchStats(plan.adminPort).object else { continue }
        let line = liveLine(object)
        if line != last && !line.isEmpty {
            demoSay("  " + line)
            last = line
        }
    }
}

/// `fraud-v2-3-1 181 (90.5%, weight 90%) · fraud-v2-4-0 19 (9.5%, weight 10%)` from a `/stats` object.
private func liveLine(_ stats: [String: Any]) -> String {
    let counts = StatsReport.targetRequests(stats, route: DemoPlan.route)
    let weights = StatsReport.targetWeights(stats, route: DemoPlan.route)
    let total = counts.values.reduce(0, +)
    var names = [DemoPlan.current, DemoPlan.candidate]
    for k in counts.keys.sorted() where !names.contains(k) { names.append(k) }
    return names.map { name in
        let n = counts[name] ?? 0
        let share = total == 0 ? "-" : NumberFormat.percent(Double(n) * 100 / Double(total))
        let weight = weights[name].map { ", weight \(NumberFormat.compact($0))%" } ?? ""
        return "\(name) \(n) (\(share)\(weight))"
    }.joined(separator: " · ")
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
