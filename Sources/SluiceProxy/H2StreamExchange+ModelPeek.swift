import SluiceCore
import SluiceHTTP2
import SluiceRouting

/// Where an HTTP/2 stream's model lookup stands while its body is held (in the stream's `peekBody`).
struct BodyPeek {
    /// Where the name is in the body.
    var source: ModelSource
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
    /// Most DATA held: one stream window (the client may not send more without credit).
    static let peekCapacity = 65_535

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
        peekBody.attach(worker.buffers)
        peek = BodyPeek(source: source)
        // No backend yet: until the route is chosen, the held body is bounded by body_idle_timeout
        // alone (restarted at each piece, as any upload; see `start`); `route` starts the exchange's own timer.
        armFirstDeadline()
    }

    /// DATA while the body is held.
    func peekData(_ bytes: UnsafeRawBufferPointer) {
        guard peek != nil else { return }
        if peekBody.count + bytes.count > H2StreamExchange.peekCapacity {
            // Beyond one stream window: the client ignored flow control.
            session.resetStream(id, errorCode: H2ErrorCode.flowControlError)
            endPeek(credit: true)
            return
        }
        peekBody.append(bytes)
        decideIfPossible()
    }

    /// Ends the peek and gives the held bytes' block back to the worker's pool. `credit`: the held
    /// bytes were not forwarded (the stream was answered or reset while they were held), so they
    /// are credited back to the client here (forwarded ones are credited as they go on).
    func endPeek(credit: Bool = false) {
        if credit && peekBody.count > 0 { session.consume(stream: id, peekBody.count) }
        peek = nil
        peekBody.clear()
        peekBody.detach(to: worker.buffers)
    }

    /// END_STREAM while the body is held.
    func peekEnd() {
        peek?.ended = true
        decideIfPossible()
    }

    /// Routes once the held bytes settle the model, then forwards them.
    private func decideIfPossible() {
        guard let p = peek, let snapshot else { return }
        let limit = snapshot.limits.modelPeek
        let held = peekBody.readable
        let scanned = UnsafeRawBufferPointer(rebasing: held[0..<min(held.count, limit)])
        let lookup = ModelLookup.fromBody(p.source, scanned, complete: p.ended && held.count <= limit, limit: limit)
        if case .waiting = lookup { return }
        peek = nil
        route(snapshot: snapshot, endStream: false, model: lookup)
        if held.count > 0 { requestData(held) }
        endPeek()
        if p.ended { requestEnd() }
    }
}
