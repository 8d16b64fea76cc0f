import Testing
import SluiceTLS

/// Real TLS clients (curl, openssl s_client) against TLSConnection over a real socket.
@Suite struct RealClientTests {
    let certs = TestCertificates.shared

    @Test func curlGetsHello() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = BlockingTLSServer(context: context)
        defer { server.stop() }
        let result = runTool(["curl", "-sk", "--http1.1", "--max-time", "10", "https://127.0.0.1:\(server.port)/"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "hello")
    }

    @Test func curlWithCAFileVerifiesLocalhost() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = BlockingTLSServer(context: context)
        defer { server.stop() }
        let result = runTool(["curl", "-s", "--http1.1", "--max-time", "10", "--cacert", certs.certificate,
                              "--resolve", "localhost:\(server.port):127.0.0.1", "https://localhost:\(server.port)/"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "hello")
    }

    @Test func opensslClientNegotiatesH2() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = BlockingTLSServer(context: context)
        defer { server.stop() }
        let result = runTool(["openssl", "s_client", "-alpn", "h2", "-connect", "127.0.0.1:\(server.port)"])
        #expect(result.output.contains("ALPN protocol: h2"), "\(result.output)")
        #expect(result.output.contains("Protocol  : TLSv1.3") || result.output.contains("TLSv1.3"))
    }

    @Test func opensslClientRefusedBelowTLS12() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = BlockingTLSServer(context: context)
        defer { server.stop() }
        let result = runTool(["openssl", "s_client", "-tls1_1", "-connect", "127.0.0.1:\(server.port)"])
        #expect(result.status != 0)
        #expect(!result.output.contains("Cipher is ECDHE"))
    }
}
