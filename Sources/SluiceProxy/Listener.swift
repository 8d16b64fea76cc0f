import Glibc
import SluiceCore

/// A listening socket owned by one worker (SO_REUSEPORT: every worker has its own).
final class Listener: EventHandler {
    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    /// The listener's config name (selects its TLS context).
    let name: String
    /// Scratch space for the peer address of each accepted connection.
    private let peer = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 8)

    init(worker: Worker, name: String) {
        self.worker = worker
        self.name = name
    }

    deinit { peer.deallocate() }

    override func handleEvent(_ events: UInt32) {
        while true {
            var len = socklen_t(128)
            switch Sockets.accept(fd, peer: peer, peerLength: &len) {
            case .bytes(let client):
                worker.adopt(client: Int32(client), peer: UnsafeRawPointer(peer), listener: name)
            case .wouldBlock:
                return
            case .failed(let e):
                // EMFILE/ENFILE: stop this round; the level-triggered listener retries next loop.
                if e == EMFILE || e == ENFILE { worker.countAcceptFailure() }
                return
            }
        }
    }
}
