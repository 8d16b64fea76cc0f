import Foundation
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// Large bodies stream in both directions with bounded memory; Expect, HEAD, 204/304.
    @Suite struct Streaming {
        static let size = 200 * 1024 * 1024

        @Test(.timeLimit(.minutes(3)))
        func twoHundredMegabytesEachWayWithBoundedMemory() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "big", port: backend.port, requestTimeout: "60s")],
                                                             routeExtra: ["max_request_body: 512MiB"]))
            defer { h.stop() }
            let file = NSTemporaryDirectory() + "sluice-upload-\(UUID().uuidString)"
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try fh.truncate(atOffset: UInt64(Self.size))
            try fh.close()

            // Warm up (first connections, buffers), then measure.
            _ = try Command.curl(["-o", "/dev/null", "\(h.base)/bytes/1048576"])
            let before = residentKiB()
            let sampler = RSSSampler()

            let up = try Command.curl(["-T", file, "\(h.base)/sink"], timeout: 90)
            #expect(up.exitCode == 0, "\(up.summary)")
            #expect(up.status == 200, "\(up.summary)")
            #expect((up.json?["received"] as? Int) == Self.size, "upload: \(up.body)")
            #expect(up.rawHeaders.contains("100 Continue"), "curl asked for 100-continue on a 200 MB upload")

            for path in ["/bytes/\(Self.size)", "/chunked/\(Self.size)"] {
                let down = try Command.curl(["-o", "/dev/null", "-w", "%{size_download}", "\(h.base)\(path)"], timeout: 90)
                #expect(down.exitCode == 0, "\(path): \(down.summary)")
                #expect(down.status == 200)
                #expect(Int(down.body) == Self.size, "\(path): downloaded \(down.body) bytes")
                if path.hasPrefix("/chunked") { #expect(down.header("transfer-encoding") == "chunked") }
                else { #expect(down.header("content-length") == "\(Self.size)") }
            }
            let peak = sampler.stop()
            let growthMiB = Double(peak - before) / 1024
            #expect(growthMiB < 64, "RSS grew by \(growthMiB) MiB (from \(before / 1024) MiB to a peak of \(peak / 1024) MiB)")
        }

        @Test(.timeLimit(.minutes(1)))
        func expectContinueIsAnsweredBeforeTheBodyIsSent() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }

            // Raw: the client waits for 100 Continue before sending the body.
            let s = try RawSocket(port: h.port, timeout: 3)
            s.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            let interim = s.readResponse()
            #expect(interim?.status == 100, "no 100 Continue before the body: \(String(describing: interim?.status))")
            s.send("hello world")
            let final = s.readResponse()
            #expect(final?.status == 200)
            #expect((final?.json?["body_length"] as? Int) == 11)
            let names = ((final?.json?["header_list"] as? [[String]]) ?? []).map { $0.first?.lowercased() ?? "" }
            #expect(!names.contains("expect"), "Expect forwarded after Sluice answered it: \(names)")
            // Same connection still usable.
            s.send("GET /status/200 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(s.readResponse()?.status == 200)

            // curl with an explicit Expect header.
            let r = try Command.curl(["-H", "Expect: 100-continue", "--data-binary", String(repeating: "x", count: 5000), "\(h.base)/echo"])
            #expect(r.exitCode == 0, "\(r.summary)")
            #expect(r.rawHeaders.hasPrefix("HTTP/1.1 100"), "\(r.rawHeaders)")
            #expect(r.status == 200)
            #expect((r.json?["body_length"] as? Int) == 5000)
        }

        @Test(.timeLimit(.minutes(1)))
        func headAnd204And304HaveNoBodyAndKeepTheConnection() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }

            // Raw socket: any stray body byte would show up as garbage before the next status line.
            let s = try RawSocket(port: h.port, timeout: 3)
            s.send("HEAD /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = s.readResponse(head: true)
            #expect(head?.status == 200)
            #expect(head?.header("content-length") == "100000")
            #expect(head?.header("x-sluice-target") == "only")
            for code in [204, 304] {
                s.send("GET /status/\(code) HTTP/1.1\r\nHost: t\r\n\r\n")
                let r = s.readResponse()
                #expect(r?.status == code)
                #expect(r?.body.isEmpty == true)
                #expect(r?.header("transfer-encoding") == nil, "\(code) with transfer-encoding")
            }
            s.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
            let after = s.readResponse()
            #expect(after?.status == 200, "connection unusable after HEAD/204/304: pending \(s.pending.count) bytes")
            #expect(after?.json?["path"] as? String == "/echo")

            // curl -I agrees.
            let c = try Command.curl(["-I", "-o", "/dev/null", "\(h.base)/bytes/4096"])
            #expect(c.exitCode == 0, "\(c.summary)")
            #expect(c.status == 200)
            #expect(c.header("content-length") == "4096")
            #expect(c.body.isEmpty)

            // SimpleHTTPClient: one connection throughout.
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 3)
            defer { client.close() }
            for path in ["/status/204", "/status/304", "/echo"] {
                let r = try client.request(path == "/echo" ? "GET" : "GET", path)
                #expect(r.bodyLength == (path == "/echo" ? r.body.count : 0))
            }
            let hr = try client.request("HEAD", "/chunked/5000")
            #expect(hr.status == 200 && hr.bodyLength == 0)
            #expect(try client.request("GET", "/status/200").status == 200)
            #expect(client.connectionsOpened == 1)
        }
    }
}
