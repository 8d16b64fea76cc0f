import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// `sluice stats --watch` against a real `sluice run`: redraws in place, stops on SIGINT and on the
    /// end of its input.
    @Suite struct StatsWatch {
        /// Starts `sluice stats --watch` with a pipe as stdin; returns the process and the pipes.
        static func startWatch(admin: UInt16) throws -> (Process, Pipe, Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try sluiceExecutable())
            process.arguments = ["stats", "--watch", "--admin", "127.0.0.1:\(admin)"]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
            return (process, input, output)
        }

        static func waitForExit(_ process: Process, seconds: Double) -> Bool {
            let deadline = monotonicSeconds() + seconds
            while process.isRunning && monotonicSeconds() < deadline { usleep(20_000) }
            return !process.isRunning
        }

        static func occurrences(_ needle: String, in text: String) -> Int {
            text.components(separatedBy: needle).count - 1
        }

        @Test(.timeLimit(.minutes(1)))
        func redrawsInPlaceAndStopsOnSIGINT() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let p = try SluiceProcess(yaml: e2eYAML(backends: [("v1", backend.port)], targets: [("v1", 100)]))
            defer { p.stop(); p.removeFiles() }
            let (process, input, output) = try Self.startWatch(admin: p.adminPort)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            usleep(2_600_000)
            // Traffic between frames: a later frame shows the new count.
            let client = SimpleHTTPClient(port: p.port, timeoutSeconds: 5)
            for _ in 0..<7 { _ = try client.request("GET", "/echo") }
            client.close()
            usleep(1_300_000)
            kill(process.processIdentifier, SIGINT)
            #expect(Self.waitForExit(process, seconds: 3), "still running 3 s after SIGINT")
            #expect(process.terminationReason == .exit && process.terminationStatus == 0,
                    "ended by \(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus)")
            try? input.fileHandleForWriting.close()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let frames = Self.occurrences("\u{1B}[H", in: text)
            #expect(frames >= 3, "\(frames) frames in about 4 s:\n\(text)")
            #expect(Self.occurrences("\u{1B}[2J", in: text) == 1, "the screen is cleared once, then redrawn in place")
            #expect(Self.occurrences("route models", in: text) == frames, "every frame shows the route")
            #expect(text.contains("Ctrl-C to stop"))
            let last = text.components(separatedBy: "\u{1B}[H").last ?? ""
            #expect(last.contains(" 7 "), "the last frame does not show the 7 requests:\n\(last)")
            #expect(text.hasSuffix("\u{1B}[?25h\n"), "the cursor is not restored at exit")
        }

        @Test(.timeLimit(.minutes(1)))
        func stopsAtTheEndOfInput() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let p = try SluiceProcess(yaml: e2eYAML(backends: [("v1", backend.port)], targets: [("v1", 100)]))
            defer { p.stop(); p.removeFiles() }
            let (process, input, output) = try Self.startWatch(admin: p.adminPort)
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            usleep(1_500_000)
            #expect(process.isRunning)
            try input.fileHandleForWriting.close()
            #expect(Self.waitForExit(process, seconds: 2), "still running 2 s after its input ended")
            #expect(process.terminationStatus == 0)
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(Self.occurrences("\u{1B}[H", in: text) >= 2, "\(text)")
        }
    }
}
