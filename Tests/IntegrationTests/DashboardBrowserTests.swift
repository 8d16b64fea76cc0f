import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// The admin dashboard (`GET /`) in headless Chromium against a real `sluice run` with real model
    /// servers and client traffic. Screenshots go to `$SLUICE_ARTIFACTS` or `.build/artifacts/`
    /// (`dashboard-overview.png`, `dashboard-progressive.png`, `dashboard-rolled-back.png`).
    @Suite(.serialized, .enabled(if: BrowserSession.available || ProcessInfo.processInfo.environment["CI"] != nil,
                                 "needs /usr/bin/chromium and python3 websocket-client (scripts/deps.sh); never skipped under CI"))
    struct DashboardBrowser {
        /// Two routes, `models` (stable 90 / canary 10) and `ab` (stable 50 / canary 50 on /ab).
        static func twoRouteYAML(stable: UInt16, canary: UInt16, routeExtra: String = "", adminExtra: String = "") -> String {
            """
            workers: 2
            listeners:
              - { name: public, address: 127.0.0.1:{LISTEN} }
            admin:
              address: 127.0.0.1:{ADMIN}
            \(adminExtra)
            backends:
              - { name: stable, endpoints: [127.0.0.1:\(stable)], model_version: stable-v, timeouts: { connect: 500ms, request: 5s } }
              - { name: canary, endpoints: [127.0.0.1:\(canary)], model_version: canary-v, timeouts: { connect: 500ms, request: 5s } }
            routes:
              - name: ab
                match: { path_prefix: /ab }
                baseline: stable
                targets:
                  - { backend: stable, weight: 50 }
                  - { backend: canary, weight: 50 }
              - name: models
                match: { path_prefix: / }
                baseline: stable
                targets:
                  - { backend: stable, weight: 90 }
                  - { backend: canary, weight: 10 }
            \(routeExtra)
            """
        }

        /// Text of the cells of column `cell` of route `route`, by backend, as the page shows them.
        static func column(_ route: String, _ cell: String) -> String {
            "Object.fromEntries([...document.querySelectorAll('section.route[data-route=\"\(route)\"] tbody tr')].map(tr => [tr.dataset.backend, tr.querySelector('td.\(cell)').textContent]))"
        }

        /// Every request the page made went to the admin address; no console error.
        static func expectClean(_ browser: BrowserSession, adminBase: String, allowedErrors: [String] = []) throws {
            let report = try browser.report()
            #expect(!report.requests.isEmpty)
            let foreign = report.requests.filter { !$0.split(separator: " ").last!.hasPrefix(adminBase + "/") }
            #expect(foreign.isEmpty, "requests leaving the admin address \(adminBase): \(foreign)")
            let errors = report.consoleErrors.filter { e in !allowedErrors.contains { e.contains($0) } }
            #expect(errors.isEmpty, "console errors: \(errors)")
        }

        @Test(.timeLimit(.minutes(2)))
        func pageShowsTheRunningConfigAndFollowsCurl() throws {
            let stable = try startModelServer("stable"), canary = try startModelServer("canary")
            defer { stable.stop(); canary.stop() }
            let p = try SluiceProcess(yaml: Self.twoRouteYAML(stable: stable.port, canary: canary.port))
            defer { p.stop(); p.removeFiles() }
            let traffic = TrafficLoop(port: p.port, path: "/predict", threads: 2, perThreadRate: 40)
            defer { traffic.stop() }
            let browser = try BrowserSession()

            try browser.navigate(p.adminBase + "/")
            try browser.wait("document.querySelectorAll('section.route').length === 2 && Number(document.body.dataset.polls) >= 1", timeout: 10)
            let names = try browser.eval("[...document.querySelectorAll('section.route h2')].map(h => h.textContent)") as? [String]
            #expect(names == ["ab", "models"])
            let weights = try browser.eval(Self.column("models", "weight")) as? [String: String]
            #expect(weights == ["stable": "90%", "canary": "10%"])
            let abWeights = try browser.eval(Self.column("ab", "weight")) as? [String: String]
            #expect(abWeights == ["stable": "50%", "canary": "50%"])
            let state = try browser.eval("document.querySelector('section.route[data-route=\"models\"] .state').textContent") as? String
            #expect(state == "steady")

            // A weight change made with curl shows within 2 s.
            let curl = try Command.run("curl", ["-s", "-f", "-X", "POST", "\(p.adminBase)/routes/models/weights",
                                                "-H", "content-type: application/json", "-d", #"{"stable": 40, "canary": 60}"#], timeout: 10)
            #expect(curl.status == 0, "curl: \(curl.stdout)\(curl.stderr)")
            let took = try browser.wait("(() => { const w = \(Self.column("models", "weight")); return w.stable === '40%' && w.canary === '60%'; })()", timeout: 2)
            print("dashboard: weight change made with curl shown after \(String(format: "%.2f", took)) s")
            #expect(took <= 2)
            let input = try browser.eval("document.querySelector('section.route[data-route=\"models\"] input[data-backend=\"canary\"]').value") as? String
            #expect(input == "60")

            // Weights typed into the page and sent with its button (confirm accepted).
            try browser.type("section.route[data-route=\"models\"] input[data-backend=\"stable\"]", "75")
            try browser.type("section.route[data-route=\"models\"] input[data-backend=\"canary\"]", "25")
            try browser.click("section.route[data-route=\"models\"] button[data-action=\"weights\"]")
            try browser.wait("(() => { const w = \(Self.column("models", "weight")); return w.stable === '75%' && w.canary === '25%'; })()", timeout: 3)
            #expect(try p.weights("models") == ["stable": 75, "canary": 25])
            #expect(try browser.report().dialogs.contains { $0.contains("Set the weights of route models to stable 75%, canary 25%?") })

            // Charts and the observed share fill in from /stats/history.
            try browser.wait("(() => { const o = \(Self.column("models", "observed")); return o.canary !== '–' && o.stable !== '–'; })()", timeout: 8)
            try browser.wait("document.querySelector('section.route[data-route=\"models\"] svg.chart path[d^=\"M\"][d*=\"L\"]') !== null", timeout: 8)
            try browser.wait("Number(document.body.dataset.polls) >= 8", timeout: 10)
            let shot = try BrowserSession.artifactsDirectory() + "/dashboard-overview.png"
            try browser.screenshot(shot)
            #expect(((try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0) > 10_000)
            try Self.expectClean(browser, adminBase: p.adminBase)
        }

        @Test(.timeLimit(.minutes(2)))
        func rollbackClickedInThePageMovesTheTraffic() throws {
            let stable = try startModelServer("stable"), canary = try startModelServer("canary")
            defer { stable.stop(); canary.stop() }
            let token = "dashboard-test-token-\(UInt32.random(in: 0...UInt32.max))"
            let tokenPath = NSTemporaryDirectory() + "sluice-dash-token-\(UUID().uuidString)"
            try token.write(toFile: tokenPath, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: tokenPath) }
            let yaml = Self.twoRouteYAML(stable: stable.port, canary: canary.port,
                                         routeExtra: "    progressive: { target: canary, steps: [10, 25, 50, 75, 100], interval: 3s }",
                                         adminExtra: "  token_file: \(tokenPath)")
            let p = try SluiceProcess(yaml: yaml)
            defer { p.stop(); p.removeFiles() }
            let traffic = TrafficLoop(port: p.port, path: "/predict", threads: 4, perThreadRate: 40)
            var trafficStopped = false
            defer { if !trafficStopped { traffic.stop() } }
            let browser = try BrowserSession(promptText: token)
            try browser.navigate(p.adminBase + "/")

            // The rollout climbs: step 2 of 5 or later shows in the page with its countdown.
            try browser.wait("(() => { const d = document.querySelector('section.route[data-route=\"models\"] .detail'); return d && /step [2-4] of 5, next step in/.test(d.textContent); })()", timeout: 15)
            let detail = try browser.eval("document.querySelector('section.route[data-route=\"models\"] .detail').textContent") as? String
            print("dashboard during the rollout: \(detail ?? "?")")
            try browser.wait("document.querySelector('section.route[data-route=\"models\"] svg.chart path[d*=\"L\"]') !== null", timeout: 8)
            let dir = try BrowserSession.artifactsDirectory()
            try browser.screenshot(dir + "/dashboard-progressive.png")

            // Roll back from the page: confirm() accepted, 401 → the page asks for the token once → retried.
            let clickedAt = monotonicSeconds()
            try browser.click("section.route[data-route=\"models\"] button[data-action=\"rollback\"]")
            try browser.wait("document.querySelector('section.route[data-route=\"models\"]').dataset.state === 'rolled_back'", timeout: 5)
            #expect(try p.weights("models") == ["stable": 100, "canary": 0])
            let report = try browser.report()
            #expect(report.dialogs.contains { $0.hasPrefix("confirm: Roll back route models?") }, "dialogs: \(report.dialogs)")
            #expect(report.dialogs.contains { $0.hasPrefix("prompt:") }, "the page did not ask for the token: \(report.dialogs)")
            let stored = try browser.eval("sessionStorage.getItem('sluice-admin-token')") as? String
            #expect(stored == token)

            // The traffic moved: the canary server stops receiving requests, the stable one takes all.
            usleep(500_000)
            let canaryAfter = canary.requestsServed, stableAfter = stable.requestsServed
            usleep(2_000_000)
            #expect(canary.requestsServed == canaryAfter, "canary served \(canary.requestsServed - canaryAfter) requests after the rollback")
            #expect(stable.requestsServed > stableAfter + 50, "stable served only \(stable.requestsServed - stableAfter) in 2 s")
            traffic.stop()
            trafficStopped = true
            let late = traffic.samples.value.filter { $0.target == "canary" && $0.sent > clickedAt + 1.5 }
            #expect(late.isEmpty, "\(late.count) client requests answered by the canary after the rollback")

            // A second action reuses the stored token: no second prompt.
            try browser.wait("document.querySelector('section.route[data-route=\"models\"] ol.events .reason')?.textContent.includes('operator rollback from the dashboard')", timeout: 3)
            try browser.screenshot(dir + "/dashboard-rolled-back.png")
            try browser.click("section.route[data-route=\"models\"] button[data-action=\"resume\"]")
            try browser.wait("document.querySelector('section.route[data-route=\"models\"]').dataset.state === 'progressing'", timeout: 5)
            let prompts = try browser.report().dialogs.filter { $0.hasPrefix("prompt:") }
            #expect(prompts.count == 1, "dialogs: \(prompts)")
            // The one expected console line: Chromium logs the first POST's 401 (before the token was given).
            try Self.expectClean(browser, adminBase: p.adminBase, allowedErrors: ["status of 401"])
        }
    }
}

extension Integration.DashboardBrowser {
    /// Twenty routes, one with a shadow: every card renders, updates stay cheap, the shadow shows.
    @Test(.timeLimit(.minutes(2)))
    func twentyRoutesWithAShadowStayFast() throws {
        let stable = try startModelServer("stable"), canary = try startModelServer("canary"), shadow = try startModelServer("shadow")
        defer { stable.stop(); canary.stop(); shadow.stop() }
        var y = "workers: 2\nlisteners:\n  - { name: public, address: 127.0.0.1:{LISTEN} }\nadmin:\n  address: 127.0.0.1:{ADMIN}\nbackends:\n"
        for (name, port) in [("stable", stable.port), ("canary", canary.port), ("shadow", shadow.port)] {
            y += "  - { name: \(name), endpoints: [127.0.0.1:\(port)] }\n"
        }
        y += "routes:\n"
        for i in 1...20 {
            let name = String(format: "route-%02d", i)
            let match = i == 20 ? "model: fraud-detector" : "path_prefix: \(i == 1 ? "/echo" : "/\(name)")"
            y += "  - name: \(name)\n    match: { \(match) }\n    baseline: stable\n"
            y += "    targets:\n      - { backend: stable, weight: \(100 - i) }\n      - { backend: canary, weight: \(i) }\n"
            if i == 1 { y += "    shadow: { backend: shadow, percent: 100, compare: { json_pointer: /body_length, tolerance: 0 } }\n" }
            // route-20 is chosen by the model the path names, and compares its shadow field by field.
            if i == 20 {
                y += "    shadow: { backend: shadow, percent: 100, compare: [{ pointer: /model_version_status/0/version, kind: label }, { pointer: /model_version_status/0/state, kind: label }] }\n"
            }
        }
        let p = try SluiceProcess(yaml: y)
        defer { p.stop(); p.removeFiles() }
        let traffic = TrafficLoop(port: p.port, path: "/echo", threads: 2, perThreadRate: 40)
        defer { traffic.stop() }
        let browser = try BrowserSession()
        try browser.navigate(p.adminBase + "/")
        try browser.wait("document.querySelectorAll('section.route').length === 20 && Number(document.body.dataset.polls) >= 6", timeout: 15)
        let weights = try browser.eval(Self.column("route-20", "weight")) as? [String: String]
        #expect(weights == ["stable": "80%", "canary": "20%"])
        try browser.wait("/mirrored [1-9]/.test(document.querySelector('section.route[data-route=\"route-01\"] .shadow.show')?.textContent || '')", timeout: 5)
        try browser.wait("/agreement 100.0% of [1-9]/.test(document.querySelector('section.route[data-route=\"route-01\"] .shadow')?.textContent || '')", timeout: 5)
        // The per-field table of route-20's shadow: the version pair the backends really returned, the state field agreeing.
        let traffic20 = TrafficLoop(port: p.port, path: "/v1/models/fraud-detector", threads: 1, perThreadRate: 20)
        defer { traffic20.stop() }
        let r20 = "section.route[data-route=\"route-20\"]"
        try browser.wait("/stable\u{2192}shadow: [1-9]|canary\u{2192}shadow: [1-9]/.test(document.querySelector('\(r20) table.fields')?.textContent || '')", timeout: 8)
        try browser.wait("/state\\s*label\\s*[1-9][0-9]*\\s*100.0%/.test(document.querySelector('\(r20) table.fields')?.textContent || '')", timeout: 5)
        #expect(try browser.eval("document.querySelector('\(r20) .route-head .model')?.textContent") as? String == "model fraud-detector")
        let maxMs = Double(try browser.eval("document.body.dataset.renderMaxMs") as? String ?? "") ?? .infinity
        let lastMs = Double(try browser.eval("document.body.dataset.renderMs") as? String ?? "") ?? .infinity
        print("dashboard with 20 routes: render of one update \(lastMs) ms (slowest so far \(maxMs) ms)")
        #expect(lastMs < 100, "one update of 20 routes took \(lastMs) ms")
        try browser.screenshot(try BrowserSession.artifactsDirectory() + "/dashboard-20-routes.png")
        try Self.expectClean(browser, adminBase: p.adminBase)
    }
}

extension Integration.DashboardBrowser {
    /// A gated progressive rollout driven from the page: approve at the gate, pause, resume, promote.
    @Test(.timeLimit(.minutes(2)))
    func gatedRolloutIsApprovedPausedAndPromotedFromThePage() throws {
        let stable = try startModelServer("stable"), canary = try startModelServer("canary")
        defer { stable.stop(); canary.stop() }
        let yaml = Self.twoRouteYAML(stable: stable.port, canary: canary.port,
                                     routeExtra: "    progressive: { target: canary, steps: [10, 50, 80, 100], interval: 3s, gates: [{ at: 50, approval: manual }] }")
        let p = try SluiceProcess(yaml: yaml)
        defer { p.stop(); p.removeFiles() }
        let browser = try BrowserSession()
        try browser.navigate(p.adminBase + "/")
        let route = "section.route[data-route=\"models\"]"
        try browser.wait("document.querySelector('\(route)')?.dataset.state === 'awaiting_approval'", timeout: 10)
        let detail = try browser.eval("document.querySelector('\(route) .detail').textContent") as? String
        #expect(detail == "canary at 10%, step 1 of 4: 50% waits for approval")
        #expect(try browser.eval("document.querySelector('\(route) button[data-action=\"approve\"]').hidden") as? Bool == false)
        #expect(try browser.eval("document.querySelector('section.route[data-route=\"ab\"] button[data-action=\"approve\"]').hidden") as? Bool == true)

        try browser.click("\(route) button[data-action=\"approve\"]")
        try browser.wait("\(Self.column("models", "weight")).canary === '50%'", timeout: 5)
        // Paused within the 3 s step interval: the rollout stays at 50 %.
        try browser.click("\(route) button[data-action=\"pause\"]")
        try browser.wait("document.querySelector('\(route)').dataset.state === 'paused'", timeout: 5)
        usleep(3_500_000)
        #expect(try p.weights("models")["canary"] == 50, "a paused rollout moved")
        // Promote takes one step by hand, resume lets time finish the rollout.
        try browser.click("\(route) button[data-action=\"promote\"]")
        try browser.wait("\(Self.column("models", "weight")).canary === '80%'", timeout: 5)
        if try browser.eval("document.querySelector('\(route)').dataset.state") as? String == "paused" {
            try browser.click("\(route) button[data-action=\"resume\"]")
        }
        try browser.wait("document.querySelector('\(route)').dataset.state === 'promoted'", timeout: 10)
        #expect(try p.weights("models") == ["stable": 0, "canary": 100])
        let dialogs = try browser.report().dialogs
        #expect(dialogs.contains { $0.hasPrefix("confirm: Approve the next gated step of route models?") }, "\(dialogs)")
        #expect(dialogs.contains { $0.hasPrefix("confirm: Pause the rollout of route models?") }, "\(dialogs)")
        #expect(dialogs.contains { $0.hasPrefix("confirm: Promote route models one step?") }, "\(dialogs)")
        try Self.expectClean(browser, adminBase: p.adminBase)
    }
}
