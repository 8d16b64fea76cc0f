import Foundation

/// Throwaway PEM files made with the `openssl` CLI in a private temp directory.
struct TestCertificates: Sendable {
    /// Directory holding every file below.
    let directory: String
    /// Self-signed certificate for CN=localhost.
    let certificate: String
    /// Its private key.
    let key: String
    /// A second, unrelated key (for mismatch tests).
    let otherKey: String
    /// A file that is not PEM at all.
    let garbage: String

    /// Made once per test process.
    static let shared: TestCertificates = make()

    private static func make() -> TestCertificates {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-tls-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let certs = TestCertificates(directory: dir, certificate: dir + "/cert.pem", key: dir + "/key.pem",
                                     otherKey: dir + "/other-key.pem", garbage: dir + "/garbage.pem")
        for (key, cert) in [(certs.key, certs.certificate), (certs.otherKey, dir + "/other-cert.pem")] {
            let result = runTool(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                  "-out", cert, "-days", "1", "-subj", "/CN=localhost"])
            precondition(result.status == 0, "openssl req failed: \(result.output)")
        }
        try! "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
            .write(toFile: certs.garbage, atomically: true, encoding: .utf8)
        return certs
    }
}

/// Runs a command (found on PATH) under a 20 s `timeout`, returning its exit status and stdout+stderr.
func runTool(_ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["timeout", "20"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try! process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
