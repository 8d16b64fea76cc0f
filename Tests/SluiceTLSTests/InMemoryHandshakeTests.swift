import Testing
import SluiceCore
@testable import SluiceTLS

@Suite struct InMemoryHandshakeTests {
    let certs = TestCertificates.shared

    func serverContext() throws -> TLSContext {
        try TLSContext.server(certificatePath: certs.certificate, privateKeyPath: certs.key)
    }

    @Test func negotiatesH2WhenBothOfferIt() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate, alpn: ["h2", "http/1.1"]),
                                server: try serverContext())
        #expect(pair.handshake().isOK)
        #expect(pair.server.negotiatedALPN == "h2")
        #expect(pair.client.negotiatedALPN == "h2")
    }

    @Test func negotiatesHTTP11WhenClientOffersOnlyThat() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate, alpn: ["http/1.1"]),
                                server: try serverContext())
        #expect(pair.handshake().isOK)
        #expect(pair.server.negotiatedALPN == "http/1.1")
        #expect(pair.client.negotiatedALPN == "http/1.1")
    }

    @Test func serverPreferenceWinsOverClientOrder() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate, alpn: ["http/1.1", "h2"]),
                                server: try serverContext())
        #expect(pair.handshake().isOK)
        #expect(pair.server.negotiatedALPN == "h2")
    }

    @Test func noALPNWhenNothingOverlaps() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate, alpn: ["spdy/3"]),
                                server: try serverContext())
        #expect(pair.handshake().isOK)
        #expect(pair.server.negotiatedALPN == nil)
        #expect(pair.client.negotiatedALPN == nil)
    }

    @Test func clientRejectsUntrustedServer() throws {
        // Verifying against the system roots: the self-signed certificate is unknown.
        let pair = InMemoryPair(client: try TLSContext.client(), server: try serverContext())
        let error = try #require(pair.handshake().error)
        #expect(error.message.contains("certificate verify failed"))
        #expect(error.message.contains("self-signed certificate"))
    }

    @Test func clientRejectsWrongHostName() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate),
                                server: try serverContext(), serverName: "example.com")
        let error = try #require(pair.handshake().error)
        #expect(error.message.contains("hostname mismatch"))
    }

    @Test func clientWithoutVerificationAcceptsAnyServer() throws {
        let pair = InMemoryPair(client: try TLSContext.client(verify: false), server: try serverContext(),
                                serverName: "127.0.0.1")
        #expect(pair.handshake().isOK)
    }

    @Test func exchangesOneMebibyteBothWays() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate), server: try serverContext())
        #expect(pair.handshake().isOK)
        let size = 1 << 20
        let upload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let download = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 3) }
        var atServer = ByteQueue(capacity: 4096)
        var atClient = ByteQueue(capacity: 4096)
        defer { atServer.deallocate(); atClient.deallocate() }
        let batch = 64 * 1024
        for offset in stride(from: 0, to: size, by: batch) {
            upload.withUnsafeBytes { #expect(pair.client.writePlaintext(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + batch])).isOK) }
            download.withUnsafeBytes { #expect(pair.server.writePlaintext(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + batch])).isOK) }
            pair.pump()
            for (side, queue) in [(pair.server, 0), (pair.client, 1)] {
                var status = TLSConnection.Status.ok
                while status.isOK {
                    if queue == 0 { status = side.readPlaintext(into: &atServer, max: 100_000).1 }
                    else { status = side.readPlaintext(into: &atClient, max: 100_000).1 }
                }
                guard case .wantRead = status else { Issue.record("unexpected \(status)"); return }
            }
        }
        #expect(atServer.count == size)
        #expect(atClient.count == size)
        #expect(Array(atServer.readable) == upload)
        #expect(Array(atClient.readable) == download)
    }

    @Test func closeNotifyEndsTheStream() throws {
        let pair = InMemoryPair(client: try TLSContext.client(caFile: certs.certificate), server: try serverContext())
        #expect(pair.handshake().isOK)
        let bytes: [UInt8] = Array("last words".utf8)
        bytes.withUnsafeBytes { #expect(pair.client.writePlaintext($0).isOK) }
        pair.client.shutdown()
        pair.pump()
        var out = ByteQueue(capacity: 64)
        defer { out.deallocate() }
        var status = TLSConnection.Status.ok
        while status.isOK { status = pair.server.readPlaintext(into: &out, max: 4096).1 }
        guard case .closed = status else { Issue.record("expected .closed, got \(status)"); return }
        #expect(Array(out.readable) == bytes)
    }
}
