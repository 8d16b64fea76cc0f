/// How Sluice speaks to a backend's endpoints.
public enum UpstreamProtocol: String, Sendable, Hashable {
    /// HTTP/1.1 with keep-alive.
    case http1
    /// HTTP/2 with prior knowledge (gRPC servers, Triton, TF Serving gRPC).
    case h2
}

/// One `host:port` a backend listens on.
///
/// `host` is an IPv4 literal, an IPv6 literal without its brackets, or `localhost`.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// IPv4 literal, IPv6 literal (no brackets) or `localhost`.
    public var host: String
    /// TCP port; 0 is allowed (tests bind ephemeral ports).
    public var port: UInt16

    /// Creates an endpoint.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Per-backend time limits, in nanoseconds.
public struct BackendTimeouts: Sendable, Hashable {
    /// Default connect timeout: 2 s.
    public static let defaultConnectNanos: UInt64 = 2_000_000_000
    /// Default whole-request timeout: 30 s.
    public static let defaultRequestNanos: UInt64 = 30_000_000_000
    /// Default keep-alive idle timeout for pooled upstream connections: 60 s.
    public static let defaultIdleNanos: UInt64 = 60_000_000_000

    /// Time allowed to establish a TCP connection to an endpoint.
    public var connectNanos: UInt64
    /// Time allowed from sending the request to the end of the response.
    public var requestNanos: UInt64
    /// How long an idle pooled upstream connection is kept.
    public var idleNanos: UInt64

    /// Creates timeouts; every argument defaults to the documented default.
    public init(
        connectNanos: UInt64 = BackendTimeouts.defaultConnectNanos,
        requestNanos: UInt64 = BackendTimeouts.defaultRequestNanos,
        idleNanos: UInt64 = BackendTimeouts.defaultIdleNanos
    ) {
        self.connectNanos = connectNanos
        self.requestNanos = requestNanos
        self.idleNanos = idleNanos
    }
}

/// Active health checking of a backend's endpoints.
public struct HealthCheckSpec: Sendable, Hashable {
    /// Path requested with GET; a 2xx answer counts as healthy.
    public var path: String
    /// Time between two probes of one endpoint, in nanoseconds.
    public var intervalNanos: UInt64
    /// Time a probe may take before it counts as failed, in nanoseconds.
    public var timeoutNanos: UInt64
    /// Consecutive failed probes that mark a healthy endpoint unhealthy.
    public var unhealthyAfter: Int
    /// Consecutive good probes that mark an unhealthy endpoint healthy again.
    public var healthyAfter: Int

    /// Creates a health check; defaults are 5 s interval, 1 s timeout, 3 down, 2 up.
    public init(
        path: String,
        intervalNanos: UInt64 = 5_000_000_000,
        timeoutNanos: UInt64 = 1_000_000_000,
        unhealthyAfter: Int = 3,
        healthyAfter: Int = 2
    ) {
        self.path = path
        self.intervalNanos = intervalNanos
        self.timeoutNanos = timeoutNanos
        self.unhealthyAfter = unhealthyAfter
        self.healthyAfter = healthyAfter
    }
}

/// A PEM certificate chain (leaf first) and its PEM private key, with the config lines that
/// name them: a listener's server certificate, or the client certificate a backend is shown.
/// The files are only named here; they are loaded (and their errors reported at these lines)
/// when the config is applied.
public struct TLSIdentity: Sendable, Hashable {
    /// PEM certificate chain path.
    public var certificate: String
    /// PEM private key path.
    public var privateKey: String
    /// Config line of `certificate` (0: not from a file).
    public var certificateLine: Int
    /// Config line of `private_key` (0: not from a file).
    public var privateKeyLine: Int

    /// Creates an identity.
    public init(certificate: String, privateKey: String, certificateLine: Int = 0, privateKeyLine: Int = 0) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.certificateLine = certificateLine
        self.privateKeyLine = privateKeyLine
    }
}

/// TLS towards a backend's endpoints (`backends[].tls`).
public struct BackendTLS: Sendable, Hashable {
    /// PEM file of trusted CA certificates; `nil` uses the system's trust roots.
    public var caFile: String?
    /// SNI and the name checked against the certificate; `nil` uses each endpoint's host.
    public var serverName: String?
    /// Whether the certificate chain and name are checked (`false` is unsafe: anyone on the path can impersonate the backend).
    public var verify: Bool
    /// Client certificate and key presented to the backend (mutual TLS); `nil` presents none.
    public var clientCertificate: TLSIdentity?
    /// Config line of `tls`, for errors found when the trust roots are loaded (0: not from a file).
    public var line: Int
    /// Config line of `tls.ca` (0: not from a file, or no `ca`).
    public var caLine: Int

    /// Creates TLS settings; the defaults verify against the system roots and each endpoint's host, without a client certificate.
    public init(caFile: String? = nil, serverName: String? = nil, verify: Bool = true, clientCertificate: TLSIdentity? = nil,
                line: Int = 0, caLine: Int = 0) {
        self.caFile = caFile
        self.serverName = serverName
        self.verify = verify
        self.clientCertificate = clientCertificate
        self.line = line
        self.caLine = caLine
    }
}

/// A named group of endpoints serving one model version.
public struct Backend: Sendable, Hashable {
    /// Unique name; what targets, override headers and `x-sluice-target` use.
    public var name: String
    /// The addresses traffic is balanced over; never empty in a validated table.
    public var endpoints: [Endpoint]
    /// Wire protocol towards the endpoints.
    public var `protocol`: UpstreamProtocol
    /// Model version reported in `x-model-version`, if configured.
    public var modelVersion: String?
    /// Connect, request and idle limits.
    public var timeouts: BackendTimeouts
    /// Active health check, if configured.
    public var healthCheck: HealthCheckSpec?
    /// TLS to the endpoints, if configured (otherwise cleartext).
    public var tls: BackendTLS?

    /// Creates a backend.
    public init(
        name: String,
        endpoints: [Endpoint],
        protocol: UpstreamProtocol = .http1,
        modelVersion: String? = nil,
        timeouts: BackendTimeouts = BackendTimeouts(),
        healthCheck: HealthCheckSpec? = nil,
        tls: BackendTLS? = nil
    ) {
        self.name = name
        self.endpoints = endpoints
        self.protocol = `protocol`
        self.modelVersion = modelVersion
        self.timeouts = timeouts
        self.healthCheck = healthCheck
        self.tls = tls
    }
}
