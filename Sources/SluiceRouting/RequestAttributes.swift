/// What the router needs to know about one request.
///
/// The proxy implements it over its HTTP/1 or HTTP/2 header storage. Every
/// returned buffer points into that storage and must stay valid until
/// ``Router/decide(_:_:rng:)`` returns; nothing is copied or retained.
/// ``Router`` is generic over the conforming type, so calls are specialized
/// and never go through an existential.
public protocol RequestAttributes {
    /// The request path without the query string (`/v1/models/x:predict`).
    var path: UnsafeRawBufferPointer { get }

    /// The bytes after the first `?`, without it; `nil` when there is no `?`.
    var rawQuery: UnsafeRawBufferPointer? { get }

    /// Value bytes of the first field named `lowercasedName`, or `nil`.
    func header(_ lowercasedName: [UInt8]) -> UnsafeRawBufferPointer?

    /// Value of the first query parameter named `name` (compared byte for byte,
    /// not percent-decoded), or `nil`. An empty value (`?k=` or `?k`) is returned as empty.
    func query(_ name: [UInt8]) -> UnsafeRawBufferPointer?

    /// Value of the first cookie named `name`, or `nil`.
    func cookie(_ name: [UInt8]) -> UnsafeRawBufferPointer?

    /// The model the request names (from its path or its body, found by the proxy), or `nil`.
    /// Only routes with `match.model` read it.
    var model: UnsafeRawBufferPointer? { get }

    /// The request method (`POST`), when the proxy gives it; `shadow.match.methods` reads it.
    var method: UnsafeRawBufferPointer? { get }
}

extension RequestAttributes {
    /// Default: no model known.
    @inlinable
    public var model: UnsafeRawBufferPointer? { nil }

    /// Default: method unknown.
    @inlinable
    public var method: UnsafeRawBufferPointer? { nil }

    /// Default: scans ``rawQuery`` for `name=value` pairs separated by `&`.
    @inlinable
    public func query(_ name: [UInt8]) -> UnsafeRawBufferPointer? {
        guard let q = rawQuery else { return nil }
        return AttributeScan.pairValue(in: q, name: name, separator: UInt8(ascii: "&"))
    }

    /// Default: scans the first `cookie` header for `name=value` pairs separated
    /// by `;` (optional spaces after it). A proxy whose HTTP/2 requests may carry
    /// several `cookie` fields should implement this itself.
    @inlinable
    public func cookie(_ name: [UInt8]) -> UnsafeRawBufferPointer? {
        guard let c = header(AttributeScan.cookieHeader) else { return nil }
        return AttributeScan.pairValue(in: c, name: name, separator: UInt8(ascii: ";"))
    }
}

/// Allocation-free scanning of `name=value` lists and byte comparisons.
public enum AttributeScan {
    /// The lowercased `cookie` header name.
    public static let cookieHeader: [UInt8] = Array("cookie".utf8)

    /// Value of the first pair named `name` in `list`, pairs split by `separator`;
    /// spaces and tabs before a name are skipped. A bare `name` yields an empty value.
    @inlinable
    public static func pairValue(
        in list: UnsafeRawBufferPointer, name: [UInt8], separator: UInt8
    ) -> UnsafeRawBufferPointer? {
        let count = list.count
        var start = 0
        while start <= count {
            var end = start
            while end < count && list[end] != separator { end += 1 }
            var nameStart = start
            while nameStart < end && (list[nameStart] == 0x20 || list[nameStart] == 0x09) {
                nameStart += 1
            }
            var eq = nameStart
            while eq < end && list[eq] != UInt8(ascii: "=") { eq += 1 }
            if equals(UnsafeRawBufferPointer(rebasing: list[nameStart..<eq]), name) {
                let valueStart = eq < end ? eq + 1 : end
                return UnsafeRawBufferPointer(rebasing: list[valueStart..<end])
            }
            start = end + 1
        }
        return nil
    }

    /// Whether `bytes` equals `other` byte for byte.
    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        guard bytes.count == other.count else { return false }
        for i in 0..<other.count where bytes[i] != other[i] { return false }
        return true
    }

    /// Whether `bytes` starts with `prefix`.
    @inlinable
    public static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        for i in 0..<prefix.count where bytes[i] != prefix[i] { return false }
        return true
    }

    /// Whether `bytes` ends with `suffix`.
    @inlinable
    public static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        guard bytes.count >= suffix.count else { return false }
        let start = bytes.count - suffix.count
        for i in 0..<suffix.count where bytes[start + i] != suffix[i] { return false }
        return true
    }

    /// Whether `bytes` equals the UTF-8 of `string`.
    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ string: String) -> Bool {
        var i = 0
        for b in string.utf8 {
            if i >= bytes.count || bytes[i] != b { return false }
            i += 1
        }
        return i == bytes.count
    }
}
