import SluiceConfig
import SluiceRouting
import Testing

/// `backends[].tls`: parsed with its lines (CA errors found at load time point there), and every
/// mistake reported as `file:line: path: message`.
struct BackendTLSConfigTests {
    static func config(_ tls: String) -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends:
          - name: a
            endpoints: [127.0.0.1:8443]
            protocol: h2
        \(tls)
        routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]
        """
    }

    @Test func everyFieldIsRead() throws {
        let yaml = Self.config("""
                tls:
                  ca: /etc/sluice/ca.pem
                  server_name: triton.internal
                  verify: true
            """)
        let tls = try #require(try ConfigLoader.parse(yaml: yaml, file: "t.yaml").routeTable.backends[0].tls)
        #expect(tls == BackendTLS(caFile: "/etc/sluice/ca.pem", serverName: "triton.internal", verify: true, line: 6, caLine: 7))
    }

    @Test func clientCertificateIsReadWithItsLines() throws {
        let yaml = Self.config("""
                tls:
                  ca: /etc/sluice/ca.pem
                  certificate: /etc/sluice/client.pem
                  private_key: /etc/sluice/client.key
            """)
        let tls = try #require(try ConfigLoader.parse(yaml: yaml, file: "t.yaml").routeTable.backends[0].tls)
        #expect(tls.clientCertificate == TLSIdentity(certificate: "/etc/sluice/client.pem", privateKey: "/etc/sluice/client.key",
                                                     certificateLine: 8, privateKeyLine: 9))
        #expect(tls.caFile == "/etc/sluice/ca.pem" && tls.verify)
    }

    /// A client certificate needs its key and the other way round: one alone names the missing
    /// field, at the line of `tls`.
    @Test func certificateAndKeyGoTogether() {
        for (given, missing) in [("certificate: /c.pem", "private_key"), ("private_key: /k.pem", "certificate")] {
            let yaml = Self.config("""
                    tls:
                      ca: /etc/sluice/ca.pem
                      \(given)
                """)
            do {
                _ = try ConfigLoader.parse(yaml: yaml, file: "bad.yaml")
                Issue.record("\(given) alone was accepted")
            } catch {
                let other = missing == "private_key" ? "certificate" : "private_key"
                #expect(error.lines == ["bad.yaml:6: backends[0].tls.\(missing): missing: \(other) is set, so \(missing) is required too (both or neither)"])
            }
        }
        do {
            _ = try ConfigLoader.parse(yaml: Self.config("    tls: { certificate: \"\", private_key: /k.pem }"), file: "bad.yaml")
            Issue.record("an empty certificate path was accepted")
        } catch {
            #expect(error.lines == ["bad.yaml:6: backends[0].tls.certificate: must not be empty"])
        }
    }

    @Test func emptyMappingMeansDefaults() throws {
        let tls = try #require(try ConfigLoader.parse(yaml: Self.config("    tls: {}"), file: "t.yaml").routeTable.backends[0].tls)
        #expect(tls.caFile == nil && tls.serverName == nil && tls.verify && tls.clientCertificate == nil)
        #expect(try ConfigLoader.parse(yaml: Self.config(""), file: "t.yaml").routeTable.backends[0].tls == nil)
    }

    @Test func verifyFalseAndIPServerNames() throws {
        let off = try ConfigLoader.parse(yaml: Self.config("    tls: { verify: false, server_name: \"::1\" }"), file: "t.yaml")
        #expect(off.routeTable.backends[0].tls?.verify == false)
        #expect(off.routeTable.backends[0].tls?.serverName == "::1")
    }

    @Test func mistakesNameFieldAndLine() {
        let yaml = Self.config("""
                tls:
                  ca: ""
                  server_name: "bad name/"
                  verify: yes
                  sni: x
            """)
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "bad.yaml")
            Issue.record("expected errors")
        } catch {
            #expect(error.lines == [
                "bad.yaml:7: backends[0].tls.ca: must not be empty",
                "bad.yaml:8: backends[0].tls.server_name: must be a DNS name or an IP address (letters, digits, '-', '.', ':'; at most 253 bytes), found 'bad name/'",
                "bad.yaml:9: backends[0].tls.verify: expected true or false, found 'yes'",
                "bad.yaml:10: backends[0].tls.sni: unknown field",
            ])
        }
    }

    @Test func tlsMustBeAMapping() {
        do {
            _ = try ConfigLoader.parse(yaml: Self.config("    tls: true"), file: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.lines == ["bad.yaml:6: backends[0].tls: expected a mapping, found a value"])
        }
    }
}
