import Testing
import SluiceCore
import SluiceTLS

/// A peer that does not speak TLS properly: the handshake fails and the peer gets an alert.
@Suite struct MalformedClientHelloTests {
    let certs = TestCertificates.shared

    @Test func garbageClientHelloFailsWithAlert() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = TLSConnection(context: context)
        // A handshake record holding a ClientHello whose body is nonsense.
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0xff, 0xff, 0xff, 0xff]
        hello.withUnsafeBytes { server.feedCiphertext($0) }
        let error = try #require(server.handshake().error)
        #expect(error.message.contains("TLS handshake failed"))
        #expect(!server.isHandshakeComplete)
        var out = ByteQueue(capacity: 64)
        defer { out.deallocate() }
        server.drainCiphertext(into: &out)
        let alert = Array(out.readable)
        // One alert record: content type 21, level fatal (2).
        #expect(alert.count == 7)
        #expect(alert.first == 0x15)
        #expect(alert.count > 5 && alert[5] == 2)
        // The failure sticks.
        #expect(server.handshake().error != nil)
        #expect(server.writePlaintext(UnsafeRawBufferPointer(start: nil, count: 0)).error != nil)
    }

    @Test func plainHTTPOnTLSPortFails() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = TLSConnection(context: context)
        Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { server.feedCiphertext($0) }
        let error = try #require(server.handshake().error)
        #expect(error.message.contains("http request"))
    }

    @Test func partialClientHelloWantsMore() throws {
        let context = try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
        let server = TLSConnection(context: context)
        ([0x16, 0x03, 0x01] as [UInt8]).withUnsafeBytes { server.feedCiphertext($0) }
        guard case .wantRead = server.handshake() else { Issue.record("expected .wantRead"); return }
        #expect(server.pendingCiphertext == 0)
    }
}
