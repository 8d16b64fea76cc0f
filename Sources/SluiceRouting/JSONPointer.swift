/// Finds the value an RFC 6901 JSON pointer names inside a JSON document, without
/// building the document: a single forward scan over the bytes. Used to compare a shadow's
/// prediction with the primary's.
public struct JSONPointer: Sendable, Hashable {
    /// The unescaped reference tokens (`/a~1b/0` → ["a/b", "0"]).
    public let tokens: [[UInt8]]

    /// Parses `/a/b/0`; nil unless it is empty or starts with `/`.
    public init?(_ text: String) {
        if text.isEmpty { tokens = []; return }
        guard text.hasPrefix("/") else { return nil }
        var result: [[UInt8]] = []
        var current: [UInt8] = []
        var tilde = false
        for b in text.utf8.dropFirst() {
            if tilde {
                current.append(b == UInt8(ascii: "1") ? UInt8(ascii: "/") : UInt8(ascii: "~"))
                tilde = false
            } else if b == UInt8(ascii: "~") {
                tilde = true
            } else if b == UInt8(ascii: "/") {
                result.append(current)
                current = []
            } else {
                current.append(b)
            }
        }
        result.append(current)
        tokens = result
    }

    /// The byte range of the value at this pointer in `json`, or nil when absent or the JSON is malformed.
    public func valueRange(in json: UnsafeRawBufferPointer) -> Range<Int>? {
        var scanner = JSONScanner(bytes: json)
        scanner.skipWhitespace()
        for token in tokens {
            guard scanner.descend(into: token) else { return nil }
        }
        let start = scanner.position
        guard scanner.skipValue() else { return nil }
        return start..<scanner.position
    }

    /// Whether two documents agree at this pointer: numbers within `tolerance`, anything else byte-equal.
    /// Absent values never agree.
    public func agree(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, tolerance: Double) -> Bool {
        guard let ra = valueRange(in: a), let rb = valueRange(in: b) else { return false }
        let va = UnsafeRawBufferPointer(rebasing: a[ra]), vb = UnsafeRawBufferPointer(rebasing: b[rb])
        // Identical values always agree, even numbers whose difference is NaN (1e999, NaN, Infinity).
        if va.elementsEqual(vb) { return true }
        if let x = Double(String(decoding: va, as: UTF8.self)), let y = Double(String(decoding: vb, as: UTF8.self)) {
            // A hair of slack so 0.82 vs 0.83 agrees at tolerance 0.01 despite binary rounding.
            return x == y || abs(x - y) <= tolerance + 1e-9
        }
        return false
    }
}

/// A forward-only JSON tokenizer sufficient to walk to a pointer and skip values.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    mutating func skipWhitespace() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09 {
            position += 1
        }
    }

    /// Moves to the value of member `token` (object) or element `token` (array).
    mutating func descend(into token: [UInt8]) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { return false }
        if bytes[position] == UInt8(ascii: "{") {
            position += 1
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return false }
                let keyStart = position + 1
                guard skipString() else { return false }
                let key = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<(position - 1)])
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return false }
                position += 1
                skipWhitespace()
                if key.elementsEqual(token) { return true }
                guard skipValue() else { return false }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ",") else { return false }
                position += 1
            }
        }
        if bytes[position] == UInt8(ascii: "[") {
            guard let index = Int(String(decoding: token, as: UTF8.self)), index >= 0 else { return false }
            position += 1
            var i = 0
            while true {
                skipWhitespace()
                if i == index { return position < bytes.count && bytes[position] != UInt8(ascii: "]") }
                guard skipValue() else { return false }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ",") else { return false }
                position += 1
                i += 1
            }
        }
        return false
    }

    /// Skips a string starting at the opening quote; leaves `position` after the closing quote.
    mutating func skipString() -> Bool {
        position += 1
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\\") { position += 2; continue }
            position += 1
            if c == UInt8(ascii: "\"") { return true }
        }
        return false
    }

    /// Skips one value of any kind.
    mutating func skipValue() -> Bool {
        skipWhitespace()
        guard position < bytes.count else { return false }
        let c = bytes[position]
        if c == UInt8(ascii: "\"") { return skipString() }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while position < bytes.count {
                let d = bytes[position]
                if d == UInt8(ascii: "\"") { guard skipString() else { return false }; continue }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { position += 1; return true }
                }
                position += 1
            }
            return false
        }
        let start = position
        while position < bytes.count {
            let d = bytes[position]
            if d == UInt8(ascii: ",") || d == UInt8(ascii: "}") || d == UInt8(ascii: "]") || d == 0x20 || d == 0x0A || d == 0x0D || d == 0x09 { break }
            position += 1
        }
        return position > start
    }
}
