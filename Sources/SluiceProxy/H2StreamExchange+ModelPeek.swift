import SluiceCore
import SluiceHTTP2
import SluiceRouting

/// The request body an HTTP/2 stream holds while its model is looked for.
struct BodyPeek {
    /// Where the name is in the body.
    var source: ModelSource
    /// Bytes held in the stream's `peekStorage`.
    var held = 0
    /// The client ended the stream while the body was held.
    var ended = false
}

/// Finding the model an HTTP/2 request names before it is routed (routes with `match.model`).
///
/// DATA is held, not credited back to the client, until the name is found, is known to be missing,
/// or `limits.model_peek` bytes have come; then the route is chosen and the held bytes go through the
/// ordinary forwarding path unchanged (which credits them), followed by the rest of the stream.
/// The stream window (64 KiB) is larger than the biggest peek allowed (32 KiB), so a client can
/// always send enough for a decision.
extension H2StreamExchange {
    /// Storage for held DATA: one stream window.
    static let peekCapacity = 64 * 1024

    func startWithModel(snapshot: ProxySnapshot, endStream: Bool) {
        var source = ModelSource.none
        let method = UnsafeRawBufferPointer(rebasing: headers.bytes[headers.method])
        let lookup = ModelLookup.fromHead(snapshot.table, headers.view, method: method, source: &source)
        guard case .waiting = lookup else {
            route(snapshot: snapshot, endStream: endStream, model: lookup)
            return
        }
        if endStream {
            let none = UnsafeRawBufferPointer(start: nil, count: 0)
            route(snapshot: snapshot, endStream: true,
                  model: ModelLookup.fromBody(source, none, complete: true, limit: snapshot.limits.modelPeek))
            return
        }
        if peekStorage == nil { peekStorage = .allocate(byteCount: H2StreamExchange.peekCapacity, alignment: 1) }
        peek = BodyPeek(source: source)
    }

    /// DATA while the body is held.
    func peekData(_ bytes: UnsafeRawBufferPointer) {
        guard var p = peek, let storage = peekStorage else { return }
        let n = min(bytes.count, H2StreamExchange.peekCapacity - p.held)
        if n > 0 { storage.baseAddress!.advanced(by: p.held).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        p.held += n
        peek = p
        if n < bytes.count {
            // Beyond one stream window: the client ignored flow control.
            session.resetStream(id, errorCode: H2ErrorCode.flowControlError)
            peek = nil
            return
        }
        decideIfPossible()
    }

    /// END_STREAM while the body is held.
    func peekEnd() {
        peek?.ended = true
        decideIfPossible()
    }

    /// Routes once the held bytes settle the model, then forwards them.
    private func decideIfPossible() {
        guard let p = peek, let storage = peekStorage, let snapshot else { return }
        let limit = snapshot.limits.modelPeek
        let scanned = UnsafeRawBufferPointer(rebasing: storage[0..<min(p.held, limit)])
        let lookup = ModelLookup.fromBody(p.source, scanned, complete: p.ended && p.held <= limit, limit: limit)
        if case .waiting = lookup { return }
        peek = nil
        route(snapshot: snapshot, endStream: false, model: lookup)
        if p.held > 0 { requestData(UnsafeRawBufferPointer(rebasing: storage[0..<p.held])) }
        if p.ended { requestEnd() }
    }
}
