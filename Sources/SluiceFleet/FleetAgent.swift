import Foundation
import Logging
import SluiceCore
import SluiceRouting
import SluiceSupport
import Synchronization

private let fleetLogger = Logger(label: "sluice.fleet")

/// The fleet thread: keeps this replica's lease, campaigns for leadership, publishes its windows, and as
/// leader merges every live replica's windows and writes verdicts and steps (fenced). A second thread
/// watches the fleet state and applies changes to the local control plane as they arrive.
/// Neither ever runs on a data-plane worker thread.
///
/// `@unchecked Sendable`: the stored `var`s below the `shared` mutex are touched only by the agent thread
/// (``runLoop()``); `shared`, `stopped` and the committer's mutex are what other threads use.
public final class FleetAgent: @unchecked Sendable {
    /// What the watch thread and the agent thread share.
    struct Shared {
        /// Leader key changes seen by the watch, oldest first: (instance or nil when deleted, create revision).
        var leaderChanges: [(String?, Int64)] = []
        /// Set when the watch stream ended: the agent resyncs and starts a new one.
        var watchBroken = true
        /// Bumped for every watch started; a watch thread whose epoch is stale stops.
        var watchEpoch = 0
    }

    /// The fleet section.
    public let spec: FleetSpecValues
    /// This replica's instance name.
    public let instance: String
    /// The status shown by the admin API.
    public let status: FleetStatus
    /// The operator-action committer (admin threads).
    public let committer: FleetOperatorCommitter
    /// The generation both writers expect, kept current by the resync, the watch and every commit.
    let generation = FleetGeneration()
    let keys: FleetKeys
    let plane: FleetLocalPlane
    let shared = Mutex(Shared())
    let stopped = Atomic<Bool>(false)
    let done = Atomic<Bool>(false)
    /// Set once the fleet state was first read and applied.
    let synced = Atomic<Bool>(false)

    // Agent-thread state.
    private var member: FleetMember
    private let store: EtcdStore
    private let writer: FleetWriter
    private var windows = FleetWindowStore(horizonSeconds: 3600)
    private var nextPublishAt: UInt64 = 0
    private var nextLeaderTickAt: UInt64 = 0
    private var syncedConfigVersion = -1
    private var wasLeader = false
    private var lastMode: FleetMode?

    /// Creates an agent for `plane`; nothing runs until ``start()``.
    public init(spec: FleetSpecValues, instance: String, plane: FleetLocalPlane) {
        self.spec = spec
        self.instance = instance
        self.plane = plane
        keys = FleetKeys(fleet: spec.name)
        status = FleetStatus(name: spec.name, instance: instance)
        member = FleetMember(instance: instance, ttlNanos: spec.leaseTTLNanos)
        store = EtcdStore(endpoints: spec.endpoints, timeoutSeconds: 1)
        writer = FleetWriter(store: store, keys: keys, generation: generation)
        committer = FleetOperatorCommitter(writer: FleetWriter(store: EtcdStore(endpoints: spec.endpoints, timeoutSeconds: 1), keys: keys,
                                                               generation: generation),
                                           status: status)
    }

    /// Starts the agent thread.
    public func start() {
        plane.fleetSetMode(.disconnected)
        DetachedThread.spawn(fleetAgentMain, context: self)
    }

    /// Waits until the fleet state was first read and applied, at most `seconds`; false on timeout (etcd
    /// unreachable: the replica then serves its configured state, and follows the fleet once etcd answers).
    @discardableResult
    public func waitForFirstSync(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !synced.load(ordering: .relaxed) && Date() < deadline { usleep(5_000) }
        return synced.load(ordering: .relaxed)
    }

    /// Stops both threads and revokes the lease (the replica leaves the fleet at once); waits up to 2 s.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(2)
        while !done.load(ordering: .relaxed) && Date() < deadline { usleep(10_000) }
    }

    // MARK: - Agent loop

    func runLoop() {
        fleetLogger.info("fleet agent started", metadata: ["fleet": "\(spec.name)", "instance": "\(instance)",
                                                          "etcd": "\(spec.endpoints.map { "\($0.host):\($0.port)" }.joined(separator: ","))"])
        while !stopped.load(ordering: .relaxed) {
            step(now: MonotonicClock.now())
            usleep(50_000)
        }
        if let lease = member.lease { try? store.revoke(lease) }
        done.store(true, ordering: .relaxed)
    }

    private func step(now: UInt64) {
        switch member.next(now: now) {
        case .wait: break
        case .grantLease(let ttl):
            do {
                let id = try store.grantLease(ttlSeconds: ttl)
                member.leaseGranted(id, requestedAt: now)
                fleetLogger.info("fleet lease granted", metadata: ["lease": "\(id)", "ttl": "\(ttl)s"])
            } catch { failed(error, now: now) }
        case .renewLease(let id):
            do {
                if try store.keepAlive(id) { member.leaseRenewed(requestedAt: now) } else {
                    fleetLogger.warning("fleet lease expired; joining again", metadata: ["lease": "\(id)"])
                    member.leaseLost()
                }
            } catch { failed(error, now: now) }
        case .campaign(let lease):
            campaign(lease: lease, now: now)
        }
        guard member.isConnected else { setMode(.disconnected); publishStatus(); return }
        // Local rollbacks decided while disconnected go first: a rollback is never undone.
        for p in plane.fleetPendingRollbacks(instance: instance) {
            switch writer.commit(p, fence: nil) {
            case .committed(let record, let revision):
                fleetLogger.warning("local rollback written to the fleet", metadata: ["route": "\(record.route)", "generation": "\(record.generation)"])
                plane.fleetCommitted(record, revision: revision)
            case .conflict(let record, let revision):
                if let record { plane.fleetAdopt(record, revision: revision) }
            case .notLeader: break
            case .contended: return       // etcd answers; the next tick writes it
            case .unavailable(let why): failed(FleetStoreError(why), now: now); return
            }
        }
        let resync = shared.withLock { $0.watchBroken } || plane.fleetConfigVersion != syncedConfigVersion
        if resync && !self.resync(now: now) { return }
        drainWatch(now: now)
        setMode(.connected)
        if now >= nextPublishAt {
            nextPublishAt = now + spec.publishEveryNanos
            publish(now: now)
        }
        let leading = member.isLeader(now: now)
        if leading != wasLeader {
            wasLeader = leading
            fleetLogger.info(leading ? "this replica leads the fleet" : "this replica no longer leads the fleet",
                             metadata: ["instance": "\(instance)", "leader": "\(member.leaderName ?? "none")"])
        }
        if leading && now >= nextLeaderTickAt {
            nextLeaderTickAt = now + 200_000_000
            leaderTick(now: now)
        }
        publishStatus()
    }

    private func failed(_ error: FleetStoreError, now: UInt64) {
        if member.isConnected {
            fleetLogger.error("etcd unreachable: keeping the last applied state, no steps, local rollback rules act",
                              metadata: ["error": "\(error.message)"])
        }
        member.callFailed(now: now)
        shared.withLock { $0.watchBroken = true; $0.watchEpoch += 1 }
        status.update { $0.lastError = error.message }
        setMode(.disconnected)
    }

    private func setMode(_ mode: FleetMode) {
        guard mode != lastMode else { return }
        lastMode = mode
        plane.fleetSetMode(mode)
        if mode == .connected { fleetLogger.info("connected to the fleet", metadata: ["etcd": "\(store.endpointDescription)"]) }
    }

    private func campaign(lease: Int64, now: UInt64) {
        do {
            let r = try store.txn([.createRevision(keys.leader, 0)],
                                  success: [.put(keys.leader, Array(instance.utf8), lease: lease), .get(keys.leader)],
                                  failure: [.get(keys.leader)])
            member.callSucceeded()
            let kv = r.reads.last?.first
            let name = kv.map { String(decoding: $0.value, as: UTF8.self) }
            let was = member.leaderName
            member.campaignResult(leader: name, createRevision: kv?.createRevision, leaderLease: kv?.lease, now: now)
            if name != was { fleetLogger.info("fleet leader", metadata: ["leader": "\(name ?? "none")"]) }
        } catch { failed(error, now: now) }
    }

    /// Reads every state key, applies it, and starts a watch from the revision read. False on failure.
    private func resync(now: UInt64) -> Bool {
        let version = plane.fleetConfigVersion
        do {
            let (kvs, revision) = try store.get(keys.state, prefix: true, keysOnly: false)
            member.callSucceeded()
            var leaderSeen = false
            for kv in kvs { apply(kv, deleted: false, fromResync: true); if kv.key == keys.leader { leaderSeen = true } }
            if !leaderSeen { member.leaderKeyChanged(leader: nil, createRevision: nil) }
            syncedConfigVersion = version
            synced.store(true, ordering: .relaxed)
            let epoch = shared.withLock { s -> Int in
                s.watchBroken = false
                s.watchEpoch += 1
                s.leaderChanges = []
                return s.watchEpoch
            }
            let watch = FleetWatchThread(agent: self, epoch: epoch, from: revision + 1)
            DetachedThread.spawn(fleetWatchMain, context: watch)
            return true
        } catch {
            failed(error, now: now)
            return false
        }
    }

    /// Applies one state key (from a resync or the watch).
    func apply(_ kv: FleetKeyValue, deleted: Bool, fromResync: Bool) {
        if kv.key == keys.leader {
            let name = deleted ? nil : String(decoding: kv.value, as: UTF8.self)
            if fromResync { member.leaderKeyChanged(leader: name, createRevision: kv.createRevision) } else {
                shared.withLock { $0.leaderChanges.append((name, kv.createRevision)) }
            }
        } else if kv.key == keys.generation, !deleted {
            let g = UInt64(String(decoding: kv.value, as: UTF8.self)) ?? 0
            status.observeGeneration(g)
            generation.observe(g, revision: kv.modRevision)
        } else if kv.key.hasPrefix(keys.routes), !deleted {
            guard let record = try? JSONDecoder().decode(FleetRouteState.self, from: Data(kv.value)) else {
                fleetLogger.warning("ignoring an unreadable fleet route state", metadata: ["key": "\(kv.key)"])
                return
            }
            plane.fleetAdopt(record, revision: kv.modRevision)
        }
    }

    private func drainWatch(now: UInt64) {
        let changes = shared.withLock { s -> [(String?, Int64)] in
            defer { s.leaderChanges = [] }
            return s.leaderChanges
        }
        for (name, rev) in changes {
            let was = member.leaderName
            member.leaderKeyChanged(leader: name, createRevision: rev)
            if name != was { fleetLogger.info("fleet leader", metadata: ["leader": "\(name ?? "none (campaigning)")"]) }
        }
    }

    private func publish(now: UInt64) {
        guard let lease = member.lease else { return }
        let count = Int((spec.publishEveryNanos + 999_999_999) / 1_000_000_000) + 2
        var definitions: [String: String] = [:]
        var longest = 0
        for r in plane.fleetRoutes() where r.hasRollback {
            definitions[r.name] = r.definition
            longest = max(longest, r.windowSeconds)
        }
        // The leader keeps each replica's seconds for the longest window, plus slack for late publications.
        windows.horizonSeconds = UInt64(longest) + UInt64(count) + 5
        let publication = FleetWindowPublication(instance: instance, publishedAt: Date().timeIntervalSince1970,
                                                 seconds: plane.fleetLocalSeconds(count: count), definitions: definitions)
        do {
            let data = try JSONEncoder().encode(publication)
            _ = try store.txn([], success: [.put(keys.windows(instance), [UInt8](data), lease: lease)], failure: [])
            let leading = member.isLeader(now: now)
            let (kvs, _) = try store.get(keys.windows, prefix: true, keysOnly: !leading)
            member.callSucceeded()
            var live = Set<String>()
            for kv in kvs {
                let name = String(kv.key.dropFirst(keys.windows.count))
                live.insert(name)
                if leading, let p = try? JSONDecoder().decode(FleetWindowPublication.self, from: Data(kv.value)) { windows.ingest(p) }
            }
            windows.retain(live: leading ? live : [])
            status.update { $0.members = live.sorted() }
            // The merged windows: the leader publishes its own, the others read them for /stats.
            if leading {
                let merged = try JSONEncoder().encode(plane.fleetMergedWindows())
                _ = try store.txn([], success: [.put(keys.merged, [UInt8](merged), lease: lease)], failure: [])
            } else {
                let (m, _) = try store.get(keys.merged, prefix: false, keysOnly: false)
                let decoded = m.first.flatMap { try? JSONDecoder().decode([FleetMergedWindow].self, from: Data($0.value)) }
                plane.fleetSetMergedWindows(decoded ?? [])
            }
        } catch let e as FleetStoreError {
            failed(e, now: now)
        } catch {
            fleetLogger.error("cannot encode windows", metadata: ["error": "\(error)"])
        }
    }

    private func leaderTick(now: UInt64) {
        guard let fence = member.leaderCreateRevision else { return }
        let store = windows
        let proposals = plane.fleetLeaderTick(instance: instance) { route, definition, targets, range in
            store.figures(route: route, definition: definition, targets: targets,
                          endSecond: FleetClock.wall(monoSecond: range.endSecond), seconds: range.seconds)
        }
        for p in proposals {
            switch writer.commit(p, fence: fence) {
            case .committed(let record, let revision):
                fleetLogger.info("fleet state changed", metadata: ["route": "\(record.route)", "generation": "\(record.generation)",
                                                                   "state": "\(record.state)", "by": "\(instance)", "cause": "\(record.cause)"])
                plane.fleetCommitted(record, revision: revision)
            case .conflict(let record, let revision):
                if let record { plane.fleetAdopt(record, revision: revision) }
            case .notLeader:
                fleetLogger.warning("fenced: this replica is no longer the leader; its write was refused", metadata: ["route": "\(p.record.route)"])
                member.leaderKeyChanged(leader: nil, createRevision: nil)
                return
            case .contended:
                return                    // etcd answers; the next tick proposes again
            case .unavailable(let why):
                failed(FleetStoreError(why), now: now)
                return
            }
        }
    }

    private func publishStatus() {
        let leading = member.isLeader(now: MonotonicClock.now())
        let writes = store.writes + committer.writes
        let reads = store.reads
        let connected = member.isConnected
        let leader = member.leaderName
        status.update {
            $0.connected = connected
            $0.isLeader = leading
            $0.leader = leader
            $0.etcdWrites = writes
            $0.etcdReads = reads
            if connected { $0.lastError = nil }
            if !connected { $0.isLeader = false }
        }
    }
}

/// The fleet settings the agent needs (a copy of the config's `fleet` section).
public struct FleetSpecValues: Sendable {
    /// Fleet name.
    public var name: String
    /// etcd endpoints.
    public var endpoints: [(host: String, port: UInt16)]
    /// Lease TTL, nanoseconds.
    public var leaseTTLNanos: UInt64
    /// Publication period, nanoseconds.
    public var publishEveryNanos: UInt64

    /// Creates the values.
    public init(name: String, endpoints: [(host: String, port: UInt16)], leaseTTLNanos: UInt64, publishEveryNanos: UInt64) {
        self.name = name
        self.endpoints = endpoints
        self.leaseTTLNanos = leaseTTLNanos
        self.publishEveryNanos = publishEveryNanos
    }
}

/// Commits operator actions from the admin threads, one at a time, over a connection of its own.
///
/// `@unchecked Sendable`: `writer` (not thread-safe) is only used under `lock`.
public final class FleetOperatorCommitter: FleetCommitter, @unchecked Sendable {
    private let lock = Mutex(())
    private let writer: FleetWriter
    private let status: FleetStatus
    private let writeCount = Atomic<UInt64>(0)

    init(writer: FleetWriter, status: FleetStatus) {
        self.writer = writer
        self.status = status
    }

    /// etcd writes made for operator actions.
    public var writes: UInt64 { writeCount.load(ordering: .relaxed) }

    public func commit(_ proposal: FleetProposal) -> FleetCommitResult {
        lock.withLock { _ in
            let before = (writer.store as? EtcdStore)?.writes ?? 0
            let r = writer.commit(proposal, fence: nil)
            writeCount.add(((writer.store as? EtcdStore)?.writes ?? 0) - before, ordering: .relaxed)
            if case .committed(let record, _) = r { status.observeGeneration(record.generation) }
            return r
        }
    }
}

/// One watch stream, on a thread of its own.
final class FleetWatchThread: @unchecked Sendable {
    // Immutable after init; the agent's shared state is behind its mutex.
    let agent: FleetAgent
    let epoch: Int
    let from: Int64

    init(agent: FleetAgent, epoch: Int, from: Int64) {
        self.agent = agent
        self.epoch = epoch
        self.from = from
    }

    func run() {
        let store = EtcdStore(endpoints: agent.spec.endpoints, timeoutSeconds: 1)
        let current = { [agent, epoch] in !agent.stopped.load(ordering: .relaxed) && agent.shared.withLock { $0.watchEpoch } == epoch }
        do {
            try store.watch(prefix: agent.keys.state, from: from, onEvents: { events, _ in
                guard current() else { return false }
                for e in events { agent.apply(e.kv, deleted: e.deleted, fromResync: false) }
                return true
            }, keepGoing: current)
        } catch {
            fleetLogger.warning("fleet watch ended", metadata: ["error": "\(error.message)"])
        }
        agent.shared.withLock { if $0.watchEpoch == epoch { $0.watchBroken = true } }
    }
}

private func fleetAgentMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let agent = Unmanaged<FleetAgent>.fromOpaque(arg!).takeRetainedValue()
    agent.runLoop()
    return nil
}

private func fleetWatchMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let watch = Unmanaged<FleetWatchThread>.fromOpaque(arg!).takeRetainedValue()
    watch.run()
    return nil
}
