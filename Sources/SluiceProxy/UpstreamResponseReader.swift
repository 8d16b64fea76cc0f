import SluiceCore
import SluiceHTTP1

/// Reads an HTTP/1.1 backend's response out of its connection's input: the head once
/// (informational heads skipped; `101` refused), then the body by its framing, handing payload
/// pieces to the caller. The one reader for every exchange with an HTTP/1.1 backend: an HTTP/1.1
/// client, an HTTP/2 stream, a shadow copy. Zero-copy: pieces are slices of the input.
struct UpstreamResponseReader {
    var parser = ResponseHeadParser()
    /// The final response head (valid once ``readHead(_:isHEAD:)`` returned `.head`).
    var head = ResponseHead()
    var chunks = ChunkedDecoder(isResponse: true)
    /// Payload ranges of the last chunked piece.
    var ranges: [Range<Int>] = []
    /// Body bytes still owed (`content-length` framing).
    private(set) var remaining: UInt64 = 0

    enum HeadResult {
        /// More bytes are needed.
        case incomplete
        /// The backend sent something that is not an HTTP/1.1 response (or a 101).
        case invalid
        /// The final head is parsed; its bytes are still at the front of the input (call ``consumeHead(_:)``
        /// once its fields were carried on).
        case head
    }

    /// Starts reading a new response.
    mutating func reset() {
        parser.reset()
        chunks.reset()
        remaining = 0
    }

    /// Parses the response head from `input`, skipping `1xx` heads (Sluice answers `100 Continue` itself).
    @inline(__always)
    mutating func readHead(_ input: inout ByteQueue, isHEAD: Bool) -> HeadResult {
        while true {
            switch parser.parse(input.readable, requestWasHEAD: isHEAD, into: &head) {
            case .incomplete: return .incomplete
            case .error: return .invalid
            case .complete:
                guard head.status < 200 else { return .head }
                if head.status == 101 { return .invalid }
                input.consume(head.headLength)
                parser.reset()
            }
        }
    }

    /// Drops the parsed head's bytes from `input` and gets ready for the body.
    @inline(__always)
    mutating func consumeHead(_ input: inout ByteQueue) {
        input.consume(head.headLength)
        parser.reset()
        switch head.framing {
        case .contentLength(let n): remaining = n
        case .chunked: chunks.reset()
        case .none, .untilClose: remaining = 0
        }
    }

    /// The response has no body.
    var isBodyless: Bool {
        if case .contentLength(0) = head.framing { return true }
        return head.framing == .none
    }

    /// Reads body bytes from the front of `bytes`: `payload` gets each piece of payload (chunk
    /// framing removed). Returns how many bytes of `bytes` were taken (the caller consumes them,
    /// after forwarding them raw if it passes chunks through) and whether the body is complete.
    /// Throws on broken chunk framing.
    @inline(__always)
    mutating func readBody(_ bytes: UnsafeRawBufferPointer, payload: (UnsafeRawBufferPointer) -> Void) throws(HTTP1Error) -> (taken: Int, done: Bool) {
        switch head.framing {
        case .none:
            return (0, true)
        case .contentLength:
            let n = Int(min(remaining, UInt64(bytes.count)))
            if n > 0 { payload(UnsafeRawBufferPointer(rebasing: bytes[0..<n])) }
            remaining -= UInt64(n)
            return (n, remaining == 0)
        case .chunked:
            ranges.removeAll(keepingCapacity: true)
            let n = try chunks.consume(bytes, payload: &ranges)
            for r in ranges { payload(UnsafeRawBufferPointer(rebasing: bytes[r])) }
            return (n, chunks.isFinished)
        case .untilClose:
            if !bytes.isEmpty { payload(bytes) }
            return (bytes.count, false)
        }
    }

    /// The backend closed its side: whether that ends the body (close-delimited) rather than cutting it.
    var endsAtClose: Bool { head.framing == .untilClose }
}
