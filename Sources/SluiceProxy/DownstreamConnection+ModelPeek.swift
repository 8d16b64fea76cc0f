import SluiceCore
import SluiceHTTP1
import SluiceRouting

/// Finding the model an HTTP/1.1 request names before it is routed (routes with `match.model`).
///
/// The body bytes already read stay in `input`, untouched: the peek reads them in place
/// (Content-Length) or decodes the chunk framing into the worker's `modelScratch` (chunked), and once the route
/// is chosen the body is forwarded from `input` exactly as if no one had looked.
extension DownstreamConnection {
    /// Where the model stands for the parsed `head` and the body bytes held; on `.waiting` the
    /// connection is in `.peek` and `beginExchange` runs again when more bytes arrive.
    /// Never inlined: kept out of `beginExchange`, whose routing is inlined only while it stays small.
    @inline(never)
    func lookUpModel(_ snapshot: ProxySnapshot) -> ModelLookup {
        let buffer = input.readable
        let view = RequestView(buffer: buffer, head: head)
        var source = ModelSource.none
        let method = UnsafeRawBufferPointer(rebasing: buffer[head.methodStart..<(head.methodStart + head.methodLength)])
        let first = ModelLookup.fromHead(snapshot.table, view, method: method, source: &source)
        guard case .waiting = first else { return first }
        let limit = snapshot.limits.modelPeek
        let bodyStart = head.headLength
        let held = buffer.count - bodyStart
        // A full input buffer cannot take more body: decide on what it holds.
        let full = input.count == input.capacity
        var result: ModelLookup
        switch head.framing {
        case .contentLength(let n):
            let available = min(held, Int(min(n, UInt64(limit))))
            let body = UnsafeRawBufferPointer(rebasing: buffer[bodyStart..<(bodyStart + available)])
            result = ModelLookup.fromBody(source, body, complete: UInt64(available) == n, limit: full ? available : limit)
        case .chunked:
            var decoder = ChunkedDecoder()
            payloadRanges.removeAll(keepingCapacity: true)
            let body = UnsafeRawBufferPointer(rebasing: buffer[bodyStart...])
            guard (try? decoder.consume(body, payload: &payloadRanges)) != nil else {
                return .failed(source == .jsonBody ? .notJSON : .notProtobuf)
            }
            let scratch = worker.modelScratch
            var copied = 0
            for r in payloadRanges where copied < limit {
                let n = min(r.count, limit - copied)
                scratch.baseAddress!.advanced(by: copied).copyMemory(from: body.baseAddress! + r.lowerBound, byteCount: n)
                copied += n
            }
            result = ModelLookup.fromBody(source, UnsafeRawBufferPointer(rebasing: scratch[0..<copied]),
                                          complete: decoder.isFinished, limit: full ? copied : limit)
        default:
            result = ModelLookup.fromBody(source, UnsafeRawBufferPointer(start: nil, count: 0), complete: true, limit: limit)
        }
        guard case .waiting = result else { return result }
        // Each piece of body restarts body_idle_timeout, as for any upload (HTTP/2 alike).
        deadline = worker.loop.now + snapshot.limits.bodyIdleTimeoutNanos
        if phase != .peek {
            exchange.reset()
            phase = .peek
            // A client that sent `Expect: 100-continue` waits for it before sending the body we need.
            if head.expectContinue {
                output.append("HTTP/1.1 100 Continue\r\n\r\n")
                continueSent = true
                flushOutput()
            }
        }
        return result
    }
}
