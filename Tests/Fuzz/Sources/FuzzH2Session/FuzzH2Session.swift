// libFuzzer target: a server-side HTTP/2 session (H2Session over nghttp2) fed raw client bytes
// after the connection preface, the way a proxy connection drives it.
//
// The handler answers like the proxy would, varied by stream id: a response without body, one
// with a 32-byte body, one with body and trailers, or a reset; it consumes every DATA byte.
// Input is fed twice to fresh sessions: all at once, then in 7-byte pieces, each receive followed
// by flushes with a 4 KiB limit (backpressure), and nothing is fed after a receive failed.
// Properties, besides never crashing (ASan):
// - one flush adds at most its limit plus one frame (32 KiB slack);
// - total output is bounded by the input: at most 8 KiB + 16 bytes per input byte;
// - open stream states never exceed the advertised concurrency limit, on both limit sets;
// - once receive failed, it keeps failing.
import FuzzSupport
import SluiceCore
import SluiceHTTP2


let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
let body = [UInt8](repeating: 0x61, count: 32)

final class Handler: H2SessionHandler {
    weak var session: H2Session?
    var response = H2HeaderBlock()
    var trailers = H2HeaderBlock()

    override init() {
        response.append(name: "content-type", value: "text/plain")
        trailers.append(name: "grpc-status", value: "0")
    }

    override func streamHeadersEnd(stream: Int32, endStream: Bool, isTrailers: Bool) {
        guard let session, !isTrailers else { return }
        switch (stream >> 1) & 3 {
        case 0:
            session.submitResponse(stream: stream, status: 200, headers: response, endStream: true)
        case 1, 2:
            guard session.submitResponse(stream: stream, status: 200, headers: response, endStream: false) else { return }
            body.withUnsafeBytes { _ = session.enqueueData(stream: stream, bytes: $0) }
            session.finishData(stream: stream, trailers: (stream >> 1) & 3 == 2 ? trailers : nil)
        default:
            session.resetStream(stream, errorCode: H2ErrorCode.cancel)
        }
    }

    override func streamData(stream: Int32, bytes: UnsafeRawBufferPointer) {
        session?.consume(stream: stream, bytes.count)
    }
}

func run(_ input: [UInt8], piece: Int, limits: H2Limits) {
    let handler = Handler()
    let session = H2Session.server(handler: handler, limits: limits)
    handler.session = session
    var out = ByteQueue(capacity: 64 * 1024)
    defer { out.deallocate() }
    var total = 0
    let flushLimit = 4096
    func drain() {
        for _ in 0 ..< 64 {
            out.clear()
            session.flush(into: &out, limit: flushLimit)
            check(out.count <= flushLimit + 32 * 1024, "one flush wrote \(out.count) bytes")
            total += out.count
            if out.count == 0 { break }
        }
        check(session.openStreams <= limits.maxConcurrentStreams,
              "\(session.openStreams) open streams, limit \(limits.maxConcurrentStreams)")
    }
    drain()
    var failed = false
    var i = 0
    input.withUnsafeBytes { raw in
        while i < raw.count {
            let end = min(raw.count, i + piece)
            let ok = session.receive(UnsafeRawBufferPointer(rebasing: raw[i ..< end]))
            if failed { check(!ok, "receive succeeded after failing") }
            failed = failed || !ok
            i = end
            drain()
            if failed { break }
        }
    }
    if failed {
        let ping: [UInt8] = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        check(!ping.withUnsafeBytes { session.receive($0) }, "receive succeeded after failing")
    }
    check(total <= 8192 + 16 * input.count, "wrote \(total) bytes for \(input.count) input bytes")
    withExtendedLifetime(handler) {}
}

let tight = H2Limits(maxConcurrentStreams: 4, maxHeaderListBytes: 256, maxHeaderCount: 8,
                     initialStreamWindow: 1024, connectionWindow: 65535)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = preface + UnsafeBufferPointer(start: data, count: size)
    run(input, piece: input.count, limits: H2Limits())
    run(input, piece: 7, limits: tight)
    return 0
}
