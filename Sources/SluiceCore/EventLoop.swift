import Glibc
import CSluiceLinux
import Synchronization

/// One epoll loop, owned by one thread. Everything registered with it is touched only
/// from that thread; other threads talk to it only through `execute`, which wakes it via eventfd.
public final class EventLoop {
    /// Event mask constants as plain integers.
    public static let readable = UInt32(EPOLLIN.rawValue)
    public static let writable = UInt32(EPOLLOUT.rawValue)
    public static let edgeTriggered = UInt32(EPOLLET.rawValue)
    public static let readHangup = UInt32(EPOLLRDHUP.rawValue)
    public static let hangup = UInt32(EPOLLHUP.rawValue)
    public static let error = UInt32(EPOLLERR.rawValue)

    private let epfd: Int32
    private let wakeFD: Int32
    /// Handlers indexed by fd, each held (+1) while registered; owned by the loop thread. Events
    /// and deadlines reach a handler borrowed, not retained: one closed or replaced during an
    /// iteration moves, still held, to `retired`, which is let go only after the iteration, so a
    /// handler outlives every call into it. (A retain and release around each event and each
    /// deferred write cost ~150 instructions per proxied request.)
    private var handlers: [Unmanaged<EventHandler>?] = []
    /// Handlers closed or replaced during the current iteration, released at its end.
    private var retired: [Unmanaged<EventHandler>] = []
    private var retiredScratch: [Unmanaged<EventHandler>] = []
    /// `run` is inside an iteration (lending handlers to calls); outside one, a handler that is
    /// closed or replaced is let go at once (a stopped worker closing its pooled connections),
    /// unless it waits for a deferred call.
    private var inIteration = false

    /// Lets go of a handler the table no longer holds: at the end of the iteration, or now.
    @inline(__always)
    private func retire(_ handler: Unmanaged<EventHandler>) {
        if inIteration || handler._withUnsafeGuaranteedRef({ $0.deferredPending }) {
            retired.append(handler)
        } else {
            handler.release()
        }
    }
    private var nextGeneration: UInt32 = 1
    private let events: UnsafeMutablePointer<epoll_event>
    private let maxEvents = 256
    private var lastSweep: UInt64 = 0
    /// How often deadlines are checked: coarse on purpose (timeouts are seconds).
    private let sweepInterval: UInt64 = 50_000_000
    private var running = true
    /// Tasks submitted from other threads; the only lock, never taken on the request path.
    private let inbox = Mutex<[@Sendable () -> Void]>([])

    /// Monotonic time of the current loop iteration (ns); handlers use it instead of reading the clock.
    public private(set) var now: UInt64 = MonotonicClock.now()

    /// Creates the epoll instance and its wake-up eventfd.
    public init() {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: \(SocketIO.describe(errno))")
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        precondition(wakeFD >= 0, "eventfd failed")
        events = .allocate(capacity: maxEvents)
        var ev = epoll_event()
        ev.events = EventLoop.readable
        ev.data.u64 = UInt64(UInt32.max) << 32
        _ = epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &ev)
    }

    deinit {
        for h in handlers { h?.release() }
        for h in retired { h.release() }
        events.deallocate()
        SocketIO.close(wakeFD)
        SocketIO.close(epfd)
    }

    /// Registers `handler` for `fd` with the given interest (edge-triggered is added by the caller if wanted).
    public func register(_ handler: EventHandler, fd: Int32, interest: UInt32) {
        handler.fd = fd
        handler.generation = nextGeneration
        nextGeneration = nextGeneration == UInt32.max - 1 ? 1 : nextGeneration + 1
        let index = Int(fd)
        if index >= handlers.count {
            handlers.append(contentsOf: repeatElement(nil, count: max(index + 1 - handlers.count, handlers.count)))
        }
        if let stale = handlers[index] { retire(stale) }
        handlers[index] = Unmanaged.passRetained(handler)
        var ev = epoll_event()
        ev.events = interest
        ev.data.u64 = UInt64(handler.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        let rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)
        precondition(rc == 0, "epoll_ctl ADD failed: \(SocketIO.describe(errno))")
    }

    /// Changes the interest of a registered handler.
    public func modify(_ handler: EventHandler, interest: UInt32) {
        var ev = epoll_event()
        ev.events = interest
        ev.data.u64 = UInt64(handler.generation) << 32 | UInt64(UInt32(bitPattern: handler.fd))
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, handler.fd, &ev)
    }

    /// Removes the handler and closes its descriptor.
    public func close(_ handler: EventHandler) {
        let fd = handler.fd
        guard fd >= 0 else { return }
        // close() removes the fd from the epoll set; no EPOLL_CTL_DEL syscall needed.
        if Int(fd) < handlers.count, let h = handlers[Int(fd)], h.toOpaque() == Unmanaged.passUnretained(handler).toOpaque() {
            handlers[Int(fd)] = nil
            retire(h)
        }
        handler.fd = -1
        handler.generation = 0
        handler.deadline = 0
        SocketIO.close(fd)
    }

    /// Hands a registered descriptor to another handler (protocol switch: HTTP/1 → HTTP/2)
    /// without closing it; events already queued for the old handler are dropped.
    public func transfer(from old: EventHandler, to new: EventHandler, interest: UInt32) {
        let fd = old.fd
        precondition(fd >= 0, "transfer of a closed handler")
        new.fd = fd
        new.generation = nextGeneration
        nextGeneration = nextGeneration == UInt32.max - 1 ? 1 : nextGeneration + 1
        let previous = handlers[Int(fd)]
        handlers[Int(fd)] = Unmanaged.passRetained(new)
        if let previous { retire(previous) }
        old.fd = -1
        old.generation = 0
        old.deadline = 0
        var ev = epoll_event()
        ev.events = interest
        ev.data.u64 = UInt64(new.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    /// Handlers that asked for `handleDeferred` after the current batch of events, not retained:
    /// each was registered when it asked, so the loop holds it (in `handlers`, or in `retired` once
    /// closed) until after the deferred calls.
    private var deferred: [Unmanaged<EventHandler>] = []

    /// Calls `handler.handleDeferred()` once after the current batch of events (coalesces
    /// many stream events into one write per connection). Loop thread only; a handler that is
    /// not registered (or already closed) is not called.
    public func deferWork(_ handler: EventHandler) {
        if handler.deferredPending || handler.fd < 0 { return }
        handler.deferredPending = true
        deferred.append(Unmanaged.passUnretained(handler))
    }

    private func runDeferred() {
        var i = 0
        while i < deferred.count {
            deferred[i]._withUnsafeGuaranteedRef { h in
                h.deferredPending = false
                if h.fd >= 0 { h.handleDeferred() }
            }
            i += 1
        }
        deferred.removeAll(keepingCapacity: true)
    }

    /// Runs `task` on the loop thread soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(task) }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Makes `run` return after the current iteration. Call on the loop thread (or via `execute`).
    public func stop() { running = false }

    /// Number of live registrations (connections and listeners).
    public var registeredCount: Int { handlers.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Calls `body` for every live handler (drain, reload); loop thread only.
    public func forEachHandler(_ body: (EventHandler) -> Void) {
        for h in handlers { if let h { body(h.takeUnretainedValue()) } }
    }

    /// Runs until `stop`.
    public func run() {
        while running {
            let n = epoll_wait(epfd, events, Int32(maxEvents), 50)
            now = MonotonicClock.now()
            if n < 0 {
                if errno == EINTR { continue }
                preconditionFailure("epoll_wait failed: \(SocketIO.describe(errno))")
            }
            inIteration = true
            for i in 0..<Int(n) {
                let ev = events[i]
                let data = ev.data.u64
                let generation = UInt32(truncatingIfNeeded: data >> 32)
                if generation == UInt32.max { drainInbox(); continue }
                let fd = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: data)))
                guard fd < handlers.count, let h = handlers[fd] else { continue }
                h._withUnsafeGuaranteedRef { h in
                    if h.generation == generation { h.handleEvent(ev.events) }
                }
            }
            if !deferred.isEmpty { runDeferred() }
            if now &- lastSweep >= sweepInterval {
                lastSweep = now
                sweepDeadlines()
                // Writes a timeout asked for leave now, not after the next wait.
                if !deferred.isEmpty { runDeferred() }
            }
            // Nothing deferred still points at a retired handler here.
            if deferred.isEmpty {
                inIteration = false
                if !retired.isEmpty { releaseRetired() }
            }
        }
    }

    private func drainInbox() {
        var counter: UInt64 = 0
        _ = Glibc.read(wakeFD, &counter, 8)
        let tasks = inbox.withLock { box -> [@Sendable () -> Void] in
            let t = box
            box.removeAll()
            return t
        }
        for t in tasks { t() }
    }

    private func sweepDeadlines() {
        var i = 0
        while i < handlers.count {
            handlers[i]?._withUnsafeGuaranteedRef { h in
                if h.deadline != 0 && h.deadline <= now {
                    h.deadline = 0
                    h.handleTimeout(now: now)
                }
            }
            i += 1
        }
    }

    /// Lets go of the handlers closed or replaced during the iteration (their last reference may
    /// be this one; a deinit that closes more handlers adds them to the fresh list).
    private func releaseRetired() {
        swap(&retired, &retiredScratch)
        for h in retiredScratch { h.release() }
        retiredScratch.removeAll(keepingCapacity: true)
    }
}
