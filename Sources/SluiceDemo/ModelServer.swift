import Glibc
import SluiceCore
import SluiceSupport
import Synchronization

/// A small, real HTTP/1.1 model server: blocking sockets, one accepting thread and one thread per
/// connection, keep-alive, Content-Length and chunked request bodies.
///
/// It imitates the model APIs Sluice fronts (TF Serving / KServe predict, KServe v2 infer, a versioned
/// house API) and offers test endpoints (`/echo`, `/bytes/N`, `/chunked/N`, `/sink`, `/status/CODE`);
/// see `ModelEndpoints` for the list. Every response carries `x-backend: VERSION`. Used by `sluice demo`
/// and, as a backend, by the integration tests.
public final class ModelServer: Sendable {
    /// Mutable state shared by the accepting thread, the connection threads and callers.
    struct State: Sendable {
        var behavior: ModelBehavior
        var acceptedConnections = 0
        var requestsServed = 0
        var openConnections: Set<Int32> = []
        var stopped = false
    }

    /// The port the server listens on (the one the kernel picked when started with port 0).
    public let port: UInt16
    /// The host the server listens on.
    public let host: String
    let listenFD: Int32
    let state: Mutex<State>

    private init(host: String, port: UInt16, listenFD: Int32, behavior: ModelBehavior) {
        self.host = host
        self.port = port
        self.listenFD = listenFD
        self.state = Mutex(State(behavior: behavior))
    }

    /// Binds `host:port` (0 = any free port), starts the accepting thread and returns the running server.
    public static func start(host: String = "127.0.0.1", port: UInt16 = 0, behavior: ModelBehavior) throws -> ModelServer {
        let (fd, bound) = try BlockingSocket.listen(host: host, port: port)
        let server = ModelServer(host: host, port: bound, listenFD: fd, behavior: behavior)
        if let rc = DetachedThread.start(modelServerAcceptMain, context: server) {
            close(fd)
            throw SocketError(operation: "start the accept thread", code: rc)
        }
        return server
    }

    /// The behavior in force.
    public var behavior: ModelBehavior { state.withLock { $0.behavior } }

    /// Replaces the behavior; requests that start after the call see the new one.
    public func setBehavior(_ b: ModelBehavior) {
        state.withLock { $0.behavior = b }
    }

    /// Number of TCP connections accepted since start (keep-alive reuse keeps it low).
    public var acceptedConnections: Int { state.withLock { $0.acceptedConnections } }

    /// Number of requests answered since start (all endpoints, errors included).
    public var requestsServed: Int { state.withLock { $0.requestsServed } }

    /// Number of connections open right now.
    public var openConnections: Int { state.withLock { $0.openConnections.count } }

    /// `host:port` of the listener, e.g. `127.0.0.1:8501`.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Stops accepting and shuts down every open connection; idempotent. Threads finish on their own shortly after.
    public func stop() {
        state.withLock { s in
            if s.stopped { return }
            s.stopped = true
            // shutdown wakes the thread blocked in accept(2); it closes the listener itself.
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in s.openConnections { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Registers an accepted connection; false (and the caller closes it) once stopped.
    func connectionOpened(_ fd: Int32) -> Bool {
        state.withLock { s in
            if s.stopped { return false }
            s.acceptedConnections += 1
            s.openConnections.insert(fd)
            return true
        }
    }

    /// Unregisters and closes a connection (under the lock, so `stop` never shuts down a reused fd number).
    func connectionClosed(_ fd: Int32) {
        state.withLock { s in
            s.openConnections.remove(fd)
            close(fd)
        }
    }

    /// Counts one answered request.
    func requestServed() {
        state.withLock { $0.requestsServed += 1 }
    }

    /// Whether `stop()` was called.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// The accept loop, run on the server's own thread.
    func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                let e = errno
                if isStopped { break }
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM {
                    usleep(10_000)
                    continue
                }
                break
            }
            guard connectionOpened(fd) else {
                close(fd)
                break
            }
            let context = ModelServerConnection(server: self, fd: fd)
            if !DetachedThread.spawn(modelServerConnectionMain, context: context) {
                connectionClosed(fd)
            }
        }
        close(listenFD)
    }
}

/// Thread entry of a `ModelServer`'s accepting thread; the argument is the retained server.
func modelServerAcceptMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let server = Unmanaged<ModelServer>.fromOpaque(arg!).takeRetainedValue()
    server.acceptLoop()
    return nil
}
