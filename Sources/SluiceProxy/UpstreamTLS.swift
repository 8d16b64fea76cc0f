import Logging
import SluiceConfig
import SluiceCore
import SluiceRouting
import SluiceTLS

/// What a TLS connection to one endpoint must prove, defaults applied. Backends that share an
/// address must agree on it (the snapshot builder refuses anything else), so pooled connections
/// to an address are interchangeable.
struct TLSPeer: Hashable, Sendable {
    /// Trust roots (nil: the system's; always nil when not verifying).
    let caFile: String?
    /// Whether chain and name are checked.
    let verify: Bool
    /// SNI and the name checked against the certificate (the endpoint's host unless `server_name`).
    let serverName: String

    init(_ tls: BackendTLS, endpoint: Endpoint) {
        caFile = tls.verify ? tls.caFile : nil
        verify = tls.verify
        serverName = tls.serverName ?? endpoint.host
    }
}

/// TLS towards one endpoint: who it must be, and the client contexts (one per ALPN offer) that
/// connect to it. Built with the snapshot, so a reload re-reads the CA files.
struct UpstreamTLS: Sendable {
    let peer: TLSPeer
    /// Offers ALPN `http/1.1`: HTTP/1.1 backends and health probes (nil when nothing needs it).
    var http1: TLSContext?
    /// Offers ALPN `h2`: `protocol: h2` backends (nil when none uses the endpoint).
    var h2: TLSContext?
}

/// The pool a connection belongs to: the same address under other TLS settings (after a
/// reload) is another pool, so a connection is never reused under settings it was not made with.
struct UpstreamPoolKey: Hashable {
    let address: SocketAddress
    let tls: TLSPeer?
}

/// Client contexts of one snapshot build, shared by every endpoint with the same trust settings
/// and ALPN offer; a CA file that cannot be loaded is reported once, located at the first
/// backend that uses it.
struct UpstreamContextCache {
    private struct Trust: Hashable {
        let caFile: String?
        let verify: Bool
    }

    private struct Key: Hashable {
        let trust: Trust
        let alpn: String
    }

    private var built: [Key: TLSContext] = [:]
    private var failed: Set<Trust> = []

    /// The context for `peer` offering `alpn`, or nil after appending the load error to `problems`.
    mutating func context(_ peer: TLSPeer, alpn: String, backend b: Int, tls: BackendTLS, file: String?,
                          problems: inout [String]) -> TLSContext? {
        let trust = Trust(caFile: peer.caFile, verify: peer.verify)
        let key = Key(trust: trust, alpn: alpn)
        if let done = built[key] { return done }
        if failed.contains(trust) { return nil }
        do {
            let context = try TLSContext.client(caFile: peer.caFile, verify: peer.verify, alpn: [alpn])
            built[key] = context
            return context
        } catch {
            failed.insert(trust)
            let located = peer.caFile == nil
                ? ConfigError(path: "backends[\(b)].tls", line: tls.line, message: error.message)
                : ConfigError(path: "backends[\(b)].tls.ca", line: tls.caLine, message: error.message)
            problems.append((file.map { "\($0):" } ?? "") + located.description)
            return nil
        }
    }
}

/// Logger of upstream connection problems (TLS handshakes with backends).
private let upstreamLogger: Logger = {
    var l = Logger(label: "sluice.upstream")
    l.logLevel = .info
    return l
}()

extension Worker {
    /// A TLS handshake with a backend endpoint failed (bad certificate, wrong name, no `h2`
    /// from an h2 backend, closed mid-handshake): counted, and logged at most once a second
    /// per endpoint and worker, with the number of failures the pause swallowed.
    func reportUpstreamTLSFailure(address: SocketAddress, peer: TLSPeer, reason: String) {
        snapshot.global.increment(.upstreamTlsHandshakeFailures, worker: index)
        let now = loop.now
        var entry = tlsFailureLog[address] ?? (loggedAt: 0, suppressed: 0)
        if entry.loggedAt != 0 && now &- entry.loggedAt < 1_000_000_000 {
            entry.suppressed += 1
            tlsFailureLog[address] = entry
            return
        }
        var metadata: Logger.Metadata = [
            "endpoint": "\(address)", "server_name": "\(peer.serverName)", "worker": "\(index)", "reason": "\(reason)",
        ]
        if entry.suppressed > 0 { metadata["unlogged_earlier_failures"] = "\(entry.suppressed)" }
        upstreamLogger.warning("upstream TLS handshake failed; answered as a connect failure", metadata: metadata)
        tlsFailureLog[address] = (loggedAt: now == 0 ? 1 : now, suppressed: 0)
    }
}
