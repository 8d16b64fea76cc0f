import Foundation
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// Headers Sluice adds to responses and requests, and the hop-by-hop ones it drops.
    @Suite struct Headers {
        /// Names of the headers the backend received, from /echo's `header_list`.
        static func receivedHeaders(_ r: SimpleHTTPResponse) -> [(String, String)] {
            guard let list = r.jsonObject()?["header_list"] as? [[String]] else { return [] }
            return list.compactMap { $0.count == 2 ? ($0[0].lowercased(), $0[1]) : nil }
        }

        static func isHex32(_ s: String?) -> Bool {
            guard let s, s.count == 32 else { return false }
            return s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
        }

        @Test(.timeLimit(.minutes(1)))
        func responseHeadersAndRequestID() throws {
            let backend = try startModelServer("v7")
            let plain = try startModelServer("v8")
            defer { backend.stop(); plain.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(
                backends: [.init(name: "versioned", port: backend.port, version: "v7.0.1"), .init(name: "plain", port: plain.port)],
                targets: [("versioned", 100), ("plain", 0)], routeExtra: ["override_header: x-sluice-target"]))
            defer { h.stop() }
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
            defer { client.close() }

            // No id sent: one is generated, returned, and forwarded to the backend.
            let r1 = try client.request("GET", "/echo")
            #expect(r1.status == 200)
            #expect(r1.header("x-sluice-target") == "versioned")
            #expect(r1.header("x-model-version") == "v7.0.1")
            let generated = r1.header("x-request-id")
            #expect(Self.isHex32(generated), "generated id: \(String(describing: generated))")
            let seen1 = Self.receivedHeaders(r1).filter { $0.0 == "x-request-id" }.map(\.1)
            #expect(seen1 == [generated ?? "?"], "backend saw x-request-id \(seen1)")

            // Ids differ between requests.
            let r2 = try client.request("GET", "/echo")
            #expect(Self.isHex32(r2.header("x-request-id")))
            #expect(r2.header("x-request-id") != generated)

            // Id sent: echoed back and forwarded once, unchanged.
            let r3 = try client.request("GET", "/echo", headers: [("X-Request-Id", "client-id-42")])
            #expect(r3.headerValues("x-request-id") == ["client-id-42"])
            let seen3 = Self.receivedHeaders(r3).filter { $0.0 == "x-request-id" }.map(\.1)
            #expect(seen3 == ["client-id-42"], "backend saw x-request-id \(seen3)")

            // A backend without model_version: no x-model-version.
            let r4 = try client.request("GET", "/echo", headers: [("x-sluice-target", "plain")])
            #expect(r4.header("x-sluice-target") == "plain")
            #expect(r4.header("x-backend") == "v8")
            #expect(r4.header("x-model-version") == nil)
        }

        @Test(.timeLimit(.minutes(1)))
        func forwardedForAndHopByHop() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
            defer { client.close() }

            let r1 = try client.request("GET", "/echo")
            let xff1 = Self.receivedHeaders(r1).filter { $0.0 == "x-forwarded-for" }.map(\.1)
            #expect(xff1 == ["127.0.0.1"], "x-forwarded-for without a client value: \(xff1)")

            let r2 = try client.request("GET", "/echo", headers: [("X-Forwarded-For", "203.0.113.9, 10.0.0.1")])
            let xff2 = Self.receivedHeaders(r2).filter { $0.0 == "x-forwarded-for" }.map(\.1)
            #expect(xff2 == ["203.0.113.9, 10.0.0.1, 127.0.0.1"], "appended x-forwarded-for: \(xff2)")

            let r3 = try client.request("POST", "/echo", headers: [
                ("Connection", "keep-alive, X-Foo"),
                ("Keep-Alive", "timeout=5, max=100"),
                ("TE", "trailers"),
                ("Upgrade", "websocket"),
                ("Proxy-Connection", "keep-alive"),
                ("X-Foo", "per-hop secret"),
                ("X-Kept", "end-to-end"),
            ], text: "{}")
            #expect(r3.status == 200, "\(r3.status) \(r3.text)")
            let names = Set(Self.receivedHeaders(r3).map(\.0))
            for hop in ["connection", "keep-alive", "te", "upgrade", "proxy-connection", "x-foo"] {
                #expect(!names.contains(hop), "backend received hop-by-hop header \(hop): \(names.sorted())")
            }
            #expect(names.contains("x-kept"), "end-to-end header lost: \(names.sorted())")
            #expect(names.contains("x-request-id"))
            // The client connection survived (Connection: keep-alive honoured).
            let r4 = try client.request("GET", "/echo")
            #expect(r4.status == 200)
            #expect(client.connectionsOpened == 1)
        }
    }
}
