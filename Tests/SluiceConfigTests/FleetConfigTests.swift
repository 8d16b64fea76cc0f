import SluiceConfig
import Testing

/// The `fleet:` section: defaults, and every error named with its field and line.
struct FleetConfigTests {
    static func config(_ fleet: String) -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }]
        routes:
          - name: r
            match: { path_prefix: / }
            targets: [{ backend: a, weight: 100 }]
        \(fleet)
        """
    }

    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "f.yaml")
            Issue.record("expected errors")
            return []
        } catch {
            return error.lines
        }
    }

    @Test func withoutFleetTheProcessIsStandalone() throws {
        #expect(try ConfigLoader.parse(yaml: Self.config(""), file: "f.yaml").fleet == nil)
    }

    @Test func defaults() throws {
        let c = try ConfigLoader.parse(yaml: Self.config("""
            fleet:
              name: fraud-prod
              etcd: { endpoints: ["127.0.0.1:2379", "[::1]:2379"] }
            """), file: "f.yaml")
        #expect(c.fleet == FleetSpec(name: "fraud-prod", instance: nil,
                                     endpoints: [.init(host: "127.0.0.1", port: 2379), .init(host: "::1", port: 2379)],
                                     leaseTTLNanos: 5_000_000_000, publishEveryNanos: 1_000_000_000))
    }

    @Test func everyField() throws {
        let c = try ConfigLoader.parse(yaml: Self.config("""
            fleet:
              name: f.1_x
              instance: pod-a
              etcd: { endpoints: ["localhost:2379", "sluice-etcd.default.svc:2379"] }
              lease_ttl: 10s
              publish_every: 500ms
            """), file: "f.yaml")
        #expect(c.fleet == FleetSpec(name: "f.1_x", instance: "pod-a",
                                     endpoints: [.init(host: "localhost", port: 2379), .init(host: "sluice-etcd.default.svc", port: 2379)],
                                     leaseTTLNanos: 10_000_000_000, publishEveryNanos: 500_000_000))
    }

    @Test func errorsNameTheFieldAndLine() {
        let errors = Self.errors(Self.config("""
            fleet:
              name: "fraud prod"
              instance: "a/b"
              etcd: { endpoints: ["127.0.0.1", "127.0.0.1:0"] }
              lease_ttl: 1500ms
              publish_every: 10ms
              leader: me
            """))
        #expect(errors.contains("f.yaml:8: fleet.name: must be 1 to 128 letters, digits, '-', '_' or '.', found 'fraud prod'"))
        #expect(errors.contains("f.yaml:9: fleet.instance: must be 1 to 128 letters, digits, '-', '_' or '.', found 'a/b'"))
        #expect(errors.contains("f.yaml:10: fleet.etcd.endpoints[0]: invalid etcd endpoint '127.0.0.1': expected host:port with an IP address, [IPv6], localhost or a DNS name"))
        #expect(errors.contains("f.yaml:10: fleet.etcd.endpoints[1]: port must be 1..65535"))
        #expect(errors.contains("f.yaml:11: fleet.lease_ttl: must be whole seconds between 2s and 300s (etcd leases count in seconds)"))
        #expect(errors.contains("f.yaml:12: fleet.publish_every: must be between 100ms and half of lease_ttl (2500ms)"))
        #expect(errors.contains("f.yaml:13: fleet.leader: unknown field"))
    }

    @Test func missingPartsAndTLS() {
        let errors = Self.errors(Self.config("""
            fleet:
              etcd: { endpoints: [], tls: { ca: /x } }
            """))
        #expect(errors.contains("f.yaml:7: fleet.name: missing required field"))
        #expect(errors.contains { $0.contains("fleet.etcd.tls: TLS to etcd is not supported yet") })
        let empty = Self.errors(Self.config("""
            fleet:
              name: x
              etcd: { endpoints: [] }
            """))
        #expect(empty.contains("f.yaml:9: fleet.etcd.endpoints: at least one etcd endpoint is required"))
    }
}
