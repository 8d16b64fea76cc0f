// libFuzzer target: the model peek (ModelPeek), which reads untrusted request bodies before a route
// is chosen: OpenAI-style JSON and the first gRPC message (protobuf wire format).
//
// Input: `source limit body...`: byte 0 picks the source (JSON, gRPC field 1, gRPC field 1 of field 1),
// byte 1 the limit (64 + 32 × byte 1), the rest is the body.
// Properties:
// - scanning never crashes, and a found name is a range inside the bytes given (between quotes for JSON);
// - `needMore` only while the body is incomplete and under the limit;
// - prefix consistency: the scan of any prefix of the body either waits for more or already gives the
//   answer the whole body gives (feeding bytes as they arrive never changes a decision).
import FuzzSupport
import SluiceRouting

let sources: [ModelSource] = [.jsonBody, .grpcField1, .grpcModelSpec]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    let source = sources[Int(buf[0]) % sources.count]
    let limit = 64 + 32 * Int(buf[1])
    let body = UnsafeRawBufferPointer(rebasing: buf[2...])
    let held = UnsafeRawBufferPointer(rebasing: body[0 ..< min(body.count, limit)])
    let complete = body.count <= limit
    let whole = ModelPeek.scan(source, held, complete: complete, limit: limit)
    switch whole {
    case .found(let r):
        check(r.lowerBound >= 0 && r.upperBound <= held.count, "range \(r) outside \(held.count) bytes")
        if source == .jsonBody {
            check(r.lowerBound > 0 && held[r.lowerBound - 1] == UInt8(ascii: "\"") && r.upperBound < held.count
                  && held[r.upperBound] == UInt8(ascii: "\""), "JSON name not between quotes")
        }
    case .needMore:
        check(!complete && held.count < limit, "needMore with a complete body or at the limit")
    case .notFound:
        break
    }
    for k in splits(held) where k < held.count {
        let prefix = UnsafeRawBufferPointer(rebasing: held[0 ..< k])
        let partial = ModelPeek.scan(source, prefix, complete: false, limit: limit)
        check(partial == .needMore || partial == whole, "prefix of \(k) bytes says \(partial), the body \(whole)")
    }
    return 0
}
