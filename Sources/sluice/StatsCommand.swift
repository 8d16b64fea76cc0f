import ArgumentParser
import Glibc
import SluiceCore
import SluiceDemo
import SluiceSupport

/// `sluice stats [--admin HOST:PORT] [--json] [--watch]`: the admin API's GET /stats as a readable table.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-route, per-target traffic, status classes, latency percentiles and error rates from a running Sluice.",
        discussion: """
        With --watch the table is redrawn in place every --interval seconds (like top) until Ctrl-C, \
        SIGTERM, the end of standard input (Ctrl-D on a terminal, or a closed pipe), or a closed standard output.
        """
    )

    @Option(help: "Address of Sluice's admin API, HOST:PORT.")
    var admin: String = "127.0.0.1:9901"

    @Flag(help: "Print the raw JSON of GET /stats instead of the table.")
    var json = false

    @Flag(help: "Redraw the table in place every --interval seconds until Ctrl-C.")
    var watch = false

    @Option(help: "Seconds between redraws with --watch.")
    var interval: Double = 1

    @Option(help: "Seconds to wait for the admin API.")
    var timeout: Double = 3

    func validate() throws {
        guard interval >= 0.1 && interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
        if watch && json { throw ValidationError("--watch redraws the table; it does not combine with --json") }
    }

    func run() throws {
        guard SimpleHTTPClient(address: admin, timeoutSeconds: timeout) != nil else {
            printError("sluice stats: --admin must be HOST:PORT, e.g. 127.0.0.1:9901 (got \(admin))")
            throw ExitCode(1)
        }
        if watch {
            StatsWatch(interval: interval) { fetch() }.run()
            return
        }
        switch fetch() {
        case .success(let text):
            print(text)
        case .failure(let failure):
            printError(failure.message)
            throw ExitCode(1)
        }
    }

    /// Why a fetch failed (an operator-facing message).
    struct Failure: Error {
        var message: String
    }

    /// GET /stats once: the table (or the JSON with --json), or why not.
    func fetch() -> Result<String, Failure> {
        guard let client = SimpleHTTPClient(address: admin, timeoutSeconds: timeout) else {
            return .failure(Failure(message: "sluice stats: --admin must be HOST:PORT (got \(admin))"))
        }
        defer { client.close() }
        let response: SimpleHTTPResponse
        do {
            response = try client.request("GET", "/stats")
        } catch {
            return .failure(Failure(message: "sluice stats: cannot reach the admin API at \(admin): \(error.description)\n" +
                "Is sluice running with `admin: { address: \(admin) }`? Choose another address with --admin HOST:PORT."))
        }
        guard response.status == 200 else {
            return .failure(Failure(message: "sluice stats: GET http://\(admin)/stats answered HTTP \(response.status): \(response.text.prefix(500))"))
        }
        if json { return .success(response.text) }
        guard let report = StatsReport.render(body: response.body, source: admin) else {
            return .failure(Failure(message: "sluice stats: GET http://\(admin)/stats did not answer a JSON object: \(response.text.prefix(200))"))
        }
        return .success(report)
    }
}

/// `sluice stats --watch`: redraws a frame in place every `interval` seconds.
///
/// Each frame moves the cursor home, writes every line followed by "erase to end of line" and ends with
/// "erase below", so the screen is rewritten without the blink of a full clear; the first frame clears the
/// screen once. SIGINT, SIGTERM and SIGHUP are blocked and waited for with `sigtimedwait` between frames,
/// so Ctrl-C ends the loop between two frames and the cursor is restored. The end of standard input
/// (when it is a terminal or a pipe) and a failed write to standard output end it too.
struct StatsWatch {
    /// Seconds between frames.
    let interval: Double
    /// The frame body (or the reason it could not be fetched, shown in place of the table).
    let frame: () -> Result<String, Stats.Failure>

    /// Why the loop ended.
    enum End: Equatable { case signal(Int32), endOfInput, outputClosed }

    /// Draws until a stop; returns why it stopped.
    @discardableResult
    func run() -> End {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        let watchInput = Self.inputCanEnd()
        var first = true
        var end: End
        defer { _ = Self.write("\u{1B}[?25h\n") }
        while true {
            let started = MonotonicClock.now()
            let body: String
            switch frame() {
            case .success(let text): body = text
            case .failure(let failure): body = failure.message + "\n(retrying)"
            }
            let header = "every \(NumberFormat.compact(interval)) s · Ctrl-C to stop · \(Self.clock())"
            var out = first ? "\u{1B}[?25l\u{1B}[H\u{1B}[2J" : "\u{1B}[H"
            for line in (header + "\n" + body).split(separator: "\n", omittingEmptySubsequences: false) {
                out += line + "\u{1B}[K\n"
            }
            out += "\u{1B}[J"
            first = false
            if !Self.write(out) { end = .outputClosed; break }
            if let stop = wait(until: started &+ UInt64(interval * 1e9), signals: set, watchInput: watchInput) {
                end = stop
                break
            }
        }
        return end
    }

    /// Waits until `deadline` (monotonic nanoseconds) in slices of at most 100 ms; returns a stop if a
    /// blocked signal arrives or standard input ends meanwhile.
    private func wait(until deadline: UInt64, signals: sigset_t, watchInput: Bool) -> End? {
        var set = signals
        while true {
            let now = MonotonicClock.now()
            if now >= deadline { return nil }
            let slice = min(deadline - now, 100_000_000)
            var timeout = timespec(tv_sec: 0, tv_nsec: Int(slice))
            let sig = sigtimedwait(&set, nil, &timeout)
            if sig > 0 { return .signal(sig) }
            if watchInput && Self.inputEnded() { return .endOfInput }
        }
    }

    /// Whether standard input is a terminal or a pipe (so its end means "stop"); `/dev/null` and files are not watched.
    static func inputCanEnd() -> Bool {
        var st = stat()
        guard fstat(0, &st) == 0 else { return false }
        let type = st.st_mode & S_IFMT
        return isatty(0) == 1 || type == S_IFIFO || type == S_IFSOCK
    }

    /// Whether standard input has reached its end (read returns 0). Typed input is read and dropped.
    static func inputEnded() -> Bool {
        var pfd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0 else { return false }
        if pfd.revents & Int16(POLLIN) == 0 { return pfd.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 }
        var buffer = [UInt8](repeating: 0, count: 256)
        return read(0, &buffer, buffer.count) <= 0
    }

    /// Writes all of `text` to standard output; false when it is closed.
    static func write(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(1, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// `HH:MM:SS` local time.
    static func clock() -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
    }
}
