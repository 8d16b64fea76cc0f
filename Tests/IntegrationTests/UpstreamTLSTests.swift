import Foundation
import Glibc
import SluiceConfig
import SluiceCore
import SluiceDemo
import SluiceProxy
import SluiceStats
import Testing

/// A throwaway PKI made with the openssl CLI: a CA, a server certificate it signed for
/// backend.sluice.test, localhost and 127.0.0.1, a client certificate it signed (CN
/// sluice-client), and a second CA that signed only a client certificate (CN rogue-client).
struct TestPKI {
    let dir: String
    var ca: String { dir + "/ca.pem" }
    var otherCA: String { dir + "/other-ca.pem" }
    var cert: String { dir + "/server.pem" }
    var key: String { dir + "/server.key" }
    /// Client certificate and key signed by `ca`.
    var clientCert: String { dir + "/client.pem" }
    var clientKey: String { dir + "/client.key" }
    /// Client certificate and key signed by `otherCA`.
    var rogueCert: String { dir + "/rogue-client.pem" }
    var rogueKey: String { dir + "/rogue-client.key" }

    static func make() throws -> TestPKI {
        let pki = TestPKI(dir: NSTemporaryDirectory() + "sluice-upstream-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: pki.dir, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ["ca", "other-ca"] {
            try pki.openssl(["req", "-x509"] + ec + ["-keyout", "\(pki.dir)/\(name).key", "-out", "\(pki.dir)/\(name).pem",
                             "-days", "1", "-subj", "/CN=Sluice test \(name)",
                             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        let leaves = [
            (name: "server", ca: "ca", cn: "backend.sluice.test",
             ext: "subjectAltName=DNS:backend.sluice.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
            (name: "client", ca: "ca", cn: "sluice-client", ext: "extendedKeyUsage=clientAuth"),
            (name: "rogue-client", ca: "other-ca", cn: "rogue-client", ext: "extendedKeyUsage=clientAuth"),
        ]
        for leaf in leaves {
            let base = "\(pki.dir)/\(leaf.name)"
            try pki.openssl(["req"] + ec + ["-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(leaf.cn)"])
            try "basicConstraints=CA:FALSE\n\(leaf.ext)\n".write(toFile: base + ".cnf", atomically: true, encoding: .utf8)
            try pki.openssl(["x509", "-req", "-in", base + ".csr", "-CA", "\(pki.dir)/\(leaf.ca).pem",
                             "-CAkey", "\(pki.dir)/\(leaf.ca).key", "-CAcreateserial", "-out", base + ".pem", "-days", "1",
                             "-extfile", base + ".cnf"])
        }
        return pki
    }

    private func openssl(_ args: [String]) throws {
        let r = try Command.run("openssl", args, timeout: 30)
        guard r.status == 0 else { throw TestError("openssl \(args.first ?? ""): \(r.stderr)") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Python `http.server` behind `ssl` (ALPN http/1.1 only): `/echo` reports the TLS version, the
/// SNI it saw, the client port (one per upstream connection) and the common name of the client
/// certificate, `/bytes/N` sends N bytes, POST answers with the body length. With
/// `clientCA` it requires a client certificate signed by that CA (mutual TLS); `maxTLS12` caps
/// it at TLS 1.2 (where a refused client certificate fails the handshake itself). It exits by
/// itself after two minutes.
func startTLSHTTP1Backend(_ pki: TestPKI, clientCA: String? = nil, maxTLS12: Bool = false) throws -> PythonServer {
    var mutual = ""
    if let clientCA { mutual += "ctx.verify_mode = ssl.CERT_REQUIRED\nctx.load_verify_locations(\(pythonString(clientCA)))\n" }
    if maxTLS12 { mutual += "ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n" }
    let script = """
    import http.server, json, os, ssl, threading
    threading.Timer(120, os._exit, [0]).start()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(\(pythonString(pki.cert)), \(pythonString(pki.key)))
    ctx.set_alpn_protocols(['http/1.1'])
    \(mutual)
    def sni(sock, name, _):
        sock.sni_name = name
    ctx.sni_callback = sni
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def log_message(self, *a): pass
        def reply(self, body, ctype='application/json'):
            self.send_response(200)
            self.send_header('content-type', ctype)
            self.send_header('content-length', str(len(body)))
            self.send_header('x-conn', str(self.client_address[1]))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path.startswith('/bytes/'):
                return self.reply(b'x' * int(self.path[7:]), 'application/octet-stream')
            peer = self.request.getpeercert()
            client = dict(rdn[0] for rdn in peer['subject']).get('commonName') if peer else None
            self.reply(json.dumps({'path': self.path, 'tls': self.request.version(),
                                   'sni': getattr(self.request, 'sni_name', None),
                                   'alpn': self.request.selected_alpn_protocol(), 'client': client}).encode())
        def do_POST(self):
            n = int(self.headers.get('content-length', '0'))
            got = 0
            while got < n:
                got += len(self.rfile.read(min(65536, n - got)))
            self.reply(json.dumps({'received': got}).encode())
    class S(http.server.ThreadingHTTPServer):
        daemon_threads = True
        def get_request(self):
            sock, addr = self.socket.accept()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr
    httpd = S(('127.0.0.1', 0), H)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()
    """
    return try PythonServer(script: script)
}

/// A Python string literal for `s`.
func pythonString(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}

/// nghttpx in front of a model server: an HTTP/2 backend, h2c (prior knowledge) or, with
/// `pki`, TLS (ALPN h2 and http/1.1) with the PKI's server certificate; with `verifyClients`
/// too, it requires a client certificate signed by the PKI's CA (mutual TLS).
final class NghttpxBackend {
    let model: ModelServer
    let port: UInt16
    private let process = Process()
    private let dir: String

    init(version: String, pki: TestPKI? = nil, verifyClients: Bool = false) throws {
        model = try startModelServer(version)
        port = try freeLoopbackPort()
        dir = NSTemporaryDirectory() + "sluice-nghttpx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nghttpx", "--frontend=127.0.0.1,\(port)" + (pki == nil ? ";no-tls" : ""),
                             "--backend=127.0.0.1,\(model.port)", "--workers=1", "--pid-file=\(dir)/pid", "--conf=/dev/null",
                             "--errorlog-file=\(dir)/err", "--no-ocsp", "--no-strip-incoming-x-forwarded-proto", "--no-add-x-forwarded-proto"] + (pki.map { [$0.key, $0.cert] } ?? [])
            + (verifyClients ? ["--verify-client", "--verify-client-cacert=\(pki?.ca ?? "")"] : [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let identity = verifyClients ? pki.map { ["--cert", $0.clientCert, "--key", $0.clientKey] } ?? [] : []
        let probe = pki.map { identity + ["--cacert", $0.ca, "--http2", "https://127.0.0.1:\(port)/status/200"] }
            ?? ["--http2-prior-knowledge", "http://127.0.0.1:\(port)/status/200"]
        let ready = eventually(5) { (try? Command.run("curl", ["-s", "-o", "/dev/null"] + probe, timeout: 3).status) == 0 }
        if !ready { stop(); throw TestError("nghttpx did not serve on \(port)") }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        model.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// The test PKI with two TLS backends serving its certificate: Python HTTP/1.1 and nghttpx h2.
struct TLSBackendPair {
    let pki: TestPKI
    let h1: PythonServer
    let h1Port: UInt16
    let h2: NghttpxBackend

    init() throws {
        pki = try TestPKI.make()
        var started: [() -> Void] = [pki.remove]
        do {
            h1 = try startTLSHTTP1Backend(pki)
            started.append(h1.stop)
            h1Port = try #require(h1.port)
            h2 = try NghttpxBackend(version: "v-tls", pki: pki)
        } catch {
            for stop in started.reversed() { stop() }
            throw error
        }
    }

    func stop() {
        h2.stop()
        h1.stop()
        pki.remove()
    }
}

extension Integration {
    /// TLS from Sluice to backends (`backends[].tls`): real TLS servers on loopback with
    /// certificates made for the test.
    @Suite struct UpstreamTLS {
        /// One backend entry: `tls` is the inside of the `tls:` mapping.
        static func backend(_ name: String, port: UInt16, protocol proto: String = "http1", tls: String?,
                            extra: String = "") -> String {
            var b = "  - { name: \(name), endpoints: [127.0.0.1:\(port)], protocol: \(proto), timeouts: { connect: 1s, request: 5s }"
            if let tls { b += ", tls: { \(tls) }" }
            if !extra.isEmpty { b += ", \(extra)" }
            return b + " }\n"
        }

        /// One listener, the given backends, and one route per backend, chosen by `x-to: NAME`.
        static func yaml(_ backends: [(name: String, entry: String)]) -> String {
            var y = "workers: 1\nlisteners: [{ name: t, address: 127.0.0.1:0 }]\nbackends:\n"
            for b in backends { y += b.entry }
            y += "routes:\n"
            for b in backends {
                y += "  - { name: \(b.name), match: { path_prefix: /, headers: { x-to: \(b.name) } }, baseline: \(b.name), "
                    + "targets: [{ backend: \(b.name), weight: 100 }] }\n"
            }
            return y
        }

        /// curl arguments fetching `url` `n` times, each body discarded.
        static func discarded(_ url: String, _ n: Int) -> [String] {
            Array(repeating: ["-o", "/dev/null", url], count: n).flatMap { $0 }
        }

        static func counter(_ h: ProxyHarness, _ c: GlobalCounter) -> UInt64 { h.control.currentSnapshot.global.value(c) }

        /// A config for the real binary (`SluiceProcess`): one backend `secure` on `port`, whose
        /// `tls:` mapping (line 7) holds `tls` (one entry per line), and one route to it.
        static func processYAML(port: UInt16, tls: [String]) -> String {
            """
            workers: 1
            listeners: [{ name: t, address: 127.0.0.1:{LISTEN} }]
            admin: { address: 127.0.0.1:{ADMIN} }
            backends:
              - name: secure
                endpoints: [127.0.0.1:\(port)]
                tls:
            \(tls.map { "      " + $0 + "\n" }.joined())routes:
              - { name: r, match: { path_prefix: / }, baseline: secure, targets: [{ backend: secure, weight: 100 }] }
            """
        }

        /// One request through `s` answered 503, and the warning Sluice logged for the failed handshake.
        static func failedHandshakeLogLine(_ s: SluiceProcess) throws -> String {
            let r = try Command.curl(["--http1.1", "\(s.base)/echo"])
            #expect(r.status == 503, "\(r.summary)")
            #expect(eventually(3) { s.log.contains("upstream TLS handshake failed") }, "\(s.log)")
            return s.log.split(separator: "\n").first { $0.contains("upstream TLS handshake failed") }.map(String.init) ?? ""
        }

        /// Each route in `names` answers 503 `upstream_unavailable` (a failed connect or handshake).
        static func expectUnavailable(_ h: ProxyHarness, _ names: [String],
                                      clients: [[String]] = [["--http1.1"]]) throws {
            for name in names {
                for client in clients {
                    let r = try Command.curl(client + ["-H", "x-to: \(name)", "\(h.base)/echo"])
                    #expect(r.status == 503, "\(name) \(client): \(r.summary)")
                    #expect(r.json?["error"] as? String == "upstream_unavailable", "\(name): \(r.body)")
                    #expect((r.json?["message"] as? String)?.contains("could not connect to backend \(name)") == true, "\(r.body)")
                }
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func http1BackendOverTLSReusesPooledConnections() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try startTLSHTTP1Backend(pki)
            defer { backend.stop() }
            let port = try #require(backend.port)
            let h = try ProxyHarness(yaml: Self.yaml([
                ("secure", Self.backend("secure", port: port, tls: "ca: \(pki.ca), server_name: backend.sluice.test")),
            ]))
            defer { h.stop() }
            // Three requests on one client connection: one upstream TLS connection, reused.
            let url = "\(h.base)/echo"
            let r = try Command.curl(["--http1.1", "-H", "x-to: secure", url, url, url])
            #expect(r.status == 200, "\(r.summary)")
            let answers = r.body.replacingOccurrences(of: "}{", with: "}\n{").split(separator: "\n")
            #expect(answers.count == 3, "\(r.body)")
            for a in answers {
                let j = (try? JSONSerialization.jsonObject(with: Data(a.utf8))) as? [String: Any]
                #expect(j?["sni"] as? String == "backend.sluice.test", "\(a)")
                #expect(j?["alpn"] as? String == "http/1.1", "\(a)")
                #expect((j?["tls"] as? String)?.hasPrefix("TLSv1.") == true, "\(a)")
            }
            #expect(Self.counter(h, .upstreamConnectionsOpened) == 1)
            #expect(Self.counter(h, .upstreamConnectionsReused) == 2)
            // Bodies both ways through TLS, and an HTTP/2 client to the same TLS backend.
            let file = NSTemporaryDirectory() + "sluice-upload-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x61, count: 3_000_000))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let up = try Command.curl(["--http1.1", "--data-binary", "@\(file)", "-H", "x-to: secure", "\(h.base)/upload"])
            #expect(up.json?["received"] as? Int == 3_000_000, "\(up.summary)")
            let down = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H", "x-to: secure", "\(h.base)/bytes/4000000"])
            #expect(down.stdout == "200 4000000", "\(down.stdout)")
            let h2 = try Command.curl(["--http2-prior-knowledge", "-H", "x-to: secure", url])
            #expect(h2.rawHeaders.hasPrefix("HTTP/2 200"), "\(h2.summary)")
            #expect(h2.json?["sni"] as? String == "backend.sluice.test")
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 0)
        }

        @Test(.timeLimit(.minutes(1)))
        func h2BackendOverTLSMultiplexesOnFewConnections() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try NghttpxBackend(version: "v-tls", pki: pki)
            defer { backend.stop() }
            // No server_name: the endpoint's host (127.0.0.1) is checked against the IP SAN.
            let h = try ProxyHarness(yaml: Self.yaml([
                ("triton", Self.backend("triton", port: backend.port, protocol: "h2", tls: "ca: \(pki.ca)")),
            ]))
            defer { h.stop() }
            // 40 requests on 20 concurrent HTTP/1.1 client connections, then 20 concurrent streams of one h2 client.
            let url = "\(h.base)/echo"
            let h1 = try Command.run("curl", ["-s", "-w", "%{http_code}\\n", "--parallel", "--parallel-immediate",
                                              "--parallel-max", "20", "--http1.1", "-H", "x-to: triton"] + Self.discarded(url, 40), timeout: 30)
            #expect(h1.stdout.split(separator: "\n") == Array(repeating: "200", count: 40), "\(h1.stdout) \(h1.stderr)")
            // nghttp multiplexes the 20 streams on one connection (curl 7.88 cannot with prior knowledge).
            let h2 = try Command.run("nghttp", ["-n", "-s", "-m", "20", "-H", "x-to: triton", url], timeout: 30)
            #expect(h2.status == 0, "\(h2.stdout) \(h2.stderr)")
            let codes = h2.stdout.split(separator: "\n").filter { $0.contains("/echo") }.map { $0.split(separator: " ").dropFirst(4).first }
            #expect(codes.count == 20 && codes.allSatisfy { $0 == "200" }, "\(h2.stdout)")
            let r = try Command.curl(["--http1.1", "-H", "x-to: triton", url])
            #expect(r.status == 200, "\(r.summary)")
            #expect(r.header("x-backend") == "v-tls")
            #expect(r.header("x-sluice-target") == "triton")
            let opened = Self.counter(h, .upstreamConnectionsOpened)
            #expect(opened >= 1 && opened <= 2, "61 requests opened \(opened) upstream connections")
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 0)
        }

        @Test(.timeLimit(.minutes(1)))
        func grpcOverTLSToTheBackend() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let secure = GRPC.server.replacingOccurrences(
                of: "server.add_insecure_port('127.0.0.1:0')",
                with: "server.add_secure_port('127.0.0.1:0', grpc.ssl_server_credentials("
                    + "[(open(\(pythonString(pki.key)), 'rb').read(), open(\(pythonString(pki.cert)), 'rb').read())]))")
            #expect(secure != GRPC.server)
            let server = try PythonServer(script: secure)
            defer { server.stop() }
            let grpcPort = try #require(server.port, "the grpc server printed no port")
            let closed = try ClosedPort()
            defer { closed.release() }
            let h = try ProxyHarness(yaml: GRPC.yaml(grpcPort: grpcPort, downPort: closed.port,
                                                     tls: "ca: \(pki.ca), server_name: backend.sluice.test",
                                                     downTLS: "ca: \(pki.ca)"))
            defer { h.stop() }
            try GRPC.runClient(through: h)
            #expect(Self.counter(h, .upstreamConnectionsOpened) <= 3)
        }

        @Test(.timeLimit(.minutes(1)))
        func untrustedCertificateIsAConnectFailureAndProxyKeepsServing() throws {
            let pair = try TLSBackendPair()
            defer { pair.stop() }
            let pki = pair.pki
            // Another server with the same certificate, for a backend that trusts it (an address
            // is reached with one set of TLS settings).
            let trusted = try startTLSHTTP1Backend(pki)
            defer { trusted.stop() }
            let h = try ProxyHarness(yaml: Self.yaml([
                ("bad1", Self.backend("bad1", port: pair.h1Port, tls: "ca: \(pki.otherCA)")),
                ("bad2", Self.backend("bad2", port: pair.h2.port, protocol: "h2", tls: "ca: \(pki.otherCA)")),
                ("good", Self.backend("good", port: try #require(trusted.port), tls: "ca: \(pki.ca)")
                    .replacingOccurrences(of: "127.0.0.1", with: "localhost")),
            ]))
            defer { h.stop() }
            try Self.expectUnavailable(h, ["bad1", "bad2"], clients: [["--http1.1"], ["--http2-prior-knowledge"]])
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 4)
            #expect(Self.counter(h, .upstreamConnectFailures) == 4)
            // No server_name: the endpoint's host is the SNI and the name checked.
            let ok = try Command.curl(["--http1.1", "-H", "x-to: good", "\(h.base)/echo"])
            #expect(ok.status == 200, "\(ok.summary)")
            #expect(ok.json?["sni"] as? String == "localhost", "\(ok.body)")
            // Repeated handshake failures eject the endpoint (passive outlier detection), h1 and h2.
            for _ in 0..<4 {
                _ = try Command.curl(["--http1.1", "-H", "x-to: bad1", "\(h.base)/echo"])
                _ = try Command.curl(["--http1.1", "-H", "x-to: bad2", "\(h.base)/echo"])
            }
            #expect(Self.counter(h, .endpointEjections) == 2)
            #expect(try Command.curl(["--http1.1", "-H", "x-to: good", "\(h.base)/echo"]).status == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func wrongServerNameFailsTheHandshake() throws {
            let pair = try TLSBackendPair()
            defer { pair.stop() }
            let tls = "ca: \(pair.pki.ca), server_name: other.sluice.test"
            let h = try ProxyHarness(yaml: Self.yaml([
                ("wrong1", Self.backend("wrong1", port: pair.h1Port, tls: tls)),
                ("wrong2", Self.backend("wrong2", port: pair.h2.port, protocol: "h2", tls: tls)),
            ]))
            defer { h.stop() }
            try Self.expectUnavailable(h, ["wrong1", "wrong2"])
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 2)
        }

        @Test(.timeLimit(.minutes(1)))
        func verifyFalseAcceptsAnUntrustedCertificate() throws {
            let pair = try TLSBackendPair()
            defer { pair.stop() }
            let other = try startTLSHTTP1Backend(pair.pki)
            defer { other.stop() }
            // The system roots do not trust the test CA, and the name does not match either.
            let h = try ProxyHarness(yaml: Self.yaml([
                ("lax1", Self.backend("lax1", port: pair.h1Port, tls: "verify: false, server_name: other.sluice.test")),
                ("lax2", Self.backend("lax2", port: pair.h2.port, protocol: "h2", tls: "verify: false")),
                ("strict", Self.backend("strict", port: try #require(other.port), tls: "")),
            ]))
            defer { h.stop() }
            let r1 = try Command.curl(["--http1.1", "-H", "x-to: lax1", "\(h.base)/echo"])
            #expect(r1.status == 200, "\(r1.summary)")
            #expect(r1.json?["sni"] as? String == "other.sluice.test")
            let r2 = try Command.curl(["--http2-prior-knowledge", "-H", "x-to: lax2", "\(h.base)/echo"])
            #expect(r2.status == 200, "\(r2.summary)")
            #expect(r2.header("x-backend") == "v-tls")
            // `tls: {}` verifies against the system roots, which do not know the test CA.
            let strict = try Command.curl(["--http1.1", "-H", "x-to: strict", "\(h.base)/echo"])
            #expect(strict.status == 503, "\(strict.summary)")
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 1)
        }

        @Test(.timeLimit(.minutes(1)))
        func h2BackendThatDoesNotSelectH2IsAConnectFailure() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let h1 = try startTLSHTTP1Backend(pki)
            defer { h1.stop() }
            let h = try ProxyHarness(yaml: Self.yaml([
                ("notH2", Self.backend("notH2", port: try #require(h1.port), protocol: "h2", tls: "ca: \(pki.ca)")),
            ]))
            defer { h.stop() }
            try Self.expectUnavailable(h, ["notH2"])
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 1)
        }

        @Test(.timeLimit(.minutes(1)))
        func stalledHandshakeIsBoundedByConnectTimeout() throws {
            // Accepts TCP connections (kernel backlog) but never says a TLS word.
            let (fd, port) = try FaultBackend.bindLoopback(listen: true)
            defer { Glibc.close(fd) }
            let yaml = Self.yaml([
                ("mute1", Self.backend("mute1", port: port, tls: "verify: false")),
                ("mute2", Self.backend("mute2", port: port, protocol: "h2", tls: "verify: false")),
            ]).replacingOccurrences(of: "connect: 1s", with: "connect: 300ms")
            let h = try ProxyHarness(yaml: yaml)
            defer { h.stop() }
            for name in ["mute1", "mute2"] {
                let t0 = monotonicSeconds()
                let r = try Command.curl(["--http1.1", "-H", "x-to: \(name)", "\(h.base)/x"], timeout: 10)
                let took = monotonicSeconds() - t0
                #expect(r.status == 503, "\(name): \(r.summary)")
                #expect(took >= 0.25 && took < 2, "\(name) took \(took)s")
            }
            #expect(Self.counter(h, .upstreamTlsHandshakeFailures) == 2)
        }

        @Test(.timeLimit(.minutes(1)))
        func healthChecksRunOverTLS() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let a = try startTLSHTTP1Backend(pki), b = try startTLSHTTP1Backend(pki)
            defer { a.stop(); b.stop() }
            let check = "health_check: { path: /healthz, interval: 100ms, timeout: 100ms, unhealthy_after: 1, healthy_after: 1 }"
            let h = try ProxyHarness(yaml: Self.yaml([
                ("trusted", Self.backend("trusted", port: try #require(a.port), tls: "ca: \(pki.ca)", extra: check)),
                ("untrusted", Self.backend("untrusted", port: try #require(b.port), tls: "ca: \(pki.otherCA)", extra: check)),
            ]))
            defer { h.stop() }
            let health = h.control.currentSnapshot.endpointHealth
            #expect(health.count == 2)
            // The probe fails through TLS only for the backend that does not trust the certificate.
            #expect(eventually(5) { !health[1].isHealthy && health[1].activeState.consecutiveFailures >= 3 })
            #expect(health[0].isHealthy && health[0].activeState.consecutiveFailures == 0)
            #expect(health[0].activeState.consecutivePasses >= 3)
            let r = try Command.curl(["--http1.1", "-H", "x-to: untrusted", "\(h.base)/echo"])
            #expect(r.status == 503 && r.json?["error"] as? String == "no_healthy_upstream", "\(r.summary)")
            #expect(try Command.curl(["--http1.1", "-H", "x-to: trusted", "\(h.base)/echo"]).status == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func caFileErrorsNameFieldAndLineAndReloadKeepsTheOldConfig() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try startTLSHTTP1Backend(pki)
            defer { backend.stop() }
            let port = try #require(backend.port)
            let good = Self.yaml([("secure", Self.backend("secure", port: port, tls: "ca: \(pki.ca)"))])
            // A missing CA file: the start fails with FILE:LINE: backends[0].tls.ca.
            let file = pki.dir + "/sluice.yaml"
            let missing = good.replacingOccurrences(of: pki.ca, with: pki.dir + "/missing.pem")
            try missing.write(toFile: file, atomically: true, encoding: .utf8)
            let parsed = try ConfigLoader.load(path: file)
            do {
                _ = try ControlPlane(config: parsed, configPath: file, workers: 1)
                Issue.record("a missing CA file was accepted")
            } catch {
                #expect(error.message.hasPrefix("\(file):4: backends[0].tls.ca: TLS CA file \(pki.dir)/missing.pem: cannot load"),
                        "\(error.message)")
            }
            // Serving with a good CA; a reload with a CA file that is not PEM is refused and the old one serves on.
            let h = try ProxyHarness(yaml: good)
            defer { h.stop() }
            #expect(try Command.curl(["--http1.1", "-H", "x-to: secure", "\(h.base)/echo"]).status == 200)
            try "not a certificate\n".write(toFile: pki.dir + "/garbage.pem", atomically: true, encoding: .utf8)
            let bad = try ConfigLoader.parse(yaml: good.replacingOccurrences(of: pki.ca, with: pki.dir + "/garbage.pem"), file: "t.yaml")
            do {
                _ = try h.control.apply(bad)
                Issue.record("a CA file without certificates was accepted")
            } catch {
                #expect(error.message.hasPrefix("4: backends[0].tls.ca: TLS CA file \(pki.dir)/garbage.pem"), "\(error.message)")
            }
            #expect(h.control.configVersion == 1)
            #expect(try Command.curl(["--http1.1", "-H", "x-to: secure", "\(h.base)/echo"]).status == 200)
            // Two backends on one address with different TLS settings are refused.
            let mixed = try ConfigLoader.parse(yaml: Self.yaml([
                ("a", Self.backend("a", port: port, tls: "ca: \(pki.ca)")),
                ("b", Self.backend("b", port: port, tls: nil)),
            ]), file: "t.yaml")
            do {
                _ = try h.control.apply(mixed)
                Issue.record("one address with two TLS settings was accepted")
            } catch {
                #expect(error.message.contains("backends[1].endpoints[0]: 127.0.0.1:\(port) is also an endpoint of backend 'a' with other tls settings"),
                        "\(error.message)")
            }
        }

        /// The real binary: the log names the endpoint and OpenSSL's reason, and POST /reload with
        /// a missing CA file answers 400 with FILE:LINE and keeps serving.
        @Test(.timeLimit(.minutes(1)))
        func handshakeFailureIsLoggedWithItsReason() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try startTLSHTTP1Backend(pki)
            defer { backend.stop() }
            let port = try #require(backend.port)
            let s = try SluiceProcess(yaml: Self.processYAML(port: port, tls: ["ca: \(pki.otherCA)"]))
            defer { s.stop(); s.removeFiles() }
            let line = try Self.failedHandshakeLogLine(s)
            #expect(line.contains("127.0.0.1:\(port)"), "\(line)")
            #expect(line.contains("certificate verify failed"), "\(line)")
            // Reload with a missing CA file: refused with the file and line, the old config serves on.
            try s.writeConfig(Self.processYAML(port: port, tls: ["ca: \(pki.dir)/missing.pem"]))
            let reload = try s.adminPost("/reload")
            #expect(reload.status == 400, "\(reload.text)")
            #expect(reload.text.contains("\(s.configPath):8: backends[0].tls.ca"), "\(reload.text)")
            #expect(s.configVersion == 1)
            // A reload that trusts the right CA fixes it without a restart.
            try s.writeConfig(Self.processYAML(port: port, tls: ["ca: \(pki.ca)"]))
            #expect(try s.adminPost("/reload").status == 200)
            #expect(try Command.curl(["--http1.1", "\(s.base)/echo"]).status == 200)
        }
    }
}
