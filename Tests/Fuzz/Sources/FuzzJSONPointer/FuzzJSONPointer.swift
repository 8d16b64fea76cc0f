// libFuzzer target: JSON-pointer lookup and comparison (JSONPointer), as used to compare a shadow's
// prediction with the primary's.
//
// Input: `pointer NUL documentA NUL documentB` (missing parts: pointer "", B = A).
// Properties:
// - parsing the pointer never crashes, and fails exactly when it is non-empty without a leading "/";
// - a found value is a non-empty range inside the document that starts with no whitespace, and is
//   itself one whole value (looking it up with the empty pointer inside the slice finds all of it);
// - `agree` is symmetric, for tolerance 0 and 0.01, and agreeing implies both values exist;
// - a document agrees with itself wherever the pointer finds a value (reflexive).
import FuzzSupport
import SluiceRouting


let root = JSONPointer("")!

func checkValue(_ pointer: JSONPointer, _ doc: UnsafeRawBufferPointer) -> Range<Int>? {
    guard let r = pointer.valueRange(in: doc) else { return nil }
    check(r.lowerBound >= 0 && r.upperBound <= doc.count && !r.isEmpty, "range \(r) in \(doc.count) bytes")
    let first = doc[r.lowerBound]
    check(first != 0x20 && first != 0x0A && first != 0x0D && first != 0x09, "value starts with whitespace")
    let slice = UnsafeRawBufferPointer(rebasing: doc[r])
    check(root.valueRange(in: slice) == 0 ..< slice.count, "value is not one whole value")
    return r
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    let parts = buf.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    let text = String(decoding: parts[0], as: UTF8.self)
    let a = parts.count > 1 ? Array(parts[1]) : []
    let b = parts.count > 2 ? Array(parts[2]) : a

    let pointer = JSONPointer(text)
    check((pointer == nil) == (!text.isEmpty && !text.hasPrefix("/")), "pointer parse of \(text.debugDescription)")
    guard let pointer else { return 0 }
    a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in
            let ra = checkValue(pointer, x), rb = checkValue(pointer, y)
            for tolerance in [0, 0.01] {
                let ab = pointer.agree(x, y, tolerance: tolerance), ba = pointer.agree(y, x, tolerance: tolerance)
                check(ab == ba, "agree not symmetric at tolerance \(tolerance)")
                if ab { check(ra != nil && rb != nil, "agree without both values") }
                if ra != nil { check(pointer.agree(x, x, tolerance: tolerance), "a value disagrees with itself") }
                if rb != nil { check(pointer.agree(y, y, tolerance: tolerance), "a value disagrees with itself") }
            }
        }
    }
    return 0
}
