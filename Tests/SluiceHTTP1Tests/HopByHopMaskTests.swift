import Testing
import SluiceHTTP1

/// The parser's hop-by-hop mask answers exactly what the per-field name check answers, for every
/// fixed hop-by-hop name at any position (the mask covers the first 64 fields; later ones fall back).
@Suite struct HopByHopMaskTests {
    static let hopByHop = ["TE", "Trailer", "Upgrade", "Connection", "Keep-Alive", "HTTP2-Settings",
                           "Proxy-Connection", "Transfer-Encoding", "Proxy-Authenticate", "Proxy-Authorization"]

    /// A response head with `count` filler fields and `name` at `position`.
    static func response(_ name: String, at position: Int, count: Int) -> [UInt8] {
        var text = "HTTP/1.1 200 OK\r\n"
        for i in 0..<count {
            if i == position {
                switch name.lowercased() {
                case "transfer-encoding": text += "\(name): chunked\r\n"
                case "connection": text += "\(name): keep-alive, x-listed\r\n"
                default: text += "\(name): 1\r\n"
                }
            } else {
                text += (i == position + 1 ? "X-Listed: 1\r\n" : "X-Filler-\(i): v\r\n")
            }
        }
        if name.lowercased() != "transfer-encoding" { text += "Content-Length: 0\r\n" }
        return Array((text + "\r\n").utf8)
    }

    @Test(arguments: hopByHop)
    func theMaskAgreesWithTheNameCheck(_ name: String) {
        for (position, count) in [(0, 3), (5, 10), (63, 66), (64, 70), (68, 70)] {
            let bytes = Self.response(name, at: position, count: count)
            bytes.withUnsafeBytes { buf in
                var parser = ResponseHeadParser()
                var head = ResponseHead()
                guard case .complete = parser.parse(buf, requestWasHEAD: false, into: &head) else {
                    Issue.record("\(name) at \(position): not parsed")
                    return
                }
                for (i, f) in head.fields.enumerated() {
                    #expect(head.isHopByHop(buf, f, at: i) == head.isHopByHop(buf, f), "\(name) at \(position), field \(i)")
                }
                #expect(head.isHopByHop(buf, head.fields[position], at: position), "\(name) at \(position) is hop-by-hop")
            }
        }
    }
}
