/// Times with decimals and a unit, as the simulator's flags take them (`2.5ms`, `800us`, `1s`).
public enum LatencyText {
    /// Microseconds in `text` (`ns`, `us`, `µs`, `ms`, `s`), or `nil`.
    public static func micros(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ns", 0.001), ("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let v = Double(number), v.isFinite else { return nil }
            return v * scale
        }
        return nil
    }

    /// A latency with the largest unit that keeps it readable: `20ms`, `2.5ms`, `800us`, `1.2s`.
    public static func format(micros: Double) -> String {
        if micros >= 1_000_000 { return number(micros / 1_000_000) + "s" }
        if micros >= 1000 { return number(micros / 1000) + "ms" }
        return number(micros) + "us"
    }

    /// A number with at most four decimals and no trailing zeros: `0.5`, `20`, `1.1667`.
    public static func number(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        let scaled = (abs(x) * 10_000).rounded()
        guard scaled < 9e18 else { return "\(x)" }
        let n = UInt64(scaled)
        var text = (x < 0 && n != 0 ? "-" : "") + String(n / 10_000)
        var fraction = n % 10_000, digits = 4
        if fraction != 0 {
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
            let raw = String(fraction)
            text += "." + String(repeating: "0", count: digits - raw.count) + raw
        }
        return text
    }
}
