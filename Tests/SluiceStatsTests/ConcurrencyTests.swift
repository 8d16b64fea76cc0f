import Foundation
import Testing
@testable import SluiceStats

/// Runs `body(i)` for `i` in `0 ..< count` on separate `Thread`s and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for i in 0..<count {
        let thread = Thread {
            body(i)
            done.signal()
        }
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}

@Suite("Concurrency")
struct ConcurrencyTests {
    static let perThread = 1_000_000

    @Test func twoWritersGiveExactTotals() {
        let stats = TargetStats(workers: 2, windowSeconds: 60)
        let global = GlobalStats(workers: 2)
        let stop = ReaderStop()
        // A reader thread snapshots concurrently to exercise the read path against live writers.
        let reader = Thread {
            while !stop.isSet {
                _ = stats.windowSnapshot(nowSecond: 10, windowSeconds: 60)
                _ = global.counterValues()
            }
            stop.finished.signal()
        }
        reader.start()
        runThreads(2) { worker in
            for k in 0..<Self.perThread {
                stats.recordAssignment(worker: worker)
                // Seconds advance every 100k records, so window buckets are recycled while readers run.
                stats.recordResponse(worker: worker, nowSecond: UInt64(k / 100_000), status: k % 10 == 0 ? 503 : 200,
                                     isError: k % 10 == 0, latencyMicros: UInt64(k % 1000))
                global.increment(.requestsReceived, worker: worker)
                global.adjust(.inFlightShadowRequests, by: k % 2 == 0 ? 1 : -1, worker: worker)
            }
        }
        stop.set()
        stop.finished.wait()

        let n = UInt64(2 * Self.perThread)
        let s = stats.snapshot(nowSecond: 9, windowSeconds: 60)
        #expect(s.requests == n)
        #expect(s.responses == n)
        #expect(s.responses5xx == n / 10)
        #expect(s.responses2xx == n - n / 10)
        #expect(s.errors == n / 10)
        #expect(s.latencyCount == n)
        #expect(s.latencySumMicros == 2 * 1000 * (999 * 1000 / 2))
        #expect(s.window.requests == n)          // seconds 0 ... 9 all within the 60 s window
        #expect(s.window.errors == n / 10)
        #expect(global.value(.requestsReceived) == n)
        #expect(global.value(.inFlightShadowRequests) == 0)
    }

    @Test func sharedSlotIsSafeFromManyThreads() {
        let global = GlobalStats(workers: 1)
        runThreads(4) { _ in
            for _ in 0..<100_000 { global.incrementShared(.configReloads) }
        }
        #expect(global.value(.configReloads) == 400_000)
    }
}

/// Stop flag for the reader thread.
final class ReaderStop: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    let finished = DispatchSemaphore(value: 0)
    var isSet: Bool { lock.withLock { flag } }
    func set() { lock.withLock { flag = true } }
}
