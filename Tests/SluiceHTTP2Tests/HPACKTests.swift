import CNghttp2
import Testing
import SluiceCore
@testable import SluiceHTTP2

@Suite struct HPACKTests {
    /// A request id differs in every response: it must go out as a never-indexed literal, or
    /// it fills the encoder's dynamic table with entries nobody reuses (and nghttp2 then walks
    /// all of them, by name, on every later lookup).
    @Test func requestIDIsNeverIndexed() {
        let pair = Pair()
        var served = 0
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            var h = H2HeaderBlock()
            h.append(name: "content-type", value: "application/json")
            h.append(name: "x-request-id", value: "0c6f2b9e-\(100_000 + served)-4d1e-9b7a-2f0e5c8d1a3b")
            let name = Array("X-Request-ID".utf8), value = Array("second-\(served)".utf8)
            name.withUnsafeBytes { n in value.withUnsafeBytes { v in h.appendLowercasingName(name: n, value: v) } }
            served += 1
            #expect(pair.server.submitResponse(stream: id, status: 200, headers: h, endStream: true))
        }
        var ids: [Int32] = []
        for _ in 0..<50 {
            let id = pair.client.submitRequest(headers: getRequest(), endStream: true)
            ids.append(id)
            pair.pump()
        }
        #expect(served == 50)
        #expect(pair.clientHandler.header(ids[49], "x-request-id") == "0c6f2b9e-100049-4d1e-9b7a-2f0e5c8d1a3b")
        // Only content-type (and nothing unique) may have been added: 16 + 12 + 32 bytes.
        let table = nghttp2_session_get_hd_deflate_dynamic_table_size(pair.server.session)
        #expect(table <= 100, "encoder dynamic table holds \(table) bytes")
        // A field that repeats is still indexed.
        #expect(table > 0)
    }
}
