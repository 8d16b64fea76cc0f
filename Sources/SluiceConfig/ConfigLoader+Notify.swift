import Yams

/// The `notify:` lists (top level and per route): webhook destinations for rollout events.
extension ConfigLoader {
    /// A `notify:` list; entries with errors are left out (the errors are in `diags`).
    static func readNotify(_ field: Field, _ diags: Diagnostics) -> [NotifySpec] {
        guard let items = field.items(diags) else { return [] }
        return items.compactMap { readNotifySpec($0, diags) }
    }

    /// The `notify:` list of every route that has one, keyed by route name.
    ///
    /// `readRoute` owns the structure of each route and reports its errors (unknown keys, a
    /// missing name, a route that is not a mapping); this pass only picks up `name` and
    /// `notify` from the route mappings, so the route model stays untouched.
    static func readRouteNotify(_ routes: Field, _ diags: Diagnostics) -> [String: [NotifySpec]] {
        guard case .sequence(let seq) = routes.node else { return [:] }
        var result: [String: [NotifySpec]] = [:]
        for (i, item) in seq.enumerated() {
            guard case .mapping(let mapping) = item else { continue }
            var name: String?
            var notify: Field?
            for (key, value) in mapping {
                guard case .scalar(let k) = key else { continue }
                if k.string == "name", case .scalar(let v) = value, !v.string.isEmpty { name = v.string }
                if k.string == "notify" {
                    notify = Field(node: value, path: "\(routes.path)[\(i)].notify", line: key.mark?.line ?? routes.line)
                }
            }
            guard let notify, !notify.isNull else { continue }
            let specs = readNotify(notify, diags)
            if let name { result[name] = specs }
        }
        return result
    }

    /// One destination: `url`, optional `events`, `timeout`, `max_attempts`.
    static func readNotifySpec(_ item: Field, _ diags: Diagnostics) -> NotifySpec? {
        guard let m = MappingReader(item, known: ["url", "events", "timeout", "max_attempts"], diags) else { return nil }
        let target = m.required("url", diags).flatMap { notifyURL($0, diags) }
        var events = NotifySpec.eventNames
        var eventsValid = true
        if let ef = m["events"] {
            if let list = notifyEvents(ef, diags) { events = list } else { eventsValid = false }
        }
        var timeout: UInt64 = 2_000_000_000
        var timeoutValid = true
        if let tf = m["timeout"] {
            if let v = tf.duration(diags) { timeout = v } else { timeoutValid = false }
        }
        var attempts = 5
        var attemptsValid = true
        if let af = m["max_attempts"] {
            if let v = af.int(diags, 1...100) { attempts = v } else { attemptsValid = false }
        }
        guard let target, eventsValid, timeoutValid, attemptsValid else { return nil }
        return NotifySpec(url: target.url, host: target.host, port: target.port, path: target.path,
                          events: events, timeoutNanos: timeout, maxAttempts: attempts)
    }

    /// `events:`: a non-empty list of names from ``NotifySpec/eventNames``, duplicates ignored.
    static func notifyEvents(_ field: Field, _ diags: Diagnostics) -> [String]? {
        guard let items = field.items(diags) else { return nil }
        if items.isEmpty {
            diags.report(field, "at least one event is required (leave the field out to send every event)")
            return nil
        }
        var events: [String] = []
        var valid = true
        for item in items {
            guard let name = item.string(diags) else { valid = false; continue }
            guard NotifySpec.eventNames.contains(name) else {
                diags.report(item, "unknown event '\(name)' (expected one of \(NotifySpec.eventNames.joined(separator: ", ")))")
                valid = false
                continue
            }
            if !events.contains(name) { events.append(name) }
        }
        return valid ? events : nil
    }

    /// `url:`: `http://host[:port][/path]`, the host as in every other address (IP literal or
    /// `localhost`), the port 80 by default and the path `/` by default.
    static func notifyURL(
        _ field: Field, _ diags: Diagnostics
    ) -> (url: String, host: String, port: UInt16, path: String)? {
        guard let text = field.string(diags) else { return nil }
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            diags.report(field, "https is not supported yet: use an http:// URL, found '\(text)'")
            return nil
        }
        guard lower.hasPrefix("http://") else {
            diags.report(field, "must be an http:// URL (http://host:port/path), found '\(text)'")
            return nil
        }
        let rest = text.dropFirst("http://".count)
        if let bad = rest.first(where: { $0 == "#" || $0.isWhitespace || !$0.isASCII || $0.asciiValue! < 0x20 }) {
            let what = bad == "#" ? "a fragment ('#')" : "spaces, control or non-ASCII characters"
            diags.report(field, "must not contain \(what), found '\(text)'")
            return nil
        }
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<pathStart])
        var path = String(rest[pathStart...])
        if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
        if authority.contains("@") {
            diags.report(field, "user information ('user@') is not supported in the URL, found '\(text)'")
            return nil
        }
        if authority.isEmpty {
            diags.report(field, "the URL has no host, found '\(text)'")
            return nil
        }
        let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        switch Addresses.parse(hasPort ? authority : authority + ":80") {
        case .failure(let e):
            diags.report(field, "invalid URL '\(text)': \(e.reason)")
            return nil
        case .success(let a):
            guard a.port != 0 else {
                diags.report(field, "invalid URL '\(text)': port must be 1..65535")
                return nil
            }
            return (text, a.host, a.port, path)
        }
    }
}
