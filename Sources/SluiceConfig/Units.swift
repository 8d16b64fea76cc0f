/// Durations as written in the YAML: a non-negative integer and a unit.
///
/// Units: `ns`, `us`, `ms`, `s`, `m`, `h` (`250ms`, `5s`, `10m`, `1h`).
/// A plain integer means seconds (`30` = `30s`). No fractions, no spaces, no signs.
public enum Durations {
    private static let units: [(suffix: String, nanos: UInt64)] = [
        ("ns", 1), ("us", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// The duration in nanoseconds, or `nil` if `text` is not a valid duration or overflows.
    public static func parseNanos(_ text: String) -> UInt64? {
        guard let (number, suffix) = Units.splitNumber(text) else { return nil }
        let multiplier: UInt64
        if suffix.isEmpty {
            multiplier = 1_000_000_000
        } else if let unit = units.first(where: { $0.suffix == suffix }) {
            multiplier = unit.nanos
        } else {
            return nil
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : result
    }

    /// What a valid duration looks like, for error messages.
    public static let expected = "expected an integer with a unit ns, us, ms, s, m or h (e.g. 250ms, 5s, 10m)"
}

/// Sizes as written in the YAML: a non-negative integer and an optional binary unit.
///
/// Units: `B`, `KiB`, `MiB`, `GiB` (`512KiB`, `1MiB`). A plain integer means bytes.
public enum Sizes {
    private static let units: [(suffix: String, bytes: UInt64)] = [
        ("B", 1), ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
    ]

    /// The size in bytes, or `nil` if `text` is not a valid size or overflows.
    public static func parseBytes(_ text: String) -> UInt64? {
        guard let (number, suffix) = Units.splitNumber(text) else { return nil }
        let multiplier: UInt64
        if suffix.isEmpty {
            multiplier = 1
        } else if let unit = units.first(where: { $0.suffix == suffix }) {
            multiplier = unit.bytes
        } else {
            return nil
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : result
    }

    /// What a valid size looks like, for error messages.
    public static let expected = "expected bytes as an integer, or with a unit B, KiB, MiB or GiB (e.g. 512KiB, 16MiB)"
}

/// Percentages as written in the YAML: 0...100 with at most two decimals.
public enum Percent {
    /// The value in basis points (percent × 100): `"33.33"` → 3333, `"5"` → 500.
    /// `nil` for negatives, more than two decimals, exponents, or values above 100.
    public static func parseBasisPoints(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 3,
              whole.allSatisfy(\.isASCIIDigit), let w = Int(whole) else { return nil }
        var fraction = 0
        if parts.count == 2 {
            let f = parts[1]
            guard (1...2).contains(f.count), f.allSatisfy(\.isASCIIDigit), let v = Int(f) else { return nil }
            fraction = f.count == 1 ? v * 10 : v
        }
        let bp = w * 100 + fraction
        return bp <= 10_000 ? bp : nil
    }

    /// Basis points printed as a percentage without trailing zeros: 9500 → `95`, 9950 → `99.5`.
    public static func format(basisPoints bp: Int) -> String {
        let whole = bp / 100, fraction = bp % 100
        if fraction == 0 { return String(whole) }
        if fraction % 10 == 0 { return "\(whole).\(fraction / 10)" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Shared scanning for ``Durations`` and ``Sizes``.
enum Units {
    /// Splits `"250ms"` into `(250, "ms")`; `nil` without leading digits or on overflow.
    static func splitNumber(_ text: String) -> (UInt64, Substring)? {
        let digits = text.prefix(while: \.isASCIIDigit)
        guard !digits.isEmpty, digits.count <= 19, let number = UInt64(digits) else { return nil }
        return (number, text[digits.endIndex...])
    }
}

extension Character {
    /// `0`...`9` only (not other Unicode digits).
    var isASCIIDigit: Bool { isASCII && isNumber }
}
