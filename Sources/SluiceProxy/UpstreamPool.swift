import SluiceCore

/// Idle keep-alive connections to one endpoint, owned by one worker. LIFO, so the
/// warmest connection is reused and surplus ones age out on their idle timeout.
final class UpstreamPool {
    let address: SocketAddress
    private(set) var idle: [UpstreamConnection] = []

    init(address: SocketAddress) {
        self.address = address
        idle.reserveCapacity(64)
    }

    /// An idle connection, if any.
    @inline(__always)
    func acquire() -> UpstreamConnection? {
        idle.popLast()
    }

    /// Set when the endpoint left the config: connections coming back are closed.
    private(set) var retired = false

    /// Parks a connection that finished an exchange cleanly.
    func release(_ c: UpstreamConnection, now: UInt64, loop: EventLoop) {
        if retired {
            c.closeNow(loop: loop)
            return
        }
        c.state = .idle
        c.readPaused = false
        c.owner = nil
        c.deadline = now + c.idleTimeout
        c.pool = self
        idle.append(c)
    }

    /// Forgets a connection the backend closed while it sat idle.
    func remove(_ c: UpstreamConnection) {
        if let i = idle.firstIndex(where: { $0 === c }) { idle.remove(at: i) }
    }

    /// Closes every idle connection (drain, or the endpoint left the config).
    func closeAll(loop: EventLoop, retire: Bool = false) {
        if retire { retired = true }
        for c in idle { c.closeNow(loop: loop) }
        idle.removeAll()
    }
}
