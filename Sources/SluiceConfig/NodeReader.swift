import Yams

/// Collects every configuration error found during one load.
final class Diagnostics {
    /// Errors in discovery order.
    private(set) var errors: [ConfigError] = []

    /// Records an error at `path` and `line`.
    func report(_ path: String, _ line: Int, _ message: String) {
        errors.append(ConfigError(path: path, line: line, message: message))
    }

    /// Records an error about `field`.
    func report(_ field: Field, _ message: String) {
        report(field.path, field.line, message)
    }
}

/// A YAML value together with where it sits: its dotted path and its line.
///
/// For a mapping entry the line is the key's; for a list item, the item's own.
struct Field {
    /// The value.
    let node: Node
    /// Dotted path, e.g. `routes[0].targets[1].weight`.
    let path: String
    /// 1-based line.
    let line: Int

    /// The path of a child entry `key`.
    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Whether the value is YAML null (`~`, `null`, or nothing after the colon).
    var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// The scalar text, or `nil` (with an error) if the value is a mapping or list.
    func scalar(_ diags: Diagnostics) -> String? {
        if case .scalar(let s) = node { return s.string }
        diags.report(self, "expected a single value, found \(node.kindName)")
        return nil
    }

    /// A non-empty string.
    func string(_ diags: Diagnostics) -> String? {
        guard let s = scalar(diags) else { return nil }
        if s.isEmpty || isNull { diags.report(self, "must not be empty"); return nil }
        return s
    }

    /// The list items as fields `path[i]`, or `nil` (with an error) if not a list.
    func items(_ diags: Diagnostics) -> [Field]? {
        guard case .sequence(let seq) = node else {
            diags.report(self, "expected a list, found \(node.kindName)")
            return nil
        }
        return seq.enumerated().map { i, item in
            Field(node: item, path: "\(path)[\(i)]", line: item.mark?.line ?? line)
        }
    }

    /// An integer in `range`.
    func int(_ diags: Diagnostics, _ range: ClosedRange<Int>) -> Int? {
        guard let s = scalar(diags) else { return nil }
        guard s.first != "+", let v = Int(s) else {
            diags.report(self, "expected an integer, found '\(s)'"); return nil
        }
        guard range.contains(v) else {
            diags.report(self, "must be \(Self.describe(range)), found \(v)"); return nil
        }
        return v
    }

    /// A boolean: `true` or `false` (YAML 1.2 core schema spellings).
    func bool(_ diags: Diagnostics) -> Bool? {
        guard let s = scalar(diags) else { return nil }
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            diags.report(self, "expected true or false, found '\(s)'"); return nil
        }
    }

    /// A finite number in `range`.
    func double(_ diags: Diagnostics, _ range: ClosedRange<Double>) -> Double? {
        guard let s = scalar(diags) else { return nil }
        guard let v = Double(s), v.isFinite else {
            diags.report(self, "expected a number, found '\(s)'"); return nil
        }
        guard range.contains(v) else {
            diags.report(self, "must be in \(range.lowerBound)...\(range.upperBound), found \(s)"); return nil
        }
        return v
    }

    /// A number strictly above zero.
    func positiveDouble(_ diags: Diagnostics) -> Double? {
        guard let v = double(diags, 0...Double.greatestFiniteMagnitude) else { return nil }
        guard v > 0 else { diags.report(self, "must be greater than 0"); return nil }
        return v
    }

    /// A duration in nanoseconds (see ``Durations``); `positive` rejects zero.
    func duration(_ diags: Diagnostics, positive: Bool = true) -> UInt64? {
        guard let s = scalar(diags) else { return nil }
        guard let v = Durations.parseNanos(s) else {
            diags.report(self, "invalid duration '\(s)': \(Durations.expected)"); return nil
        }
        if positive && v == 0 { diags.report(self, "must be greater than 0"); return nil }
        return v
    }

    /// A size in bytes (see ``Sizes``), at least 1.
    func size(_ diags: Diagnostics) -> UInt64? {
        guard let s = scalar(diags) else { return nil }
        guard let v = Sizes.parseBytes(s) else {
            diags.report(self, "invalid size '\(s)': \(Sizes.expected)"); return nil
        }
        if v == 0 { diags.report(self, "must be greater than 0"); return nil }
        return v
    }

    /// A percentage in basis points (see ``Percent``).
    func percent(_ diags: Diagnostics) -> Int? {
        guard let s = scalar(diags) else { return nil }
        guard let v = Percent.parseBasisPoints(s) else {
            diags.report(self, "must be a number 0..100 with at most 2 decimals, found '\(s)'"); return nil
        }
        return v
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return ">= \(range.lowerBound)" }
        return "\(range.lowerBound)...\(range.upperBound)"
    }
}

/// One YAML mapping being read: unknown keys are reported when it is opened.
struct MappingReader {
    /// The mapping's own position.
    let field: Field
    private let entries: [String: Field]

    /// Opens `field` as a mapping, reporting any key not in `known`;
    /// `nil` (with an error) if it is not a mapping.
    init?(_ field: Field, known: [String], _ diags: Diagnostics) {
        guard case .mapping(let mapping) = field.node else {
            diags.report(field, "expected a mapping, found \(field.node.kindName)")
            return nil
        }
        self.field = field
        var entries: [String: Field] = [:]
        for (key, value) in mapping {
            let keyLine = key.mark?.line ?? field.line
            guard case .scalar(let k) = key else {
                diags.report(field.path, keyLine, "keys must be plain strings"); continue
            }
            let path = field.child(k.string)
            guard known.contains(k.string) else {
                diags.report(path, keyLine, "unknown field"); continue
            }
            entries[k.string] = Field(node: value, path: path, line: keyLine)
        }
        self.entries = entries
    }

    /// The entry `key`, or `nil` when absent or null.
    subscript(_ key: String) -> Field? {
        guard let f = entries[key], !f.isNull else { return nil }
        return f
    }

    /// The entry `key`, reporting `missing required field` when absent or null.
    func required(_ key: String, _ diags: Diagnostics) -> Field? {
        if let f = self[key] { return f }
        diags.report(field.child(key), field.line, "missing required field")
        return nil
    }
}

extension Node {
    /// `a mapping`, `a list`, `a value`: for error messages.
    var kindName: String {
        switch self {
        case .scalar: "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
