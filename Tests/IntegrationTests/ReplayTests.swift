import Foundation
import SluiceStats
import SluiceSupport
import Testing

extension Integration {
    /// A pooled connection the backend drops just as Sluice reuses it: the request (head and a
    /// small buffered body) is replayed once on a fresh connection, and the client never notices.
    @Suite struct Replay {
        /// Answers the first request of every connection, then drops the connection when the second arrives.
        static let backend = #"""
        import socket, threading
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', 0))
        srv.listen(64)
        print(srv.getsockname()[1], flush=True)
        def handle(c):
            f = c.makefile('rb')
            n = 0
            while True:
                line = f.readline()
                if not line:
                    break
                headers = {}
                while True:
                    h = f.readline()
                    if h in (b'\r\n', b''):
                        break
                    k, v = h.split(b':', 1)
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get(b'content-length', b'0')))
                n += 1
                if n == 2:
                    c.close()
                    return
                msg = b'served body %d' % len(body)
                c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(msg) + msg)
        while True:
            c, _ = srv.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
        """#

        @Test(.timeLimit(.minutes(1)))
        func droppedPooledConnectionIsReplayedOnce() throws {
            let server = try PythonServer(script: Replay.backend)
            defer { server.stop() }
            let port = try #require(server.port, "the backend printed no port")
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "flaky", port: port)]))
            defer { h.stop() }
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
            defer { client.close() }
            for i in 0..<6 {
                let r = i % 2 == 0 ? try client.request("GET", "/x") : try client.request("POST", "/x", text: "hello")
                #expect(r.status == 200, "request \(i): \(r.status) \(r.text)")
                #expect(r.text == (i % 2 == 0 ? "served body 0" : "served body 5"), "request \(i): \(r.text)")
            }
            #expect(h.control.currentSnapshot.global.value(.upstreamRetries) >= 2)
            // The same for HTTP/2 clients (bodyless requests are replayed).
            for i in 0..<4 {
                let r = try Command.curl(["--http2-prior-knowledge", "\(h.base)/x?\(i)"])
                #expect(r.status == 200, "h2 request \(i): \(r.body)")
                #expect(r.body == "served body 0")
            }
        }
    }
}
