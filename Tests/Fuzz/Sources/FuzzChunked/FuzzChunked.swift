// libFuzzer target: the chunked transfer-coding decoder (ChunkedDecoder).
//
// Fed like the proxy feeds it: unconsumed bytes are passed again with more data. Properties,
// for a request decoder with default limits and a response decoder with small limits:
// - the outcome (bytes consumed, decoded payload, finished; or else the error) is the same whether the body
//   arrives at once, split in two at any offset (all for short inputs, 16 hash-picked beyond), or one byte
//   at a time;
// - consumed <= count; payload ranges are inside the consumed prefix, in order, not overlapping,
//   and the payload is never longer than the consumed bytes;
// - without an error, everything is consumed unless the body finished (only bytes after the end
//   of the message are ever left over), and a finished decoder consumes nothing more;
// - errors have the decoder's status class (4xx for requests, 502 for responses).
import FuzzSupport
import SluiceHTTP1


struct Outcome: Equatable {
    var consumed = 0
    var payload: [UInt8] = []
    var finished = false
    var error: HTTP1Error?
}

/// Feeds `buf[consumed ..< end]` for each end in `ends` (then the whole buffer), like a connection would.
func decode(_ buf: UnsafeRawBufferPointer, _ ends: some Sequence<Int>, _ template: ChunkedDecoder) -> Outcome {
    var decoder = template
    var out = Outcome()
    var ranges: [Range<Int>] = []
    func feed(_ end: Int) -> Bool {
        guard end >= out.consumed else { return true }
        let slice = UnsafeRawBufferPointer(rebasing: buf[out.consumed ..< end])
        ranges.removeAll(keepingCapacity: true)
        let n: Int
        do {
            n = try decoder.consume(slice, payload: &ranges)
        } catch {
            out.error = error
            return false
        }
        check(n >= 0 && n <= slice.count, "consumed \(n) of \(slice.count)")
        var last = 0
        for r in ranges {
            check(r.lowerBound >= last && r.upperBound <= n && !r.isEmpty, "payload range \(r) (consumed \(n), after \(last))")
            last = r.upperBound
            out.payload += slice[r]
        }
        if !decoder.isFinished { check(n == slice.count, "left \(slice.count - n) bytes unconsumed before the end") }
        out.consumed += n
        if decoder.isFinished {
            // Nothing more is consumed once finished.
            let rest = UnsafeRawBufferPointer(rebasing: buf[out.consumed...])
            let m = (try? decoder.consume(rest)) ?? -1
            check(m == 0, "finished decoder consumed \(m)")
            return false
        }
        return true
    }
    for end in ends where !feed(end) { break }
    if out.error == nil && !decoder.isFinished { _ = feed(buf.count) }
    out.finished = decoder.isFinished
    check(out.payload.count <= out.consumed, "payload longer than consumed bytes")
    if let e = out.error {
        check(template.isResponse ? e.status == 502 : (400 ..< 500).contains(e.status), "error status \(e.status)")
        // How much was forwarded before the error depends on where the reads ended; the error does not.
        return Outcome(consumed: 0, payload: [], finished: false, error: e)
    }
    return out
}


func run(_ buf: UnsafeRawBufferPointer, _ template: ChunkedDecoder) {
    let expected = decode(buf, [], template)
    for split in splits(buf) {
        let o = decode(buf, [split], template)
        check(o == expected, "split \(split): \(o) vs \(expected)")
    }
    let o = decode(buf, 0 ..< buf.count, template)
    check(o == expected, "byte-wise: \(o) vs \(expected)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    run(buf, ChunkedDecoder())
    run(buf, ChunkedDecoder(maxTrailerBytes: 64, maxLineBytes: 32, isResponse: true))
    return 0
}
