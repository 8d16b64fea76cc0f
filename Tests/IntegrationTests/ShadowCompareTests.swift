import Foundation
import SluiceCore
import SluiceRouting
import Testing

extension Integration {
    /// `shadow.compare` field by field, `shadow.match` and `sample_by: sticky`, through a real
    /// Sluice process, with Python backends whose answers are a known function of the request.
    @Suite struct ShadowCompare {
        /// Primary and shadow servers. For a body `{"i": n}` the primary answers label `fraud` when
        /// n % 3 == 0, score n / 100, top `["a","b"]`; the shadow answers `fraud` when n % 5 == 0, score
        /// n / 100 + 0.02 for odd n and - 0.005 for even n, top `["a","c"]` for n % 4 == 0. Both
        /// remember (method, path, x-user-id) of every request, served at GET /_seen.
        static let servers = #"""
        import json, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        def make(role):
            seen = []
            class H(BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def log_message(self, *a): pass
                def answer(self, obj):
                    out = json.dumps(obj).encode()
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                def handle_any(self):
                    if self.path == '/_seen':
                        return self.answer(seen)
                    body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                    seen.append([self.command, self.path, self.headers.get('x-user-id', '')])
                    n = json.loads(body)['i'] if body else 0
                    if role == 'primary':
                        p = {'label': 'fraud' if n % 3 == 0 else 'not_fraud', 'score': n / 100, 'top': ['a', 'b']}
                    else:
                        p = {'label': 'fraud' if n % 5 == 0 else 'not_fraud', 'score': n / 100 + (0.02 if n % 2 else -0.005),
                             'top': ['a', 'c'] if n % 4 == 0 else ['a', 'b']}
                    self.answer({'predictions': p})
                do_GET = do_POST = do_DELETE = handle_any
            s = ThreadingHTTPServer(('127.0.0.1', 0), H)
            threading.Thread(target=s.serve_forever, daemon=True).start()
            return s.server_address[1]
        print(make('primary'), make('shadow'), flush=True)
        threading.Event().wait(120)
        """#

        static func yaml(_ primary: UInt16, _ shadow: UInt16) -> String {
            """
            workers: 2
            listeners: [{ name: t, address: 127.0.0.1:{LISTEN} }]
            admin: { address: 127.0.0.1:{ADMIN} }
            backends:
              - { name: v1, endpoints: [127.0.0.1:\(primary)] }
              - { name: rc, endpoints: [127.0.0.1:\(shadow)] }
            routes:
              - name: fraud
                match: { model: fraud-detector }
                targets: [{ backend: v1, weight: 100 }]
                shadow:
                  backend: rc
                  percent: 100
                  match: { methods: [POST], path_suffixes: [":predict", /infer] }
                  compare:
                    - { pointer: /predictions/label, kind: label }
                    - { pointer: /predictions/score, kind: number, tolerance: 0.01 }
                    - { pointer: /predictions/top, kind: array }
              - name: recsys
                match: { path_prefix: /recsys }
                targets: [{ backend: v1, weight: 100 }]
                sticky: { header: x-user-id, salt: recsys-7 }
                shadow: { backend: rc, percent: 30, sample_by: sticky }
            """
        }

        @Test(.timeLimit(.minutes(1)))
        func labelsAndNumbersComparedFieldByField() throws {
            let server = try PythonServer(script: Self.servers)
            defer { server.stop() }
            let ports = server.firstLine.split(separator: " ").compactMap { UInt16($0) }
            try #require(ports.count == 2, "servers printed '\(server.firstLine)'")
            let p = try SluiceProcess(yaml: Self.yaml(ports[0], ports[1]))
            defer { p.stop() }

            let n = 60
            for i in 0..<n {
                let r = try Command.curl(["-X", "POST", "-d", #"{"i":\#(i)}"#, "\(p.base)/v1/models/fraud-detector:predict"])
                #expect(r.status == 200, "\(r.summary)")
            }
            // Not mirrored: a DELETE, a GET, a POST to another verb.
            for (method, path) in [("DELETE", "/v1/models/fraud-detector"), ("GET", "/v1/models/fraud-detector"),
                                   ("POST", "/v1/models/fraud-detector:explain")] {
                let r = try Command.curl(["-X", method, "-d", #"{"i":1}"#, "\(p.base)\(path)"])
                #expect(r.status == 200, "\(r.summary)")
            }

            var expectedPairs: [String: Int] = [:]
            var agreedLabels = 0, agreedScores = 0, higher = 0, lower = 0, topSame = 0
            var maxDiff = 0.0, sumDiff = 0.0
            for i in 0..<n {
                let a = i % 3 == 0 ? "fraud" : "not_fraud", b = i % 5 == 0 ? "fraud" : "not_fraud"
                if a == b { agreedLabels += 1 } else { expectedPairs["\(a)→\(b)", default: 0] += 1 }
                let d = i % 2 == 1 ? 0.02 : -0.005
                if abs(d) <= 0.01 { agreedScores += 1 }
                if d > 0 { higher += 1 } else { lower += 1 }
                maxDiff = max(maxDiff, abs(d)); sumDiff += abs(d)
                if i % 4 != 0 { topSame += 1 }
            }
            var fields: [[String: Any]] = []
            #expect(eventually(5) {
                fields = ((try? p.routeStats("fraud"))?["shadow"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []
                return fields.count == 3 && fields.allSatisfy { $0["compared"] as? Int == n }
            }, "\(fields)")
            let shadow = try p.routeStats("fraud")["shadow"] as? [String: Any] ?? [:]
            #expect(shadow["mirrored"] as? Int == n, "\(shadow)")
            let label = fields[0], score = fields[1], top = fields[2]
            #expect(label["pointer"] as? String == "/predictions/label" && label["kind"] as? String == "label")
            #expect(label["agreed"] as? Int == agreedLabels)
            let table = (label["disagreements"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) {
                $0["\($1["primary"] as? String ?? "")→\($1["shadow"] as? String ?? "")"] = $1["count"] as? Int
            }
            #expect(table == expectedPairs, "\(table) vs \(expectedPairs)")
            #expect(score["agreed"] as? Int == agreedScores)
            #expect(abs((score["max_difference"] as? Double ?? 0) - maxDiff) < 1e-9)
            #expect(abs((score["mean_abs_difference"] as? Double ?? 0) - sumDiff / Double(n)) < 1e-9)
            #expect(abs((score["shadow_higher_share"] as? Double ?? 0) - Double(higher) / Double(n)) < 1e-9)
            #expect(abs((score["shadow_lower_share"] as? Double ?? 0) - Double(lower) / Double(n)) < 1e-9)
            #expect(top["agreed"] as? Int == topSame)
            #expect(abs((top["position_agreement"] as? Double ?? 0) - Double(2 * n - (n - topSame)) / Double(2 * n)) < 1e-9)

            // The shadow saw only the mirrored POST :predict requests.
            let seen = try Command.curl(["http://127.0.0.1:\(ports[1])/_seen"])
            let rows = (try? JSONSerialization.jsonObject(with: Data(seen.body.utf8))) as? [[String]] ?? []
            #expect(rows.count == n && rows.allSatisfy { $0[0] == "POST" && $0[1].hasSuffix(":predict") }, "\(rows.suffix(5))")

            let metrics = try p.adminGet("/metrics").text
            let labels = #"route="fraud",model="fraud-detector",backend="rc",field="/predictions/label",kind="label""#
            #expect(metrics.contains("sluice_shadow_field_agreed_total{\(labels)} \(agreedLabels)"), "\(metrics.prefix(3000))")
            #expect(metrics.contains(#"sluice_shadow_field_disagreements_total{\#(labels),primary="fraud",shadow="not_fraud"} \#(expectedPairs["fraud→not_fraud"] ?? -1)"#))
        }

        @Test(.timeLimit(.minutes(1)))
        func stickySamplingMirrorsTheSameUsers() throws {
            let server = try PythonServer(script: Self.servers)
            defer { server.stop() }
            let ports = server.firstLine.split(separator: " ").compactMap { UInt16($0) }
            try #require(ports.count == 2, "servers printed '\(server.firstLine)'")
            let p = try SluiceProcess(yaml: Self.yaml(ports[0], ports[1]))
            defer { p.stop() }
            let users = (0..<60).map { "user-\($0)" }
            for round in 0..<2 {
                for u in users {
                    let r = try Command.curl(["-H", "x-user-id: \(u)", "-d", #"{"i":\#(round)}"#, "\(p.base)/recsys/rank"])
                    #expect(r.status == 200, "\(r.summary)")
                }
            }
            let expected = Set(users.filter { StickyHash.bucket(salt: "recsys-7/shadow", key: $0) < 3000 })
            var rows: [[String]] = []
            #expect(eventually(5) {
                let seen = try? Command.curl(["http://127.0.0.1:\(ports[1])/_seen"])
                rows = (try? JSONSerialization.jsonObject(with: Data((seen?.body ?? "").utf8))) as? [[String]] ?? []
                return rows.count >= 2 * expected.count
            })
            let mirrored = rows.map { $0[2] }
            // Each selected user mirrored in both rounds, nobody else.
            #expect(Set(mirrored) == expected, "\(Set(mirrored).symmetricDifference(expected))")
            #expect(mirrored.count == 2 * expected.count)
            #expect((6...30).contains(expected.count), "\(expected.count)")
        }
    }
}
