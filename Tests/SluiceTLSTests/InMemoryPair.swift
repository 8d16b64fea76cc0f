import SluiceCore
import SluiceTLS

/// A client and a server connection wired back to back through byte queues.
final class InMemoryPair {
    let client: TLSConnection
    let server: TLSConnection
    private var wire = ByteQueue(capacity: 1 << 16)

    init(client: TLSContext, server: TLSContext, serverName: String? = "localhost") {
        self.client = TLSConnection(context: client, serverName: serverName)
        self.server = TLSConnection(context: server)
    }

    deinit { wire.deallocate() }

    /// Moves pending ciphertext both ways once.
    func pump() {
        move(from: client, to: server)
        move(from: server, to: client)
    }

    private func move(from: TLSConnection, to: TLSConnection) {
        from.drainCiphertext(into: &wire)
        to.feedCiphertext(wire.readable)
        wire.clear()
    }

    /// Runs both handshakes to completion; returns the first failure, if any.
    func handshake() -> TLSConnection.Status {
        for _ in 0..<10 {
            for side in [client, server] where !side.isHandshakeComplete {
                if case .failed(let error) = side.handshake() { pump(); return .failed(error) }
            }
            pump()
            if client.isHandshakeComplete && server.isHandshakeComplete { return .ok }
        }
        return .wantRead
    }
}

extension TLSConnection.Status {
    /// True for `.ok`.
    var isOK: Bool { if case .ok = self { true } else { false } }
    /// The error of `.failed`.
    var error: TLSError? { if case .failed(let e) = self { e } else { nil } }
}
