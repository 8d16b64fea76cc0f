import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

/// A fire-and-forget copy of one request sent to a route's shadow backend. The body is
/// buffered (up to `max_body_bytes`) while the primary streams, sent once complete, and the
/// shadow's response is read, measured, optionally compared with the primary's, and dropped.
/// Nothing here can delay or fail the caller: it only ever runs after the primary's bytes moved.
/// Objects are recycled through the worker's free list.
final class ShadowExchange: ExchangeHandler {
    enum Phase { case collecting, sending, responded, idle }

    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    var phase = Phase.idle
    /// Held by the downstream exchange that feeds it (until the primary response finished).
    var primaryAttached = false
    /// Keeps this object alive while it is in use: upstream connections refer to their
    /// owner unowned, and the downstream may let go first. Cleared when recycled.
    private var keepAlive: ShadowExchange?
    var stats: ShadowStats?
    /// The stats object whose in-flight slot this exchange held, read by the worker while recycling.
    var statsForRecycle: ShadowStats?
    var backend = 0
    var maxBody = 0
    var requestTimeout: UInt64 = 0
    var compare: JSONPointer?
    var tolerance = 0.0
    /// `shadow.compare` fields (list form); compared once both answers are in.
    var fields: [CompareField] = []
    /// Some comparison is pending: both answers' bodies are kept.
    var comparing: Bool { compare != nil || !fields.isEmpty }
    var startedAt: UInt64 = 0
    /// Request head without framing, then body.
    var head = ByteQueue(capacity: 2048)
    var body: [UInt8] = []
    var primaryBody: [UInt8] = []
    var primaryStatus = 0
    var primaryComplete = false
    var shadowBody: [UInt8] = []
    var shadowStatus = 0
    var upstream: UpstreamConnection?
    /// Reads the shadow backend's response (the same reader as every primary with an HTTP/1.1 backend).
    var reader = UpstreamResponseReader()
    var headParsed = false

    init(worker: Worker) {
        self.worker = worker
    }

    deinit { head.deallocate() }

    /// Prepares a recycled object for a new request.
    func begin(spec: ShadowSpec, stats: ShadowStats, snapshot: ProxySnapshot, now: UInt64) {
        phase = .collecting
        primaryAttached = true
        keepAlive = self
        self.stats = stats
        backend = spec.backend
        maxBody = spec.maxBodyBytes
        requestTimeout = snapshot.table.backends[spec.backend].timeouts.requestNanos
        if let c = spec.compare, let p = JSONPointer(c.jsonPointer) {
            compare = p
            tolerance = c.tolerance
        } else {
            compare = nil
        }
        fields = spec.fields
        startedAt = now
        head.clear()
        body.removeAll(keepingCapacity: true)
        primaryBody.removeAll(keepingCapacity: true)
        shadowBody.removeAll(keepingCapacity: true)
        primaryStatus = 0
        primaryComplete = false
        shadowStatus = 0
        headParsed = false
        reader.reset()
    }

    /// Adds request body bytes; false when the copy would exceed `max_body_bytes` (then call `abandon`).
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.count + bytes.count > maxBody { return false }
        body.append(contentsOf: bytes)
        return true
    }

    /// Adds primary response body bytes for the comparison (ignored beyond the cap).
    func appendPrimary(_ bytes: UnsafeRawBufferPointer) {
        if comparing, primaryBody.count + bytes.count <= maxBody { primaryBody.append(contentsOf: bytes) }
    }

    /// The request body is complete: send the copy.
    func send() {
        guard phase == .collecting else { return }
        phase = .sending
        stats?.recordMirrored(worker: worker.index)
        let up = worker.openUpstream(backend: backend, owner: self)
        upstream = up
        up.output.append(head.readable)
        up.output.append("x-sluice-shadow: 1\r\ncontent-length: ")
        up.output.appendDecimal(UInt64(body.count))
        up.output.append("\r\n\r\n")
        up.output.append(body)
        switch up.state {
        case .closed: fail()
        case .active:
            up.deadline = worker.loop.now + requestTimeout
            up.flush()
        default: break
        }
    }

    /// The copy will not be sent (body too large, primary failed before the body completed).
    func abandon(_ reason: ShadowDropReason) {
        if phase == .collecting { stats?.recordDropped(worker: worker.index, reason: reason) }
        phase = .responded
        primaryAttached = false
        recycleIfDone()
    }

    /// The primary exchange finished (status 0: it failed; no comparison then).
    func primaryFinished(status: Int) {
        primaryStatus = status
        primaryComplete = status != 0
        primaryAttached = false
        if phase == .collecting { abandon(.cancelled); return }
        compareIfReady()
        recycleIfDone()
    }

    override func upstreamConnected() {
        upstream?.deadline = worker.loop.now + requestTimeout
        upstream?.flush()
    }

    override func upstreamReadable() {
        guard let up = upstream else { return }
        if !headParsed {
            switch reader.readHead(&up.input, isHEAD: false) {
            case .incomplete: return
            case .invalid:
                fail()
                return
            case .head: break
            }
            headParsed = true
            shadowStatus = reader.head.status
            reader.consumeHead(&up.input)
        }
        let read: (taken: Int, done: Bool)
        do {
            read = try reader.readBody(up.input.readable) { keepShadowBody($0) }
        } catch {
            fail()
            return
        }
        up.input.consume(read.taken)
        if read.done { complete() }
    }

    private func keepShadowBody(_ bytes: UnsafeRawBufferPointer) {
        if comparing, shadowBody.count + bytes.count <= maxBody { shadowBody.append(contentsOf: bytes) }
    }

    override func upstreamEOF() {
        if headParsed, reader.endsAtClose {
            complete()
        } else {
            fail()
        }
    }

    override func upstreamFailed(_ failure: UpstreamFailure) {
        fail()
    }

    override func upstreamTimedOut() {
        fail()
    }

    /// The shadow's response is complete.
    private func complete() {
        guard phase == .sending, let up = upstream else { return }
        upstream = nil
        let now = worker.loop.now
        stats?.recordResult(worker: worker.index, nowSecond: now / 1_000_000_000, status: shadowStatus,
                            isError: shadowStatus >= 500, latencyMicros: (now &- startedAt) / 1000)
        if reader.head.keepAlive, up.input.isEmpty, !reader.endsAtClose {
            up.home.release(up, now: now, loop: worker.loop)
        } else {
            up.closeNow(loop: worker.loop)
        }
        phase = .responded
        compareIfReady()
        recycleIfDone()
    }

    /// The shadow exchange failed: counted as a shadow error, never seen by the caller.
    /// Counted as a shadow error (in `errors`, not as a drop: the copy was sent).
    private func fail() {
        guard phase == .sending else { return }
        if let up = upstream {
            upstream = nil
            up.closeNow(loop: worker.loop)
        }
        let now = worker.loop.now
        stats?.recordResult(worker: worker.index, nowSecond: now / 1_000_000_000, status: 0, isError: true,
                            latencyMicros: (now &- startedAt) / 1000)
        phase = .responded
        shadowStatus = 0
        recycleIfDone()
    }

    private func compareIfReady() {
        // Only two successful answers are compared; an error is already counted as one.
        guard comparing, phase == .responded, !primaryAttached, primaryComplete,
              (200..<300).contains(primaryStatus), (200..<300).contains(shadowStatus) else { return }
        if let pointer = compare {
            let agreed = primaryBody.withUnsafeBytes { a in shadowBody.withUnsafeBytes { b in pointer.agree(a, b, tolerance: tolerance) } }
            stats?.recordComparison(worker: worker.index, agreed: agreed)
            compare = nil
        }
        if !fields.isEmpty, let stats, stats.fields.count == fields.count {
            let w = worker.index
            var all = true
            primaryBody.withUnsafeBytes { a in
                shadowBody.withUnsafeBytes { b in
                    for (i, field) in fields.enumerated() {
                        let figures = stats.fields[i]
                        switch field.compare(a, b) {
                        case .missing:
                            figures.recordMissing(worker: w)
                            all = false
                        case .label(let p, let s, let agreed):
                            figures.recordLabel(worker: w, primary: p, shadow: s, agreed: agreed)
                            all = all && agreed
                        case .number(let difference, let agreed):
                            figures.recordNumber(worker: w, difference: difference, agreed: agreed)
                            all = all && agreed
                        case .array(let positions, let agreeing, let overlap, let agreed):
                            figures.recordArray(worker: w, positions: positions, agreeing: agreeing, overlap: overlap, agreed: agreed)
                            all = all && agreed
                        }
                    }
                }
            }
            // The list form also feeds the route's overall figures: agreed when every field agreed.
            stats.recordComparison(worker: w, agreed: all)
            fields = []
        }
    }

    private func recycleIfDone() {
        guard phase == .responded, !primaryAttached else { return }
        phase = .idle
        statsForRecycle = stats
        stats = nil
        worker.recycleShadow(self)
        statsForRecycle = nil
        keepAlive = nil
    }
}
