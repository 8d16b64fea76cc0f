import Glibc
import SluiceCore
import Synchronization

/// The optional JSON-lines access log. Workers never touch the file: each pushes fixed-size
/// records into its own single-producer/single-consumer ring, and one writer thread drains
/// the rings, formats JSON and appends to the file. A full ring drops the record (counted).
public final class AccessLog: Sendable {
    /// One ring per worker, indexed by worker number.
    let rings: [AccessLogRing]
    /// Requests are sampled when a uniform 64-bit draw is below this.
    let sampleThreshold: UInt64
    private let path: String
    private let running = Atomic<Bool>(true)

    /// Opens (creates, appends to) `path`; throws a readable reason when it cannot.
    public init(path: String, sampleRate: Double, workers: Int) throws(SocketError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fd < 0 { throw SocketError(operation: "open access log \(path)", code: errno) }
        Glibc.close(fd)
        self.path = path
        rings = (0..<workers).map { _ in AccessLogRing(capacity: 4096) }
        let rate = min(1, max(0, sampleRate))
        sampleThreshold = rate >= 1 ? UInt64.max : UInt64(rate * Double(UInt64.max))
    }

    /// Starts the writer thread.
    public func start() {
        var thread = pthread_t()
        let arg = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, accessLogWriterMain, arg)
        pthread_detach(thread)
    }

    /// Stops the writer after a final drain.
    public func stop() { running.store(false, ordering: .relaxed) }

    /// Writer loop: drain every 100 ms.
    func writeLoop() {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var line: [UInt8] = []
        line.reserveCapacity(64 * 1024)
        while true {
            let keepGoing = running.load(ordering: .relaxed)
            line.removeAll(keepingCapacity: true)
            for ring in rings {
                ring.drain { record in AccessLogRecord.appendJSON(record, to: &line) }
            }
            if !line.isEmpty {
                line.withUnsafeBytes { raw in
                    var off = 0
                    while off < raw.count {
                        let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                        if n <= 0 { break }
                        off += n
                    }
                }
            }
            if !keepGoing { return }
            usleep(100_000)
        }
    }
}

private func accessLogWriterMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let log = Unmanaged<AccessLog>.fromOpaque(arg!).takeRetainedValue()
    log.writeLoop()
    return nil
}

/// A bounded SPSC ring of fixed-size records. The worker (producer) writes a slot then
/// publishes `tail` with release; the writer thread (consumer) reads slots up to `tail`
/// (acquire) then publishes `head`. No locks, no allocation after init.
final class AccessLogRing: @unchecked Sendable {
    // @unchecked: slot memory is written only by the producer before it publishes `tail`
    // and read only by the consumer after loading `tail`; `head`/`tail` are atomics.
    static let slotSize = 640
    let capacity: Int
    let slots: UnsafeMutableRawPointer
    let head = Atomic<Int>(0)
    let tail = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(byteCount: capacity * AccessLogRing.slotSize, alignment: 64)
    }

    deinit { slots.deallocate() }

    /// Producer: a slot to fill, or nil when full.
    @inline(__always)
    func reserve() -> UnsafeMutableRawPointer? {
        let t = tail.load(ordering: .relaxed)
        if t - head.load(ordering: .acquiring) >= capacity { return nil }
        return slots + (t % capacity) * AccessLogRing.slotSize
    }

    /// Producer: publishes the slot returned by `reserve`.
    @inline(__always)
    func commit() {
        tail.store(tail.load(ordering: .relaxed) + 1, ordering: .releasing)
    }

    /// Consumer: hands every published record to `body`, then frees the slots.
    func drain(_ body: (UnsafeRawBufferPointer) -> Void) {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var i = h
        while i < t {
            body(UnsafeRawBufferPointer(start: slots + (i % capacity) * AccessLogRing.slotSize, count: AccessLogRing.slotSize))
            i += 1
        }
        head.store(t, ordering: .releasing)
    }
}
