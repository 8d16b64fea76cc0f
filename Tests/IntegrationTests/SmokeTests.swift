import Foundation
import Testing

@Suite(.serialized) struct SmokeTests {
    @Test func proxiesToNginxBackends() throws {
        let h = try ProxyHarness(yaml: ProxyHarness.splitYAML(stable: 18081, canary: 18082))
        defer { h.stop() }
        var seen: [String: Int] = [:]
        for _ in 0..<20 {
            let r = try Command.curl(["\(h.base)/v1/models/x/predict", "-d", "{}"])
            #expect(r.status == 200, "\(r.stderr) \(r.rawHeaders)")
            seen[r.header("x-sluice-target") ?? "none", default: 0] += 1
        }
        print(seen)
    }
}
