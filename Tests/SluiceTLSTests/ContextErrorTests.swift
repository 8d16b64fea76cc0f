import Testing
import SluiceTLS

/// Configuration mistakes an operator can make: each must name the file at fault.
@Suite struct ContextErrorTests {
    let certs = TestCertificates.shared

    func serverError(certificate: String, key: String) -> TLSError? {
        do {
            _ = try TLSContext.server(certificatePath: certificate, privateKeyPath: key)
            return nil
        } catch {
            return error
        }
    }

    @Test func missingCertificateFile() throws {
        let path = certs.directory + "/absent-cert.pem"
        let error = try #require(serverError(certificate: path, key: certs.key))
        #expect(error.message.contains(path))
        #expect(error.message.contains("No such file or directory"))
        #expect(error.source == .certificate)
    }

    @Test func missingKeyFile() throws {
        let path = certs.directory + "/absent-key.pem"
        let error = try #require(serverError(certificate: certs.certificate, key: path))
        #expect(error.message.contains(path))
        #expect(error.message.contains("No such file or directory"))
        #expect(error.source == .privateKey)
    }

    @Test func keyNotMatchingCertificate() throws {
        let error = try #require(serverError(certificate: certs.certificate, key: certs.otherKey))
        #expect(error.message.contains(certs.otherKey))
        #expect(error.message.contains("key values mismatch"))
        #expect(error.source == .privateKey)
    }

    @Test func garbageCertificatePEM() throws {
        let error = try #require(serverError(certificate: certs.garbage, key: certs.key))
        #expect(error.message.contains(certs.garbage))
        #expect(error.message.contains("error:"))
    }

    @Test func garbageKeyPEM() throws {
        let error = try #require(serverError(certificate: certs.certificate, key: certs.garbage))
        #expect(error.message.contains(certs.garbage))
    }

    @Test func certificateGivenAsKey() throws {
        let error = try #require(serverError(certificate: certs.certificate, key: certs.certificate))
        #expect(error.message.contains(certs.certificate))
    }

    @Test func missingCAFile() throws {
        let path = certs.directory + "/absent-ca.pem"
        #expect { try TLSContext.client(caFile: path) } throws: { error in
            (error as? TLSError)?.message.contains(path) == true && (error as? TLSError)?.source == .caFile
        }
    }

    /// A client certificate (mutual TLS towards backends) is loaded and checked like a server's.
    @Test func clientCertificateErrorsNameTheFile() throws {
        func clientError(certificate: String, key: String) -> TLSError? {
            do {
                _ = try TLSContext.client(caFile: certs.certificate, clientCertificate: (certificate, key), alpn: ["http/1.1"])
                return nil
            } catch {
                return error
            }
        }
        #expect(clientError(certificate: certs.certificate, key: certs.key) == nil)
        let missing = certs.directory + "/absent-client.pem"
        let noCert = try #require(clientError(certificate: missing, key: certs.key))
        #expect(noCert.source == .certificate && noCert.message.contains(missing), "\(noCert)")
        let noKey = try #require(clientError(certificate: certs.certificate, key: missing))
        #expect(noKey.source == .privateKey && noKey.message.contains(missing), "\(noKey)")
        let mismatch = try #require(clientError(certificate: certs.certificate, key: certs.otherKey))
        #expect(mismatch.source == .privateKey && mismatch.message.contains("key values mismatch"), "\(mismatch)")
    }

    @Test func invalidALPNName() {
        #expect(throws: TLSError.self) { try TLSContext.client(alpn: [""]) }
        #expect(throws: TLSError.self) { try TLSContext.client(alpn: [String(repeating: "x", count: 256)]) }
    }
}
