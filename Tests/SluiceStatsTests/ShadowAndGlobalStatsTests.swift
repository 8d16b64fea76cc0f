import Testing
@testable import SluiceStats

@Suite("ShadowStats and GlobalStats")
struct ShadowAndGlobalStatsTests {
    @Test func shadowFigures() {
        let shadow = ShadowStats(workers: 2)
        for k in 0..<10 { shadow.recordMirrored(worker: k % 2) }
        shadow.recordDropped(worker: 0, reason: .inFlightLimit)
        shadow.recordDropped(worker: 1, reason: .inFlightLimit)
        shadow.recordDropped(worker: 1, reason: .bodyTooLarge)
        for k in 0..<8 {
            shadow.recordResult(worker: k % 2, nowSecond: 50, status: k == 0 ? 500 : 200, isError: k == 0,
                                latencyMicros: 10_000)
        }
        // An old result outside the 60 s latency window.
        shadow.recordResult(worker: 0, nowSecond: 0, status: 200, isError: false, latencyMicros: 900_000)
        for k in 0..<6 { shadow.recordComparison(worker: k % 2, agreed: k != 3) }

        let s = shadow.snapshot(nowSecond: 60)
        #expect(s.mirrored == 10)
        #expect(s.dropped == 3)
        #expect(s.droppedByReason[.inFlightLimit] == 2)
        #expect(s.droppedByReason[.bodyTooLarge] == 1)
        #expect(s.droppedByReason[.cancelled] == 0)
        #expect(s.droppedByReason.count == ShadowDropReason.allCases.count)
        #expect(s.errors == 1)
        #expect(s.completed == 9)
        #expect(abs(s.p99Ms - 10.0) <= 0.1)
        #expect(s.results.window.requests == 8)
        #expect(s.compared == 6)
        #expect(s.agreed == 5)
        #expect(s.agreementRate == 5.0 / 6.0)
    }

    @Test func emptyShadowSnapshot() {
        let s = ShadowStats(workers: 1).snapshot(nowSecond: 0)
        #expect(s.mirrored == 0 && s.dropped == 0 && s.compared == 0)
        #expect(s.agreementRate == 0)
        #expect(s.p99Ms == 0)
    }

    @Test func globalCountersAndGauges() {
        let g = GlobalStats(workers: 3)
        g.increment(.connectionsAccepted, worker: 0)
        g.increment(.connectionsAccepted, worker: 2)
        g.add(.upstreamConnectFailures, 5, worker: 1)
        g.incrementShared(.configReloads)
        g.adjust(.openClientConnections, by: 3, worker: 0)
        g.adjust(.openClientConnections, by: -1, worker: 1)
        g.adjustShared(.inFlightShadowRequests, by: -2)

        let snap = g.snapshot()
        #expect(snap.count == GlobalCounter.allCases.count)
        #expect(snap[.connectionsAccepted] == 2)
        #expect(snap[.upstreamConnectFailures] == 5)
        #expect(snap[.configReloads] == 1)
        #expect(snap[.noRoute] == 0)
        #expect(g.counterValues()[GlobalCounter.connectionsAccepted.rawValue] == 2)
        #expect(g.value(.openClientConnections) == 2)
        #expect(g.gaugeSnapshot()[.inFlightShadowRequests] == -2)
    }

    @Test func prometheusNamesAndHelp() {
        #expect(GlobalCounter.connectionsAccepted.prometheusName == "sluice_connections_accepted_total")
        #expect(GlobalCounter.requestsParsedError.prometheusName == "sluice_requests_parsed_error_total")
        #expect(GlobalGauge.openClientConnections.prometheusName == "sluice_open_client_connections")
        #expect(ShadowDropReason.inFlightLimit.label == "in_flight_limit")
        let names = Set(GlobalCounter.allCases.map(\.prometheusName))
        #expect(names.count == GlobalCounter.allCases.count)
        for c in GlobalCounter.allCases {
            #expect(!c.help.isEmpty)
            // Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*; ours are lowercase snake case (digits allowed, as in h2).
            #expect(c.prometheusName.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" })
        }
    }
}
