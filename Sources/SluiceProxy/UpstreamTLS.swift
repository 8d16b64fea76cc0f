import Logging
import SluiceConfig
import SluiceCore
import SluiceRouting
import SluiceTLS

/// What a TLS connection to one endpoint must prove and present, defaults applied. Backends that
/// share an address must agree on it (the snapshot builder refuses anything else), so pooled
/// connections to an address are interchangeable.
struct TLSPeer: Hashable, Sendable {
    /// What the client contexts are built from; endpoints with equal policies share them.
    struct Policy: Hashable, Sendable {
        /// Trust roots (nil: the system's; always nil when not verifying).
        let caFile: String?
        /// Whether chain and name are checked.
        let verify: Bool
        /// Client certificate and key files presented to the backend (nil: none).
        let certificate: String?
        let privateKey: String?
    }

    let policy: Policy
    /// SNI and the name checked against the certificate (the endpoint's host unless `server_name`).
    let serverName: String

    init(_ tls: BackendTLS, endpoint: Endpoint) {
        policy = Policy(caFile: tls.verify ? tls.caFile : nil, verify: tls.verify,
                        certificate: tls.clientCertificate?.certificate, privateKey: tls.clientCertificate?.privateKey)
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

/// Client contexts of one snapshot build, shared by every endpoint with the same policy and ALPN
/// offer; a policy whose files cannot be loaded is reported once, located at the field of the
/// first backend that uses it.
struct UpstreamContextCache {
    private struct Key: Hashable {
        let policy: TLSPeer.Policy
        let alpn: String
    }

    private var built: [Key: TLSContext] = [:]
    private var failed: Set<TLSPeer.Policy> = []

    /// The context for `peer` offering `alpn`, or nil after appending the load error to `problems`.
    mutating func context(_ peer: TLSPeer, alpn: String, backend b: Int, tls: BackendTLS, file: String?,
                          problems: inout [String]) -> TLSContext? {
        let policy = peer.policy
        let key = Key(policy: policy, alpn: alpn)
        if let done = built[key] { return done }
        if failed.contains(policy) { return nil }
        do {
            let identity = tls.clientCertificate.map { (certificatePath: $0.certificate, privateKeyPath: $0.privateKey) }
            let context = try TLSContext.client(caFile: policy.caFile, verify: policy.verify, clientCertificate: identity,
                                                alpn: [alpn])
            built[key] = context
            return context
        } catch {
            failed.insert(policy)
            problems.append(error.configProblem(at: "backends[\(b)].tls", line: tls.line, caLine: tls.caLine,
                                                identity: tls.clientCertificate, file: file))
            return nil
        }
    }
}

extension TLSError {
    /// `FILE:LINE: PATH.FIELD: message` for a context that could not be built from the `tls`
    /// mapping at `path` (line `line`): located at the field whose file failed (`certificate`,
    /// `private_key` or `ca`), else at the mapping. No `FILE:` for a config not read from a file.
    func configProblem(at path: String, line: Int, caLine: Int = 0, identity: TLSIdentity?, file: String?) -> String {
        let (field, fieldLine): (String?, Int) = switch source {
        case .certificate: ("certificate", identity?.certificateLine ?? line)
        case .privateKey: ("private_key", identity?.privateKeyLine ?? line)
        case .caFile: ("ca", caLine)
        case nil: (nil, line)
        }
        let located = ConfigError(path: field.map { "\(path).\($0)" } ?? path, line: fieldLine, message: message)
        return (file.map { "\($0):" } ?? "") + located.description
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
        increment(.upstreamTlsHandshakeFailures)
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
