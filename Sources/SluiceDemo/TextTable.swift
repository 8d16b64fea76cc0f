/// Plain-text tables with aligned columns, for terminal output.
public struct TextTable: Sendable {
    /// Column headings.
    public var headings: [String]
    /// Which columns are right-aligned (numbers).
    public var rightAligned: Set<Int>
    /// The rows, one string per column.
    public var rows: [[String]] = []

    /// Creates an empty table; columns listed in `rightAligned` are padded on the left.
    public init(headings: [String], rightAligned: Set<Int> = []) {
        self.headings = headings
        self.rightAligned = rightAligned
    }

    /// Appends a row (missing cells are blank).
    public mutating func add(_ row: [String]) {
        rows.append(row)
    }

    /// The table as lines, each prefixed by `indent`, columns separated by two spaces.
    public func render(indent: String = "  ") -> String {
        let all = [headings] + rows
        var widths = [Int](repeating: 0, count: headings.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            var line = indent
            for i in widths.indices {
                let cell = i < row.count ? row[i] : ""
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                line += rightAligned.contains(i) ? pad + cell : cell + (i == widths.count - 1 ? "" : pad)
                if i < widths.count - 1 { line += "  " }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
