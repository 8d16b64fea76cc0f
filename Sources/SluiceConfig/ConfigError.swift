/// One problem in a configuration file, located by YAML path and line.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Dotted YAML path of the offending field, e.g. `routes[0].targets`;
    /// empty for problems with the file as a whole (YAML syntax, unreadable file).
    public var path: String
    /// 1-based line in the file; 0 when no line applies.
    public var line: Int
    /// What is wrong, and what is expected.
    public var message: String

    /// Creates an error.
    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    /// `LINE: PATH: MESSAGE`; the line or path is left out when it does not apply.
    public var description: String {
        var parts: [String] = []
        if line > 0 { parts.append(String(line)) }
        if !path.isEmpty { parts.append(path) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Every problem found in one configuration file, in line order.
///
/// A configuration with any error is rejected whole; on reload the running
/// configuration keeps serving.
public struct ConfigErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file name as given to the loader (prefixes every line of ``description``).
    public var file: String
    /// All errors, sorted by line (stable: same-line errors keep discovery order).
    public var errors: [ConfigError]

    /// Creates the error list.
    public init(file: String, errors: [ConfigError]) {
        self.file = file
        self.errors = errors
    }

    /// One line per error: `file:line: path: message`.
    public var description: String {
        errors.map { "\(file):\($0.description)" }.joined(separator: "\n")
    }

    /// The individual lines of ``description``, handy in tests and API answers.
    public var lines: [String] {
        errors.map { "\(file):\($0.description)" }
    }
}
