import Testing
import SluiceCore
@testable import SluiceHTTP2

@Suite struct PrefaceTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    @Test func detectsSplitPreface() {
        let p = PrefaceTests.preface
        #expect(p.count == H2Preface.length)
        for cut in 0..<p.count {
            p[0..<cut].withUnsafeBytes { #expect(H2Preface.detect($0) == .needMore) }
        }
        p.withUnsafeBytes { #expect(H2Preface.detect($0) == .h2) }
        (p + [0, 0, 0, 4]).withUnsafeBytes { #expect(H2Preface.detect($0) == .h2) }
    }

    @Test func rejectsHTTP1AndNearMisses() {
        Array("GET / HTTP/1.1\r\n".utf8).withUnsafeBytes { #expect(H2Preface.detect($0) == .notH2) }
        Array("PRX".utf8).withUnsafeBytes { #expect(H2Preface.detect($0) == .notH2) }
        Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r".utf8).withUnsafeBytes { #expect(H2Preface.detect($0) == .notH2) }
        Array("P".utf8).withUnsafeBytes { #expect(H2Preface.detect($0) == .needMore) }
    }

    @Test func clientSessionStartsWithPreface() {
        let handler = H2SessionHandler()
        let client = H2Session.client(handler: handler, limits: H2Limits())
        var out = ByteQueue(capacity: 1024)
        defer { out.deallocate() }
        client.flush(into: &out)
        #expect(H2Preface.detect(out.readable) == .h2)
        #expect(out.count > 24)
    }
}
