/// Incrementally finds the end of a message head (the empty line) while enforcing line structure and limits.
///
/// The scanner remembers how far it has looked, so each call examines only newly buffered bytes. It checks,
/// byte by byte and in buffer order:
/// - every CR is followed by LF and every LF is preceded by CR (bare CR / bare LF are errors);
/// - the start line is at most `maxRequestLine` bytes and each field line at most `maxHeaderLine` bytes;
/// - the head (counted from the buffer start) is at most `maxHeadBytes`;
/// - there are at most `maxHeaderCount` field lines.
///
/// Because each check depends only on bytes up to and including the position examined (plus one byte of
/// lookahead after CR, for which it waits), the first error found is the same however the input is split.
///
/// Leading empty lines (CRLF) before the start line are skipped, as RFC 9112 §2.2 recommends for robustness
/// (some clients send an extra CRLF after a POST body). They count toward `maxHeadBytes`.
struct HeadScanner: Sendable {
    /// Why scanning failed; each parser maps it to its own `HTTP1Error`.
    enum Failure: Sendable {
        case bareCR, bareLF, startLineTooLong, headerLineTooLong, headTooLarge, tooManyHeaders
    }

    /// What one `scan` call found.
    enum Step: Sendable {
        /// More bytes are needed.
        case incomplete
        /// The start line `buf[start ..< end]` (excluding CRLF) is complete; call `scan` again to continue.
        case startLine(start: Int, end: Int)
        /// The head is complete; it spans `buf[0 ..< headLength]`.
        case complete(headLength: Int)
        /// The head is invalid.
        case failure(Failure)
    }

    /// Next buffer index to examine.
    private(set) var scanned = 0
    /// Start of the line currently being scanned.
    private var lineStart = 0
    /// Whether the start line has been seen.
    private var sawStartLine = false
    /// Number of complete field lines.
    private var fieldLines = 0

    /// Returns the scanner to its initial state for a new message.
    mutating func reset() {
        scanned = 0
        lineStart = 0
        sawStartLine = false
        fieldLines = 0
    }

    /// Continues scanning `buf` (all bytes buffered so far for this message).
    mutating func scan(_ buf: UnsafeRawBufferPointer, _ limits: HTTP1Limits) -> Step {
        let n = buf.count
        var i = scanned
        while true {
            let maxLine = sawStartLine ? limits.maxHeaderLine : limits.maxRequestLine
            let (sum, overflow) = lineStart.addingReportingOverflow(maxLine)
            let lineLimit = overflow ? Int.max : sum
            let end = min(n, lineLimit, limits.maxHeadBytes)
            i = ByteScan.firstLineBreak(buf, from: i, to: end)
            if i >= n {
                scanned = i
                return .incomplete
            }
            if i >= limits.maxHeadBytes { return .failure(.headTooLarge) }
            let b = buf[i]
            if b == ASCII.lf { return .failure(.bareLF) }
            if b != ASCII.cr {
                // Only reachable when i == lineLimit: one byte more than the line may hold.
                return .failure(sawStartLine ? .headerLineTooLong : .startLineTooLong)
            }
            guard i &+ 1 < n else {
                scanned = i
                return .incomplete
            }
            if buf[i &+ 1] != ASCII.lf { return .failure(.bareCR) }
            if i &+ 1 >= limits.maxHeadBytes { return .failure(.headTooLarge) }
            let start = lineStart
            i &+= 2
            lineStart = i
            scanned = i
            if !sawStartLine {
                if start == i &- 2 { continue }  // leading empty line: skip
                sawStartLine = true
                return .startLine(start: start, end: i &- 2)
            }
            if start == i &- 2 { return .complete(headLength: i) }
            fieldLines &+= 1
            if fieldLines > limits.maxHeaderCount { return .failure(.tooManyHeaders) }
        }
    }
}
