import Foundation
import SluiceCore
import SluiceDemo
import Testing

extension Integration {
    /// A client that stops sending its request body gets 408 after body_idle_timeout; the
    /// backend is not blamed (no error in its target's stats).
    @Suite struct BodyTimeout {
        @Test(.timeLimit(.minutes(1)))
        func stalledUploadGets408AndIsNotTheBackendsError() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(limits: ["body_idle_timeout: 1s"],
                                                             backends: [.init(name: "only", port: backend.port, requestTimeout: "10s")]))
            defer { h.stop() }
            let s = try RawSocket(port: h.port, timeout: 5)
            defer { s.close() }
            let start = Date()
            #expect(s.send("POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"))
            let r = s.readResponse()
            let waited = Date().timeIntervalSince(start)
            #expect(r?.status == 408, "\(String(describing: r?.status))")
            #expect(r?.text.contains("request_timeout") == true)
            #expect(waited >= 0.9 && waited < 5, "answered after \(waited) s")
            let stats = h.control.currentSnapshot.targetStats[0][0].snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000)
            #expect(stats.errors == 0, "\(stats)")
        }
    }
}
