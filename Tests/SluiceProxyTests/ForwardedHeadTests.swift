import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
@testable import SluiceProxy
import Testing

/// The one forwarded-head writer on all four protocol pairs, in memory: the same request from an
/// HTTP/1.1 client and from an HTTP/2 client, written for an HTTP/1.1 and an HTTP/2 backend, must
/// carry the same fields, by the same rules.
@Suite struct ForwardedHeadTests {
    static let pairs: [ExchangeProtocols] = [
        .init(client: .http1, backend: .http1), .init(client: .http1, backend: .http2),
        .init(client: .http2, backend: .http1), .init(client: .http2, backend: .http2),
    ]
    static let peer = Array("192.0.2.7".utf8)

    /// The request as an HTTP/1.1 client sends it.
    static let h1Request = Array(("POST /v1/models/fraud:predict?x=1 HTTP/1.1\r\nHost: api.internal\r\n"
        + "Connection: keep-alive, x-drop\r\nX-Drop: 1\r\nTE: trailers\r\nKeep-Alive: 5\r\n"
        + "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Proto: https\r\n"
        + "X-Forwarded-Host: evil\r\nX-Sluice-Shadow: 1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
        + "Content-Type: application/json\r\nX-Request-Id: req-1\r\n\r\n").utf8)

    /// The same request as an HTTP/2 client sends it (no Connection-specific fields: HTTP/2 forbids them).
    static func h2Headers() -> H2RequestHeaders {
        let h = H2RequestHeaders()
        h.reset()
        let fields: [(String, String)] = [
            (":method", "POST"), (":scheme", "http"), (":authority", "api.internal"), (":path", "/v1/models/fraud:predict?x=1"),
            ("te", "trailers"), ("x-forwarded-for", "10.0.0.1"), ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"), ("x-forwarded-host", "evil"), ("x-sluice-shadow", "1"),
            ("content-length", "5"), ("content-type", "application/json"), ("x-request-id", "req-1"),
        ]
        for (n, v) in fields {
            Array(n.utf8).withUnsafeBytes { name in Array(v.utf8).withUnsafeBytes { value in h.add(name: name, value: value) } }
        }
        h.finishBlock()
        return h
    }

    /// The head written for `pair`'s backend, as (name, value) pairs in order (HTTP/1.1: the request
    /// line as `:request-line`; HTTP/2: pseudo-headers included).
    static func forwarded(_ pair: ExchangeProtocols, requestID: String = "req-1", generated: Bool = false,
                          shadow: Bool = false, chunked: Bool = false) -> [(String, String)] {
        let id = Array(requestID.utf8)
        switch pair.client {
        case .http1:
            return h1Request.withUnsafeBytes { buf in
                var parser = RequestHeadParser()
                var head = RequestHead()
                guard case .complete = parser.parse(buf, into: &head) else { return [] }
                let client = head.clientHead(buf, isTLS: false, requestID: id, requestIDGenerated: generated, peerIP: peer)
                return head.fields.withUnsafeBufferPointer { write(pair.backend, client, $0, shadow: shadow, chunked: chunked) }
            }
        case .http2:
            let h = h2Headers()
            let client = h.clientHead(isTLS: false, requestID: id, requestIDGenerated: generated, peerIP: peer)
            return write(pair.backend, client, h.fields, shadow: shadow, chunked: chunked)
        }
    }

    static func write(_ backend: WireProtocol, _ client: ClientHead, _ fields: UnsafeBufferPointer<FieldRange>,
                      shadow: Bool, chunked: Bool) -> [(String, String)] {
        switch backend {
        case .http1:
            var out = ByteQueue(capacity: 4096)
            defer { out.deallocate() }
            ForwardedHead.write(HTTP1Head.self, client, fields: fields, into: &out, chunked: chunked, shadow: shadow)
            let text = String(decoding: out.readable, as: UTF8.self)
            var lines = text.components(separatedBy: "\r\n")
            var result = [(":request-line", lines.removeFirst())]
            for l in lines where !l.isEmpty {
                let colon = l.firstIndex(of: ":")!
                result.append((l[..<colon].lowercased(), String(l[l.index(colon, offsetBy: 2)...])))
            }
            if !shadow { #expect(text.hasSuffix("\r\n\r\n")) } else { #expect(!text.hasSuffix("\r\n\r\n")) }
            return result
        case .http2:
            var block = H2HeaderBlock()
            ForwardedHead.write(HTTP2Head.self, client, fields: fields, into: &block, chunked: chunked, shadow: shadow)
            var result: [(String, String)] = []
            block.forEachField { n, v in result.append((String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self))) }
            return result
        }
    }

    static func values(_ head: [(String, String)], _ name: String) -> [String] { head.filter { $0.0 == name }.map(\.1) }

    /// Parses `request` as an HTTP/1.1 head and writes it for an HTTP/1.1 and an HTTP/2 backend.
    static func forwardedFromHTTP1(_ request: String, isTLS: Bool = false) -> (client: ClientHead?, h1: [(String, String)], h2: [(String, String)]) {
        Array(request.utf8).withUnsafeBytes { buf in
            var parser = RequestHeadParser()
            var head = RequestHead()
            guard case .complete = parser.parse(buf, into: &head) else { return (nil, [], []) }
            let client = head.clientHead(buf, isTLS: isTLS, requestID: [], requestIDGenerated: false, peerIP: peer)
            return head.fields.withUnsafeBufferPointer {
                (client, write(.http1, client, $0, shadow: false, chunked: false), write(.http2, client, $0, shadow: false, chunked: false))
            }
        }
    }

    @Test(arguments: pairs) func theSameRequestIsForwardedByTheSameRules(_ pair: ExchangeProtocols) {
        let head = Self.forwarded(pair)
        switch pair.backend {
        case .http1:
            #expect(head.first?.1 == "POST /v1/models/fraud:predict?x=1 HTTP/1.1")
            #expect(head.dropFirst().first?.0 == "host", "host comes first on an HTTP/1.1 backend")
            #expect(Self.values(head, "host") == ["api.internal"])
        case .http2:
            #expect(Self.values(head, ":method") == ["POST"])
            #expect(Self.values(head, ":scheme") == ["http"])
            #expect(Self.values(head, ":authority") == ["api.internal"])
            #expect(Self.values(head, ":path") == ["/v1/models/fraud:predict?x=1"])
            #expect(Self.values(head, "host").isEmpty)
            #expect(head.allSatisfy { $0.0 == $0.0.lowercased() }, "HTTP/2 field names are lowercase")
        }
        // Every earlier hop, in order, then the client.
        #expect(Self.values(head, "x-forwarded-for") == ["10.0.0.1, 10.0.0.2, 192.0.2.7"])
        #expect(Self.values(head, "x-forwarded-proto") == ["http"])
        #expect(Self.values(head, "x-request-id") == ["req-1"])
        #expect(Self.values(head, "content-length") == ["5"])
        #expect(Self.values(head, "content-type") == ["application/json"])
        for dropped in ["connection", "keep-alive", "x-drop", "expect", "x-forwarded-host", "x-sluice-shadow", "transfer-encoding"] {
            #expect(Self.values(head, dropped).isEmpty, "\(dropped) is not forwarded")
        }
        // `te: trailers` is the one hop-by-hop field HTTP/2 allows (gRPC needs it).
        #expect(Self.values(head, "te") == (pair.backend == .http2 ? ["trailers"] : []))
    }

    @Test(arguments: pairs) func aGeneratedRequestIDReplacesTheClientsOnlyOnce(_ pair: ExchangeProtocols) {
        let head = Self.forwarded(pair, requestID: "sluice-42", generated: true)
        #expect(Self.values(head, "x-request-id") == ["sluice-42"])
    }

    @Test(arguments: pairs) func aShadowCopyLeavesFramingOut(_ pair: ExchangeProtocols) {
        guard pair.backend == .http1 else { return }   // shadow copies go to HTTP/1.1 backends
        let head = Self.forwarded(pair, shadow: true, chunked: true)
        #expect(Self.values(head, "content-length").isEmpty)
        #expect(Self.values(head, "transfer-encoding").isEmpty)
        #expect(Self.values(head, "x-forwarded-for") == ["10.0.0.1, 10.0.0.2, 192.0.2.7"])
    }

    @Test func aBodyReframedAsChunkedSaysSo() {
        let head = Self.forwarded(.init(client: .http2, backend: .http1), chunked: true)
        #expect(Self.values(head, "transfer-encoding") == ["chunked"])
    }

    @Test func anAbsoluteFormTargetWithNoPathGetsItsSlash() {
        let (client, h1, h2) = Self.forwardedFromHTTP1("GET http://api.internal?q=1 HTTP/1.1\r\nHost: api.internal\r\n\r\n", isTLS: true)
        #expect(client?.leadingSlash == true)
        #expect(h1.first?.1 == "GET /?q=1 HTTP/1.1")
        #expect(Self.values(h1, "x-forwarded-proto") == ["https"])
        #expect(Self.values(h2, ":path") == ["/?q=1"])
        #expect(Self.values(h2, ":scheme") == ["https"])
    }

    @Test func anAsteriskTargetIsForwardedAsItIs() {
        let (client, h1, h2) = Self.forwardedFromHTTP1("OPTIONS * HTTP/1.1\r\nHost: api.internal\r\n\r\n")
        #expect(client?.leadingSlash == false)
        #expect(h1.first?.1 == "OPTIONS * HTTP/1.1")
        #expect(Self.values(h2, ":path") == ["*"])
    }

    @Test func anHTTP2ClientWithOnlyAHostFieldKeepsItsHost() {
        let h = H2RequestHeaders()
        h.reset()
        for (n, v) in [(":method", "GET"), (":path", "/"), ("host", "only-host")] {
            Array(n.utf8).withUnsafeBytes { name in Array(v.utf8).withUnsafeBytes { value in h.add(name: name, value: value) } }
        }
        h.finishBlock()
        let client = h.clientHead(isTLS: false, requestID: [], requestIDGenerated: false, peerIP: Self.peer)
        #expect(Self.values(Self.write(.http1, client, h.fields, shadow: false, chunked: false), "host") == ["only-host"])
        #expect(Self.values(Self.write(.http2, client, h.fields, shadow: false, chunked: false), ":authority") == ["only-host"])
    }
}
