import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// What clients can claim: forwarding headers that only Sluice sets are replaced or dropped on
    /// every protocol pair, and an absolute-form target is routed by its path, never by its query.
    @Suite struct ClientClaims {
        /// Client protocol × backend protocol.
        static let pairs: [(client: String, backend: String)] = [
            ("--http1.1", "http1"), ("--http1.1", "h2"), ("--http2-prior-knowledge", "http1"), ("--http2-prior-knowledge", "h2"),
        ]

        @Test(.timeLimit(.minutes(1)), arguments: 0..<4)
        func spoofedForwardingHeadersAreNotPassedOn(pair: Int) throws {
            let (client, protocolName) = Self.pairs[pair]
            let h1 = try startModelServer("v1")
            defer { h1.stop() }
            let h2 = try NghttpxBackend(version: "v-h2")
            defer { h2.stop() }
            let port = protocolName == "h2" ? h2.port : h1.port
            let h = try ProxyHarness(yaml: """
                workers: 1
                listeners: [{ name: t, address: 127.0.0.1:0 }]
                backends: [{ name: model, endpoints: [127.0.0.1:\(port)], protocol: \(protocolName) }]
                routes:
                  - { name: m, match: { path_prefix: / }, baseline: model, targets: [{ backend: model, weight: 100 }] }
                """)
            defer { h.stop() }
            let r = try Command.curl([client, "\(h.base)/echo",
                                      "-H", "x-forwarded-proto: https", "-H", "X-Forwarded-Host: bank.example",
                                      "-H", "x-sluice-shadow: 1", "-H", "x-forwarded-for: 10.1.1.1"])
            #expect(r.status == 200, "\(client) → \(protocolName): \(r.body)")
            let list = (r.json?["header_list"] as? [[String]]) ?? []
            func values(_ name: String) -> [String] { list.filter { $0.first?.lowercased() == name }.compactMap { $0.last } }
            #expect(values("x-forwarded-proto") == ["http"], "\(client) → \(protocolName): \(list)")
            #expect(values("x-forwarded-host").isEmpty, "\(client) → \(protocolName): \(list)")
            #expect(values("x-sluice-shadow").isEmpty, "\(client) → \(protocolName): \(list)")
            #expect(values("x-forwarded-for").last?.hasPrefix("10.1.1.1, 127.0.0.1") == true, "\(client) → \(protocolName): \(list)")
        }

        @Test(.timeLimit(.minutes(1)))
        func absoluteFormIsRoutedByItsPath() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)], prefix: "/echo"))
            defer { h.stop() }
            func send(_ target: String) throws -> RawResponse? {
                let s = try RawSocket(port: h.port)
                defer { s.close() }
                _ = s.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.readResponse()
            }
            let routed = try #require(try send("http://127.0.0.1/echo?q=/x/y"))
            #expect(routed.status == 200)
            let echoed = try JSONSerialization.jsonObject(with: Data(routed.body)) as? [String: Any]
            #expect(echoed?["path"] as? String == "/echo")
            #expect(echoed?["query"] as? String == "q=/x/y")
            // No path: the path is "/", and the query's "/echo" must not route it to /echo.
            let unrouted = try #require(try send("http://127.0.0.1:8080?q=/echo"))
            #expect(unrouted.status == 404)
            #expect(String(decoding: unrouted.body, as: UTF8.self).contains("no_route"))
            let https = try #require(try send("https://user-host.example:443/echo?next=/admin"))
            #expect(https.status == 200)
            let echoedHTTPS = try JSONSerialization.jsonObject(with: Data(https.body)) as? [String: Any]
            #expect(echoedHTTPS?["path"] as? String == "/echo")
            #expect(echoedHTTPS?["query"] as? String == "next=/admin")
        }
    }
}
