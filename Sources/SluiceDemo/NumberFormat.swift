/// Number formatting for terminal tables, independent of the locale.
public enum NumberFormat {
    /// `x` with exactly `decimals` decimals, e.g. `fixed(2.345, 2) == "2.35"`; `-` if not finite.
    public static func fixed(_ x: Double, _ decimals: Int) -> String {
        guard x.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (abs(x) * scale).rounded()
        let whole = (r / scale).rounded(.towardZero)
        var frac = String(Int(r - whole * scale))
        while frac.count < decimals { frac = "0" + frac }
        return (x < 0 && r != 0 ? "-" : "") + String(Int(whole)) + (decimals > 0 ? "." + frac : "")
    }

    /// `x` with up to two decimals and no trailing zeros, e.g. `90`, `2.5`, `33.33`.
    public static func compact(_ x: Double) -> String {
        var s = fixed(x, 2)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// `x` (already in percent) with one decimal and a percent sign, e.g. `90.5%`.
    public static func percent(_ x: Double) -> String { fixed(x, 1) + "%" }
}
