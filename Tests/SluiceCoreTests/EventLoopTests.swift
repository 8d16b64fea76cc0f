import Glibc
import Testing
@testable import SluiceCore

/// The loop holds its handlers and lends them to each call without retaining them: a handler
/// closed (or replaced) during an iteration must stay alive until the iteration ends, and be let
/// go then. Each test counts deinits to see both.
@Suite struct EventLoopTests {
    /// Counts its deinits; `onEvent` / `onDeferred` run inside the loop's calls.
    final class Probe: EventHandler {
        let deinits: Counter
        var onEvent: ((Probe) -> Void)?
        var onDeferred: ((Probe) -> Void)?
        var deferredCalls = 0
        init(_ deinits: Counter) { self.deinits = deinits }
        deinit { deinits.value += 1 }
        override func handleEvent(_ events: UInt32) { onEvent?(self) }
        override func handleDeferred() {
            deferredCalls += 1
            onDeferred?(self)
        }
    }

    final class Counter { var value = 0 }

    /// A pipe whose read end is readable (one byte written); the write end is closed by `done`.
    struct ReadablePipe {
        let read: Int32, write: Int32
        init() {
            var fds: [Int32] = [0, 0]
            precondition(pipe(&fds) == 0)
            read = fds[0]
            write = fds[1]
            var b: UInt8 = 1
            _ = Glibc.write(write, &b, 1)
        }
        func done() { Glibc.close(write) }
    }

    @Test func aHandlerClosingItselfInItsEventLivesUntilTheIterationEnds() {
        let loop = EventLoop()
        let deinits = Counter()
        let pipe = ReadablePipe()
        defer { pipe.done() }
        var seenInside = -1
        do {
            let probe = Probe(deinits)
            probe.onEvent = { p in
                loop.close(p)
                p.onEvent = nil   // drops the closure's capture of nothing; touches p after its close
                seenInside = deinits.value
                loop.stop()
            }
            loop.register(probe, fd: pipe.read, interest: EventLoop.readable)
        }
        // Only the loop holds the probe now.
        #expect(deinits.value == 0)
        loop.run()
        #expect(seenInside == 0)
        #expect(deinits.value == 1)
        #expect(loop.registeredCount == 0)
    }

    @Test func aDeferredHandlerClosedBeforeItsTurnIsSkippedAndLetGo() {
        let loop = EventLoop()
        let deinits = Counter()
        let a = ReadablePipe(), b = ReadablePipe()
        defer { a.done(); b.done() }
        var deferredProbe: Probe? = Probe(deinits)
        let closer = Probe(deinits)
        loop.register(deferredProbe!, fd: b.read, interest: 0)
        loop.register(closer, fd: a.read, interest: EventLoop.readable)
        closer.onEvent = { _ in
            // Asked for a deferred call, then closed in the same batch, with no other owner left.
            loop.deferWork(deferredProbe!)
            loop.close(deferredProbe!)
            deferredProbe = nil
            loop.stop()
        }
        loop.run()
        #expect(deinits.value == 1)
        loop.close(closer)
    }

    @Test func aDeferredCallRunsOnceAndMayDeferAnother() {
        let loop = EventLoop()
        let deinits = Counter()
        let a = ReadablePipe(), b = ReadablePipe()
        defer { a.done(); b.done() }
        let first = Probe(deinits), second = Probe(deinits)
        loop.register(first, fd: a.read, interest: EventLoop.readable)
        loop.register(second, fd: b.read, interest: 0)
        first.onEvent = { p in
            loop.deferWork(p)
            loop.deferWork(p)   // coalesced
            loop.stop()
        }
        first.onDeferred = { _ in loop.deferWork(second) }
        loop.run()
        #expect(first.deferredCalls == 1)
        #expect(second.deferredCalls == 1)
        loop.close(first)
        loop.close(second)
    }

    @Test func anUnregisteredHandlerIsNeverCalledBack() {
        let loop = EventLoop()
        let deinits = Counter()
        let a = ReadablePipe()
        defer { a.done() }
        let trigger = Probe(deinits), loose = Probe(deinits)
        loop.register(trigger, fd: a.read, interest: EventLoop.readable)
        trigger.onEvent = { _ in
            loop.deferWork(loose)
            loop.stop()
        }
        loop.run()
        #expect(loose.deferredCalls == 0)
        #expect(!loose.deferredPending)
        loop.close(trigger)
    }

    @Test func aReplacedHandlerLivesUntilTheIterationEnds() {
        let loop = EventLoop()
        let deinits = Counter()
        let pipe = ReadablePipe()
        defer { pipe.done() }
        let successor = Probe(deinits)
        var seenInside = -1
        do {
            let first = Probe(deinits)
            first.onEvent = { p in
                loop.transfer(from: p, to: successor, interest: 0)
                seenInside = deinits.value
                #expect(p.fd == -1)
                loop.stop()
            }
            loop.register(first, fd: pipe.read, interest: EventLoop.readable)
        }
        loop.run()
        #expect(seenInside == 0)
        #expect(deinits.value == 1)
        #expect(successor.fd == pipe.read)
        loop.close(successor)
    }

    @Test func handlersStillRegisteredOrClosedAfterTheLastIterationGoWithTheLoop() {
        let deinits = Counter()
        let a = ReadablePipe(), b = ReadablePipe()
        defer { a.done(); b.done() }
        do {
            let loop = EventLoop()
            loop.register(Probe(deinits), fd: a.read, interest: 0)
            let closed = Probe(deinits)
            loop.register(closed, fd: b.read, interest: 0)
            loop.close(closed)
            #expect(deinits.value == 0)
        }
        #expect(deinits.value == 2)
    }
}

extension EventLoopTests {
    /// Outside an iteration (a stopped worker closing its pooled connections) nothing is lent to
    /// a call, so a closed handler is let go at once; one still waiting for a deferred call is
    /// kept until that call has been skipped in the next iteration.
    @Test func aHandlerClosedOutsideAnIterationIsLetGoAtOnce() {
        let loop = EventLoop()
        let deinits = Counter()
        let a = ReadablePipe(), b = ReadablePipe(), c = ReadablePipe()
        defer { a.done(); b.done(); c.done() }
        do {
            let idle = Probe(deinits)
            loop.register(idle, fd: a.read, interest: 0)
            loop.close(idle)
        }
        #expect(deinits.value == 1)
        var waiting: Probe? = Probe(deinits)
        loop.register(waiting!, fd: b.read, interest: 0)
        loop.deferWork(waiting!)
        loop.close(waiting!)
        waiting = nil
        #expect(deinits.value == 1)
        // One iteration skips the deferred call and lets it go.
        let stopper = Probe(Counter())
        stopper.onEvent = { _ in loop.stop() }
        loop.register(stopper, fd: c.read, interest: EventLoop.readable)
        loop.run()
        #expect(deinits.value == 2)
        loop.close(stopper)
    }
}
