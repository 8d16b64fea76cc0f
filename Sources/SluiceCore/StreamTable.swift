/// HTTP/2 stream id -> object, for a connection's open streams: an open-addressing table (linear
/// probing, Fibonacci hashing of the id, backward-shift deletion) in raw memory.
///
/// A `Dictionary<Int32, …>` cost about 200 instructions per lookup or insert here (SipHash of
/// the key plus the generic bucket walk), several times per request; this is a multiply, a
/// shift and, nearly always, one probe. A reference type: a connection owns exactly one, and
/// nothing copies it. Stream id 0 (the connection itself) is never a key; it marks empty slots.
/// Ids come from the peer, but a connection holds at most its concurrency limit of streams and
/// the table stays at most half full, so even ids chosen to collide cost a bounded walk.
/// Not thread-safe: one connection's loop thread only.
public final class StreamTable<Value: AnyObject> {
    @usableFromInline var keys: UnsafeMutablePointer<Int32>
    @usableFromInline var values: UnsafeMutablePointer<Value?>
    /// Slots (a power of two).
    @usableFromInline var capacity: Int
    /// 32 - log2(capacity): the shift that maps a hashed id to a slot.
    @usableFromInline var shift: UInt32
    @usableFromInline var _count = 0
    /// Entries.
    @inlinable public var count: Int { _count }

    /// An empty table with room for `minimumCapacity` entries before it grows.
    public init(minimumCapacity: Int = 8) {
        var slots = 16
        while slots < minimumCapacity * 2 { slots *= 2 }
        capacity = slots
        shift = UInt32(32 - slots.trailingZeroBitCount)
        keys = .allocate(capacity: slots)
        keys.initialize(repeating: 0, count: slots)
        values = .allocate(capacity: slots)
        values.initialize(repeating: nil, count: slots)
    }

    deinit {
        values.deinitialize(count: capacity)
        values.deallocate()
        keys.deallocate()
    }

    /// True when the table holds no entry.
    @inlinable public var isEmpty: Bool { count == 0 }

    /// The home slot of `id`.
    @inlinable @inline(__always)
    func slot(_ id: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt32(bitPattern: id) &* 0x9E37_79B9) &>> shift)
    }

    /// The slot holding `id`, or the empty slot where it would go (negative: -1 - slot).
    @inlinable @inline(__always)
    func find(_ id: Int32) -> Int {
        let mask = capacity &- 1
        var i = slot(id)
        while true {
            let k = keys[i]
            if k == id { return i }
            if k == 0 { return -1 &- i }
            i = (i &+ 1) & mask
        }
    }

    /// The object for `id`; assigning nil removes it.
    @inlinable
    public subscript(id: Int32) -> Value? {
        get {
            let i = find(id)
            return i >= 0 ? values[i] : nil   // an empty slot found for id 0 holds nil
        }
        set {
            if let newValue { insert(newValue, for: id) } else { _ = removeValue(forKey: id) }
        }
    }

    /// Stores `value` under `id` (replacing any).
    @inlinable
    public func insert(_ value: Value, for id: Int32) {
        precondition(id != 0, "stream id 0 is not a stream")
        var i = find(id)
        if i >= 0 { values[i] = value; return }
        if (_count &+ 1) &* 2 > capacity {
            grow()
            i = find(id)
        }
        let s = -1 &- i
        keys[s] = id
        values[s] = value
        _count &+= 1
    }

    /// Removes and returns the object for `id`, if any.
    @inlinable
    @discardableResult
    public func removeValue(forKey id: Int32) -> Value? {
        if id == 0 { return nil }   // 0 marks empty slots: `find` would "find" one
        var i = find(id)
        if i < 0 { return nil }
        let removed = values[i]
        // Backward-shift deletion: pull later entries of the probe run into the hole, so lookups
        // never need tombstones.
        let mask = capacity &- 1
        var j = i
        while true {
            j = (j &+ 1) & mask
            let k = keys[j]
            if k == 0 { break }
            let home = slot(k)
            // Move k back into the hole at i unless its home lies cyclically in (i, j].
            let stays = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !stays {
                keys[i] = k
                values[i] = values[j]
                i = j
            }
        }
        keys[i] = 0
        values[i] = nil
        _count &-= 1
        return removed
    }

    /// Removes every entry.
    public func removeAll() {
        for i in 0..<capacity where keys[i] != 0 {
            keys[i] = 0
            values[i] = nil
        }
        _count = 0
    }

    /// The objects, in no particular order (a copy: the table may change while it is used).
    public var allValues: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for i in 0..<capacity where keys[i] != 0 { out.append(values[i]!) }
        return out
    }

    /// Calls `body` with each id and object, in no particular order. `body` must not change the
    /// table (take `allValues` first for that).
    @inlinable
    public func forEach(_ body: (Int32, Value) throws -> Void) rethrows {
        for i in 0..<capacity {
            let k = keys[i]
            if k != 0 { try body(k, values[i].unsafelyUnwrapped) }
        }
    }

    /// Doubles the slots and reinserts every entry.
    @usableFromInline @inline(never)
    func grow() {
        let oldKeys = keys, oldValues = values, oldCapacity = capacity
        capacity = oldCapacity * 2
        shift -= 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: nil, count: capacity)
        let mask = capacity - 1
        for i in 0..<oldCapacity where oldKeys[i] != 0 {
            var s = slot(oldKeys[i])
            while keys[s] != 0 { s = (s + 1) & mask }
            keys[s] = oldKeys[i]
            values[s] = oldValues[i]
        }
        oldValues.deinitialize(count: oldCapacity)
        oldValues.deallocate()
        oldKeys.deallocate()
    }
}
