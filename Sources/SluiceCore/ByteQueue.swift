import Glibc

/// A growable byte FIFO with stable storage: append at the tail, consume from the head.
/// Used for connection input and output. Either allocated once with `init(capacity:)` and reused,
/// or created empty with `init()` and given a `BufferPool` block only while it is in use
/// (`attach`/`detach`), so that idle connections hold no buffer.
public struct ByteQueue {
    // The fields are @usableFromInline (read-only to other modules through the accessors below)
    // so that the per-request appends inline into the proxy: a `private(set)` field kept every
    // `append` an out-of-line call plus a libc memcpy even for a 2-byte ": " (≈ 75 instructions,
    // ~30 times per request).
    @usableFromInline var _storage: UnsafeMutableRawPointer
    @usableFromInline var _capacity: Int
    @usableFromInline var _head = 0
    @usableFromInline var _tail = 0

    /// Storage; owned by the connection holding this queue.
    @inlinable public var storage: UnsafeMutableRawPointer { @inline(__always) get { _storage } }
    /// Allocated bytes.
    @inlinable public var capacity: Int { @inline(__always) get { _capacity } }
    /// Index of the first unconsumed byte.
    @inlinable public var head: Int { @inline(__always) get { _head } }
    /// Index one past the last byte.
    @inlinable public var tail: Int { @inline(__always) get { _tail } }

    /// Allocates `capacity` bytes.
    public init(capacity: Int) {
        self._capacity = capacity
        _storage = .allocate(byteCount: capacity, alignment: 16)
    }

    /// An empty queue without storage (capacity 0). `attach` gives it a pool block; appending
    /// to it without one allocates (the slow path of `reserve`).
    public init() {
        _capacity = 0
        _storage = ByteQueue.noStorage
    }

    /// Where `storage` points while a queue has none: never read or written (capacity 0), never freed.
    private nonisolated(unsafe) static let noStorage = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)

    /// Frees the storage (none: nothing to do); the owner calls this exactly once.
    public func deallocate() {
        if capacity != 0 { storage.deallocate() }
    }

    /// True while the queue holds storage.
    @inlinable @inline(__always) public var hasStorage: Bool { capacity != 0 }

    /// Gives a queue without storage a block from `pool` (one comparison when it has one).
    @inlinable @inline(__always) public mutating func attach(_ pool: BufferPool) {
        if capacity == 0 {
            _storage = pool.take()
            _capacity = pool.blockSize
        }
    }

    /// Gives the storage of an empty queue back: to `pool` when it is a pool-sized block, freed
    /// when it grew past that. A queue holding bytes keeps its storage (nothing happens).
    public mutating func detach(to pool: BufferPool) {
        guard capacity != 0, head == tail else { return }
        if capacity == pool.blockSize { pool.give(storage) } else { storage.deallocate() }
        _storage = ByteQueue.noStorage
        _capacity = 0
        _head = 0
        _tail = 0
    }

    /// Bytes waiting.
    @inlinable @inline(__always) public var count: Int { tail - head }
    /// True when nothing is waiting.
    @inlinable @inline(__always) public var isEmpty: Bool { tail == head }
    /// The waiting bytes.
    @inlinable @inline(__always) public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + head, count: tail - head)
    }
    /// Free space after the tail (after compaction if needed, call `reserve` first).
    @inlinable @inline(__always) public var writableCount: Int { capacity - tail }
    /// Pointer to the free space.
    @inlinable @inline(__always) public var writePointer: UnsafeMutableRawPointer { storage + tail }

    /// Marks `n` bytes written into `writePointer`.
    @inlinable @inline(__always) public mutating func commit(_ n: Int) { _tail += n }

    /// Compacts (never grows) and returns the free space after the tail: for input
    /// buffers whose size is a limit, not a hint.
    public mutating func compactForRead() -> Int {
        if head > 0 && capacity - tail < capacity / 4 {
            memmove(storage, storage + head, tail - head)
            _tail -= head
            _head = 0
        }
        return capacity - tail
    }

    /// Drops `n` bytes from the head.
    @inlinable @inline(__always) public mutating func consume(_ n: Int) {
        _head += n
        if _head == _tail { _head = 0; _tail = 0 }
    }

    /// Drops everything.
    @inlinable @inline(__always) public mutating func clear() { _head = 0; _tail = 0 }

    /// Makes room for at least `n` more bytes: moves data to the front, grows if still short.
    /// The common case (room already there) is one inlined comparison.
    @inlinable @inline(__always) public mutating func reserve(_ n: Int) {
        if capacity - tail < n { makeRoom(n) }
    }

    /// The slow path of `reserve`.
    @usableFromInline @inline(never) mutating func makeRoom(_ n: Int) {
        if head > 0 {
            memmove(storage, storage + head, tail - head)
            _tail -= head
            _head = 0
            if capacity - tail >= n { return }
        }
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity - tail < n { newCapacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        fresh.copyMemory(from: storage, byteCount: tail)
        if capacity != 0 { storage.deallocate() }
        _storage = fresh
        _capacity = newCapacity
    }

    /// Appends bytes.
    @inlinable @inline(__always) public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (storage + tail).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        _tail += bytes.count
    }

    /// Appends an array's bytes.
    @inlinable @inline(__always) public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends a static ASCII string.
    @inlinable @inline(__always) public mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends one byte.
    @inlinable @inline(__always) public mutating func append(byte: UInt8) {
        reserve(1)
        storage.storeBytes(of: byte, toByteOffset: tail, as: UInt8.self)
        _tail += 1
    }

    /// Appends a non-negative integer in decimal ASCII.
    public mutating func appendDecimal(_ value: UInt64) {
        reserve(20)
        var v = value
        var digits = 0
        var tmp = v
        repeat { digits += 1; tmp /= 10 } while tmp > 0
        var i = tail + digits - 1
        repeat {
            storage.storeBytes(of: UInt8(48 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
            i -= 1
        } while v > 0
        _tail += digits
    }

    /// Appends `n` in lowercase hex followed by CRLF (a chunk header).
    public mutating func appendHexChunkHeader(_ n: Int) {
        var shift = 60
        var started = false
        while shift >= 0 {
            let d = UInt8((n >> shift) & 0xF)
            if d != 0 || started || shift == 0 {
                started = true
                append(byte: d < 10 ? 48 + d : 87 + d)
            }
            shift -= 4
        }
        append("\r\n")
    }

    /// Writes as much as the socket takes; returns false on a socket error.
    public mutating func flush(to fd: Int32) -> Bool {
        while tail > head {
            switch SocketIO.write(fd, storage + head, tail - head) {
            case .bytes(let n): consume(n)
            case .wouldBlock: return true
            case .failed: return false
            }
        }
        return true
    }
}
