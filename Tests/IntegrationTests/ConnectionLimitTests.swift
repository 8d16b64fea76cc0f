import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// `limits.max_connections`, the accept back-off under descriptor exhaustion and the memory
    /// of idle connections, black-box against the `sluice` binary the tests find (the debug build
    /// under `swift test`; the limits asserted here hold for it as well as for release).
    @Suite struct ConnectionLimits {
        /// A config with one `/echo`-capable backend on `backendPort` and `limitsLine` (may be empty).
        static func yaml(backendPort: UInt16, workers: Int, limitsLine: String) -> String {
            var y = "workers: \(workers)\n"
            if !limitsLine.isEmpty { y += "limits: { \(limitsLine) }\n" }
            y += "listeners:\n  - { name: public, address: 127.0.0.1:{LISTEN}, backlog: 512 }\n"
            y += "admin:\n  address: 127.0.0.1:{ADMIN}\nbackends:\n"
            y += "  - { name: m, endpoints: [127.0.0.1:\(backendPort)], timeouts: { connect: 500ms, request: 5s } }\n"
            y += "routes:\n  - name: r\n    match: { path_prefix: / }\n    baseline: m\n    targets:\n      - { backend: m, weight: 100 }\n"
            return y
        }

        /// One `GET /echo` on `socket`; the status, 0 when nothing came back.
        static func echo(_ socket: RawSocket, close: Bool = false) -> Int {
            let conn = close ? "connection: close\r\n" : ""
            guard socket.send("GET /echo HTTP/1.1\r\nhost: t\r\n\(conn)\r\n") else { return 0 }
            return socket.readResponse()?.status ?? 0
        }

        /// `/stats` `global.open_client_connections`, or -1.
        static func openConnections(_ p: SluiceProcess) -> Int {
            ((try? p.stats())?["global"] as? [String: Any])?["open_client_connections"] as? Int ?? -1
        }

        /// A counter from `/metrics`, or -1.
        static func metric(_ p: SluiceProcess, _ name: String) -> Int {
            guard let text = try? p.adminGet("/metrics").text else { return -1 }
            for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
                return Int(Double(line.split(separator: " ").last ?? "") ?? -1)
            }
            return -1
        }

        /// VmRSS of `pid` in KiB.
        static func rssKiB(_ pid: pid_t) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
            }
            return -1
        }

        /// User plus system CPU seconds `pid` has used (/proc/PID/stat fields 14 and 15).
        static func cpuSeconds(_ pid: pid_t) -> Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return -1 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
            return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        @Test(.timeLimit(.minutes(1)))
        func connectionsOverTheLimitAreClosedAtOnceAndCounted() throws {
            let model = try startModelServer("v1")
            defer { model.stop() }
            let p = try SluiceProcess(yaml: Self.yaml(backendPort: model.port, workers: 2, limitsLine: "max_connections: 2"))
            defer { p.stop(); p.removeFiles() }
            let a = try RawSocket(port: p.port), b = try RawSocket(port: p.port)
            #expect(Self.echo(a) == 200)
            #expect(Self.echo(b) == 200)
            #expect(eventually(5) { Self.openConnections(p) == 2 }, "open: \(Self.openConnections(p))")
            // The third is accepted and closed without an answer; the two open ones are untouched.
            let c = try RawSocket(port: p.port, timeout: 3)
            #expect(c.closedByPeer(), "a connection over max_connections must be closed at once")
            #expect(Self.metric(p, "sluice_connections_refused_over_limit_total") == 1)
            #expect(Self.echo(a) == 200)
            #expect(Self.echo(b) == 200)
            // A slot freed is a slot a new client gets.
            a.close()
            #expect(eventually(5) { Self.openConnections(p) == 1 })
            let d = try RawSocket(port: p.port)
            #expect(Self.echo(d, close: true) == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func descriptorExhaustionBacksOffAndServingResumes() throws {
            let model = try startModelServer("v1")
            defer { model.stop() }
            // 64 descriptors and a connection limit above that: accept itself runs out (EMFILE).
            let p = try SluiceProcess(yaml: Self.yaml(backendPort: model.port, workers: 1, limitsLine: "max_connections: 1000"),
                                      descriptorLimit: 64)
            defer { p.stop(); p.removeFiles() }
            #expect(Self.echo(try RawSocket(port: p.port), close: true) == 200)
            // The kernel completes these handshakes whether or not sluice can accept them.
            var idle: [RawSocket] = []
            for _ in 0..<100 { idle.append(try RawSocket(port: p.port)) }
            let exhausted = eventually(10) {
                ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p.pid)/fd"))?.count ?? 0) >= 64
            }
            #expect(exhausted, "sluice never reached its descriptor limit")
            usleep(200_000)
            let cpu0 = Self.cpuSeconds(p.pid), t0 = monotonicSeconds()
            sleep(3)
            let share = (Self.cpuSeconds(p.pid) - cpu0) / (monotonicSeconds() - t0)
            print("descriptor exhaustion: sluice used \(String(format: "%.1f", share * 100)) % of one core over 3 s")
            #expect(share < 0.10, "sluice spins while descriptors are exhausted: \(share * 100) % of a core")
            // Free the descriptors: a fresh request is served again without any intervention.
            for s in idle { s.close() }
            idle.removeAll()
            var status = 0
            let resumed = eventually(10) {
                guard let s = try? RawSocket(port: p.port, timeout: 2) else { return false }
                status = Self.echo(s, close: true)
                return status == 200
            }
            #expect(resumed, "not served after descriptors were freed (last status \(status))")
            #expect(Self.metric(p, "sluice_accept_failures_total") >= 1)
        }

        @Test(.timeLimit(.minutes(1)))
        func tenThousandIdleConnectionsStayLeanAndFreshRequestsStayFast() throws {
            let count = 10_000
            // This process holds one end of each connection: raise its descriptor limit (sluice,
            // started afterwards, inherits it).
            var rl = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
            rl.rlim_cur = rl.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
            try #require(rl.rlim_cur >= rlim_t(count + 1000), "RLIMIT_NOFILE hard limit \(rl.rlim_max) is too low for \(count) connections")
            let model = try startModelServer("v1")
            defer { model.stop() }
            let p = try SluiceProcess(yaml: Self.yaml(backendPort: model.port, workers: 2, limitsLine: "max_connections: 12000"))
            defer { p.stop(); p.removeFiles() }
            // Warm up (upstream pool, first requests on both workers), then the baseline.
            for _ in 0..<10 { _ = Self.echo(try RawSocket(port: p.port), close: true) }
            usleep(300_000)
            let before = Self.rssKiB(p.pid)

            var fds: [Int32] = []
            fds.reserveCapacity(count)
            defer { for fd in fds { Glibc.close(fd) } }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = p.port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            while fds.count < count {
                for _ in 0..<min(500, count - fds.count) {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                    try #require(fd >= 0, "socket: errno \(errno) after \(fds.count)")
                    _ = withUnsafePointer(to: &addr) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                    fds.append(fd)
                }
                usleep(20_000)
            }
            let allOpen = eventually(30) { Self.openConnections(p) >= count }
            try #require(allOpen, "sluice shows \(Self.openConnections(p)) open connections, want \(count)")
            usleep(300_000)
            let after = Self.rssKiB(p.pid)
            let growthMiB = Double(after - before) / 1024

            var millis: [Double] = []
            for _ in 0..<5 {
                let t0 = monotonicSeconds()
                let s = try RawSocket(port: p.port)
                let status = Self.echo(s, close: true)
                millis.append((monotonicSeconds() - t0) * 1000)
                #expect(status == 200)
            }
            let median = millis.sorted()[2]
            print("\(count) idle connections: RSS \(before) KiB -> \(after) KiB (+\(String(format: "%.1f", growthMiB)) MiB, "
                  + "\((after - before) * 1024 / count) B each); fresh request median \(String(format: "%.2f", median)) ms")
            #expect(growthMiB <= 64, "\(count) idle connections grew RSS by \(growthMiB) MiB")
            #expect(median < 5, "fresh requests took \(millis) ms")
        }
    }
}
