import SluiceRouting

/// The `backends:` section, compiled, with a name index for the routes to resolve.
struct BackendSet {
    /// Backends in config order (placeholders stand in for invalid entries, so
    /// routes can still be checked; a config with errors is never returned).
    var backends: [Backend] = []
    /// Name → index into ``backends``.
    var index: [String: Int] = [:]
}

extension ConfigLoader {
    static func readBackends(_ field: Field, _ diags: Diagnostics) -> BackendSet {
        var set = BackendSet()
        guard let items = field.items(diags) else { return set }
        if items.isEmpty { diags.report(field, "at least one backend is required") }
        var seen: [String: Int] = [:]
        for item in items {
            guard let m = MappingReader(item, known: [
                "name", "endpoints", "protocol", "model_version", "timeouts", "health_check", "tls",
            ], diags) else { continue }
            let nameField = m.required("name", diags)
            guard let nameField, let name = nameField.string(diags) else { continue }
            checkUnique(name, nameField, &seen, "backend", diags)

            var endpoints: [Endpoint] = []
            if let ef = m.required("endpoints", diags), let eps = ef.items(diags) {
                if eps.isEmpty { diags.report(ef, "at least one endpoint is required") }
                for ep in eps {
                    if let a = address(ep, diags) { endpoints.append(Endpoint(host: a.host, port: a.port)) }
                }
            }
            var proto = UpstreamProtocol.http1
            if let pf = m["protocol"], let text = pf.scalar(diags) {
                if let p = UpstreamProtocol(rawValue: text) {
                    proto = p
                } else {
                    diags.report(pf, "must be http1 or h2, found '\(text)'")
                }
            }
            let version = m["model_version"]?.string(diags)
            let timeouts = m["timeouts"].map { readTimeouts($0, diags) } ?? BackendTimeouts()
            let health = m["health_check"].flatMap { readHealthCheck($0, diags) }
            let tls = m["tls"].flatMap { readBackendTLS($0, diags) }

            if set.index[name] == nil { set.index[name] = set.backends.count }
            set.backends.append(Backend(
                name: name, endpoints: endpoints, protocol: proto, modelVersion: version,
                timeouts: timeouts, healthCheck: health, tls: tls))
        }
        return set
    }

    static func readTimeouts(_ field: Field, _ diags: Diagnostics) -> BackendTimeouts {
        var t = BackendTimeouts()
        guard let m = MappingReader(field, known: ["connect", "request", "idle"], diags) else { return t }
        if let v = m["connect"]?.duration(diags) { t.connectNanos = v }
        if let v = m["request"]?.duration(diags) { t.requestNanos = v }
        if let v = m["idle"]?.duration(diags) { t.idleNanos = v }
        return t
    }

    /// `tls:` of a backend. An empty mapping (`tls: {}`) means TLS with every default.
    /// The CA file and the client certificate and key are only named here; they are loaded
    /// (and their errors reported with these lines) when the config is applied, like listener
    /// certificates.
    static func readBackendTLS(_ field: Field, _ diags: Diagnostics) -> BackendTLS? {
        guard let m = MappingReader(field, known: ["ca", "server_name", "verify", "certificate", "private_key"], diags) else {
            return nil
        }
        var tls = BackendTLS(clientCertificate: readIdentity(m, required: false, diags), line: field.line)
        if let f = m["ca"], let ca = f.string(diags) {
            tls.caFile = ca
            tls.caLine = f.line
        }
        if let f = m["server_name"], let name = f.string(diags) {
            if isServerName(name) {
                tls.serverName = name
            } else {
                diags.report(f, "must be a DNS name or an IP address (letters, digits, '-', '.', ':'; at most 253 bytes), found '\(name)'")
            }
        }
        if let v = m["verify"]?.bool(diags) { tls.verify = v }
        return tls
    }

    /// Plausible SNI / certificate name: a DNS name or an IP literal (IPv6 without brackets).
    static func isServerName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == 0x2D || b == 0x2E || b == 0x3A || b == 0x5F
        }
    }

    static func readHealthCheck(_ field: Field, _ diags: Diagnostics) -> HealthCheckSpec? {
        guard let m = MappingReader(field, known: [
            "path", "interval", "timeout", "unhealthy_after", "healthy_after",
        ], diags) else { return nil }
        let pathField = m.required("path", diags)
        guard let pathField, let path = pathField.string(diags) else { return nil }
        if !path.hasPrefix("/") { diags.report(pathField, "must start with '/'") }
        var spec = HealthCheckSpec(path: path)
        if let v = m["interval"]?.duration(diags) { spec.intervalNanos = v }
        if let v = m["timeout"]?.duration(diags) { spec.timeoutNanos = v }
        if let v = m["unhealthy_after"]?.int(diags, 1...1000) { spec.unhealthyAfter = v }
        if let v = m["healthy_after"]?.int(diags, 1...1000) { spec.healthyAfter = v }
        if spec.timeoutNanos > spec.intervalNanos {
            diags.report(field.child("timeout"), m["timeout"]?.line ?? field.line, "must not exceed interval")
        }
        return spec
    }
}
