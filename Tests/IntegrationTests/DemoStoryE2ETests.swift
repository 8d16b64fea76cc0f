import Foundation
import Glibc
import Testing

extension Integration {
    /// `sluice demo` tells the whole story on its own: dashboard URL first, a 90/10 split, progressive
    /// steps, the candidate failing, the automatic rollback with its reason, and a clean exit.
    @Suite struct DemoStoryE2E {
        @Test(.timeLimit(.minutes(1)))
        func demoTellsTheRolloutAndRollbackStory() throws {
            let port = try freeLoopbackPort()
            var admin = try freeLoopbackPort()
            while admin == port { admin = try freeLoopbackPort() }
            let started = monotonicSeconds()
            let c = try Command.run(try sluiceExecutable(), ["demo", "--port", "\(port)", "--admin-port", "\(admin)",
                                                             "--requests", "50", "--step-interval", "3", "--duration", "18"], timeout: 45)
            let took = monotonicSeconds() - started
            #expect(c.status == 0, "exit \(c.status)\n\(c.stdout)\n\(c.stderr.suffix(3000))")
            #expect(took < 30, "the demo ran \(took) s with --duration 18")
            let lines = c.stdout.split(separator: "\n").map(String.init)
            let dashboard = lines.firstIndex { $0.hasPrefix("Dashboard: http://127.0.0.1:\(admin)/") }
            #expect(dashboard != nil && dashboard! < 4, "the dashboard URL is not printed first:\n\(c.stdout.prefix(600))")

            func line(_ fragment: String) -> (index: Int, elapsed: Double)? {
                guard let i = lines.firstIndex(where: { $0.contains(fragment) }) else { return nil }
                let stamp = lines[i].split(separator: "]").first.map { $0.dropFirst().trimmingCharacters(in: .whitespaces).dropLast() }
                return (i, stamp.flatMap { Double($0) } ?? -1)
            }
            let split = line("(a 90/10 split)")
            let step2 = line("at 25% (step 2 of 5)")
            let step3 = line("at 50% (step 3 of 5)")
            let failing = line("fraud-v2-4-0 starts failing")
            let rollback = line("Sluice rolled the candidate back on its own")
            let over = line("The story is over.")
            for (name, l) in [("split", split), ("step 2", step2), ("step 3", step3), ("failing", failing), ("rollback", rollback), ("over", over)] {
                #expect(l != nil, "no \(name) line in:\n\(c.stdout)")
            }
            if let split, let step2, let step3, let failing, let rollback, let over {
                #expect(split.index < step2.index && step2.index < step3.index && step3.index < failing.index
                        && failing.index < rollback.index && rollback.index <= over.index, "story out of order:\n\(c.stdout)")
                #expect(rollback.elapsed > failing.elapsed && rollback.elapsed - failing.elapsed < 10,
                        "rollback \(rollback.elapsed) s, failing since \(failing.elapsed) s")
                print("demo story: failing at \(failing.elapsed) s, rolled back at \(rollback.elapsed) s")
            }
            #expect(lines.contains { $0.contains("Reason: error rate") && $0.contains("> 0.05") }, "no rollback reason:\n\(c.stdout)")
            #expect(lines.contains { $0.contains("event rollback: error rate") })
            #expect(c.stderr.contains("drained"), "no clean drain:\n\(c.stderr.suffix(2000))")
        }
    }
}
