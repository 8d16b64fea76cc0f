import Glibc
import SluiceCore

/// One accepted, non-blocking admin socket and the deadline every wait on it respects.
///
/// Each wait is a `poll` of at most 100 ms, so a server stop is noticed quickly; nothing blocks past
/// `deadline`, which bounds how long any client (silent, dribbling, or not reading its response) holds
/// a connection thread.
struct AdminSocket {
    /// The accepted socket (`SOCK_NONBLOCK`).
    let fd: Int32
    /// `MonotonicClock` nanoseconds after which every read and write gives up.
    let deadline: UInt64
    /// True once the server is stopping; checked between polls.
    let shouldStop: @Sendable () -> Bool

    /// Longest single `poll`, so `shouldStop` is checked at least this often.
    static let pollSliceMillis: UInt64 = 100

    /// Why a wait ended.
    enum Wait {
        /// The socket is readable or writable (or has an error `recv`/`send` will report).
        case ready
        /// The deadline passed.
        case expired
        /// The server is stopping.
        case stopped
    }

    /// Waits until `events` (`POLLIN` or `POLLOUT`) is ready, the deadline passes or the server stops.
    func wait(_ events: Int32) -> Wait {
        while true {
            if shouldStop() { return .stopped }
            let now = MonotonicClock.now()
            if now >= deadline { return .expired }
            let millis = min((deadline - now) / 1_000_000 + 1, Self.pollSliceMillis)
            var pfd = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&pfd, 1, Int32(millis))
            if n > 0 { return .ready }
            if n < 0 && errno != EINTR { return .ready }
        }
    }

    /// Result of one read.
    enum Read {
        /// Bytes were appended.
        case data
        /// The peer closed (or the connection failed).
        case eof
        /// The deadline passed first.
        case expired
        /// The server is stopping.
        case stopped
    }

    /// Appends what one `recv` returns (up to 16 KiB) to `buf`, waiting for bytes if none are there.
    func readMore(into buf: inout [UInt8]) -> Read {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buf.append(contentsOf: chunk[0..<n])
                return .data
            }
            if n == 0 { return .eof }
            let e = errno
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { return .eof }
            switch wait(POLLIN) {
            case .ready: continue
            case .expired: return .expired
            case .stopped: return .stopped
            }
        }
    }

    /// Writes every byte, waiting for buffer space until the deadline. At least one attempt is made
    /// even past the deadline, so a small response still leaves when the handler ran long. Returns
    /// whether everything was written.
    @discardableResult
    func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n > 0 { offset += n; continue }
                let e = errno
                if n < 0 && e == EINTR { continue }
                guard n < 0 && (e == EAGAIN || e == EWOULDBLOCK), wait(POLLOUT) == .ready else { return false }
            }
            return true
        }
    }

    /// Half-closes, then drains what the client still sends for at most 200 ms (never past the
    /// deadline) before closing, so an unread request body does not turn the close into a reset
    /// that destroys the response in flight.
    func lingeringClose(maxDrainBytes: Int) {
        shutdown(fd, Int32(SHUT_WR))
        let drain = AdminSocket(fd: fd, deadline: min(deadline, MonotonicClock.now() &+ 200_000_000), shouldStop: shouldStop)
        var scratch: [UInt8] = []
        var drained = 0
        while drained < maxDrainBytes, drain.readMore(into: &scratch) == .data {
            drained += scratch.count
            scratch.removeAll(keepingCapacity: true)
        }
        close(fd)
    }
}
