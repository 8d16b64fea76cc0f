/// Why a request's model name could not be read from its body.
public enum ModelPeekFailure: String, Sendable, Equatable {
    /// A JSON source whose body is not a JSON object (or is cut short).
    case notJSON = "not_json"
    /// A gRPC source whose first message is not valid protobuf wire format (or is cut short).
    case notProtobuf = "not_protobuf"
    /// The first gRPC message is compressed (Sluice does not inflate it).
    case compressed
    /// The body has no model field.
    case missing
    /// The model field is there but is not a plain string (JSON escapes, a number, a wrong wire type).
    case notString = "not_string"
    /// The name was not complete within `limits.model_peek` bytes of body.
    case beyondLimit = "beyond_limit"
}

/// What a peek at the first bytes of a request body says about its model name.
public enum ModelPeekResult: Sendable, Equatable {
    /// Not decided yet: wait for more body bytes.
    case needMore
    /// The name: these bytes of the body given.
    case found(Range<Int>)
    /// No name; the route is chosen without one.
    case notFound(ModelPeekFailure)
}

/// Reads a model name out of the first bytes of a request body, without copying or allocating.
///
/// A pure function of the bytes seen so far: callers give it the body prefix they hold (at most
/// `limit` bytes) each time more arrives, and forward those bytes unchanged once it decides. Only the
/// prefix is read: a JSON document's top-level `model` string, or in a gRPC request's first
/// length-prefixed message, field 1 (``ModelSource/grpcField1``) or field 1 of field 1
/// (``ModelSource/grpcModelSpec``), decoded from the protobuf wire format with every length checked.
public enum ModelPeek {
    /// Peeks at `body` (the first bytes of the body, at most `limit` of them). `complete` says the
    /// body has no more bytes.
    public static func scan(_ source: ModelSource, _ body: UnsafeRawBufferPointer, complete: Bool, limit: Int) -> ModelPeekResult {
        let step: Step
        switch source {
        case .jsonBody: step = JSONModel.scan(body)
        case .grpcField1: step = GRPCModel.scan(body, nested: false)
        case .grpcModelSpec: step = GRPCModel.scan(body, nested: true)
        case .path, .none: return .notFound(.missing)
        }
        switch step {
        case .found(let r): return .found(r)
        case .failed(let f): return .notFound(f)
        case .incomplete:
            if body.count >= limit { return .notFound(.beyondLimit) }
            if complete { return .notFound(source == .jsonBody ? .notJSON : .notProtobuf) }
            return .needMore
        }
    }

    enum Step: Equatable {
        case found(Range<Int>)
        case failed(ModelPeekFailure)
        case incomplete
    }
}

/// The top-level `model` string of a JSON object.
enum JSONModel {
    static let key: [UInt8] = Array("model".utf8)

    static func scan(_ b: UnsafeRawBufferPointer) -> ModelPeek.Step {
        var i = skipSpace(b, 0)
        guard i < b.count else { return .incomplete }
        guard b[i] == UInt8(ascii: "{") else { return .failed(.notJSON) }
        i += 1
        while true {
            i = skipSpace(b, i)
            guard i < b.count else { return .incomplete }
            if b[i] == UInt8(ascii: "}") { return .failed(.missing) }
            guard b[i] == UInt8(ascii: "\"") else { return .failed(.notJSON) }
            let keyStart = i + 1
            guard let (keyEnd, keyEscaped) = stringEnd(b, keyStart) else { return .incomplete }
            i = skipSpace(b, keyEnd + 1)
            guard i < b.count else { return .incomplete }
            guard b[i] == UInt8(ascii: ":") else { return .failed(.notJSON) }
            i = skipSpace(b, i + 1)
            guard i < b.count else { return .incomplete }
            if !keyEscaped && AttributeScan.equals(UnsafeRawBufferPointer(rebasing: b[keyStart..<keyEnd]), key) {
                guard b[i] == UInt8(ascii: "\"") else { return .failed(.notString) }
                guard let (end, escaped) = stringEnd(b, i + 1) else { return .incomplete }
                return escaped ? .failed(.notString) : .found((i + 1)..<end)
            }
            switch skipValue(b, i) {
            case .incomplete: return .incomplete
            case .failed(let f): return .failed(f)
            case .found(let r): i = skipSpace(b, r.upperBound)
            }
            guard i < b.count else { return .incomplete }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { return .failed(.missing) }
            return .failed(.notJSON)
        }
    }

    static func skipSpace(_ b: UnsafeRawBufferPointer, _ from: Int) -> Int {
        var i = from
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// Index of the closing quote of the string whose first content byte is at `from`, and whether
    /// it holds escapes; `nil` when the bytes end first.
    static func stringEnd(_ b: UnsafeRawBufferPointer, _ from: Int) -> (Int, Bool)? {
        var i = from
        var escaped = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { return (i, escaped) }
            if c == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
            i += 1
        }
        return nil
    }

    /// Skips one value starting at `from`; `.found(from..<end)`.
    static func skipValue(_ b: UnsafeRawBufferPointer, _ from: Int) -> ModelPeek.Step {
        let c = b[from]
        if c == UInt8(ascii: "\"") {
            guard let (end, _) = stringEnd(b, from + 1) else { return .incomplete }
            return .found(from..<(end + 1))
        }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            var i = from
            while i < b.count {
                let d = b[i]
                if d == UInt8(ascii: "\"") {
                    guard let (end, _) = stringEnd(b, i + 1) else { return .incomplete }
                    i = end + 1
                    continue
                }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return .found(from..<(i + 1)) }
                }
                i += 1
            }
            return .incomplete
        }
        // A number or a literal: runs to a delimiter.
        var i = from
        while i < b.count {
            let d = b[i]
            if d == UInt8(ascii: ",") || d == UInt8(ascii: "}") || d == UInt8(ascii: "]")
                || d == 0x20 || d == 0x0A || d == 0x0D || d == 0x09 { break }
            guard d >= 0x21 && d < 0x7F && d != UInt8(ascii: "\"") && d != UInt8(ascii: "{") && d != UInt8(ascii: "[") else {
                return .failed(.notJSON)
            }
            i += 1
        }
        if i == b.count { return .incomplete }
        return i > from ? .found(from..<i) : .failed(.notJSON)
    }
}

/// Field 1 (or field 1 of field 1) of the first message of a gRPC request body
/// (`flag:1 length:4 message`), read from the protobuf wire format.
enum GRPCModel {
    /// The most bytes a varint may take.
    static let maxVarint = 10

    static func scan(_ b: UnsafeRawBufferPointer, nested: Bool) -> ModelPeek.Step {
        guard b.count >= 5 else { return .incomplete }
        if b[0] == 1 { return .failed(.compressed) }
        guard b[0] == 0 else { return .failed(.notProtobuf) }
        let length = Int(b[1]) << 24 | Int(b[2]) << 16 | Int(b[3]) << 8 | Int(b[4])
        let step = field1(b, 5..<(5 + length))
        guard nested, case .found(let spec) = step else { return step }
        // model_spec is complete within the bytes held (field1 checked it): a missing name is final.
        switch field1(b, spec) {
        case .incomplete: return .failed(.notProtobuf)
        case let other: return other
        }
    }

    /// The bytes of the first length-delimited field 1 in the message occupying `message` of `b`
    /// (which may hold only a prefix of it).
    static func field1(_ b: UnsafeRawBufferPointer, _ message: Range<Int>) -> ModelPeek.Step {
        var p = message.lowerBound
        let end = message.upperBound
        while p < end {
            guard let (tag, afterTag) = varint(b, p, end) else { return p >= b.count || varintCut(b, p, end) ? .incomplete : .failed(.notProtobuf) }
            p = afterTag
            let field = tag >> 3
            guard field > 0 else { return .failed(.notProtobuf) }
            switch tag & 7 {
            case 0:
                guard let (_, next) = varint(b, p, end) else { return varintCut(b, p, end) ? .incomplete : .failed(.notProtobuf) }
                if field == 1 { return .failed(.notString) }
                p = next
            case 1:
                if field == 1 { return .failed(.notString) }
                p += 8
            case 5:
                if field == 1 { return .failed(.notString) }
                p += 4
            case 2:
                guard let (len, next) = varint(b, p, end) else { return varintCut(b, p, end) ? .incomplete : .failed(.notProtobuf) }
                guard len <= UInt64(end - next) else { return .failed(.notProtobuf) }
                let valueEnd = next + Int(len)
                if field == 1 {
                    return valueEnd <= b.count ? .found(next..<valueEnd) : .incomplete
                }
                p = valueEnd
            default:
                return .failed(.notProtobuf)
            }
        }
        return p == end ? .failed(.missing) : .failed(.notProtobuf)
    }

    /// A varint at `p` ending before `end` and within `b`; `nil` when it does not.
    static func varint(_ b: UnsafeRawBufferPointer, _ p: Int, _ end: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0
        var i = p
        var shift: UInt64 = 0
        while i < end && i < b.count && i - p < maxVarint {
            let c = b[i]
            value |= UInt64(c & 0x7F) << shift
            i += 1
            if c & 0x80 == 0 { return (value, i) }
            shift += 7
        }
        return nil
    }

    /// Whether the varint at `p` failed only because `b` holds too few bytes yet.
    static func varintCut(_ b: UnsafeRawBufferPointer, _ p: Int, _ end: Int) -> Bool {
        var i = p
        while i < end && i < b.count && i - p < maxVarint {
            if b[i] & 0x80 == 0 { return false }
            i += 1
        }
        return i == b.count && i < end && i - p < maxVarint
    }
}
