import Foundation
import SluiceConfig
import SluiceDemo
import SluiceProxy
import Testing

extension Integration {
    /// TLS listeners: ALPN picks h2 or http/1.1; a bad certificate is a clear error.
    @Suite struct TLS {
        /// A throwaway self-signed certificate made with the openssl CLI.
        static func makeCertificate(cn: String = "localhost") throws -> (cert: String, key: String, dir: String) {
            let dir = NSTemporaryDirectory() + "sluice-tls-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let r = try Command.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/key.pem",
                                                "-out", "\(dir)/cert.pem", "-days", "1", "-subj", "/CN=\(cn)"])
            #expect(r.status == 0, "\(r.stderr)")
            return ("\(dir)/cert.pem", "\(dir)/key.pem", dir)
        }

        static func yaml(backend: UInt16, cert: String, key: String) -> String {
            """
            workers: 1
            listeners:
              - { name: tls, address: 127.0.0.1:0, tls: { certificate: \(cert), private_key: \(key) } }
            backends: [{ name: v1, endpoints: [127.0.0.1:\(backend)], model_version: v1 }]
            routes:
              - { name: m, match: { path_prefix: / }, baseline: v1, targets: [{ backend: v1, weight: 100 }] }
            """
        }

        @Test(.timeLimit(.minutes(1)))
        func alpnNegotiatesH2AndHTTP11() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let c = try TLS.makeCertificate()
            defer { try? FileManager.default.removeItem(atPath: c.dir) }
            let h = try ProxyHarness(yaml: TLS.yaml(backend: backend.port, cert: c.cert, key: c.key))
            defer { h.stop() }
            let url = "https://127.0.0.1:\(h.port)/echo"
            let h2 = try Command.curl(["-k", "--http2", url])
            #expect(h2.exitCode == 0, "\(h2.stderr)")
            #expect(h2.rawHeaders.hasPrefix("HTTP/2 200"), "\(h2.rawHeaders)")
            #expect(h2.header("x-sluice-target") == "v1")
            let headers = h2.json?["headers"] as? [String: Any]
            #expect(headers?["x-forwarded-proto"] as? String == "https")
            let h1 = try Command.curl(["-k", "--http1.1", url])
            #expect(h1.rawHeaders.hasPrefix("HTTP/1.1 200"), "\(h1.rawHeaders)")
            #expect(h1.header("x-sluice-target") == "v1")
            #expect((h1.json?["headers"] as? [String: Any])?["x-forwarded-proto"] as? String == "https")
            // Larger bodies both ways through TLS + HTTP/2.
            let down = try Command.run("curl", ["-sk", "--http2", "-o", "/dev/null", "-w", "%{size_download}", "https://127.0.0.1:\(h.port)/bytes/3000000"])
            #expect(down.stdout == "3000000")
            // Plain HTTP sent to the TLS port fails cleanly and the listener keeps serving.
            let plain = try Command.curl(["http://127.0.0.1:\(h.port)/echo"], timeout: 5)
            #expect(plain.status != 200)
            #expect(try Command.curl(["-k", "--http2", url]).status == 200)
        }

        /// The subject a TLS client sees on the listener.
        static func servedSubject(port: UInt16) throws -> String {
            let r = try Command.run("sh", ["-c", "openssl s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null | openssl x509 -noout -subject"], timeout: 10)
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @Test(.timeLimit(.minutes(1)))
        func certificatesReloadWithTheConfig() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let a = try TLS.makeCertificate(cn: "first.sluice.test"), b = try TLS.makeCertificate(cn: "second.sluice.test")
            defer { try? FileManager.default.removeItem(atPath: a.dir); try? FileManager.default.removeItem(atPath: b.dir) }
            let h = try ProxyHarness(yaml: TLS.yaml(backend: backend.port, cert: a.cert, key: a.key))
            defer { h.stop() }
            #expect(try TLS.servedSubject(port: h.port).contains("first.sluice.test"))
            // A reload (SIGHUP and POST /reload end here) with new files: new connections get the new certificate.
            let yaml = TLS.yaml(backend: backend.port, cert: b.cert, key: b.key).replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:\(h.port)")
            _ = try h.control.apply(try ConfigLoader.parse(yaml: yaml, file: "t.yaml"))
            #expect(try TLS.servedSubject(port: h.port).contains("second.sluice.test"))
            // A reload with a broken certificate is refused and the old one keeps serving.
            try "garbage".write(toFile: "\(b.dir)/broken.pem", atomically: true, encoding: .utf8)
            let bad = TLS.yaml(backend: backend.port, cert: "\(b.dir)/broken.pem", key: b.key)
            #expect(throws: ControlError.self) { _ = try h.control.apply(try ConfigLoader.parse(yaml: bad, file: "t.yaml")) }
            #expect(try TLS.servedSubject(port: h.port).contains("second.sluice.test"))
        }

        /// A certificate or key that cannot be loaded is reported as `FILE:LINE: listeners[N].tls.certificate`
        /// (or `.private_key`), at start and on reload (which keeps the old config).
        @Test func badCertificateIsAClearError() throws {
            let good = try TLS.makeCertificate(), other = try TLS.makeCertificate(cn: "other")
            defer { try? FileManager.default.removeItem(atPath: good.dir); try? FileManager.default.removeItem(atPath: other.dir) }
            let dir = good.dir
            try "not a certificate".write(toFile: "\(dir)/garbage.pem", atomically: true, encoding: .utf8)
            let file = "\(dir)/sluice.yaml"
            func start(cert: String, key: String) throws -> Result<ControlPlane, ControlError> {
                try TLS.yaml(backend: 1, cert: cert, key: key).write(toFile: file, atomically: true, encoding: .utf8)
                let config = try ConfigLoader.load(path: file)
                do { return .success(try ControlPlane(config: config, configPath: file, workers: 1)) } catch { return .failure(error) }
            }
            let cases: [(cert: String, key: String, expected: String)] = [
                ("\(dir)/garbage.pem", good.key, "\(file):3: listeners[0].tls.certificate: TLS certificate \(dir)/garbage.pem: cannot load"),
                ("\(dir)/absent.pem", good.key, "\(file):3: listeners[0].tls.certificate: TLS certificate \(dir)/absent.pem: cannot load"),
                (good.cert, "\(dir)/absent.pem", "\(file):3: listeners[0].tls.private_key: TLS private key \(dir)/absent.pem"),
                (good.cert, other.key, "\(file):3: listeners[0].tls.private_key: TLS private key \(other.key)"),
            ]
            for c in cases {
                if case .failure(let error) = try start(cert: c.cert, key: c.key) {
                    #expect(error.message.hasPrefix(c.expected), "\(error.message)")
                } else {
                    Issue.record("\(c.cert) with \(c.key) was accepted")
                }
            }
            // A reload of the file with a key that does not match: refused with the same location.
            guard case .success(let control) = try start(cert: good.cert, key: good.key) else {
                Issue.record("a good certificate was refused")
                return
            }
            try TLS.yaml(backend: 1, cert: good.cert, key: other.key).write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try control.reload()
                Issue.record("a reload with a mismatched key was accepted")
            } catch {
                #expect(error.message.hasPrefix("\(file):3: listeners[0].tls.private_key: TLS private key \(other.key)"), "\(error.message)")
                #expect(error.message.contains("key values mismatch"), "\(error.message)")
            }
            #expect(control.configVersion == 1)
        }
    }
}
