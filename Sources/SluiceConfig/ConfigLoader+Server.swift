import SluiceRouting

/// The server-level sections: limits, listeners, admin, access log.
extension ConfigLoader {
    static func readLimits(_ field: Field, _ diags: Diagnostics) -> Limits {
        var limits = Limits()
        guard let m = MappingReader(field, known: [
            "max_request_body", "max_request_headers", "max_header_count", "request_header_timeout",
            "idle_timeout", "body_idle_timeout", "max_requests_per_connection", "drain_timeout",
            "max_connections", "model_peek",
        ], diags) else { return limits }
        if let v = m["max_request_body"]?.size(diags) { limits.maxRequestBody = v }
        if let f = m["max_request_headers"], let v = f.size(diags) {
            if v > UInt64(Int32.max) { diags.report(f, "must be at most 2GiB") } else { limits.maxRequestHeaders = Int(v) }
        }
        if let v = m["max_header_count"]?.int(diags, 1...100_000) { limits.maxHeaderCount = v }
        if let v = m["request_header_timeout"]?.duration(diags) { limits.requestHeaderTimeoutNanos = v }
        if let v = m["idle_timeout"]?.duration(diags) { limits.idleTimeoutNanos = v }
        if let v = m["body_idle_timeout"]?.duration(diags) { limits.bodyIdleTimeoutNanos = v }
        if let v = m["max_requests_per_connection"]?.int(diags, 1...Int.max) { limits.maxRequestsPerConnection = v }
        if let v = m["drain_timeout"]?.duration(diags, positive: false) { limits.drainTimeoutNanos = v }
        if let v = m["max_connections"]?.int(diags, 1...10_000_000) { limits.maxConnections = v }
        if let f = m["model_peek"], let v = f.size(diags) {
            if v < 64 || v > 32 << 10 { diags.report(f, "must be between 64B and 32KiB") } else { limits.modelPeek = Int(v) }
        }
        return limits
    }

    static func readListeners(_ field: Field, _ diags: Diagnostics) -> [ListenerConfig] {
        guard let items = field.items(diags) else { return [] }
        if items.isEmpty { diags.report(field, "at least one listener is required") }
        var seen: [String: Int] = [:]
        var result: [ListenerConfig] = []
        for item in items {
            guard let m = MappingReader(item, known: ["name", "address", "tls", "backlog"], diags) else { continue }
            let nameField = m.required("name", diags)
            let name = nameField?.string(diags)
            if let name, let nameField { checkUnique(name, nameField, &seen, "listener", diags) }
            let addr = m.required("address", diags).flatMap { address($0, diags) }
            var tls: TLSIdentity?
            if let t = m["tls"], let tm = MappingReader(t, known: ["certificate", "private_key"], diags) {
                tls = readIdentity(tm, required: true, diags)
            }
            let backlog = m["backlog"].map { $0.int(diags, 1...65535) } ?? Int(ListenerConfig.defaultBacklog)
            if let name, let addr, let backlog {
                result.append(ListenerConfig(name: name, host: addr.host, port: addr.port, tls: tls, backlog: Int32(backlog)))
            }
        }
        return result
    }

    /// `certificate` and `private_key` of a `tls` mapping, with their lines. A listener needs
    /// both (`required`); a backend's client certificate takes both or neither, and one without
    /// the other is reported at the missing field.
    static func readIdentity(_ m: MappingReader, required: Bool, _ diags: Diagnostics) -> TLSIdentity? {
        var cert = m["certificate"], key = m["private_key"]
        if required {
            cert = m.required("certificate", diags)
            key = m.required("private_key", diags)
        } else if (cert == nil) != (key == nil) {
            let (missing, given) = cert == nil ? ("certificate", "private_key") : ("private_key", "certificate")
            diags.report(m.field.child(missing), m.field.line, "missing: \(given) is set, so \(missing) is required too (both or neither)")
        }
        let certPath = cert?.string(diags), keyPath = key?.string(diags)
        guard let cert, let key, let certPath, let keyPath else { return nil }
        return TLSIdentity(certificate: certPath, privateKey: keyPath, certificateLine: cert.line, privateKeyLine: key.line)
    }

    static func readAdmin(_ field: Field, _ diags: Diagnostics) -> AdminConfig? {
        guard let m = MappingReader(field, known: ["address", "token_file", "allowed_hosts"], diags) else { return nil }
        let addr = m.required("address", diags).flatMap { address($0, diags) }
        let token = m["token_file"]?.string(diags)
        var allowed: [String] = []
        if let list = m["allowed_hosts"]?.items(diags) {
            for item in list {
                guard let name = item.string(diags) else { continue }
                if Addresses.isHostName(name) {
                    allowed.append(name.lowercased())
                } else {
                    diags.report(item, "'\(name)' is not a host name: give a DNS name without scheme or port (IP addresses and localhost are always allowed)")
                }
            }
        }
        guard let addr else { return nil }
        return AdminConfig(host: addr.host, port: addr.port, tokenFile: token, allowedHosts: allowed)
    }

    static func readAccessLog(_ field: Field, _ diags: Diagnostics) -> AccessLogConfig? {
        guard let m = MappingReader(field, known: ["path", "sample_rate"], diags) else { return nil }
        let path = m.required("path", diags)?.string(diags)
        let rate = m["sample_rate"].map { $0.double(diags, 0...1) } ?? 1
        guard let path, let rate else { return nil }
        return AccessLogConfig(path: path, sampleRate: rate)
    }
}
