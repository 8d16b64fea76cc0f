import Foundation
import Testing

/// Every config field, admin endpoint and CLI command or option must be documented somewhere in
/// docs/*.md. The names are read from the sources at run time (the loader's lists of known keys,
/// the admin router's paths and route actions, the CLI's subcommands and options), so a new one
/// without documentation fails here.
struct DocsCoverageTests {
    static let root = DocsSnippets.repoRoot

    /// Every word (letters, digits, `_`, `-`) inside a code span or code block of docs/*.md.
    static func documentedWords() throws -> Set<String> {
        var words: Set<String> = []
        for file in DocsSnippets.markdownFiles() where file.hasPrefix("docs/") {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for (i, piece) in text.components(separatedBy: "`").enumerated() where i % 2 == 1 || piece.contains("\n  ") {
                for word in piece.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                    words.insert(String(word))
                }
            }
        }
        return words
    }

    static func docsText() throws -> String {
        try DocsSnippets.markdownFiles().filter { $0.hasPrefix("docs/") }
            .map { try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) }
            .joined(separator: "\n")
    }

    static func sources(in directory: String) throws -> [(name: String, text: String)] {
        let dir = root.appendingPathComponent(directory)
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }.sorted()
            .map { ($0, try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)) }
    }

    /// The string literals of every `known: [...]` list in `text` (the loader's accepted keys).
    static func knownKeys(in text: String) -> [String] {
        var keys: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "known: [") {
            let after = rest[start.upperBound...]
            guard let end = after.firstIndex(of: "]") else { break }
            let list = after[..<end]
            keys += list.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            rest = after[end...]
        }
        return keys
    }

    @Test func everyConfigFieldIsDocumented() throws {
        let words = try Self.documentedWords()
        var fields: [String] = []
        for (name, text) in try Self.sources(in: "Sources/SluiceConfig") {
            for key in Self.knownKeys(in: text) {
                fields.append(key)
                let documented = words.contains(key)
                #expect(documented, "config field `\(key)` (accepted in Sources/SluiceConfig/\(name)) is not documented in docs/")
            }
        }
        // The scan found the loader's lists: top level, routes, backends, rollback...
        #expect(fields.count > 60, "only \(fields.count) config fields found in the loader")
        #expect(Set(["workers", "routes", "sticky", "rollback", "health_check", "max_slow_ratio"]).isSubset(of: Set(fields)))
    }

    @Test func everyAdminEndpointIsDocumented() throws {
        let docs = try Self.docsText()
        let router = try String(contentsOf: Self.root.appendingPathComponent("Sources/SluiceAdmin/AdminRouter.swift"), encoding: .utf8)
        // `case "stats": return .stats` and the like: one path segment each.
        var segments: [String] = []
        for line in router.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("case \""), t.contains("return") else { continue }
            segments.append(t.components(separatedBy: "\"")[1])
        }
        #expect(segments.count >= 7, "only \(segments) found in AdminRouter.swift")
        for segment in segments {
            let documented = docs.contains("/\(segment)")
            #expect(documented, "admin path segment /\(segment) (AdminRouter.swift) is not documented in docs/")
        }
        // Route actions: `enum RouteAction: String` cases, each a POST /routes/NAME/ACTION.
        let actions = try String(contentsOf: Self.root.appendingPathComponent("Sources/SluiceAdmin/ControlActions.swift"), encoding: .utf8)
        guard let enumStart = actions.range(of: "enum RouteAction") else {
            Issue.record("enum RouteAction not found")
            return
        }
        let body = actions[enumStart.upperBound...].prefix { $0 != "}" }
        let cases = body.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("case ") }.map { String($0.dropFirst(5)) }
        #expect(cases.count >= 5)
        for action in cases {
            let documented = docs.contains("POST /routes/NAME/\(action)") || docs.contains(",\(action)") || docs.contains("{\(action),")
            #expect(documented, "route action \(action) is not documented in docs/")
        }
    }

    @Test func everyCommandAndOptionIsDocumented() throws {
        let docs = try Self.docsText()
        let files = try Self.sources(in: "Sources/sluice")
        let all = files.map(\.text).joined(separator: "\n")
        // Subcommands: `subcommands: [Run.self, Validate.self, ...]`, named after their type.
        guard let list = all.range(of: "subcommands: [") else {
            Issue.record("no subcommands list in Sources/sluice")
            return
        }
        let names = all[list.upperBound...].prefix { $0 != "]" }
            .components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ".self", with: "").lowercased() }
        #expect(names.count >= 5)
        for name in names {
            let documented = docs.contains("sluice \(name)")
            #expect(documented, "`sluice \(name)` is not documented in docs/")
        }
        // Options and flags: `--kebab-case` of the property, or the `customLong` name.
        let lines = all.split(separator: "\n").map(String.init)
        var options: [String] = []
        for (i, line) in lines.enumerated() where line.contains("@Option") || line.contains("@Flag") {
            // The attribute may span lines; the property is the first `var` after it.
            guard let j = lines[i...].prefix(8).firstIndex(where: { $0.contains("var ") }),
                  let v = lines[j].range(of: "var ") else { continue }
            let declaration = lines[j]
            let attribute = lines[i...j].joined(separator: " ")
            var long: String?
            if let r = attribute.range(of: "customLong(\"") {
                long = String(attribute[r.upperBound...].prefix { $0 != "\"" })
            }
            let property = declaration[v.upperBound...].prefix { $0.isLetter || $0.isNumber }
            let kebab = property.reduce(into: "") { out, c in
                if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
            }
            options.append("--" + (long ?? kebab))
        }
        #expect(options.count >= 15, "only \(options) found")
        for option in Set(options) {
            let documented = docs.contains(option)
            #expect(documented, "option \(option) (Sources/sluice) is not documented in docs/")
        }
    }
}
