import Glibc
import SluiceCore

/// Connections accepted while every admin connection slot is busy: each is answered 503 at once and
/// half-closed by the accept thread, then kept (not served) until the client closes or 500 ms pass.
///
/// Closing right after the answer would reset the connection when the client's request arrives a
/// moment later, and a reset can destroy the 503 before the client reads it. Owned by the accept
/// thread alone; at most `capacity` are kept (the oldest is closed first), so a flood costs bounded
/// descriptors and no threads.
struct AdminBusyRefusals {
    /// Most refused connections kept lingering at once.
    static let capacity = 64
    /// How long a refused connection is kept for the client's close.
    static let lingerNanos: UInt64 = 500_000_000

    /// Refused sockets and when each is closed regardless.
    private(set) var pending: [(fd: Int32, closeAt: UInt64)] = []

    /// Writes `response` (one non-blocking attempt: it fits a fresh socket's buffer), half-closes and
    /// keeps `fd` until the client closes.
    mutating func refuse(_ fd: Int32, response: [UInt8], now: UInt64) {
        _ = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        shutdown(fd, Int32(SHUT_WR))
        if pending.count >= Self.capacity { close(pending.removeFirst().fd) }
        pending.append((fd, now &+ Self.lingerNanos))
    }

    /// One `pollfd` (POLLIN) per pending socket, in `pending` order.
    var pollDescriptors: [pollfd] {
        pending.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
    }

    /// After a `poll` over `pollDescriptors` (results in `polled`, same order): discards what readable
    /// sockets sent, closes those whose client closed or failed and those past their time.
    mutating func service(_ polled: ArraySlice<pollfd>, now: UInt64) {
        var kept: [(fd: Int32, closeAt: UInt64)] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        for (entry, pfd) in zip(pending, polled) {
            var open = now < entry.closeAt
            if open && pfd.revents != 0 {
                while true {
                    let n = scratch.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 { continue }
                    if n < 0 && errno == EINTR { continue }
                    if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { open = false }
                    break
                }
            }
            if open { kept.append(entry) } else { close(entry.fd) }
        }
        // Sockets refused after `polled` was built have no result yet: keep them.
        kept.append(contentsOf: pending.dropFirst(polled.count))
        pending = kept
    }

    /// Closes every pending socket (server stop).
    mutating func closeAll() {
        for entry in pending { close(entry.fd) }
        pending.removeAll()
    }
}
