import Foundation

/// Commits fleet state changes: one transaction that compares the route state's mod revision with the
/// proposal's base and the generation counter's mod revision with the last one seen (and, for the leader,
/// the leader key's create revision with the one it won), and on success writes the generation + 1 and the
/// route state. When only the generation moved (another route changed) it retries with the new one.
/// Used by one thread at a time; writers on different threads may share one ``FleetGeneration``.
public final class FleetWriter {
    /// The store written.
    public let store: FleetStore
    /// The fleet's keys.
    public let keys: FleetKeys
    /// The generation the next commit expects (shared with the agent's other writer).
    public let generation: FleetGeneration

    /// Creates a writer expecting `generation` (a fresh one by default).
    public init(store: FleetStore, keys: FleetKeys, generation: FleetGeneration = FleetGeneration()) {
        self.store = store
        self.keys = keys
        self.generation = generation
    }

    /// Commits `proposal`; `fence` is the leader key's create revision for a leader write.
    public func commit(_ proposal: FleetProposal, fence: Int64?) -> FleetCommitResult {
        let routeKey = keys.route(proposal.record.route)
        for _ in 0..<8 {
            let expected = generation.current
            var record = proposal.record
            record.generation = expected.value + 1
            guard let data = try? JSONEncoder().encode(record) else { return .unavailable("cannot encode the route state") }
            var compares: [FleetCompare] = [.modRevision(routeKey, proposal.baseRevision), .modRevision(keys.generation, expected.revision)]
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
                generation.observe(record.generation, revision: result.revision)
                return .committed(record, revision: result.revision)
            }
            guard result.reads.count == 3 else { return .unavailable("etcd answered a failed transaction without its reads") }
            if let g = result.reads[0].first {
                generation.replace(UInt64(String(decoding: g.value, as: UTF8.self)) ?? 0, revision: g.modRevision)
            } else {
                generation.replace(0, revision: 0)
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
}
