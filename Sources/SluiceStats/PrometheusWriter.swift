/// Prometheus metric type, as written on a `# TYPE` line.
public enum PrometheusMetricType: String, Sendable {
    /// Monotonic counter (names conventionally end in `_total`).
    case counter
    /// Value that can go up and down.
    case gauge
    /// Histogram with `_bucket`, `_sum` and `_count` series.
    case histogram
    /// Summary with quantiles.
    case summary
    /// Untyped value.
    case untyped
}

/// Builds a Prometheus text exposition (format 0.0.4) into a byte buffer. Reader side: allocates freely.
///
/// The caller decides metric names and emits `family` once per metric name, followed by any number of
/// `sample` / `histogram` calls for that name with different label sets.
public struct PrometheusWriter: Sendable {
    /// `Content-Type` header value for the produced text.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Fixed latency histogram bounds (`le` labels) in seconds, before the implicit `+Inf`.
    public static let latencyBucketBoundsSeconds: [Double] =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// The exposition text produced so far, as UTF-8 bytes.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer, optionally reserving `capacity` bytes.
    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The exposition text produced so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes the `# HELP` and `# TYPE` lines of a metric family.
    public mutating func family(name: String, help: String, type: PrometheusMetricType) {
        append("# HELP ")
        append(name)
        append(" ")
        append(Self.escapeHelp(help))
        append("\n# TYPE ")
        append(name)
        append(" ")
        append(type.rawValue)
        append("\n")
    }

    /// Writes one sample line `name{labels} value`.
    public mutating func sample(name: String, labels: [(String, String)] = [], value: Double) {
        line(name: name, labels: labels, extra: nil, value: Self.formatValue(value))
    }

    /// Writes one sample line with an unsigned integer value (counters).
    public mutating func sample(name: String, labels: [(String, String)] = [], value: UInt64) {
        line(name: name, labels: labels, extra: nil, value: String(value))
    }

    /// Writes one sample line with a signed integer value (gauges).
    public mutating func sample(name: String, labels: [(String, String)] = [], value: Int) {
        line(name: name, labels: labels, extra: nil, value: String(value))
    }

    /// Writes the series of one latency histogram: `name_bucket` for every bound in
    /// `latencyBucketBoundsSeconds` plus `+Inf`, then `name_sum` (seconds) and `name_count`.
    ///
    /// Bucket counts come from the snapshot's all-time log-linear histogram: a log-linear bucket counts towards
    /// `le` when its inclusive upper bound is `<= le`. `+Inf` and `_count` both equal the histogram total.
    /// Does not write `# HELP`/`# TYPE`; call `family(name:help:type: .histogram)` once first.
    public mutating func histogram(name: String, labels: [(String, String)] = [], snapshot: TargetSnapshot) {
        let bounds = Self.latencyBucketBoundsSeconds
        let cumulative = snapshot.cumulativeCounts(atMostSeconds: bounds)
        let total = snapshot.latencyCount
        let bucketName = name + "_bucket"
        for (bound, count) in zip(bounds, cumulative) {
            line(name: bucketName, labels: labels, extra: ("le", Self.formatValue(bound)), value: String(count))
        }
        line(name: bucketName, labels: labels, extra: ("le", "+Inf"), value: String(total))
        line(name: name + "_sum", labels: labels, extra: nil, value: Self.formatValue(snapshot.latencySumSeconds))
        line(name: name + "_count", labels: labels, extra: nil, value: String(total))
    }

    /// Escapes a label value: backslash, double quote and line feed.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out.append("\\\\")
            case "\"": out.append("\\\"")
            case "\n": out.append("\\n")
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Escapes `# HELP` text: backslash and line feed.
    public static func escapeHelp(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Formats a sample value: integral values below 2^53 without a fraction (`1`, `10`), `+Inf`, `-Inf`,
    /// `NaN`, otherwise Swift's shortest round-trip representation (`0.0025`, `1e-07`).
    public static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), Swift.abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return value.description
    }

    /// Writes `name{labels[,extra]} value\n`.
    private mutating func line(name: String, labels: [(String, String)], extra: (String, String)?,
                               value: String) {
        append(name)
        if !labels.isEmpty || extra != nil {
            append("{")
            var first = true
            for (key, labelValue) in labels {
                if !first { append(",") }
                first = false
                appendLabel(key, Self.escapeLabelValue(labelValue))
            }
            if let (key, labelValue) = extra {
                if !first { append(",") }
                appendLabel(key, labelValue)
            }
            append("}")
        }
        append(" ")
        append(value)
        append("\n")
    }

    /// Writes `key="escapedValue"`.
    private mutating func appendLabel(_ key: String, _ escapedValue: String) {
        append(key)
        append("=\"")
        append(escapedValue)
        append("\"")
    }

    /// Appends the UTF-8 bytes of `s`.
    private mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }
}
