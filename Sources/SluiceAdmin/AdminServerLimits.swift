/// How much of the process the admin listener may hold, and for how long.
public struct AdminServerLimits: Sendable, Hashable {
    /// Connections served at once, each on its own thread; a connection accepted while all are busy
    /// is answered 503 `busy` and closed. Default 16.
    public var maxConnections: Int
    /// Time from accept to the last byte of the response written; a connection still reading,
    /// handling or writing then is closed (a client that sent part of a request gets a best-effort
    /// 408 first). Default 10 s.
    public var connectionDeadlineNanos: UInt64

    /// The defaults: 16 connections, 10 s each.
    public init(maxConnections: Int = 16, connectionDeadlineNanos: UInt64 = 10_000_000_000) {
        self.maxConnections = max(1, maxConnections)
        self.connectionDeadlineNanos = connectionDeadlineNanos
    }
}
