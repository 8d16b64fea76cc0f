import Foundation
import Glibc
import Testing
import SluiceCore
@testable import SluiceHTTP2

/// Serves one h2c connection from the real `nghttp` client on a blocking socket, one thread.
@Suite struct NghttpClientTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/nghttp")))
    func nghttpGetsHello() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(listener, sa, len) == 0 && listen(listener, 4) == 0 && getsockname(listener, sa, &len) == 0
            }
        }
        #expect(bound)
        let port = UInt16(bigEndian: addr.sin_port)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nghttp")
        process.arguments = ["-nv", "http://127.0.0.1:\(port)/x"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()

        var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 10_000) == 1)
        let conn = accept(listener, nil, nil)
        #expect(conn >= 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let handler = Recorder()
        let session = H2Session.server(handler: handler, limits: H2Limits())
        handler.onHead = { [unowned session] id, _ in
            var h = H2HeaderBlock()
            h.append(name: "content-type", value: "text/plain")
            h.append(name: "content-length", value: "5")
            session.submitResponse(stream: id, status: 200, headers: h, endStream: false)
            let body: StaticString = "hello"
            session.enqueueData(stream: id, bytes: UnsafeRawBufferPointer(start: body.utf8Start, count: 5))
            session.finishData(stream: id)
        }
        handler.onData = { [unowned session] id, n in session.consume(stream: id, n) }
        var out = ByteQueue(capacity: 64 * 1024)
        defer { out.deallocate() }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 16 * 1024, alignment: 8)
        defer { buf.deallocate() }
        while true {
            let n = read(conn, buf, 16 * 1024)
            if n <= 0 { break }
            let ok = session.receive(UnsafeRawBufferPointer(start: buf, count: n))
            session.flush(into: &out)
            while !out.isEmpty {
                let w = write(conn, out.storage + out.head, out.count)
                if w <= 0 { break }
                out.consume(w)
            }
            if !ok || (!session.wantsRead && !session.wantsWrite) { break }
        }
        close(conn)
        process.waitUntilExit()
        let text = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains(":status: 200"), "\(text)")
        // nghttp opens idle streams for its priority tree first: find the request's stream.
        let id = handler.headers.keys.first ?? 0
        #expect(handler.headers.count == 1)
        #expect(handler.header(id, ":path") == "/x")
        #expect(handler.closed[id] == 0)
    }
}
