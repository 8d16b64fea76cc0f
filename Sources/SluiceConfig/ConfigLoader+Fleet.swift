/// The `fleet:` section (docs/fleet.md).
extension ConfigLoader {
    /// `fleet: {name, instance, etcd: {endpoints}, lease_ttl, publish_every}`; `nil` with errors in `diags`.
    static func readFleet(_ field: Field, _ diags: Diagnostics) -> FleetSpec? {
        guard let m = MappingReader(field, known: ["name", "instance", "etcd", "lease_ttl", "publish_every"], diags) else { return nil }
        var valid = true
        let name = m.required("name", diags).flatMap { fleetName($0, diags) }
        if name == nil { valid = false }
        var instance: String?
        if let f = m["instance"] {
            instance = fleetName(f, diags)
            if instance == nil { valid = false }
        }
        var endpoints: [FleetSpec.Endpoint] = []
        if let etcd = m.required("etcd", diags) {
            if let e = readFleetEtcd(etcd, diags) { endpoints = e } else { valid = false }
        } else {
            valid = false
        }
        var ttl: UInt64 = 5_000_000_000
        if let f = m["lease_ttl"] {
            if let v = f.duration(diags) {
                if v % 1_000_000_000 != 0 || v < 2_000_000_000 || v > 300_000_000_000 {
                    diags.report(f, "must be whole seconds between 2s and 300s (etcd leases count in seconds)")
                    valid = false
                } else {
                    ttl = v
                }
            } else {
                valid = false
            }
        }
        var publish: UInt64 = 1_000_000_000
        if let f = m["publish_every"] {
            if let v = f.duration(diags) {
                if v < 100_000_000 || v > ttl / 2 {
                    diags.report(f, "must be between 100ms and half of lease_ttl (\(ttl / 2_000_000)ms)")
                    valid = false
                } else {
                    publish = v
                }
            } else {
                valid = false
            }
        }
        guard valid, let name else { return nil }
        return FleetSpec(name: name, instance: instance, endpoints: endpoints, leaseTTLNanos: ttl, publishEveryNanos: publish)
    }

    /// A fleet or instance name: 1...128 of letters, digits, `-`, `_`, `.`.
    static func fleetName(_ field: Field, _ diags: Diagnostics) -> String? {
        guard let s = field.string(diags) else { return nil }
        guard FleetSpec.isValidName(s) else {
            diags.report(field, "must be 1 to 128 letters, digits, '-', '_' or '.', found '\(s)'")
            return nil
        }
        return s
    }

    /// `etcd: {endpoints: [host:port, ...]}`.
    static func readFleetEtcd(_ field: Field, _ diags: Diagnostics) -> [FleetSpec.Endpoint]? {
        guard let m = MappingReader(field, known: ["endpoints", "tls"], diags) else { return nil }
        if let tls = m["tls"] {
            diags.report(tls, "TLS to etcd is not supported yet: reach etcd over a trusted network (see docs/fleet.md)")
            return nil
        }
        guard let list = m.required("endpoints", diags), let items = list.items(diags) else { return nil }
        if items.isEmpty {
            diags.report(list, "at least one etcd endpoint is required")
            return nil
        }
        var result: [FleetSpec.Endpoint] = []
        var valid = true
        for item in items {
            guard let a = fleetEndpoint(item, diags) else { valid = false; continue }
            guard a.port != 0 else {
                diags.report(item, "port must be 1..65535")
                valid = false
                continue
            }
            result.append(FleetSpec.Endpoint(host: a.host, port: a.port))
        }
        return valid ? result : nil
    }

    /// An etcd endpoint: an address like every other (IP literal or `localhost`), or a DNS name (`etcd:2379`,
    /// a Kubernetes Service), resolved by the fleet thread when it connects, never on the data plane.
    static func fleetEndpoint(_ field: Field, _ diags: Diagnostics) -> Addresses.Parsed? {
        guard let text = field.string(diags) else { return nil }
        if case .success(let parsed) = Addresses.parse(text) { return parsed }
        if let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) {
            let host = String(text[..<colon])
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            let isName = !host.isEmpty && host.utf8.count <= 253 && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
            }
            if isName { return Addresses.Parsed(host: host, port: port) }
        }
        diags.report(field, "invalid etcd endpoint '\(text)': expected host:port with an IP address, [IPv6], localhost or a DNS name")
        return nil
    }
}
