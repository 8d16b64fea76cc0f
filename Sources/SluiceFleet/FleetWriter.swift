import Foundation

/// Commits fleet state changes: one transaction that compares the route state's mod revision with the
/// proposal's base and the generation counter's mod revision with the last one seen (and, for the leader,
/// the leader key's create revision with the one it won), and on success writes the generation + 1 and the
/// route state. When only the generation moved (another route changed) it retries with the new one.
/// Used by one thread at a time.
public final class FleetWriter {
    /// The store written.
    public let store: FleetStore
    /// The fleet's keys.
    public let keys: FleetKeys
    /// Last generation seen, and its key's mod revision.
    public private(set) var generation: (value: UInt64, revision: Int64) = (0, 0)

    /// Creates a writer.
    public init(store: FleetStore, keys: FleetKeys) {
        self.store = store
        self.keys = keys
    }

    /// Commits `proposal`; `fence` is the leader key's create revision for a leader write.
    public func commit(_ proposal: FleetProposal, fence: Int64?) -> FleetCommitResult {
        let routeKey = keys.route(proposal.record.route)
        for _ in 0..<8 {
            var record = proposal.record
            record.generation = generation.value + 1
            guard let data = try? JSONEncoder().encode(record) else { return .unavailable("cannot encode the route state") }
            var compares: [FleetCompare] = [.modRevision(routeKey, proposal.baseRevision), .modRevision(keys.generation, generation.revision)]
            if let fence { compares.append(.createRevision(keys.leader, fence)) }
            let result: FleetTxnResult
            do {
                result = try store.txn(compares,
                                       success: [.put(keys.generation, Array(String(record.generation).utf8), lease: nil),
                                                 .put(routeKey, [UInt8](data), lease: nil)],
                                       failure: [.get(keys.generation), .get(routeKey), .get(keys.leader)])
            } catch {
                return .unavailable(error.message)
            }
            if result.succeeded {
                generation = (record.generation, result.revision)
                return .committed(record, revision: result.revision)
            }
            guard result.reads.count == 3 else { return .unavailable("etcd answered a failed transaction without its reads") }
            if let g = result.reads[0].first {
                generation = (UInt64(String(decoding: g.value, as: UTF8.self)) ?? 0, g.modRevision)
            } else {
                generation = (0, 0)
            }
            if let fence, result.reads[2].first?.createRevision != fence { return .notLeader }
            let current = result.reads[1].first
            if (current?.modRevision ?? 0) != proposal.baseRevision {
                let decoded = current.flatMap { try? JSONDecoder().decode(FleetRouteState.self, from: Data($0.value)) }
                return .conflict(decoded, revision: current?.modRevision ?? 0)
            }
        }
        return .contended
    }

    /// Records a generation seen elsewhere (resync, watch).
    public func observeGeneration(_ value: UInt64, revision: Int64) {
        if revision > generation.revision { generation = (value, revision) }
    }
}
