/// Something registered with an `EventLoop`: a listener, a downstream or an upstream connection.
/// A class hierarchy rather than a protocol so dispatch is a vtable call, not an existential.
open class EventHandler {
    /// The descriptor this handler owns (-1 once closed).
    public var fd: Int32 = -1
    /// Registration generation packed into the epoll user data, so events for a closed
    /// and reused fd are dropped instead of delivered to the wrong handler.
    public internal(set) var generation: UInt32 = 0
    /// Monotonic nanoseconds at which `handleTimeout` fires; 0 = no deadline.
    public var deadline: UInt64 = 0

    /// Set while queued for `handleDeferred` (owned by the loop).
    public var deferredPending = false

    public init() {}

    /// Called after the current batch of events when the handler asked with `EventLoop.deferWork`.
    open func handleDeferred() {}

    /// Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP).
    open func handleEvent(_ events: UInt32) {}

    /// Called by the loop's sweep once `deadline` has passed.
    open func handleTimeout(now: UInt64) {}
}
