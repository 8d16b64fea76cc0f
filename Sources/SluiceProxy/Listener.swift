import Glibc
import SluiceCore

/// A listening socket owned by one worker (SO_REUSEPORT: every worker has its own).
///
/// Registered level-triggered for reading. When `accept` fails for lack of descriptors or memory
/// the listener takes itself out of the loop's interest set for an `AcceptBackoff` pause and
/// retries from `handleTimeout`; connections arriving meanwhile wait in the kernel's accept queue
/// (`listeners[].backlog`).
final class Listener: EventHandler {
    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    /// The listener's config name (selects its TLS context).
    let name: String
    /// Scratch space for the peer address of each accepted connection.
    private let peer = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 8)
    /// Pauses after resource-exhaustion failures.
    private var backoff = AcceptBackoff()
    /// True while paused: not watched for readability, `deadline` set to the retry.
    private(set) var pausedForBackoff = false

    init(worker: Worker, name: String) {
        self.worker = worker
        self.name = name
    }

    deinit { peer.deallocate() }

    override func handleEvent(_ events: UInt32) {
        if pausedForBackoff { return }
        acceptPending()
    }

    /// Accepts until the queue is empty or accept fails.
    private func acceptPending() {
        while true {
            var len = socklen_t(128)
            switch Sockets.accept(fd, peer: peer, peerLength: &len) {
            case .bytes(let client):
                backoff.succeeded()
                worker.adopt(client: Int32(client), peer: UnsafeRawPointer(peer), listener: name)
            case .wouldBlock:
                return
            case .failed(let e):
                // The connection went away before accept (or a firewall refused it): try the next.
                if e == ECONNABORTED || e == EINTR || e == EPROTO || e == EPERM { continue }
                worker.countAcceptFailure()
                pause()
                return
            }
        }
    }

    /// Stops watching the socket until the back-off pause has passed. Any failure other than the
    /// per-connection ones above pauses too: retrying at once would only fail the same way.
    private func pause() {
        pausedForBackoff = true
        worker.loop.modify(self, interest: 0)
        deadline = worker.loop.now + backoff.failed()
    }

    /// The pause is over: watch the socket again and accept what waits (a failure pauses again, longer).
    override func handleTimeout(now: UInt64) {
        guard pausedForBackoff else { return }
        pausedForBackoff = false
        worker.loop.modify(self, interest: EventLoop.readable)
        acceptPending()
    }
}
