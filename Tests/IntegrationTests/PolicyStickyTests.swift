import Foundation
import Glibc
import SluiceDemo
import SluiceRouting
import SluiceSupport
import Testing

extension Integration {
    /// Sticky assignment, weight moves and the override header, through real `sluice run` processes.
    @Suite struct PolicySticky {
        static let salt = "e2e-ab-2026-11"

        static func stickyYAML(a: UInt16, b: UInt16, c: UInt16? = nil, weights: [Double] = [50, 50]) -> String {
            var backends = [("a", a), ("b", b)]
            if let c { backends.append(("c", c)) }
            let targets = zip(backends.map(\.0), weights).map { ($0, $1) }
            return e2eYAML(backends: backends, route: "ab", targets: targets, routeExtra: [
                "sticky: { header: x-user-id, salt: \(salt), on_missing: baseline }",
                "override_header: x-sluice-target",
            ])
        }

        static let keys = (0..<10_000).map { "user-\($0)" }

        /// Where the documented hash puts `key` for cumulative bucket ranges `[0, aUpper)` → a, rest → b.
        static func expected(_ key: String, aUpper: Int = 5000) -> String {
            StickyHash.bucket(salt: salt, key: key) < aUpper ? "a" : "b"
        }

        /// Two processes with the same config agree on every one of 10,000 users, the documented hash
        /// predicts each assignment, and a restarted process assigns identically.
        @Test(.timeLimit(.minutes(1)))
        func stickyAssignmentAgreesAcrossProcessesAndRestarts() throws {
            let a = try startModelServer("a"), b = try startModelServer("b")
            defer { a.stop(); b.stop() }
            let yaml = Self.stickyYAML(a: a.port, b: b.port)
            let p1 = try SluiceProcess(yaml: yaml)
            defer { p1.stop(); p1.removeFiles() }
            let p2 = try SluiceProcess(yaml: yaml)
            defer { p2.stop(); p2.removeFiles() }

            let keys = Self.keys
            let (port1, port2) = (p1.port, p2.port)
            let both = Locked<[[String]]>([[], []])
            let finished = runConcurrently(2, timeout: 50) { i in
                let t = stickyTargets(port: i == 0 ? port1 : port2, keys: keys)
                both.with { $0[i] = t }
            }
            let (t1, t2) = (both.value[0], both.value[1])
            guard finished, t1.count == keys.count, t2.count == keys.count else {
                Issue.record("sticky traffic did not finish")
                return
            }
            let failed = t1.filter { $0 != "a" && $0 != "b" } + t2.filter { $0 != "a" && $0 != "b" }
            #expect(failed.isEmpty, "\(failed.count) requests failed, e.g. \(failed.prefix(3))")
            let disagree = keys.indices.filter { t1[$0] != t2[$0] }
            let disagreeText = disagree.prefix(5).map { keys[$0] }.joined(separator: ", ")
            #expect(disagree.isEmpty, "\(disagree.count) users assigned differently by two processes, e.g. \(disagreeText)")
            let unexpected = keys.indices.filter { t1[$0] != Self.expected(keys[$0]) }
            let unexpectedText = unexpected.prefix(5).map { keys[$0] + " → " + t1[$0] }.joined(separator: ", ")
            #expect(unexpected.isEmpty, "\(unexpected.count) users not where H(salt:key) mod 10000 puts them, e.g. \(unexpectedText)")
            let shareA = Double(t1.filter { $0 == "a" }.count) / Double(keys.count)
            #expect(shareA > 0.47 && shareA < 0.53, "arm a got \(shareA) of users at 50/50")

            // The admin's assign endpoint says the same, on both processes.
            for key in keys.prefix(20) {
                for p in [p1, p2] {
                    let r = try p.adminGet("/routes/ab/assign?key=\(key)")
                    #expect(r.status == 200 && r.jsonObject()?["target"] as? String == Self.expected(key), "assign \(key): \(r.status) \(r.text)")
                }
            }

            // Restart p2 (graceful stop, fresh process on the same config): identical assignments.
            p2.stop()
            #expect(p2.waitForExit(timeout: 0) == 0, "p2 did not exit 0 on SIGTERM")
            let p3 = try SluiceProcess(yaml: yaml)
            defer { p3.stop(); p3.removeFiles() }
            let first = Array(keys.prefix(1000))
            let t3 = stickyTargets(port: p3.port, keys: first)
            let changed = first.indices.filter { t3[$0] != t1[$0] }
            let changedText = changed.prefix(5).map { first[$0] + ": " + t1[$0] + " → " + t3[$0] }.joined(separator: ", ")
            #expect(changed.isEmpty, "\(changed.count) of 1000 users changed arm across a restart, e.g. \(changedText)")
        }

        /// Raising arm a from 50 to 60 moves ~10 % of users, all from b to a (the buckets a gains).
        @Test(.timeLimit(.minutes(1)))
        func raisingAnArmMovesOnlyTheUsersOfTheBucketsItGains() throws {
            let a = try startModelServer("a"), b = try startModelServer("b")
            defer { a.stop(); b.stop() }
            let p = try SluiceProcess(yaml: Self.stickyYAML(a: a.port, b: b.port))
            defer { p.stop(); p.removeFiles() }

            let keys = Self.keys
            let before = stickyTargets(port: p.port, keys: keys)
            let r = try p.adminPost("/routes/ab/weights", json: #"{"a": 60, "b": 40}"#)
            #expect(r.status == 200, "weights: \(r.status) \(r.text)")
            #expect(try p.weights("ab") == ["a": 60, "b": 40])
            let after = stickyTargets(port: p.port, keys: keys)

            let failed = (before + after).filter { $0 != "a" && $0 != "b" }
            #expect(failed.isEmpty, "\(failed.count) requests failed, e.g. \(failed.prefix(3))")
            let moved = keys.indices.filter { before[$0] != after[$0] }
            let share = Double(moved.count) / Double(keys.count)
            #expect(share >= 0.08 && share <= 0.12, "\(moved.count) of \(keys.count) users moved (\(share))")
            let wrongWay = moved.filter { !(before[$0] == "b" && after[$0] == "a") }
            let wrongText = wrongWay.prefix(5).map { keys[$0] + ": " + before[$0] + " → " + after[$0] }.joined(separator: ", ")
            #expect(wrongWay.isEmpty, "\(wrongWay.count) users moved other than b → a, e.g. \(wrongText)")
            let unexpected = keys.indices.filter { after[$0] != Self.expected(keys[$0], aUpper: 6000) }
            let unexpectedText = unexpected.prefix(5).map { keys[$0] }.joined(separator: ", ")
            #expect(unexpected.isEmpty, "\(unexpected.count) users not in a's new range [0, 6000), e.g. \(unexpectedText)")
        }

        /// The override header pins a request to a named target, whatever its weight or the user's arm;
        /// a value that names no target is ignored.
        @Test(.timeLimit(.minutes(1)))
        func overrideHeaderPinsATarget() throws {
            let a = try startModelServer("a"), b = try startModelServer("b"), c = try startModelServer("c")
            defer { a.stop(); b.stop(); c.stop() }
            let p = try SluiceProcess(yaml: Self.stickyYAML(a: a.port, b: b.port, c: c.port, weights: [70, 30, 0]))
            defer { p.stop(); p.removeFiles() }
            // A user whose sticky arm is a (bucket < 7000) and one whose arm is b.
            guard let userA = Self.keys.first(where: { StickyHash.bucket(salt: Self.salt, key: $0) < 7000 }),
                  let userB = Self.keys.first(where: { StickyHash.bucket(salt: Self.salt, key: $0) >= 7000 }) else {
                Issue.record("no keys for both arms")
                return
            }
            let client = SimpleHTTPClient(port: p.port, timeoutSeconds: 5)
            defer { client.close() }
            func target(_ headers: [(String, String)]) throws -> String {
                let r = try client.request("GET", "/echo", headers: headers)
                return r.status == 200 ? (r.header("x-sluice-target") ?? "none") : "status \(r.status)"
            }
            #expect(try target([("x-user-id", userA)]) == "a")
            #expect(try target([("x-user-id", userB)]) == "b")
            #expect(try target([("x-user-id", userA), ("x-sluice-target", "b")]) == "b")
            #expect(try target([("x-user-id", userB), ("x-sluice-target", "a")]) == "a")
            #expect(try target([("x-user-id", userA), ("x-sluice-target", "c")]) == "c", "weight-0 target not reachable by override")
            #expect(try target([("x-sluice-target", "c")]) == "c")
            #expect(try target([("x-user-id", userB), ("x-sluice-target", "nope")]) == "b", "unknown override value not ignored")
            #expect(try target([("x-sluice-target", "nope")]) == "a", "unknown override value without a key: baseline")
            let before = c.requestsServed
            var pinned = 0
            for i in 0..<50 {
                if try target([("x-user-id", "u\(i)"), ("x-sluice-target", "c")]) == "c" { pinned += 1 }
            }
            #expect(pinned == 50)
            #expect(c.requestsServed - before == 50, "c served \(c.requestsServed - before) of 50 pinned requests")
            // Without an override, the weight-0 target never gets a user.
            let plain = stickyTargets(port: p.port, keys: Array(Self.keys.prefix(500)))
            #expect(!plain.contains("c") && plain.allSatisfy { $0 == "a" || $0 == "b" }, "\(Set(plain))")
        }
    }
}
