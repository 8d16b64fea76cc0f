import Foundation
import SluiceRouting
import Yams

/// Reads, validates and compiles a Sluice YAML file.
///
/// The YAML is composed into nodes (which keep their line numbers) and walked
/// once: every error is collected with its YAML path and line, unknown keys
/// included, and the configuration is returned only when there is none.
public enum ConfigLoader {
    /// Loads the file at `path`; errors are prefixed with `path` as given.
    public static func load(path: String) throws(ConfigErrors) -> SluiceConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors(file: path, errors: [
                ConfigError(path: "", line: 0, message: "cannot read file: \(error.localizedDescription)"),
            ])
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses YAML text; `file` only names the source in error messages.
    public static func parse(yaml: String, file: String) throws(ConfigErrors) -> SluiceConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigErrors(file: file, errors: [syntaxError(error)])
        }
        let diags = Diagnostics()
        guard let root else {
            throw ConfigErrors(file: file, errors: [ConfigError(path: "", line: 1, message: "the file is empty")])
        }
        let config = read(Field(node: root, path: "", line: root.mark?.line ?? 1), diags)
        guard diags.errors.isEmpty, let config else {
            let sorted = diags.errors.enumerated()
                .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
                .map(\.element)
            throw ConfigErrors(file: file, errors: sorted)
        }
        return config
    }

    /// The top-level walk; `nil` when the root is not a mapping (other errors live in `diags`).
    static func read(_ root: Field, _ diags: Diagnostics) -> SluiceConfig? {
        guard let top = MappingReader(root, known: [
            "workers", "limits", "listeners", "admin", "backends", "routes", "access_log", "notify", "fleet",
        ], diags) else { return nil }

        var workers: Int?
        if let f = top["workers"] {
            if f.scalar(diags) == "auto" { workers = nil } else { workers = f.int(diags, 1...256) }
        }
        let limits = top["limits"].map { readLimits($0, diags) } ?? Limits()
        let listeners = top.required("listeners", diags).map { readListeners($0, diags) } ?? []
        let admin = top["admin"].flatMap { readAdmin($0, diags) }
        let backends = top.required("backends", diags).map { readBackends($0, diags) } ?? BackendSet()
        let routes = top.required("routes", diags).map { readRoutes($0, backends, diags) } ?? []
        let accessLog = top["access_log"].flatMap { readAccessLog($0, diags) }

        var config = SluiceConfig(
            workers: workers, limits: limits, listeners: listeners, admin: admin,
            routeTable: RouteTable(backends: backends.backends, routes: routes), accessLog: accessLog)
        config.notify = top["notify"].map { readNotify($0, diags) } ?? []
        config.routeNotify = top["routes"].map { readRouteNotify($0, diags) } ?? [:]
        config.fleet = top["fleet"].flatMap { readFleet($0, diags) }
        return config
    }

    /// Maps a Yams error to a located error.
    static func syntaxError(_ error: Error) -> ConfigError {
        guard let yaml = error as? YamlError else {
            return ConfigError(path: "", line: 0, message: "invalid YAML: \(error)")
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return ConfigError(path: "", line: mark.line, message: "invalid YAML: \(prefix)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                path: "", line: context.mark.line,
                message: "invalid YAML: duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        default:
            return ConfigError(path: "", line: 0, message: "invalid YAML: \(yaml)")
        }
    }

    /// An address field, reported as `invalid address` when malformed.
    static func address(_ field: Field, _ diags: Diagnostics) -> Addresses.Parsed? {
        guard let text = field.string(diags) else { return nil }
        switch Addresses.parse(text) {
        case .success(let parsed): return parsed
        case .failure(let e):
            diags.report(field, "invalid address '\(text)': \(e.reason)")
            return nil
        }
    }

    /// Reports a duplicate `name` (and remembers first occurrences in `seen`).
    static func checkUnique(_ name: String, _ field: Field, _ seen: inout [String: Int], _ what: String, _ diags: Diagnostics) {
        if let first = seen[name] {
            diags.report(field, "duplicate \(what) name '\(name)' (first defined at line \(first))")
        } else {
            seen[name] = field.line
        }
    }
}
