import SluiceConfig
import Testing

/// `admin.allowed_hosts` and the loopback warning of `SluiceConfig.warnings()`.
struct AdminConfigTests {
    /// A minimal config whose `admin` mapping is `admin` (YAML flow style).
    static func yaml(admin: String) -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        admin: \(admin)
        backends: [{ name: a, endpoints: [127.0.0.1:1] }]
        routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]

        """
    }

    @Test func allowedHostsAreReadLowercased() throws {
        let c = try ConfigLoader.parse(yaml: Self.yaml(admin: "{ address: 127.0.0.1:9901, allowed_hosts: [Admin.Internal, sluice-admin] }"), file: "a.yaml")
        #expect(c.admin?.allowedHosts == ["admin.internal", "sluice-admin"])
        let none = try ConfigLoader.parse(yaml: Self.yaml(admin: "{ address: 127.0.0.1:9901 }"), file: "a.yaml")
        #expect(none.admin?.allowedHosts == [])
    }

    @Test(arguments: ["http://admin.internal", "admin.internal:9901", "10.0.0.1:80", "[::1]", "a..b", "bad name", "''"])
    func hostsWithSchemePortOrBadCharactersAreErrors(_ entry: String) {
        do {
            _ = try ConfigLoader.parse(yaml: Self.yaml(admin: "{ address: 127.0.0.1:9901, allowed_hosts: [\"\(entry == "''" ? "" : entry)\"] }"), file: "a.yaml")
            Issue.record("\(entry) accepted")
        } catch {
            #expect(error.lines.count == 1)
            #expect(error.lines.first?.hasPrefix("a.yaml:2: admin.allowed_hosts[0]: ") == true, "\(error.lines)")
        }
    }

    @Test(arguments: [
        ("{ address: 0.0.0.0:9901 }", true),
        ("{ address: \"[::]:9901\" }", true),
        ("{ address: 10.1.2.3:9901 }", true),
        ("{ address: 127.0.0.1:9901 }", false),
        ("{ address: 127.9.8.7:9901 }", false),
        ("{ address: localhost:9901 }", false),
        ("{ address: \"[::1]:9901\" }", false),
        ("{ address: \"[::ffff:127.0.0.1]:9901\" }", false),
        ("{ address: 0.0.0.0:9901, token_file: /etc/sluice/admin-token }", false),
    ])
    func nonLoopbackAdminWithoutTokenWarns(_ admin: String, _ warns: Bool) throws {
        let c = try ConfigLoader.parse(yaml: Self.yaml(admin: admin), file: "a.yaml")
        let warnings = c.warnings()
        #expect(warnings.count == (warns ? 1 : 0), "\(admin): \(warnings)")
        if warns {
            #expect(warnings[0].contains("is not a loopback address and admin.token_file is not set"))
        }
    }

    @Test func noAdminNoWarning() throws {
        let c = try ConfigLoader.parse(yaml: Self.yaml(admin: "null").replacingOccurrences(of: "admin: null\n", with: ""), file: "a.yaml")
        #expect(c.admin == nil)
        #expect(c.warnings().isEmpty)
    }
}
