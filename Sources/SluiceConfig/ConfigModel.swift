import SluiceRouting

/// One downstream listening socket (HTTP/1.1 and HTTP/2 prior knowledge, or TLS with ALPN).
public struct ListenerConfig: Sendable, Hashable {
    /// Unique name, used in logs and stats.
    public var name: String
    /// IPv4 literal, IPv6 literal without brackets, or `localhost`.
    public var host: String
    /// Port; 0 asks the kernel for an ephemeral one.
    public var port: UInt16
    /// TLS, if this listener terminates it: the certificate and key it serves (loaded when the
    /// config is applied).
    public var tls: TLSIdentity?
    /// Accept queue length passed to `listen(2)` for each worker's socket (the kernel caps it at
    /// `net.core.somaxconn`). Read at start only, like the address. Default 4096.
    public var backlog: Int32

    /// The default accept backlog: 4096, the kernel's default `somaxconn` since Linux 5.4.
    public static let defaultBacklog: Int32 = 4096

    /// Creates a listener config.
    public init(name: String, host: String, port: UInt16, tls: TLSIdentity? = nil, backlog: Int32 = ListenerConfig.defaultBacklog) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.backlog = backlog
    }
}

/// Downstream protocol limits: what a client may send before Sluice refuses it.
public struct Limits: Sendable, Hashable {
    /// Largest request body, in bytes (413 above it); routes may override. Default 16 MiB.
    public var maxRequestBody: UInt64 = 16 << 20
    /// Largest request head (request line plus headers), in bytes (431). Default 60 KiB.
    public var maxRequestHeaders: Int = 60 << 10
    /// Most header fields in one request (431). Default 100.
    public var maxHeaderCount: Int = 100
    /// Time allowed to receive a whole request head (408, slowloris guard). Default 10 s.
    public var requestHeaderTimeoutNanos: UInt64 = 10_000_000_000
    /// Keep-alive idle time before a downstream connection is closed. Default 60 s.
    public var idleTimeoutNanos: UInt64 = 60_000_000_000
    /// Longest pause while receiving a request body. Default 60 s.
    public var bodyIdleTimeoutNanos: UInt64 = 60_000_000_000
    /// Requests served on one downstream connection before it is closed. Default 1000.
    public var maxRequestsPerConnection: Int = 1000
    /// Time in-flight requests get to finish on SIGTERM. Default 15 s.
    public var drainTimeoutNanos: UInt64 = 15_000_000_000
    /// Open client connections per process; a connection accepted above it is closed at once.
    /// `nil` (the default) sizes it from `RLIMIT_NOFILE` when the proxy starts (see
    /// `ConnectionBudget.defaultLimit` in SluiceProxy).
    public var maxConnections: Int?
    /// Most request body bytes read to find the model a request names (`match.model` routes
    /// only), before the route is chosen. Default 16 KiB.
    public var modelPeek: Int = 16 << 10

    /// Creates limits with every default.
    public init() {}
}

/// The admin API listener.
public struct AdminConfig: Sendable, Hashable {
    /// IPv4 literal, IPv6 literal without brackets, or `localhost`.
    public var host: String
    /// Port; 0 asks the kernel for an ephemeral one.
    public var port: UInt16
    /// File holding the bearer token every POST must carry; `nil` disables the check.
    public var tokenFile: String?
    /// Host names (lowercased, no port) accepted in `Host` and `Origin` besides IP literals and `localhost`
    /// (`admin.allowed_hosts`).
    public var allowedHosts: [String]

    /// Creates an admin config.
    public init(host: String, port: UInt16, tokenFile: String? = nil, allowedHosts: [String] = []) {
        self.host = host
        self.port = port
        self.tokenFile = tokenFile
        self.allowedHosts = allowedHosts
    }
}

/// Sampled JSON-lines access log, written off the hot path.
public struct AccessLogConfig: Sendable, Hashable {
    /// File appended to.
    public var path: String
    /// Share of requests logged, 0...1. Default 1.
    public var sampleRate: Double

    /// Creates an access-log config.
    public init(path: String, sampleRate: Double = 1) {
        self.path = path
        self.sampleRate = sampleRate
    }
}

/// A whole validated configuration, with its routes compiled into a ``RouteTable``.
public struct SluiceConfig: Sendable {
    /// Event-loop threads; `nil` means one per core.
    public var workers: Int?
    /// Downstream limits.
    public var limits: Limits
    /// Listening sockets; at least one.
    public var listeners: [ListenerConfig]
    /// The admin API listener, if any.
    public var admin: AdminConfig?
    /// The compiled routing snapshot.
    public var routeTable: RouteTable
    /// The access log, if any.
    public var accessLog: AccessLogConfig?
    /// Top-level `notify`: webhook destinations for the rollout events of every route.
    public var notify: [NotifySpec] = []
    /// Per-route `notify`, keyed by route name (routes without one are absent).
    public var routeNotify: [String: [NotifySpec]] = [:]
    /// The `fleet` section: replicas sharing rollout state through etcd; `nil` when standalone.
    public var fleet: FleetSpec?

    /// Creates a configuration.
    public init(
        workers: Int?, limits: Limits, listeners: [ListenerConfig], admin: AdminConfig?,
        routeTable: RouteTable, accessLog: AccessLogConfig?
    ) {
        self.workers = workers
        self.limits = limits
        self.listeners = listeners
        self.admin = admin
        self.routeTable = routeTable
        self.accessLog = accessLog
    }
}
