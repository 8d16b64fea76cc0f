import Glibc
import CSluiceLinux
import SluiceCore
import SluiceHTTP2
import SluiceRouting
import SluiceStats
import Synchronization

/// One worker thread: an event loop, its listeners, its downstream connections and its
/// upstream pools. Nothing here is touched by another thread except through
/// `loop.execute` and the atomics in `WorkerGauges`.
final class Worker {
    /// Worker number; the slot this worker writes in every stats object.
    let index: Int
    let loop = EventLoop()
    let publisher: SnapshotPublisher
    /// The snapshot this worker currently serves with; refreshed when the publisher's generation moves.
    private(set) var snapshot: ProxySnapshot
    /// This worker's slot of `snapshot.global` (which keeps its storage alive), so counting is a
    /// store through a pointer, not a walk from the snapshot that retained it, the counters and
    /// their blocks per increment. Taken again with every snapshot.
    private var counters: GlobalStatsSlot
    /// Per-endpoint idle upstream connections, indexed by the snapshot's global endpoint id.
    private(set) var pools: [UpstreamPool] = []
    private var poolsByKey: [UpstreamPoolKey: UpstreamPool] = [:]
    /// Round-robin cursor per backend.
    var roundRobin: [Int] = []
    /// Passive outlier ejection of this worker, aligned with `snapshot.endpoints` (see OutlierDetector.swift).
    var outliers = OutlierDetector(count: 0)
    /// The per-request random source (weighted draws, shadow sampling).
    var rng: SplitMix64
    private var requestCounter: UInt64 = 0
    /// The first 16 hex digits of every request id from this worker (random per process).
    private let requestPrefixHex: [UInt8]
    private var listeners: [Listener] = []
    /// Live downstream connections.
    private(set) var connections = 0
    /// Set when SIGTERM asked this worker to drain.
    private(set) var draining = false
    /// Shared with the control thread: how many connections are open (drain progress).
    let gauges: WorkerGauges
    /// The process-wide count of open client connections (`limits.max_connections`), shared by all workers.
    let budget: ConnectionBudget
    /// Read and write buffers of this worker's client connections, taken while bytes move and
    /// given back when a connection goes idle or closes. 64 KiB blocks (the most a request head
    /// may take); up to 256 (16 MiB) are kept for reuse.
    let buffers = BufferPool(blockSize: 64 * 1024, maxFree: 256)
    /// nghttp2's small blocks for every HTTP/2 session on this worker (see H2Allocator).
    let h2Allocator = H2Allocator()
    /// Decoded chunked body bytes peeked for a model name (`match.model`), used only within one
    /// `beginExchange` on this worker's thread, so one per worker serves every connection. Allocated on
    /// the first chunked peek (32 KiB, the largest `limits.model_peek`); never freed: a worker lives as
    /// long as its thread.
    lazy var modelScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 << 10, alignment: 1)
    /// Upstream TLS failure log pacing per endpoint: when one was last logged, how many since.
    var tlsFailureLog: [SocketAddress: (loggedAt: UInt64, suppressed: Int)] = [:]

    /// This worker's access-log ring and the sampling threshold (nil: no access log).
    let accessLog: AccessLogRing?
    let accessLogThreshold: UInt64

    init(index: Int, publisher: SnapshotPublisher, gauges: WorkerGauges, budget: ConnectionBudget, accessLog: AccessLog?) {
        self.index = index
        self.budget = budget
        self.accessLog = accessLog?.rings[index]
        accessLogThreshold = accessLog?.sampleThreshold ?? 0
        self.publisher = publisher
        self.gauges = gauges
        snapshot = publisher.load()
        counters = snapshot.global.slot(worker: index)
        var seed: UInt64 = 0
        _ = getrandom(&seed, 8, 0)
        seed ^= UInt64(index) &* 0x9E37_79B9_7F4A_7C15 ^ MonotonicClock.now()
        rng = SplitMix64(seed: seed)
        var prefix = [UInt8](repeating: 48, count: 16)
        let first = rng.next()
        prefix.withUnsafeMutableBufferPointer { Worker.writeHex16(first, to: $0.baseAddress!) }
        requestPrefixHex = prefix
        rebuildPools()
    }

    /// Adds listening sockets (already bound) to this loop.
    func addListener(fd: Int32, name: String) {
        let l = Listener(worker: self, name: name)
        listeners.append(l)
        loop.register(l, fd: fd, interest: EventLoop.readable)
    }

    /// Refreshes the snapshot if the control thread published a new one. One atomic load.
    @inline(__always)
    func refreshSnapshot() {
        if publisher.generation != snapshot.generation {
            snapshot = publisher.load()
            counters = snapshot.global.slot(worker: index)
            rebuildPools()
        }
    }

    /// Adds 1 to a process counter in this worker's slot (this worker's thread only).
    @inline(__always)
    func increment(_ counter: GlobalCounter) { counters.increment(counter) }

    /// Moves a process gauge in this worker's slot (this worker's thread only).
    @inline(__always)
    func adjust(_ gauge: GlobalGauge, by delta: Int) { counters.adjust(gauge, by: delta) }

    /// HTTP/2 upstream connections per endpoint (backends with `protocol: h2`), same indices as `pools`.
    private(set) var h2Pools: [H2UpstreamPool] = []
    private var h2PoolsByKey: [UpstreamPoolKey: H2UpstreamPool] = [:]

    /// Pools per endpoint, kept across reloads for the same address and TLS settings.
    private func rebuildPools() {
        let keys = snapshot.endpoints.indices.map {
            UpstreamPoolKey(address: snapshot.endpoints[$0], tls: snapshot.endpointTLS[$0]?.peer)
        }
        var freshH2: [UpstreamPoolKey: H2UpstreamPool] = [:]
        h2Pools = keys.enumerated().map { e, key in
            let pool = h2PoolsByKey[key] ?? H2UpstreamPool(address: key.address)
            pool.adopt(endpoint: e, configVersion: snapshot.configVersion, tls: snapshot.endpointTLS[e])
            freshH2[key] = pool
            return pool
        }
        for (key, pool) in h2PoolsByKey where freshH2[key] == nil { pool.retire() }
        h2PoolsByKey = freshH2
        outliers.remap(from: pools.map(\.address), to: snapshot.endpoints)
        var fresh: [UpstreamPoolKey: UpstreamPool] = [:]
        pools = keys.map { key in
            let pool = poolsByKey[key] ?? UpstreamPool(address: key.address)
            fresh[key] = pool
            return pool
        }
        for (key, pool) in poolsByKey where fresh[key] == nil {
            pool.closeAll(loop: loop, retire: true)
        }
        poolsByKey = fresh
        roundRobin = Array(repeating: 0, count: snapshot.backendEndpoints.count)
    }

    /// The next endpoint of `backend`, round-robin over healthy, non-ejected endpoints
    /// (`pickEndpoint`); plain round-robin when none is healthy.
    @inline(__always)
    func nextEndpoint(backend: Int) -> Int {
        if let e = pickEndpoint(backend: backend) { return e }
        let list = snapshot.backendEndpoints[backend]
        let i = roundRobin[backend]
        roundRobin[backend] = i + 1 == list.count ? 0 : i + 1
        return list[i]
    }

    /// A pooled keep-alive connection to the next endpoint of `backend`, or a new one
    /// (state `.closed` when the connect failed at once: the owner reports it; endpoint
    /// `Worker.noHealthyEndpoint` when every endpoint of the backend is unhealthy).
    func openUpstream(backend: Int, owner: ExchangeHandler) -> UpstreamConnection {
        guard let endpoint = pickEndpoint(backend: backend) else { return noHealthyUpstream(backend: backend, owner: owner) }
        let pool = pools[endpoint]
        if let c = pool.acquire() {
            c.state = .active
            c.owner = owner
            c.pool = nil
            c.reused = true
            c.deadline = 0
            increment(.upstreamConnectionsReused)
            return c
        }
        let timeouts = snapshot.table.backends[backend].timeouts
        let c = UpstreamConnection(endpoint: endpoint, home: pool, idleTimeout: timeouts.idleNanos)
        c.owner = owner
        c.loopOfOwnerless = loop
        if let tls = snapshot.endpointTLS[endpoint] {
            // The builder made an http/1.1 context for every TLS endpoint of an HTTP/1.1 backend.
            guard let context = tls.http1 else { c.state = .closed; return c }
            c.transport = TLSTransport(context: context, serverName: tls.peer.serverName, buffers: buffers)
            c.tlsPeer = tls.peer
            c.tlsWorker = self
        }
        guard let (fd, inProgress) = Sockets.connect(snapshot.endpoints[endpoint]) else {
            c.state = .closed
            return c
        }
        increment(.upstreamConnectionsOpened)
        loop.register(c, fd: fd, interest: EventLoop.readable | EventLoop.writable | EventLoop.readHangup | EventLoop.edgeTriggered)
        if inProgress || c.transport != nil {
            // With TLS the connection stays connecting until the first writable event starts
            // the handshake; connect and handshake together must fit in the connect timeout.
            c.deadline = loop.now + timeouts.connectNanos
        } else {
            c.state = .active
        }
        return c
    }

    /// Shadow copies in flight on this worker, by shadow stats object (stable across reloads).
    private var shadowsInFlight: [ObjectIdentifier: Int] = [:]
    private var shadowFreeList: [ShadowExchange] = []

    /// A shadow exchange for `route`, or nil when this worker's share of `max_in_flight`
    /// (max_in_flight / workers, at least 1) is used up — then the drop is counted.
    /// A shadow copy of `route`'s request, for either kind of client. None, counted as dropped, when
    /// the primary goes to an `h2` backend (not mirrored), when the declared body exceeds the
    /// shadow's cap, or when this worker's share of in-flight shadows is used.
    func startShadow(route: Int, declaredLength: UInt64?, primaryIsH2: Bool, now: UInt64) -> ShadowExchange? {
        guard let spec = snapshot.table.routes[route].shadow, let stats = snapshot.shadowStats[route] else { return nil }
        if primaryIsH2 {
            stats.recordDropped(worker: index, reason: .other)
            return nil
        }
        if let n = declaredLength, n > UInt64(spec.maxBodyBytes) {
            stats.recordDropped(worker: index, reason: .bodyTooLarge)
            return nil
        }
        let key = ObjectIdentifier(stats)
        let inFlight = shadowsInFlight[key, default: 0]
        let share = max(1, spec.maxInFlight / max(1, stats.workers))
        if inFlight >= share {
            stats.recordDropped(worker: index, reason: .inFlightLimit)
            return nil
        }
        shadowsInFlight[key] = inFlight + 1
        adjust(.inFlightShadowRequests, by: 1)
        let s = shadowFreeList.popLast() ?? ShadowExchange(worker: self)
        s.begin(spec: spec, stats: stats, snapshot: snapshot, now: now)
        return s
    }

    /// Returns a finished shadow exchange to the free list.
    func recycleShadow(_ s: ShadowExchange) {
        if let stats = s.statsForRecycle {
            let key = ObjectIdentifier(stats)
            shadowsInFlight[key, default: 1] -= 1
            adjust(.inFlightShadowRequests, by: -1)
        }
        if shadowFreeList.count < 256 { shadowFreeList.append(s) }
    }

    /// Writes a fresh 32-hex-digit request id into `out`.
    func generateRequestID(into out: inout [UInt8]) {
        requestCounter &+= 1
        let value = requestCounter &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index)
        let prefixCount = requestPrefixHex.count
        // Written in place when `out` already has the size (the HTTP/1.1 connection's id buffer);
        // otherwise the 16-digit prefix twice (array-to-array copies), the second copy then
        // overwritten. Appending digit by digit to a growing array cost ~500 instructions.
        if out.count != prefixCount &* 2 {
            out.removeAll(keepingCapacity: true)
            out.append(contentsOf: requestPrefixHex)
            out.append(contentsOf: requestPrefixHex)
            out.withUnsafeMutableBufferPointer { Worker.writeHex16(value, to: $0.baseAddress! + prefixCount) }
        } else {
            requestPrefixHex.withUnsafeBufferPointer { prefix in
                out.withUnsafeMutableBufferPointer { buf in
                    buf.baseAddress!.update(from: prefix.baseAddress!, count: prefixCount)
                    Worker.writeHex16(value, to: buf.baseAddress! + prefixCount)
                }
            }
        }
    }

    /// Writes `v` as 16 lowercase hex digits at `out` (eight at a time, see `hex8`).
    @inline(__always)
    static func writeHex16(_ v: UInt64, to out: UnsafeMutablePointer<UInt8>) {
        let raw = UnsafeMutableRawPointer(out)
        raw.storeBytes(of: hex8(UInt32(truncatingIfNeeded: v &>> 32)), as: UInt64.self)
        raw.storeBytes(of: hex8(UInt32(truncatingIfNeeded: v)), toByteOffset: 8, as: UInt64.self)
    }

    /// The eight lowercase hex digits of `h`, most significant first, as the bytes of a
    /// little-endian word: each nibble spread to its own byte, '0' added, and 'a' - '0' - 10 more
    /// where the nibble is above 9 (a byte loop took ~100 instructions per id).
    @inline(__always)
    static func hex8(_ h: UInt32) -> UInt64 {
        var y = UInt64(h)
        y = (y | (y &<< 16)) & 0x0000_FFFF_0000_FFFF
        y = (y | (y &<< 8)) & 0x00FF_00FF_00FF_00FF
        y = (y | (y &<< 4)) & 0x0F0F_0F0F_0F0F_0F0F
        let letters = ((y &+ 0x0606_0606_0606_0606) &>> 4) & 0x0101_0101_0101_0101
        return (y &+ 0x3030_3030_3030_3030 &+ letters &* 0x27).byteSwapped.littleEndian
    }

    /// Takes ownership of an accepted client socket, or closes it at once when the process
    /// already has `limits.max_connections` client connections open (counted, nothing sent).
    func adopt(client fd: Int32, peer: UnsafeRawPointer, listener: String) {
        if draining { SocketIO.close(fd); return }
        refreshSnapshot()
        guard budget.tryAcquire(limit: snapshot.limits.maxConnections ?? budget.defaultLimit) else {
            SocketIO.close(fd)
            increment(.connectionsRefusedOverLimit)
            return
        }
        SocketIO.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let conn = DownstreamConnection(worker: self, peer: peer, tls: snapshot.tlsContext(listener: listener))
        loop.register(conn, fd: fd, interest: EventLoop.readable | EventLoop.writable | EventLoop.readHangup | EventLoop.edgeTriggered)
        connections += 1
        gauges.connections.store(connections, ordering: .relaxed)
        adjust(.openClientConnections, by: 1)
        increment(.connectionsAccepted)
        conn.start()
    }

    /// Moves a connection that opened with the HTTP/2 preface to an HTTP/2 handler.
    func switchToHTTP2(_ h1: DownstreamConnection) {
        let h2 = H2DownstreamConnection(worker: self, peerIP: h1.peerIP, buffered: h1.input.readable, transport: h1.transport)
        h1.transport = nil
        h1.input.clear()
        h1.output.clear()
        h1.input.detach(to: buffers)
        h1.output.detach(to: buffers)
        h1.phase = .closed
        loop.transfer(from: h1, to: h2, interest: EventLoop.readable | EventLoop.writable | EventLoop.readHangup | EventLoop.edgeTriggered)
        increment(.h2Connections)
        h2.start()
    }

    /// Called by a downstream connection when it closes.
    func connectionClosed() {
        budget.release()
        connections -= 1
        gauges.connections.store(connections, ordering: .relaxed)
        adjust(.openClientConnections, by: -1)
        increment(.connectionsClosed)
        if draining && connections == 0 { loop.stop() }
    }

    func countAcceptFailure() {
        increment(.acceptFailures)
    }

    /// Stops accepting, closes idle keep-alive connections, lets in-flight exchanges finish.
    /// The loop stops when the last connection closes.
    func beginDrain() {
        draining = true
        for l in listeners { loop.close(l) }
        listeners.removeAll()
        var idle: [DownstreamConnection] = []
        var h2: [H2DownstreamConnection] = []
        loop.forEachHandler { h in
            if let c = h as? DownstreamConnection, c.isIdle { idle.append(c) }
            if let c = h as? H2DownstreamConnection { h2.append(c) }
        }
        for c in idle { c.close() }
        for c in h2 { c.beginDrain() }
        for pool in pools { pool.closeAll(loop: loop) }
        if connections == 0 { loop.stop() }
    }

    /// Runs the loop on the current thread until drained or stopped.
    func run() {
        loop.run()
        // The loop has stopped: close the pooled upstream connections. Each points back at its
        // pool, so without this a stopped worker (tests start and stop many in one process)
        // would keep them, their buffers and their sockets.
        for pool in pools { pool.closeAll(loop: loop) }
    }
}

/// Per-worker figures the control thread reads (drain progress).
public final class WorkerGauges: Sendable {
    /// Open downstream connections; written by the worker, read by the control thread.
    let connections = Atomic<Int>(0)
    init() {}
}
