// What every libFuzzer target shares: the property check and the split points used to compare
// feeding a parser at once with feeding it in pieces.

/// Stops the fuzzer (a crash it records with the input) when a property does not hold.
public func check(_ ok: Bool, _ message: @autoclosure () -> String) {
    if !ok { fatalError("property violated: \(message())") }
}

/// Where to split the input in two: every offset for short inputs; else both ends and 14 offsets
/// picked by a hash of the bytes (the byte-at-a-time pass covers every offset incrementally).
public func splits(_ buf: UnsafeRawBufferPointer) -> [Int] {
    let n = buf.count
    if n <= 16 { return Array(0 ... n) }
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in buf { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    var result = [0, n]
    for _ in 0 ..< 14 {
        h = h &* 6364136223846793005 &+ 1442695040888963407
        result.append(Int((h >> 33) % UInt64(n + 1)))
    }
    return result
}
