// libFuzzer target: the HTTP/1.1 response head parser (ResponseHeadParser), for upstream responses.
//
// Properties (default limits with a GET, small limits with a HEAD request):
// - same result and head at once, split in two at any offset (all for short inputs, 16 hash-picked beyond),
//   and one byte at a time;
// - a complete head lies inside the buffer (head, reason, fields, Connection tokens);
// - status is 100...599; 1xx, 204, 304 and responses to HEAD have no body; a body delimited by
//   close never leaves the connection reusable;
// - every error is an upstream error (502);
// - parsing exactly the first `headLength` bytes gives the same head.
import FuzzSupport
import SluiceHTTP1

let smallLimits = HTTP1Limits(maxRequestLine: 64, maxHeaderLine: 64, maxHeadBytes: 256, maxHeaderCount: 6)


func parseInPieces(_ buf: UnsafeRawBufferPointer, _ ends: some Sequence<Int>, _ limits: HTTP1Limits,
                   _ isHEAD: Bool) -> (ParseResult, ResponseHead) {
    var parser = ResponseHeadParser(limits: limits)
    var head = ResponseHead()
    for end in ends {
        let r = parser.parse(UnsafeRawBufferPointer(rebasing: buf[0 ..< end]), requestWasHEAD: isHEAD, into: &head)
        if r != .incomplete { return (r, head) }
    }
    let r = parser.parse(buf, requestWasHEAD: isHEAD, into: &head)
    if r != .incomplete { check(parser.parse(buf, requestWasHEAD: isHEAD, into: &head) == r, "result not sticky") }
    return (r, head)
}


func checkHead(_ head: ResponseHead, _ n: Int, _ isHEAD: Bool) {
    let h = head.headLength
    check(h >= 4 && h <= n, "headLength \(h) of \(n)")
    check((100 ... 599).contains(head.status), "status \(head.status)")
    check(head.reasonLength >= 0 && head.reasonStart >= 0 && head.reasonStart + head.reasonLength <= h, "reason range")
    for f in head.fields {
        check(f.nameLength > 0 && f.nameStart >= 0 && Int(f.nameStart) + Int(f.nameLength) <= h, "field name range")
        check(f.valueLength >= 0 && f.valueStart >= 0 && Int(f.valueStart) + Int(f.valueLength) <= h, "field value range")
    }
    for t in head.connectionTokens {
        check(t.start >= 0 && t.length >= 0 && Int(t.start) + Int(t.length) <= h, "connection token range")
    }
    if isHEAD || head.status < 200 || head.status == 204 || head.status == 304 {
        check(head.framing == .none, "status \(head.status) (HEAD \(isHEAD)) with framing \(head.framing)")
    }
    if head.framing == .untilClose { check(!head.keepAlive, "untilClose but keepAlive") }
}

func run(_ buf: UnsafeRawBufferPointer, _ limits: HTTP1Limits, _ isHEAD: Bool) {
    let n = buf.count
    let (expected, expectedHead) = parseInPieces(buf, [], limits, isHEAD)
    switch expected {
    case .complete:
        checkHead(expectedHead, n, isHEAD)
        let (r, head) = parseInPieces(UnsafeRawBufferPointer(rebasing: buf[0 ..< expectedHead.headLength]), [], limits, isHEAD)
        check(r == .complete && head == expectedHead, "head differs when parsing exactly headLength bytes")
    case .error(let e):
        check(e.status == 502, "response error with status \(e.status)")
    case .incomplete:
        break
    }
    for split in splits(buf) {
        let (r, head) = parseInPieces(buf, [split], limits, isHEAD)
        check(r == expected, "split \(split): \(r) vs \(expected)")
        if r == .complete { check(head == expectedHead, "split \(split): head differs") }
    }
    let (r, head) = parseInPieces(buf, 0 ..< n, limits, isHEAD)
    check(r == expected, "byte-wise: \(r) vs \(expected)")
    if r == .complete { check(head == expectedHead, "byte-wise: head differs") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    run(buf, HTTP1Limits(), false)
    run(buf, smallLimits, true)
    return 0
}
