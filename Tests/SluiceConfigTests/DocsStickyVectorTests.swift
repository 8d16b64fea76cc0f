import Foundation
import SluiceRouting
import Testing

/// docs/rollouts.md publishes the sticky hash with a table of test vectors and a Python copy for
/// analytics jobs. Both are checked against the code: the table against `StickyHash`, and the
/// Python block, run with python3, against the table.
struct DocsStickyVectorTests {
    struct Vector: Equatable { var salt: String, key: String, hash: UInt64, bucket: Int }

    static func page() throws -> String {
        try String(contentsOf: DocsSnippets.repoRoot.appendingPathComponent("docs/rollouts.md"), encoding: .utf8)
    }

    /// Rows `| salt | key | H | bucket |` after the "Test vectors" line; `(empty)` is "".
    static func vectors(in text: String) -> [Vector] {
        guard let start = text.range(of: "Test vectors") else { return [] }
        var result: [Vector] = []
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
            if line.isEmpty, !result.isEmpty { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, cells[2].hasPrefix("`0x") else { continue }
            func text(_ cell: String) -> String { cell == "(empty)" ? "" : cell.trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            guard let hash = UInt64(text(cells[2]).dropFirst(2), radix: 16), let bucket = Int(cells[3]) else { continue }
            result.append(Vector(salt: text(cells[0]), key: text(cells[1]), hash: hash, bucket: bucket))
        }
        return result
    }

    @Test func tableMatchesTheCode() throws {
        let vectors = Self.vectors(in: try Self.page())
        #expect(vectors.count >= 6, "test vectors not found in docs/rollouts.md")
        for v in vectors {
            #expect(StickyHash.hash64(salt: Array(v.salt.utf8), key: Array(v.key.utf8)) == v.hash, "\(v)")
            #expect(StickyHash.bucket(salt: v.salt, key: v.key) == v.bucket, "\(v)")
        }
    }

    @Test func pythonCopyReproducesTheTable() throws {
        let text = try Self.page()
        let vectors = Self.vectors(in: text)
        let python = try #require(DocsSnippets.fencedBlocks(in: text).first { $0.info == "python" }?.text)
        var program = python + "\nimport json, sys\nfor salt, key in json.load(sys.stdin):\n"
        program += "    print(hex(sluice_hash(salt, key)), sluice_bucket(salt, key))\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", program]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let pairs = vectors.map { [$0.salt, $0.key] }
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: pairs))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines == vectors.map { "0x" + String($0.hash, radix: 16) + " \($0.bucket)" })
    }
}
