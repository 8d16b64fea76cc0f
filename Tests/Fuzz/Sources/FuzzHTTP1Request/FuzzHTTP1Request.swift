// libFuzzer target: the HTTP/1.1 request head parser (RequestHeadParser).
//
// Properties, under the default limits and under small limits (so the 414/431 paths are reached):
// - the result and the head are the same whether the bytes arrive at once, split in two at any
//   offset (every offset for short inputs, 16 hash-picked offsets beyond), or one byte at a time;
// - a complete head lies inside the buffer: headLength <= count, every field, the method and the
//   target inside it, and `hostIndex` a valid index;
// - parsing exactly the first `headLength` bytes gives the same head;
// - a parser that finished keeps returning the same result.
import FuzzSupport
import SluiceHTTP1

let smallLimits = HTTP1Limits(maxRequestLine: 64, maxHeaderLine: 64, maxHeadBytes: 256, maxHeaderCount: 6)


func parseAtOnce(_ buf: UnsafeRawBufferPointer, _ limits: HTTP1Limits) -> (ParseResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    let r = parser.parse(buf, into: &head)
    // A finished parser repeats itself.
    if r != .incomplete { check(parser.parse(buf, into: &head) == r, "result not sticky") }
    return (r, head)
}

/// Feeds prefixes ending at `ends` (then the whole buffer), stopping at the first final result.
func parseInPieces(_ buf: UnsafeRawBufferPointer, _ ends: some Sequence<Int>, _ limits: HTTP1Limits) -> (ParseResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    for end in ends {
        let r = parser.parse(UnsafeRawBufferPointer(rebasing: buf[0 ..< end]), into: &head)
        if r != .incomplete { return (r, head) }
    }
    return (parser.parse(buf, into: &head), head)
}


func checkHead(_ head: RequestHead, _ n: Int) {
    let h = head.headLength
    check(h >= 4 && h <= n, "headLength \(h) of \(n)")
    check(head.methodLength > 0 && head.methodStart >= 0 && head.methodStart + head.methodLength <= h, "method range")
    check(head.targetLength > 0 && head.targetStart >= 0 && head.targetStart + head.targetLength <= h, "target range")
    for f in head.fields {
        check(f.nameLength > 0 && f.nameStart >= 0 && Int(f.nameStart) + Int(f.nameLength) <= h, "field name range")
        check(f.valueLength >= 0 && f.valueStart >= 0 && Int(f.valueStart) + Int(f.valueLength) <= h, "field value range")
    }
    for t in head.connectionTokens {
        check(t.start >= 0 && t.length >= 0 && Int(t.start) + Int(t.length) <= h, "connection token range")
    }
    if let i = head.hostIndex { check(i >= 0 && i < head.fields.count, "hostIndex \(i)") }
    check(head.versionMinor == 0 || head.versionMinor == 1, "version \(head.versionMinor)")
}

func run(_ buf: UnsafeRawBufferPointer, _ limits: HTTP1Limits) {
    let n = buf.count
    let (expected, expectedHead) = parseAtOnce(buf, limits)
    if expected == .complete {
        checkHead(expectedHead, n)
        let (r, head) = parseAtOnce(UnsafeRawBufferPointer(rebasing: buf[0 ..< expectedHead.headLength]), limits)
        check(r == .complete && head == expectedHead, "head differs when parsing exactly headLength bytes")
    }
    for split in splits(buf) {
        let (r, head) = parseInPieces(buf, [split], limits)
        check(r == expected, "split \(split): \(r) vs \(expected)")
        if r == .complete { check(head == expectedHead, "split \(split): head differs") }
    }
    let (r, head) = parseInPieces(buf, 0 ..< n, limits)
    check(r == expected, "byte-wise: \(r) vs \(expected)")
    if r == .complete { check(head == expectedHead, "byte-wise: head differs") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    run(buf, HTTP1Limits())
    run(buf, smallLimits)
    return 0
}
