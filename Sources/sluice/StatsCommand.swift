import ArgumentParser
import SluiceCore
import SluiceDemo

/// `sluice stats [--admin HOST:PORT]`: the admin API's GET /stats as a readable table.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-route, per-target traffic, status classes, latency percentiles and error rates from a running Sluice."
    )

    @Option(help: "Address of Sluice's admin API, HOST:PORT.")
    var admin: String = "127.0.0.1:9901"

    @Flag(help: "Print the raw JSON of GET /stats instead of the table.")
    var json = false

    @Option(help: "Seconds to wait for the admin API.")
    var timeout: Double = 3

    func run() throws {
        guard let client = SimpleHTTPClient(address: admin, timeoutSeconds: timeout) else {
            printError("sluice stats: --admin must be HOST:PORT, e.g. 127.0.0.1:9901 (got \(admin))")
            throw ExitCode(1)
        }
        defer { client.close() }
        let response: SimpleHTTPResponse
        do {
            response = try client.request("GET", "/stats")
        } catch {
            printError("sluice stats: cannot reach the admin API at \(admin): \(error.description)\n" +
                       "Is sluice running with `admin: { address: \(admin) }`? Choose another address with --admin HOST:PORT.")
            throw ExitCode(1)
        }
        guard response.status == 200 else {
            printError("sluice stats: GET http://\(admin)/stats answered HTTP \(response.status): \(response.text.prefix(500))")
            throw ExitCode(1)
        }
        if json {
            print(response.text)
            return
        }
        guard let report = StatsReport.render(body: response.body, source: admin) else {
            printError("sluice stats: GET http://\(admin)/stats did not answer a JSON object: \(response.text.prefix(200))")
            throw ExitCode(1)
        }
        print(report)
    }
}
