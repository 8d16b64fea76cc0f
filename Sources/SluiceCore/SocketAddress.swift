import Glibc
import CSluiceLinux

/// An IPv4 or IPv6 socket address, resolved once (at config time), reused for every connect.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Raw storage of the sockaddr (sockaddr_in or sockaddr_in6).
    private var storage: [UInt8]
    /// The host as configured or resolved, for logs.
    public let host: String
    /// The port in host byte order.
    public let port: UInt16

    /// Resolves `host` (a literal IPv4/IPv6 address or a name such as `localhost`) and `port`.
    /// Returns nil when the name does not resolve.
    public init?(host: String, port: UInt16) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(bare, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        // Prefer IPv4 when a name resolves to both (loopback sidecars).
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if cur.pointee.ai_family == AF_INET { chosen = cur; break }
            p = cur.pointee.ai_next
        }
        let len = Int(chosen.pointee.ai_addrlen)
        storage = [UInt8](UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: len))
        self.host = bare
        self.port = port
    }

    /// Builds an address from a kernel-filled sockaddr.
    public init(raw: UnsafeRawBufferPointer) {
        storage = [UInt8](raw)
        var text = [CChar](repeating: 0, count: 64)
        var port: UInt16 = 0
        raw.withMemoryRebound(to: sockaddr.self) { sa in
            let family = Int32(sa[0].sa_family)
            if family == AF_INET {
                raw.withMemoryRebound(to: sockaddr_in.self) { sin in
                    var a = sin[0].sin_addr
                    inet_ntop(AF_INET, &a, &text, 64)
                    port = UInt16(bigEndian: sin[0].sin_port)
                }
            } else if family == AF_INET6 {
                raw.withMemoryRebound(to: sockaddr_in6.self) { sin in
                    var a = sin[0].sin6_addr
                    inet_ntop(AF_INET6, &a, &text, 64)
                    port = UInt16(bigEndian: sin[0].sin6_port)
                }
            }
        }
        self.host = String(cString: text)
        self.port = port
    }

    /// The address family (AF_INET or AF_INET6).
    public var family: Int32 {
        storage.withUnsafeBytes { Int32($0.load(as: sa_family_t.self)) }
    }

    /// Calls `body` with the sockaddr pointer and length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }

    /// `host:port` (IPv6 in brackets).
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
