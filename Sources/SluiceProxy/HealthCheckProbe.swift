import Glibc
import SluiceCore
import SluiceTLS

/// One active health probe: `GET path HTTP/1.1` with `Connection: close` to one endpoint
/// (over TLS when its backend has `tls:`), passing when the status line says 2xx before the timeout. Runs on the health-checker
/// thread and waits (poll) on its own socket; the whole probe — connect, write, read of the
/// status line — must fit in `timeoutNanos`.
enum HealthCheckProbe {
    /// Why a probe failed (for the transition log).
    enum Outcome: Equatable, Sendable {
        case passed(status: Int)
        case failed(reason: String)

        /// Whether the probe counts as a pass.
        var passed: Bool { if case .passed = self { true } else { false } }
    }

    /// The request bytes for `path` against `host` (the endpoint's `host:port`).
    static func request(path: String, host: String) -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: sluice-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
    }

    /// The status code of an HTTP/1.x status line at the start of `bytes`, or nil if incomplete/invalid.
    static func status(_ bytes: ArraySlice<UInt8>) -> Int? {
        // "HTTP/1.x NNN"
        guard bytes.count >= 12 else { return nil }
        let b = Array(bytes.prefix(12))
        guard b[0] == 72, b[1] == 84, b[2] == 84, b[3] == 80, b[4] == 47, b[5] == 49, b[6] == 46, b[8] == 32 else { return -1 }
        var code = 0
        for d in b[9...11] {
            guard d >= 48 && d <= 57 else { return -1 }
            code = code * 10 + Int(d - 48)
        }
        return code
    }

    /// Probes `address` once; with `tls` the GET goes over TLS (ALPN `http/1.1`), and a
    /// failed handshake (untrusted certificate, wrong name) fails the probe.
    static func run(address: SocketAddress, path: String, timeoutNanos: UInt64,
                    tls: (context: TLSContext, serverName: String)? = nil) -> Outcome {
        let deadline = MonotonicClock.now() + max(timeoutNanos, 1_000_000)
        guard let (fd, inProgress) = Sockets.connect(address) else {
            return .failed(reason: "connect: \(SocketIO.describe(errno))")
        }
        defer { SocketIO.close(fd) }
        if inProgress {
            guard wait(fd, events: Int16(POLLOUT), deadline: deadline) else { return .failed(reason: "connect timed out") }
            let err = SocketIO.pendingError(fd)
            if err != 0 { return .failed(reason: "connect: \(SocketIO.describe(err))") }
        }
        let stream = ProbeStream(fd: fd, deadline: deadline,
                                 transport: tls.map { TLSTransport(context: $0.context, serverName: $0.serverName) })
        if let reason = stream.handshake() { return .failed(reason: reason) }
        if let reason = stream.send(request(path: path, host: address.description)) { return .failed(reason: reason) }
        while true {
            if let code = status(stream.received) {
                guard code >= 0 else { return .failed(reason: "not an HTTP/1.x response") }
                return (200..<300).contains(code) ? .passed(status: code) : .failed(reason: "status \(code)")
            }
            if let reason = stream.receive() { return .failed(reason: reason) }
        }
    }

    /// The probe's byte stream: the socket, plain or through the same `TLSTransport` the
    /// workers use, with every wait (poll) ending at `deadline`. Lives for one probe.
    private final class ProbeStream {
        let fd: Int32
        let deadline: UInt64
        let transport: TLSTransport?
        private var input = ByteQueue(capacity: 4096)
        private var output = ByteQueue(capacity: 1024)

        init(fd: Int32, deadline: UInt64, transport: TLSTransport?) {
            self.fd = fd
            self.deadline = deadline
            self.transport = transport
        }

        deinit {
            input.deallocate()
            output.deallocate()
        }

        /// The start of what was received so far (a status line needs 12 bytes).
        var received: ArraySlice<UInt8> { ArraySlice(input.readable.prefix(12)) }

        /// Completes the TLS handshake (nothing to do in plain mode); nil on success, else why not.
        func handshake() -> String? {
            guard let t = transport else { return nil }
            while true {
                switch t.clientHandshake(fd: fd, alpn: "http/1.1", alpnRequired: false) {
                case .done: return nil
                case .failed(let reason): return reason
                case .pending:
                    let events = t.hasPendingOutput ? POLLOUT : POLLIN
                    guard HealthCheckProbe.wait(fd, events: Int16(events), deadline: deadline) else { return "TLS handshake timed out" }
                }
            }
        }

        /// Writes all of `bytes`; nil on success, else why not.
        func send(_ bytes: [UInt8]) -> String? {
            output.append(bytes)
            while true {
                guard TransportIO.write(fd, transport, from: &output) else {
                    return "write: " + (transport?.failureReason ?? SocketIO.describe(errno))
                }
                if output.isEmpty && transport?.hasPendingOutput != true { return nil }
                guard HealthCheckProbe.wait(fd, events: Int16(POLLOUT), deadline: deadline) else { return "write timed out" }
            }
        }

        /// Waits for more response bytes; nil once some arrived, else why none will.
        func receive() -> String? {
            while true {
                input.reserve(4096)
                switch TransportIO.read(fd, transport, into: &input, max: input.writableCount) {
                case .bytes(0): return "closed before a status line"
                case .bytes: return nil
                case .wouldBlock:
                    guard HealthCheckProbe.wait(fd, events: Int16(POLLIN), deadline: deadline) else { return "timed out" }
                case .failed(let code): return "read: " + (transport?.failureReason ?? SocketIO.describe(code))
                }
            }
        }
    }

    /// Waits for `events` on `fd` until `deadline`; false on timeout.
    fileprivate static func wait(_ fd: Int32, events: Int16, deadline: UInt64) -> Bool {
        while true {
            let now = MonotonicClock.now()
            if now >= deadline { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { return false }
        }
    }
}
