import SluiceConfig

/// Text of the simulator's flags and reports: durations in whole seconds, rates, percentages.
public enum SimulationFormat {
    /// Whole seconds in a duration such as `1h`, `10m`, `90s` or `90` (the config's units, `ns` to `h`);
    /// `nil` when it is not a duration or not a whole number of seconds.
    public static func parseSeconds(_ text: String) -> Int? {
        guard let nanos = Durations.parseNanos(text), nanos % 1_000_000_000 == 0,
              nanos / 1_000_000_000 <= UInt64(Int32.max) else { return nil }
        return Int(nanos / 1_000_000_000)
    }

    /// Seconds as hours, minutes and seconds: `1h`, `10m`, `1m30s`, `45s`, `0s`.
    public static func duration(seconds: Int) -> String {
        if seconds <= 0 { return "0s" }
        let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
        var text = ""
        if h > 0 { text += "\(h)h" }
        if m > 0 { text += "\(m)m" }
        if s > 0 { text += "\(s)s" }
        return text
    }

    /// Nanoseconds as ``duration(seconds:)`` when whole seconds, else milliseconds (`250ms`).
    public static func duration(nanos: UInt64) -> String {
        if nanos % 1_000_000_000 == 0 { return duration(seconds: Int(nanos / 1_000_000_000)) }
        return LatencyText.number(Double(nanos) / 1_000_000) + "ms"
    }

    /// A fraction as a percentage with at most `digits` decimals: `0.0123` → `1.23%`.
    public static func percent(_ fraction: Double, digits: Int = 2) -> String {
        rounded(fraction * 100, digits: digits) + "%"
    }

    /// `x` with at most `digits` decimals (0 ... 4), trailing zeros removed.
    public static func rounded(_ x: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<min(max(digits, 0), 4) { scale *= 10 }
        return LatencyText.number((x * scale).rounded() / scale)
    }

    /// A count with a unit for large values: `720.5M`, `12.3k`, `950`.
    public static func count(_ n: Int) -> String {
        if n >= 1_000_000_000 { return rounded(Double(n) / 1e9, digits: 2) + "G" }
        if n >= 1_000_000 { return rounded(Double(n) / 1e6, digits: 1) + "M" }
        if n >= 10_000 { return rounded(Double(n) / 1e3, digits: 1) + "k" }
        return String(n)
    }

    /// Seconds of wall time: `0.42s`, `12.3s`.
    public static func wall(_ seconds: Double) -> String {
        rounded(seconds, digits: seconds < 10 ? 2 : 1) + "s"
    }

}

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
