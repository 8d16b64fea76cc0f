import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// Reloads that move, remove or re-protocol backends, followed by those backends going away, leave
    /// Sluice running and answering: nothing a live connection uses is freed by a reload.
    @Suite struct ReloadChurn {
        static func yaml(_ backend: (protocolName: String, port: UInt16)) -> String {
            """
            workers: 1
            listeners: [{ name: public, address: 127.0.0.1:{LISTEN} }]
            admin: { address: 127.0.0.1:{ADMIN} }
            backends:
              - { name: model, endpoints: [127.0.0.1:\(backend.port)], protocol: \(backend.protocolName), timeouts: { connect: 500ms, request: 5s } }
            routes:
              - { name: m, match: { path_prefix: / }, baseline: model, targets: [{ backend: model, weight: 100 }] }
            """
        }

        /// Answers of `n` requests (status, or 0 for a failure), over fresh connections.
        static func statuses(_ p: SluiceProcess, _ n: Int = 3, http2: Bool = false) -> [Int] {
            (0..<n).map { _ in
                let r = try? Command.curl([http2 ? "--http2-prior-knowledge" : "--http1.1", "-m", "5", "\(p.base)/echo"])
                return r?.status ?? 0
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func backendsMovedAwayThenGoneNeverCrashSluice() throws {
            let h2A = try NghttpxBackend(version: "h2-a")
            var h2AStopped = false
            defer { if !h2AStopped { h2A.stop() } }
            let h2B = try NghttpxBackend(version: "h2-b")
            defer { h2B.stop() }
            let h1 = try startModelServer("h1")
            defer { h1.stop() }
            let p = try SluiceProcess(yaml: Self.yaml(("h2", h2A.port)))
            defer { p.stop(); p.removeFiles() }

            // 1. Pooled h2 connections to A (both client protocols), then A's endpoint moves to B.
            #expect(Self.statuses(p) == [200, 200, 200])
            #expect(Self.statuses(p, http2: true) == [200, 200, 200])
            try p.writeConfig(Self.yaml(("h2", h2B.port)))
            #expect(try p.adminPost("/reload").status == 200)
            #expect(Self.statuses(p) == [200, 200, 200], "served by B after the move")
            // A goes away while the worker still holds its (now unlisted) connections.
            h2A.stop()
            h2AStopped = true
            usleep(300_000)
            #expect(p.process.isRunning, "sluice died when a backend dropped by a reload closed:\n\(p.log.suffix(2000))")
            #expect(Self.statuses(p) == [200, 200, 200])

            // 2. The backend becomes HTTP/1.1 (same name), then B goes away too.
            try p.writeConfig(Self.yaml(("http1", h1.port)))
            #expect(try p.adminPost("/reload").status == 200)
            #expect(Self.statuses(p, http2: true) == [200, 200, 200])
            h2B.stop()
            usleep(300_000)
            #expect(p.process.isRunning, "sluice died after an h2 backend dropped by a reload closed:\n\(p.log.suffix(2000))")
            #expect(Self.statuses(p) == [200, 200, 200])

            // 3. Back to h2 on an address where nothing listens, then to the HTTP/1.1 model again.
            try p.writeConfig(Self.yaml(("h2", try freeLoopbackPort())))
            #expect(try p.adminPost("/reload").status == 200)
            #expect(Self.statuses(p).allSatisfy { $0 == 503 })
            try p.writeConfig(Self.yaml(("http1", h1.port)))
            #expect(try p.adminPost("/reload").status == 200)
            #expect(Self.statuses(p) == [200, 200, 200])
            #expect(p.process.isRunning)
        }
    }
}
