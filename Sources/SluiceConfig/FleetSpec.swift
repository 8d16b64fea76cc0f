/// The `fleet:` section: the replicas of one deployment share rollout state, verdicts and operator
/// actions through etcd (docs/fleet.md). Absent: the process is standalone.
public struct FleetSpec: Sendable, Hashable {
    /// One etcd client endpoint (`host:port`, plain HTTP to etcd's v3 JSON gateway).
    public struct Endpoint: Sendable, Hashable {
        /// IPv4 literal, IPv6 literal without brackets, or `localhost`.
        public var host: String
        /// TCP port, 1...65535.
        public var port: UInt16

        /// Creates an endpoint.
        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    /// The fleet's identity; its keys live under `/sluice/<name>/`. Letters, digits, `-`, `_`, `.`.
    public var name: String
    /// This replica's name, unique in the fleet; `nil`: the host name (the `--instance` flag and
    /// `SLUICE_INSTANCE` override both). Same character set as `name`.
    public var instance: String?
    /// etcd client endpoints, tried in order (the next one after a failure).
    public var endpoints: [Endpoint]
    /// Lease time to live: a replica that stops renewing leaves the fleet (and loses leadership) after it.
    /// Whole seconds, 2 s ... 300 s. Default 5 s.
    public var leaseTTLNanos: UInt64
    /// How often each replica publishes its windows (and reads the members list). 100 ms ... lease_ttl / 2.
    /// Default 1 s.
    public var publishEveryNanos: UInt64

    /// Characters allowed in `name` and `instance`.
    public static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
        }
    }

    /// Creates a fleet spec.
    public init(name: String, instance: String? = nil, endpoints: [Endpoint],
                leaseTTLNanos: UInt64 = 5_000_000_000, publishEveryNanos: UInt64 = 1_000_000_000) {
        self.name = name
        self.instance = instance
        self.endpoints = endpoints
        self.leaseTTLNanos = leaseTTLNanos
        self.publishEveryNanos = publishEveryNanos
    }
}
