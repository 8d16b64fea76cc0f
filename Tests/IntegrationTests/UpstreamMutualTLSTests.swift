import Foundation
import Glibc
import SluiceConfig
import SluiceProxy
import Testing

extension Integration {
    /// Client certificates towards backends (`backends[].tls.certificate` and `private_key`):
    /// real TLS servers on loopback that require a certificate signed by the test CA.
    @Suite struct UpstreamMutualTLS {
        typealias U = Integration.UpstreamTLS

        /// `ca`, plus the client certificate and key when given.
        static func tls(_ pki: TestPKI, cert: String?, key: String?) -> String {
            var t = "ca: \(pki.ca)"
            if let cert { t += ", certificate: \(cert)" }
            if let key { t += ", private_key: \(key)" }
            return t
        }

        static func echo(_ h: ProxyHarness, _ name: String, client: [String] = ["--http1.1"]) throws -> CurlResult {
            try Command.curl(client + ["-H", "x-to: \(name)", "\(h.base)/echo"])
        }

        @Test(.timeLimit(.minutes(1)))
        func clientCertificateIsPresentedToHTTP1AndH2Backends() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let h1 = try startTLSHTTP1Backend(pki, clientCA: pki.ca)
            defer { h1.stop() }
            let h2 = try NghttpxBackend(version: "v-mtls", pki: pki, verifyClients: true)
            defer { h2.stop() }
            let tls = Self.tls(pki, cert: pki.clientCert, key: pki.clientKey)
            let check = "health_check: { path: /healthz, interval: 100ms, timeout: 100ms, unhealthy_after: 1, healthy_after: 1 }"
            let h = try ProxyHarness(yaml: U.yaml([
                ("mtls1", U.backend("mtls1", port: try #require(h1.port), tls: tls, extra: check)),
                ("mtls2", U.backend("mtls2", port: h2.port, protocol: "h2", tls: tls)),
            ]))
            defer { h.stop() }
            // The HTTP/1.1 backend saw the certificate's subject, from HTTP/1.1 and HTTP/2 clients.
            for client in [["--http1.1"], ["--http2-prior-knowledge"]] {
                let r = try Self.echo(h, "mtls1", client: client)
                #expect(r.status == 200, "\(client): \(r.summary)")
                #expect(r.json?["client"] as? String == "sluice-client", "\(r.body)")
            }
            // nghttpx only serves after verifying the certificate against the CA.
            for client in [["--http1.1"], ["--http2-prior-knowledge"]] {
                let r = try Self.echo(h, "mtls2", client: client)
                #expect(r.status == 200, "\(client): \(r.summary)")
                #expect(r.header("x-backend") == "v-mtls")
            }
            // Health probes present the certificate too.
            let health = h.control.currentSnapshot.endpointHealth
            #expect(eventually(5) { health[0].activeState.consecutivePasses >= 3 })
            #expect(health[0].isHealthy && health[0].activeState.consecutiveFailures == 0)
            #expect(U.counter(h, .upstreamTlsHandshakeFailures) == 0)
        }

        /// A backend that requires a certificate refuses a connection without one, or with one from
        /// another CA. With TLS 1.2 the refusal fails the handshake; with TLS 1.3 the client's
        /// handshake is already complete when the server's alert arrives, on the first read after
        /// the request went out. Both are answered as a connect failure: 503 `upstream_unavailable`
        /// (counted as a TLS handshake failure), never 502 and never a hang.
        @Test(.timeLimit(.minutes(1)))
        func missingOrUntrustedClientCertificateIsAConnectFailure() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            var servers: [PythonServer] = []
            defer { for s in servers { s.stop() } }
            func server(maxTLS12: Bool = false) throws -> UInt16 {
                let s = try startTLSHTTP1Backend(pki, clientCA: pki.ca, maxTLS12: maxTLS12)
                servers.append(s)
                return try #require(s.port)
            }
            let h2 = try NghttpxBackend(version: "v-mtls", pki: pki, verifyClients: true)
            defer { h2.stop() }
            let rogue = Self.tls(pki, cert: pki.rogueCert, key: pki.rogueKey)
            let h = try ProxyHarness(yaml: U.yaml([
                ("none13", U.backend("none13", port: try server(), tls: Self.tls(pki, cert: nil, key: nil))),
                ("rogue13", U.backend("rogue13", port: try server(), tls: rogue)),
                ("none12", U.backend("none12", port: try server(maxTLS12: true), tls: Self.tls(pki, cert: nil, key: nil))),
                ("rogue12", U.backend("rogue12", port: try server(maxTLS12: true), tls: rogue)),
                ("noneH2", U.backend("noneH2", port: h2.port, protocol: "h2", tls: Self.tls(pki, cert: nil, key: nil))),
            ]))
            defer { h.stop() }
            let names = ["none13", "rogue13", "none12", "rogue12", "noneH2"]
            try U.expectUnavailable(h, names, clients: [["--http1.1"], ["--http2-prior-knowledge"]])
            #expect(U.counter(h, .upstreamTlsHandshakeFailures) == 10)
            #expect(U.counter(h, .upstreamConnectFailures) == 10)
            #expect(U.counter(h, .upstreamResets) == 0)
        }

        /// Certificate and key files are read when the snapshot is built: errors name the field and
        /// line (start fails, a reload is refused and the old config serves on), a reload re-reads
        /// them, and backends on one address must present the same certificate.
        @Test(.timeLimit(.minutes(1)))
        func certificateFilesAreCheckedAndReloaded() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try startTLSHTTP1Backend(pki, clientCA: pki.ca)
            defer { backend.stop() }
            let port = try #require(backend.port)
            // The config names fixed paths; the files behind them change (a source that does not
            // exist leaves its path missing).
            let cert = pki.dir + "/current.pem", key = pki.dir + "/current.key"
            func install(_ c: String, _ k: String) throws {
                for (from, to) in [(c, cert), (k, key)] {
                    try? FileManager.default.removeItem(atPath: to)
                    if FileManager.default.fileExists(atPath: from) { try FileManager.default.copyItem(atPath: from, toPath: to) }
                }
            }
            let yaml = U.yaml([("secure", U.backend("secure", port: port, tls: Self.tls(pki, cert: cert, key: key)))])
            // Start-time errors: FILE:LINE: backends[0].tls.certificate / .private_key.
            let file = pki.dir + "/sluice.yaml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let cases: [(cert: String, key: String, expected: String)] = [
                (pki.dir + "/absent.pem", pki.clientKey, "\(file):4: backends[0].tls.certificate: TLS certificate \(cert): cannot load"),
                (pki.clientCert, pki.dir + "/absent.key", "\(file):4: backends[0].tls.private_key: TLS private key \(key)"),
                (pki.clientCert, pki.rogueKey, "\(file):4: backends[0].tls.private_key: TLS private key \(key)"),
            ]
            for c in cases {
                try install(c.cert, c.key)
                let config = try ConfigLoader.load(path: file)
                do {
                    _ = try ControlPlane(config: config, configPath: file, workers: 1)
                    Issue.record("\(c) was accepted")
                } catch {
                    #expect(error.message.hasPrefix(c.expected), "\(error.message)")
                }
            }
            // Serving with the rogue certificate: refused by the backend.
            try install(pki.rogueCert, pki.rogueKey)
            let h = try ProxyHarness(yaml: yaml)
            defer { h.stop() }
            try U.expectUnavailable(h, ["secure"])
            // Same paths, new files: a reload re-reads them and new connections present the new certificate.
            try install(pki.clientCert, pki.clientKey)
            #expect(try h.control.apply(try ConfigLoader.parse(yaml: yaml, file: "t.yaml")) == 2)
            let ok = try Self.echo(h, "secure")
            #expect(ok.status == 200 && ok.json?["client"] as? String == "sluice-client", "\(ok.summary)")
            // A key that does not match: the reload is refused, naming the field; the old config serves on.
            try install(pki.clientCert, pki.rogueKey)
            let mismatched = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
            do {
                _ = try h.control.apply(mismatched)
                Issue.record("a mismatched key was accepted")
            } catch {
                #expect(error.message.hasPrefix("4: backends[0].tls.private_key: TLS private key \(key)"), "\(error.message)")
                #expect(error.message.contains("key values mismatch"), "\(error.message)")
            }
            #expect(h.control.configVersion == 2)
            #expect(try Self.echo(h, "secure").json?["client"] as? String == "sluice-client")
            // One address, two client certificates (or one with and one without): refused.
            try install(pki.clientCert, pki.clientKey)
            for other in [Self.tls(pki, cert: pki.rogueCert, key: pki.rogueKey), Self.tls(pki, cert: nil, key: nil)] {
                let mixed = try ConfigLoader.parse(yaml: U.yaml([
                    ("a", U.backend("a", port: port, tls: Self.tls(pki, cert: cert, key: key))),
                    ("b", U.backend("b", port: port, tls: other)),
                ]), file: "t.yaml")
                do {
                    _ = try h.control.apply(mixed)
                    Issue.record("one address with two client certificates was accepted")
                } catch {
                    #expect(error.message.contains("backends[1].endpoints[0]: 127.0.0.1:\(port) is also an endpoint of backend 'a' "
                                                   + "with other tls settings"), "\(error.message)")
                    #expect(error.message.contains("certificate, private_key"), "\(error.message)")
                }
            }
        }

        /// The real binary: a TLS 1.3 backend's refusal of a missing certificate is logged with
        /// OpenSSL's reason, and POST /reload with a certificate fixes it without a restart.
        @Test(.timeLimit(.minutes(1)))
        func refusalIsLoggedAndAReloadAddsTheCertificate() throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let backend = try startTLSHTTP1Backend(pki, clientCA: pki.ca)
            defer { backend.stop() }
            let port = try #require(backend.port)
            let s = try SluiceProcess(yaml: U.processYAML(port: port, tls: ["ca: \(pki.ca)"]))
            defer { s.stop(); s.removeFiles() }
            let line = try U.failedHandshakeLogLine(s)
            #expect(line.contains("refused the TLS session after the handshake"), "\(line)")
            #expect(line.contains("certificate required"), "\(line)")
            // Only a certificate: the reload is refused with the missing field and its line.
            try s.writeConfig(U.processYAML(port: port, tls: ["ca: \(pki.ca)", "certificate: \(pki.clientCert)"]))
            let half = try s.adminPost("/reload")
            #expect(half.status == 400, "\(half.text)")
            #expect(half.text.contains("\(s.configPath):7: backends[0].tls.private_key: missing"), "\(half.text)")
            try s.writeConfig(U.processYAML(port: port, tls: ["ca: \(pki.ca)", "certificate: \(pki.clientCert)",
                                                                "private_key: \(pki.clientKey)"]))
            #expect(try s.adminPost("/reload").status == 200)
            let ok = try Command.curl(["--http1.1", "\(s.base)/echo"])
            #expect(ok.status == 200 && ok.json?["client"] as? String == "sluice-client", "\(ok.summary)")
        }
    }
}
