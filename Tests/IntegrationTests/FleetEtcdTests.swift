import Foundation
import Glibc
import SluiceConfig
import SluiceFleet
import SluiceProxy
import Synchronization
import Testing

/// The fleet's store client, leases, election and fencing against a real etcd.
@Suite(.serialized)
struct FleetEtcdTests {
    func store(_ etcd: EtcdProcess) -> EtcdStore { EtcdStore(endpoints: [("127.0.0.1", etcd.clientPort)], timeoutSeconds: 2) }

    func record(_ route: String, weights: [Int], by: String = "t") -> FleetRouteState {
        FleetRouteState(route: route, definition: "d", generation: 0, targets: ["a", "b"], weights: weights, state: "steady",
                        reason: nil, step: nil, stepStarted: 0, by: by, event: "weight_change", cause: "test")
    }

    @Test func compareAndSwapRaisesTheGenerationAndRefusesAStaleBase() throws {
        let etcd = try EtcdProcess()
        let keys = FleetKeys(fleet: "cas")
        let w1 = FleetWriter(store: store(etcd), keys: keys)
        let w2 = FleetWriter(store: store(etcd), keys: keys)
        guard case .committed(let first, let rev1) = w1.commit(FleetProposal(baseRevision: 0, record: record("r", weights: [9000, 1000]), fenced: false), fence: nil) else {
            Issue.record("first commit failed"); return
        }
        #expect(first.generation == 1)
        // A second writer that never saw the generation still commits (it retries with the one it reads).
        guard case .committed(let second, let rev2) = w2.commit(FleetProposal(baseRevision: rev1, record: record("r", weights: [5000, 5000]), fenced: false), fence: nil) else {
            Issue.record("second commit failed"); return
        }
        #expect(second.generation == 2)
        // Another route moves the generation but does not conflict.
        guard case .committed(let other, _) = w1.commit(FleetProposal(baseRevision: 0, record: record("s", weights: [10000, 0]), fenced: false), fence: nil) else {
            Issue.record("other route failed"); return
        }
        #expect(other.generation == 3)
        // A proposal computed from the first state conflicts and returns the current one.
        let stale = w1.commit(FleetProposal(baseRevision: rev1, record: record("r", weights: [0, 10000]), fenced: false), fence: nil)
        guard case .conflict(let current, let revision) = stale else { Issue.record("expected a conflict, got \(stale)"); return }
        #expect(revision == rev2)
        #expect(current?.weights == [5000, 5000])
        let (kvs, _) = try store(etcd).get(keys.generation, prefix: false, keysOnly: false)
        #expect(kvs.first.map { String(decoding: $0.value, as: UTF8.self) } == "3")
    }

    @Test func oneLeaderAndADeposedLeaderCannotWrite() throws {
        let etcd = try EtcdProcess()
        let keys = FleetKeys(fleet: "elect")
        let s = [store(etcd), store(etcd), store(etcd)]
        var leases: [Int64] = []
        var winners: [(String, Int64)] = []
        for (i, st) in s.enumerated() {
            let lease = try st.grantLease(ttlSeconds: 3)
            leases.append(lease)
            let r = try st.txn([.createRevision(keys.leader, 0)], success: [.put(keys.leader, Array("m\(i)".utf8), lease: lease), .get(keys.leader)],
                               failure: [.get(keys.leader)])
            let kv = try #require(r.reads.last?.first)
            winners.append((String(decoding: kv.value, as: UTF8.self), kv.createRevision))
            #expect(r.succeeded == (i == 0))
        }
        #expect(Set(winners.map(\.0)) == ["m0"])
        let fence = winners[0].1
        let leader = FleetWriter(store: s[0], keys: keys)
        guard case .committed = leader.commit(FleetProposal(baseRevision: 0, record: record("r", weights: [9000, 1000], by: "m0"), fenced: true), fence: fence) else {
            Issue.record("the leader could not write"); return
        }
        // The leader's lease goes (as when it is killed and its TTL runs out): m1 takes over.
        try s[0].revoke(leases[0])
        let r = try s[1].txn([.createRevision(keys.leader, 0)], success: [.put(keys.leader, Array("m1".utf8), lease: leases[1]), .get(keys.leader)],
                             failure: [.get(keys.leader)])
        #expect(r.succeeded)
        // m0 does not know yet and writes with its old fencing token: refused.
        let (kvs, _) = try s[0].get(keys.route("r"), prefix: false, keysOnly: true)
        let result = leader.commit(FleetProposal(baseRevision: kvs[0].modRevision, record: record("r", weights: [0, 10000], by: "m0"), fenced: true), fence: fence)
        #expect(result == .notLeader)
        let (after, _) = try s[2].get(keys.route("r"), prefix: false, keysOnly: false)
        let state = try JSONDecoder().decode(FleetRouteState.self, from: Data(after[0].value))
        #expect(state.weights == [9000, 1000])
    }

    @Test func leaseKeepAliveAndExpiry() throws {
        let etcd = try EtcdProcess()
        let st = store(etcd)
        let lease = try st.grantLease(ttlSeconds: 2)
        _ = try st.txn([], success: [.put("/sluice/l/windows/x", Array("{}".utf8), lease: lease)], failure: [])
        #expect(try st.keepAlive(lease))
        try st.revoke(lease)
        #expect(try st.keepAlive(lease) == false)
        #expect(try st.get("/sluice/l/windows/", prefix: true, keysOnly: true).kvs.isEmpty)
    }

    @Test func watchDeliversPutsAndDeletes() throws {
        let etcd = try EtcdProcess()
        let st = store(etcd)
        let (_, rev) = try st.get("/sluice/w/state/", prefix: true, keysOnly: true)
        let seen = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let endpoint = etcd.clientPort
        let thread = Thread {
            let w = EtcdStore(endpoints: [("127.0.0.1", endpoint)])
            try? w.watch(prefix: "/sluice/w/state/", from: rev + 1, onEvents: { events, _ in
                seen.withLock { s in for e in events { s.append((e.deleted ? "-" : "+") + e.kv.key + "=" + String(decoding: e.kv.value, as: UTF8.self)) } }
                return !stop.load(ordering: .relaxed)
            }, keepGoing: { !stop.load(ordering: .relaxed) })
        }
        thread.start()
        usleep(200_000)
        let lease = try st.grantLease(ttlSeconds: 5)
        _ = try st.txn([], success: [.put("/sluice/w/state/leader", Array("a".utf8), lease: lease), .put("/sluice/w/other", [1], lease: nil)], failure: [])
        try st.revoke(lease)
        let deadline = monotonicSeconds() + 5
        while seen.withLock({ $0.count }) < 2 && monotonicSeconds() < deadline { usleep(20_000) }
        stop.store(true, ordering: .relaxed)
        #expect(seen.withLock { $0 } == ["+/sluice/w/state/leader=a", "-/sluice/w/state/leader="])
    }

    @Test func unreachableEtcdIsAnErrorNotAHang() throws {
        let port = try freeLoopbackPort()
        let st = EtcdStore(endpoints: [("127.0.0.1", port)], timeoutSeconds: 1)
        let started = monotonicSeconds()
        #expect(throws: FleetStoreError.self) { try st.grantLease(ttlSeconds: 5) }
        #expect(monotonicSeconds() - started < 3)
    }

    /// Operator changes made alternately on two replicas, each after the other's change reached it through the
    /// watch: every change is one etcd transaction, because the generation a replica's operator commits compare
    /// with follows what its watch, its resync and its own commits saw (it was never updated, so each change
    /// first failed its compare and was retried: two transactions).
    @Test func anOperatorChangeIsOneTransaction() throws {
        let etcd = try EtcdProcess()
        let yaml = """
            listeners: [{ name: public, address: 127.0.0.1:0 }]
            backends: [{ name: a, endpoints: [127.0.0.1:1] }, { name: b, endpoints: [127.0.0.1:2] }]
            routes:
              - { name: r, match: { path_prefix: / }, baseline: a, targets: [{ backend: a, weight: 90 }, { backend: b, weight: 10 }] }
            """
        let spec = FleetSpecValues(name: "onetxn", endpoints: [("127.0.0.1", etcd.clientPort)],
                                   leaseTTLNanos: 2_000_000_000, publishEveryNanos: 250_000_000)
        let replicas = try (0..<2).map { i -> (control: ControlPlane, agent: FleetAgent) in
            let control = try ControlPlane(config: ConfigLoader.parse(yaml: yaml, file: "t.yaml"), configPath: nil, workers: 1)
            let agent = FleetAgent(spec: spec, instance: "r\(i)", plane: control)
            control.attachFleet(instance: agent.instance, committer: agent.committer, status: agent.status)
            agent.start()
            return (control, agent)
        }
        defer { for r in replicas { r.agent.stop() } }
        // The leader writes the first state; both replicas apply it.
        #expect(eventually(10) { replicas.allSatisfy { $0.control.fleetGeneration(route: "r") == 1 } })
        var transactions: [UInt64] = []
        for change in 0..<6 {
            let (control, agent) = replicas[change % 2]
            let before = agent.committer.writes
            try control.setWeights(route: "r", weights: ["a": Double(80 - change), "b": Double(20 + change)])
            transactions.append(agent.committer.writes - before)
            let generation = UInt64(change + 2)
            #expect(eventually(5) { replicas.allSatisfy { $0.control.fleetGeneration(route: "r") == generation } })
        }
        print("etcd transactions per operator change: \(transactions)")
        #expect(transactions == Array(repeating: 1, count: 6))
        #expect(replicas.allSatisfy { $0.control.currentSnapshot.table.routes[0].targets.map(\.weight) == [7500, 2500] })
    }
}
