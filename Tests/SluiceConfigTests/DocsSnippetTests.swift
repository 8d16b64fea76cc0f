import Foundation
import SluiceConfig
import Testing
import Yams

/// The docs cannot drift from the code: every ```yaml block in README.md and docs/*.md is loaded
/// with the real config loader (the code behind `sluice validate`), and every relative link in
/// them leads to an existing file and heading. New docs files are picked up by themselves.
///
/// A block's first line says how it is checked (docs/README.md, "Snippets", tells writers):
/// - no marker: a whole config; it must validate;
/// - `# fragment`: a piece of a config; it is placed into ``DocsSnippets/baseConfig`` (as
///   top-level keys, as keys of the base route, backend or listener, or as list entries) and one
///   placement must validate;
/// - `# invalid` / `# invalid fragment`: a deliberate error demonstration; it must FAIL to
///   validate (in every placement), so the marker cannot hide a snippet that drifted;
/// - `# yaml-only: REASON`: YAML that is not a Sluice config (a Kubernetes manifest, say); it
///   must parse.
struct DocsSnippetTests {
    @Test(arguments: DocsSnippets.yamlBlocks())
    func yamlBlockIsChecked(_ block: DocsSnippets.Block) {
        if let problem = DocsSnippets.check(block) {
            Issue.record(Comment(rawValue: problem))
        }
    }

    /// The scan itself works: it finds the config reference's snippets and the README's.
    @Test func scanFindsTheSnippets() {
        let blocks = DocsSnippets.yamlBlocks()
        let files = Set(blocks.map(\.file))
        #expect(files.contains("docs/configuration.md"))
        #expect(files.contains("README.md"))
        #expect(blocks.count >= 15, "only \(blocks.count) yaml blocks found")
        #expect(blocks.contains { $0.marker == .fragment })
        #expect(blocks.contains { $0.marker == .whole })
        #expect(blocks.contains { $0.marker == .invalid(fragment: false) || $0.marker == .invalid(fragment: true) })
    }

    /// The checker fails on what it must fail on; in memory, so it does not depend on the docs.
    @Test func checkerCatchesDrift() {
        func block(_ text: String) -> DocsSnippets.Block {
            DocsSnippets.Block(file: "memory.md", line: 10, text: text)
        }
        // A whole config that validates, and one with an unknown field.
        let whole = DocsSnippets.baseConfig
        #expect(DocsSnippets.check(block(whole)) == nil)
        let typo = DocsSnippets.check(block(whole.replacingOccurrences(of: "weight: 90", with: "wieght: 90")))
        #expect(typo?.contains("memory.md:") == true)
        #expect(typo?.contains("wieght: unknown field") == true)
        // Errors point at the file line of the block: fence on line 10, `wieght` on block line 17.
        #expect(typo?.contains("memory.md:27:") == true, "\(typo ?? "")")
        // Fragments in each placement.
        #expect(DocsSnippets.check(block("# fragment\nlimits:\n  max_request_body: 32MiB\n")) == nil)
        #expect(DocsSnippets.check(block("# fragment\nrollback:\n  max_error_rate: 0.02\n")) == nil)
        #expect(DocsSnippets.check(block("# fragment\nprotocol: h2\ntimeouts: {connect: 1s}\n")) == nil)
        #expect(DocsSnippets.check(block("# fragment\nbacklog: 512\n")) == nil)
        #expect(DocsSnippets.check(block("# fragment\n- name: fraud-v2-4-0\n  endpoints: [\"[::1]:8502\"]\n")) == nil)
        #expect(DocsSnippets.check(block("""
        # fragment
        routes:
          - name: fraud-detector
            sticky: {header: x-user-id, salt: exp-1}
        """)) == nil)
        // A fragment that fits nowhere fails, naming the file and line.
        let broken = DocsSnippets.check(block("# fragment\nrollback:\n  max_error_rate: 2\n"))
        #expect(broken?.contains("memory.md:10") == true)
        #expect(broken?.contains("max_error_rate") == true)
        // `# invalid` must fail: a valid block under it is reported.
        #expect(DocsSnippets.check(block("# invalid\n" + whole)) != nil)
        #expect(DocsSnippets.check(block("# invalid\nworkers: 0\n" + whole)) == nil)
        #expect(DocsSnippets.check(block("# invalid fragment\nrollback:\n  max_error_rate: 0.5\n")) != nil)
        #expect(DocsSnippets.check(block("# invalid fragment\nrollback:\n  max_error_rate: 1.5\n")) == nil)
        // yaml-only must at least parse, and say why.
        #expect(DocsSnippets.check(block("# yaml-only: a manifest\nkind: Pod\n")) == nil)
        #expect(DocsSnippets.check(block("# yaml-only: a manifest\nkind: [Pod\n")) != nil)
        #expect(DocsSnippets.check(block("# yaml-only\nkind: Pod\n")) != nil)
    }

    /// An `# invalid` block followed by a ```console block running `$ sluice validate PATH` must
    /// produce exactly the errors that block shows.
    @Test func errorDemonstrationsShowTheRealErrors() throws {
        var checked = 0
        for file in DocsSnippets.markdownFiles() {
            let text = try String(contentsOf: DocsSnippets.repoRoot.appendingPathComponent(file), encoding: .utf8)
            let blocks = DocsSnippets.fencedBlocks(in: text)
            for (i, block) in blocks.enumerated() where i + 1 < blocks.count && ["yaml", "yml"].contains(block.info) {
                let yaml = DocsSnippets.Block(file: file, line: block.line, text: block.text)
                let console = blocks[i + 1]
                let lines = console.text.split(separator: "\n").map(String.init)
                guard yaml.marker == .invalid(fragment: false), console.info == "console",
                      let command = lines.first, command.hasPrefix("$ sluice validate ") else { continue }
                let path = String(command.dropFirst("$ sluice validate ".count))
                let shown = Array(lines.dropFirst().prefix { !$0.hasPrefix("$ ") })
                do throws(ConfigErrors) {
                    _ = try ConfigLoader.parse(yaml: block.text, file: path)
                    Issue.record("\(file):\(block.line): marked `# invalid` but validates")
                } catch {
                    #expect(error.lines == shown, "\(file):\(console.line): the shown errors are not what the loader says")
                }
                checked += 1
            }
        }
        #expect(checked >= 1)
    }

    /// Every relative link in README.md and docs/*.md leads to an existing file, and its
    /// `#anchor`, when it has one and points into Markdown, to an existing heading.
    @Test func relativeLinksResolve() throws {
        var broken: [String] = []
        var checked = 0
        for file in DocsSnippets.markdownFiles() {
            let text = try String(contentsOf: DocsSnippets.repoRoot.appendingPathComponent(file), encoding: .utf8)
            for link in DocsSnippets.links(in: text) {
                checked += 1
                if let problem = DocsSnippets.resolve(link.target, from: file) {
                    broken.append("\(file):\(link.line): (\(link.target)) \(problem)")
                }
            }
        }
        #expect(checked > 50, "only \(checked) links found")
        #expect(broken.isEmpty, Comment(rawValue: broken.joined(separator: "\n")))
    }

    @Test func linkCheckerCatchesBrokenLinks() {
        #expect(DocsSnippets.resolve("docs/no-such-file.md", from: "README.md") != nil)
        #expect(DocsSnippets.resolve("docs/configuration.md#no-such-heading", from: "README.md") != nil)
        #expect(DocsSnippets.resolve("configuration.md#limits", from: "docs/README.md") == nil)
        #expect(DocsSnippets.resolve("../config/full.yaml", from: "docs/configuration.md") == nil)
        #expect(DocsSnippets.slug("`GET /routes/NAME/assign?key=K`") == "get-routesnameassignkeyk")
        #expect(DocsSnippets.slug("Keep-alive pooling and the one retry") == "keep-alive-pooling-and-the-one-retry")
        #expect(DocsSnippets.links(in: "see [a](x.md) and `[b](y.md)`\n```\n[c](z.md)\n```\n").map(\.target) == ["x.md"])
    }
}

/// Finding and checking the docs' snippets and links.
enum DocsSnippets {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The smallest config the fragments are placed into: one listener, the admin API, the three
    /// fraud-detector versions the docs use, and one 90/10 route.
    static let baseConfig = """
    listeners:
      - name: public
        address: 127.0.0.1:8080
    admin:
      address: 127.0.0.1:9901
    backends:
      - name: fraud-v2-3-1
        endpoints: [127.0.0.1:8501]
      - name: fraud-v2-4-0
        endpoints: [127.0.0.1:8502]
      - name: fraud-v2-5-0-rc1
        endpoints: [127.0.0.1:8503]
    routes:
      - name: fraud-detector
        match: {path_prefix: /v1/models/fraud-detector}
        targets:
          - {backend: fraud-v2-3-1, weight: 90}
          - {backend: fraud-v2-4-0, weight: 10}

    """

    enum Marker: Equatable, Sendable {
        case whole, fragment, invalid(fragment: Bool), yamlOnly(reason: String)
    }

    /// One fenced yaml block: `line` is the 1-based line of its opening fence.
    struct Block: Sendable, CustomTestStringConvertible {
        var file: String
        var line: Int
        var text: String
        var testDescription: String { "\(file):\(line)" }

        var marker: Marker {
            let first = text.split(separator: "\n", omittingEmptySubsequences: false).first
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if first.hasPrefix("# invalid fragment") { return .invalid(fragment: true) }
            if first.hasPrefix("# invalid") { return .invalid(fragment: false) }
            if first.hasPrefix("# fragment") { return .fragment }
            if first.hasPrefix("# yaml-only") {
                let reason = first.dropFirst("# yaml-only".count).drop { $0 == ":" || $0 == " " }
                return .yamlOnly(reason: String(reason))
            }
            return .whole
        }
    }

    /// README.md and every docs/*.md, as paths relative to the repository root.
    static func markdownFiles() -> [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repoRoot.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
    }

    static func yamlBlocks() -> [Block] {
        markdownFiles().flatMap { file -> [Block] in
            guard let text = try? String(contentsOf: repoRoot.appendingPathComponent(file), encoding: .utf8) else { return [] }
            return fencedBlocks(in: text).filter { ["yaml", "yml"].contains($0.info) }
                .map { Block(file: file, line: $0.line, text: $0.text) }
        }
    }

    /// Fenced code blocks (``` or ~~~, indented or not): info word, opening line, content with
    /// the fence's indentation removed.
    static func fencedBlocks(in text: String) -> [(info: String, line: Int, text: String)] {
        var result: [(info: String, line: Int, text: String)] = []
        var open: (fence: String, indent: Int, info: String, line: Int, lines: [Substring])?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = raw.prefix { $0 == " " }.count
            let body = raw.dropFirst(indent)
            if var current = open {
                if body.hasPrefix(current.fence), body.trimmingCharacters(in: CharacterSet(charactersIn: "`~ ")).isEmpty {
                    result.append((current.info, current.line, current.lines.joined(separator: "\n") + "\n"))
                    open = nil
                } else {
                    current.lines.append(raw.dropFirst(min(current.indent, raw.prefix { $0 == " " }.count)))
                    open = current
                }
            } else if let fenceChar = body.first, fenceChar == "`" || fenceChar == "~" {
                let fence = body.prefix { $0 == fenceChar }
                guard fence.count >= 3 else { continue }
                let info = body.dropFirst(fence.count).trimmingCharacters(in: .whitespaces)
                    .split(separator: " ").first.map(String.init) ?? ""
                open = (String(fence), indent, info.lowercased(), index + 1, [])
            }
        }
        return result
    }

    /// What is wrong with `block`, or nil when it passes its check.
    static func check(_ block: Block) -> String? {
        let at = "\(block.file):\(block.line)"
        switch block.marker {
        case .whole:
            do throws(ConfigErrors) {
                _ = try ConfigLoader.parse(yaml: block.text, file: block.file)
                return nil
            } catch {
                // Block line N is file line fence + N.
                let lines = error.errors.map { e in
                    "\(block.file):\(e.line > 0 ? block.line + e.line : block.line): \(e.path.isEmpty ? "" : e.path + ": ")\(e.message)"
                }
                return "\(at): yaml block does not validate (mark pieces `# fragment`, error demonstrations `# invalid`):\n"
                    + lines.joined(separator: "\n")
            }
        case .fragment:
            switch fragmentErrors(block.text) {
            case .failure(let problem):
                return "\(at): fragment does not validate in any placement into the base config:\n\(problem)"
            case .success: return nil
            }
        case .invalid(let fragment):
            if fragment {
                if case .success(let placement) = fragmentErrors(block.text) {
                    return "\(at): marked `# invalid fragment` but validates (\(placement))"
                }
                return nil
            }
            if (try? ConfigLoader.parse(yaml: block.text, file: block.file)) != nil {
                return "\(at): marked `# invalid` but validates"
            }
            return nil
        case .yamlOnly(let reason):
            if reason.isEmpty { return "\(at): `# yaml-only` needs a reason: `# yaml-only: what this is`" }
            do {
                _ = try Yams.compose(yaml: block.text)
                return nil
            } catch {
                return "\(at): not valid YAML: \(error)"
            }
        }
    }

    struct PlacementFailure: Error { var description: String }

    /// Places the fragment into the base config in every way that fits its shape; `.success`
    /// names the first placement that validates, `.failure` lists why each one did not.
    static func fragmentErrors(_ text: String) -> Result<String, PlacementFailure> {
        let fragment: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return .failure(PlacementFailure(description: "  empty fragment")) }
            fragment = node
        } catch {
            return .failure(PlacementFailure(description: "  not valid YAML: \(error)"))
        }
        guard let base = try? Yams.compose(yaml: baseConfig), let top = base.mapping else {
            return .failure(PlacementFailure(description: "  the base config does not parse"))
        }
        var candidates: [(String, Node)] = []
        if let mapping = fragment.mapping {
            candidates.append(("top level", merge(top, mapping)))
            candidates.append(("keys of routes[0]", mergeEntry(top, list: "routes", index: 0, with: mapping)))
            candidates.append(("keys of backends[1]", mergeEntry(top, list: "backends", index: 1, with: mapping)))
            candidates.append(("keys of listeners[0]", mergeEntry(top, list: "listeners", index: 0, with: mapping)))
        } else if fragment.sequence != nil {
            for key in ["routes", "backends", "listeners", "notify"] {
                candidates.append(("entries of \(key)", merge(top, Node.Mapping([(Node(key), fragment)]))))
            }
        } else {
            return .failure(PlacementFailure(description: "  a fragment must be a mapping or a list"))
        }
        var failures: [String] = []
        for (name, node) in candidates {
            do {
                let yaml = try Yams.serialize(node: node)
                do throws(ConfigErrors) {
                    _ = try ConfigLoader.parse(yaml: yaml, file: "merged")
                    return .success(name)
                } catch {
                    failures.append("  as \(name): " + error.errors.map { "\($0.path): \($0.message)" }.joined(separator: "; "))
                }
            } catch {
                failures.append("  as \(name): cannot serialize: \(error)")
            }
        }
        return .failure(PlacementFailure(description: failures.joined(separator: "\n")))
    }

    /// Top-level merge: a list of named mappings merges entry by entry (same `name` or `url`:
    /// the fragment's keys replace the base's; new names are appended); a mapping merges key by
    /// key; anything else replaces the base's value.
    static func merge(_ base: Node.Mapping, _ fragment: Node.Mapping) -> Node {
        var pairs = base.map { ($0.key, $0.value) }
        for (key, value) in fragment {
            guard let i = pairs.firstIndex(where: { $0.0 == key }) else {
                pairs.append((key, value))
                continue
            }
            let old = pairs[i].1
            if let oldList = old.sequence, let newList = value.sequence {
                var entries = Array(oldList)
                for entry in newList {
                    if let id = identity(entry), let j = entries.firstIndex(where: { identity($0) == id }),
                       let oldEntry = entries[j].mapping, let newEntry = entry.mapping {
                        entries[j] = replacingKeys(oldEntry, with: newEntry)
                    } else {
                        entries.append(entry)
                    }
                }
                pairs[i].1 = Node(entries)
            } else if let oldMap = old.mapping, let newMap = value.mapping {
                pairs[i].1 = replacingKeys(oldMap, with: newMap)
            } else {
                pairs[i].1 = value
            }
        }
        return Node(pairs)
    }

    /// The base with the `index`th entry of its `list` given the fragment's keys.
    static func mergeEntry(_ base: Node.Mapping, list: String, index: Int, with fragment: Node.Mapping) -> Node {
        var pairs = base.map { ($0.key, $0.value) }
        guard let i = pairs.firstIndex(where: { $0.0 == Node(list) }), let entries = pairs[i].1.sequence,
              index < entries.count, let entry = entries[index].mapping else { return Node(pairs) }
        var newEntries = Array(entries)
        newEntries[index] = replacingKeys(entry, with: fragment)
        pairs[i].1 = Node(newEntries)
        return Node(pairs)
    }

    static func replacingKeys(_ base: Node.Mapping, with fragment: Node.Mapping) -> Node {
        var pairs = base.map { ($0.key, $0.value) }
        for (key, value) in fragment {
            if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
        }
        return Node(pairs)
    }

    static func identity(_ entry: Node) -> String? {
        guard let mapping = entry.mapping else { return nil }
        return mapping["name"]?.string ?? mapping["url"]?.string
    }

    // MARK: links

    /// Inline links `[text](target)` outside code blocks and code spans, with their line.
    static func links(in text: String) -> [(line: Int, target: String)] {
        var result: [(line: Int, target: String)] = []
        var inFence: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let body = raw.drop { $0 == " " }
            if let fence = inFence {
                if body.hasPrefix(fence) { inFence = nil }
                continue
            }
            if body.hasPrefix("```") || body.hasPrefix("~~~") {
                inFence = String(body.prefix { $0 == body.first })
                continue
            }
            // Drop code spans, then scan for "](" ... ")".
            var line = ""
            var inCode = false
            for c in raw {
                if c == "`" { inCode.toggle(); continue }
                if !inCode { line.append(c) }
            }
            var rest = Substring(line)
            while let open = rest.range(of: "](") {
                let after = rest[open.upperBound...]
                guard let close = after.firstIndex(of: ")") else { break }
                let target = after[..<close].split(separator: " ").first.map(String.init) ?? ""
                result.append((index + 1, target))
                rest = after[close...]
            }
        }
        return result.filter { !$0.target.isEmpty && !$0.target.contains("://") && !$0.target.hasPrefix("mailto:") }
    }

    /// Nil when `target` (relative to `file`) exists, with its anchor when it has one.
    static func resolve(_ target: String, from file: String) -> String? {
        let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        let anchor = parts.count > 1 ? String(parts[1]) : nil
        let directory = (file as NSString).deletingLastPathComponent
        let relative = path.isEmpty ? file : ((directory as NSString).appendingPathComponent(path) as NSString).standardizingPath
        let url = repoRoot.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            return "no such file: \(relative)"
        }
        guard let anchor, !anchor.isEmpty, relative.hasSuffix(".md") else { return nil }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return "cannot read \(relative)" }
        return headingSlugs(in: text).contains(anchor) ? nil : "no heading #\(anchor) in \(relative)"
    }

    /// GitHub's anchors for the headings of a Markdown text (duplicates get -1, -2, ...).
    static func headingSlugs(in text: String) -> Set<String> {
        var seen: [String: Int] = [:]
        var slugs: Set<String> = []
        var inFence = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw.hasPrefix("```") || raw.hasPrefix("~~~") { inFence.toggle(); continue }
            guard !inFence, raw.hasPrefix("#") else { continue }
            let title = raw.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            let base = slug(title)
            let n = seen[base, default: 0]
            seen[base] = n + 1
            slugs.insert(n == 0 ? base : "\(base)-\(n)")
        }
        return slugs
    }

    /// GitHub's heading anchor: lowercase; letters, digits, `-` and `_` kept, spaces become `-`,
    /// everything else dropped.
    static func slug(_ title: String) -> String {
        var out = ""
        for c in title.lowercased() {
            if c.isLetter || c.isNumber || c == "-" || c == "_" { out.append(c) } else if c == " " { out.append("-") }
        }
        return out
    }
}
