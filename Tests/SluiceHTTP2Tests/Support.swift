import SluiceCore
@testable import SluiceHTTP2

/// Records every event; hooks let a test react (respond, reset, feed more body).
final class Recorder: H2SessionHandler {
    var pending: [Int32: [(String, String)]] = [:]
    var headers: [Int32: [(String, String)]] = [:]
    var trailers: [Int32: [(String, String)]] = [:]
    var body: [Int32: [UInt8]] = [:]
    var ended: Set<Int32> = []
    var closed: [Int32: UInt32] = [:]
    var wantsData: [Int32] = []
    var limits: [String] = []
    var goAway: (lastStream: Int32, errorCode: UInt32)?
    /// Called after a request/response head (not trailers) completes.
    var onHead: ((Int32, Bool) -> Void)?
    var onData: ((Int32, Int) -> Void)?
    var onWantsData: ((Int32) -> Void)?

    override func streamHeader(stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        pending[stream, default: []].append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }
    override func streamHeadersEnd(stream: Int32, endStream: Bool, isTrailers: Bool) {
        let fields = pending.removeValue(forKey: stream) ?? []
        if isTrailers { trailers[stream] = fields } else { headers[stream] = fields; onHead?(stream, endStream) }
    }
    override func streamData(stream: Int32, bytes: UnsafeRawBufferPointer) {
        body[stream, default: []].append(contentsOf: bytes)
        onData?(stream, bytes.count)
    }
    override func streamEnd(stream: Int32) { ended.insert(stream) }
    override func streamClosed(stream: Int32, errorCode: UInt32) { closed[stream] = errorCode }
    override func streamWantsData(stream: Int32) { wantsData.append(stream); onWantsData?(stream) }
    override func limitExceeded(stream: Int32, reason: StaticString) { limits.append(reason.description) }
    override func goAwayReceived(lastStream: Int32, errorCode: UInt32) { goAway = (lastStream, errorCode) }

    func header(_ stream: Int32, _ name: String) -> String? { headers[stream]?.first { $0.0 == name }?.1 }
}

/// A client and a server session wired back to back through memory.
final class Pair {
    let clientHandler = Recorder()
    let serverHandler = Recorder()
    let client: H2Session
    let server: H2Session
    var wire = ByteQueue(capacity: 64 * 1024)
    /// Everything the server ever sent / the client ever sent (for frame inspection).
    var serverBytes: [UInt8] = []
    var clientBytes: [UInt8] = []
    var serverReceiveFailed = false

    /// Both sessions take nghttp2's memory from one allocator, as a worker's do (every test
    /// here runs over it); `allocator: nil` uses malloc.
    init(client clientLimits: H2Limits = H2Limits(), server serverLimits: H2Limits = H2Limits(),
         allocator: H2Allocator? = H2Allocator()) {
        client = .client(handler: clientHandler, limits: clientLimits, allocator: allocator)
        server = .server(handler: serverHandler, limits: serverLimits, allocator: allocator)
    }
    deinit { wire.deallocate() }

    /// Moves client output to the server; returns bytes moved.
    @discardableResult
    func clientToServer() -> Int {
        wire.clear()
        client.flush(into: &wire)
        let n = wire.count
        clientBytes.append(contentsOf: wire.readable)
        if n > 0 && !server.receive(wire.readable) { serverReceiveFailed = true }
        return n
    }

    /// Moves server output to the client; returns bytes moved.
    @discardableResult
    func serverToClient() -> Int {
        wire.clear()
        server.flush(into: &wire)
        let n = wire.count
        serverBytes.append(contentsOf: wire.readable)
        if n > 0 { _ = client.receive(wire.readable) }
        return n
    }

    /// Exchanges bytes until both sides are quiet.
    func pump(maxRounds: Int = 10_000) {
        for _ in 0..<maxRounds {
            let moved = clientToServer() + serverToClient()
            if moved == 0 { return }
        }
    }
}

/// One frame header.
struct Frame {
    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: ArraySlice<UInt8>
    /// Error code of RST_STREAM / GOAWAY.
    var errorCode: UInt32? {
        let p = Array(payload)
        switch type {
        case 3 where p.count >= 4: return UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        case 7 where p.count >= 8: return UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
        default: return nil
        }
    }
}

/// Splits raw HTTP/2 bytes into frames (skip the 24-byte preface for client bytes).
func frames(_ bytes: [UInt8], skipPreface: Bool = false) -> [Frame] {
    var out: [Frame] = []
    var i = skipPreface ? 24 : 0
    while i + 9 <= bytes.count {
        let len = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
        guard i + 9 + len <= bytes.count else { break }
        let sid = (UInt32(bytes[i + 5]) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 8 | UInt32(bytes[i + 8])) & 0x7fff_ffff
        out.append(Frame(type: bytes[i + 3], flags: bytes[i + 4], stream: sid, payload: bytes[(i + 9)..<(i + 9 + len)]))
        i += 9 + len
    }
    return out
}

/// A GET request head.
func getRequest(path: String = "/x") -> H2HeaderBlock {
    var h = H2HeaderBlock()
    h.append(name: ":method", value: "GET")
    h.append(name: ":scheme", value: "http")
    h.append(name: ":authority", value: "example.test")
    h.append(name: ":path", value: path)
    return h
}

/// A POST request head.
func postRequest() -> H2HeaderBlock {
    var h = H2HeaderBlock()
    h.append(name: ":method", value: "POST")
    h.append(name: ":scheme", value: "http")
    h.append(name: ":authority", value: "example.test")
    h.append(name: ":path", value: "/upload")
    h.append(name: "content-type", value: "application/octet-stream")
    return h
}
