import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// 200 MB each way over HTTP/2 (client) → HTTP/1.1 (backend) with bounded memory: windows are
    /// credited only as bytes move on, so neither a fast sender nor a fast backend fills Sluice.
    @Suite struct HTTP2Streaming {
        static let size = 200 * 1024 * 1024

        @Test(.timeLimit(.minutes(3)))
        func twoHundredMegabytesEachWayOverHTTP2() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "big", port: backend.port, requestTimeout: "60s")],
                                                             routeExtra: ["max_request_body: 512MiB"]))
            defer { h.stop() }
            let file = NSTemporaryDirectory() + "sluice-h2-upload-\(UUID().uuidString)"
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try fh.truncate(atOffset: UInt64(Self.size))
            try fh.close()

            _ = try Command.curl(["--http2-prior-knowledge", "-o", "/dev/null", "\(h.base)/bytes/1048576"])
            let before = residentKiB()
            let sampler = RSSSampler()
            let up = try Command.curl(["--http2-prior-knowledge", "-T", file, "\(h.base)/sink"], timeout: 90)
            #expect(up.exitCode == 0, "\(up.summary)")
            #expect((up.json?["received"] as? Int) == Self.size, "upload: \(up.body)")
            for path in ["/bytes/\(Self.size)", "/chunked/\(Self.size)"] {
                let down = try Command.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{size_download}", "\(h.base)\(path)"], timeout: 90)
                #expect(down.exitCode == 0, "\(path): \(down.summary)")
                #expect(Int(down.body) == Self.size, "\(path): downloaded \(down.body) bytes")
            }
            let peak = sampler.stop()
            let growthMiB = Double(peak - before) / 1024
            // Under AddressSanitizer (scripts/sanitize) freed memory sits in its quarantine (256 MiB by
            // default), so resident memory says nothing about what Sluice keeps.
            if ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil {
                #expect(growthMiB < 64, "RSS grew by \(growthMiB) MiB (from \(before / 1024) MiB to a peak of \(peak / 1024) MiB)")
            }
        }
    }
}
