import Glibc

/// `host:port` addresses as written in the YAML.
///
/// The host is an IPv4 literal (`127.0.0.1`, `0.0.0.0`), an IPv6 literal in
/// brackets (`[::1]`), or `localhost`; the port is 0...65535 (0 = ephemeral,
/// which tests use). Host names other than `localhost` are refused: Sluice
/// resolves nothing at run time.
public enum Addresses {
    /// A parsed address; an IPv6 host is stored without its brackets.
    public struct Parsed: Sendable, Hashable {
        /// Host literal without brackets.
        public var host: String
        /// Port number.
        public var port: UInt16

        /// Creates a parsed address.
        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    /// Parses `text`, or returns why it is invalid.
    public static func parse(_ text: String) -> Result<Parsed, AddressError> {
        guard let colon = text.lastIndex(of: ":") else { return .failure(.init("missing ':port'")) }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit),
              let port = Int(portText), port <= 65_535 else {
            return .failure(.init("port must be an integer 0..65535"))
        }
        if host.hasPrefix("[") && host.hasSuffix("]") && host.count > 2 {
            host = String(host.dropFirst().dropLast())
            guard isIPv6(host) else { return .failure(.init("'\(host)' is not an IPv6 address")) }
        } else if host != "localhost" && !isIPv4(host) {
            return .failure(.init("host must be an IPv4 address, [IPv6] or localhost"))
        }
        return .success(Parsed(host: host, port: UInt16(port)))
    }

    /// Whether `text` is a dotted-quad IPv4 literal.
    public static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCIIDigit) && Int(p)! <= 255
        }
    }

    /// Whether `text` looks like an IPv6 literal: hex groups, `::` at most once,
    /// an optional trailing IPv4 part. (The kernel has the last word when binding.)
    public static func isIPv6(_ text: String) -> Bool {
        guard text.contains(":"), text.count <= 45 else { return false }
        var groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let compressed = text.doubleColonCount
        guard compressed <= 1 else { return false }
        var maxGroups = 8
        if let last = groups.last, last.contains(".") {
            guard isIPv4(last) else { return false }
            groups.removeLast()
            maxGroups = 6
        }
        let nonEmpty = groups.filter { !$0.isEmpty }
        guard nonEmpty.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        return compressed == 1 ? nonEmpty.count < maxGroups : nonEmpty.count == maxGroups && groups.count == maxGroups
    }
}

extension Addresses {
    /// Whether `text` is a DNS host name as `admin.allowed_hosts` takes it: dot-separated labels of
    /// letters, digits, `-` and `_`, at most 253 characters, no scheme, port or brackets.
    public static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63
                && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
        }
    }

    /// Whether `host` (as stored in a parsed address: no brackets) is a loopback address:
    /// `localhost`, 127.0.0.0/8, `::1`, or an IPv4-mapped loopback (`::ffff:127.x.x.x`).
    public static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
        return mapped && bytes[12] == 127
    }
}

/// Why an address is invalid.
public struct AddressError: Error, Sendable, Hashable {
    /// Human-readable reason.
    public var reason: String

    init(_ reason: String) { self.reason = reason }
}

extension String {
    /// How many times `::` occurs.
    fileprivate var doubleColonCount: Int {
        var count = 0
        var previousColon = false
        var index = startIndex
        while index < endIndex {
            let isColon = self[index] == ":"
            if isColon && previousColon { count += 1; previousColon = false } else { previousColon = isColon }
            index = self.index(after: index)
        }
        return count
    }
}
