/// An error the peer caused while sending an HTTP/1.x message.
///
/// `status` is the HTTP status Sluice answers with, `code` a short snake_case machine code and `message`
/// a human sentence naming the problem. All predefined errors are `static let` constants so that
/// producing one never formats strings at runtime.
public struct HTTP1Error: Error, Equatable, Sendable {
    /// The HTTP status code to answer with (e.g. 400, 414, 431, 501, 502, 505).
    public var status: Int
    /// A short snake_case machine-readable code, e.g. `bad_request`.
    public var code: String
    /// A human-readable sentence naming the problem.
    public var message: String

    /// Creates an error from its parts.
    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The same problem attributed to an upstream server: status 502, code `bad_gateway`, same message.
    /// Response parsing and response-body decoding report errors in this form.
    @inlinable
    public var asUpstream: HTTP1Error {
        HTTP1Error(status: 502, code: "bad_gateway", message: message)
    }

    @usableFromInline
    static func bad(_ message: String) -> HTTP1Error {
        HTTP1Error(status: 400, code: "bad_request", message: message)
    }

    // MARK: Limits

    /// The request line exceeds `HTTP1Limits.maxRequestLine` (414).
    public static let requestLineTooLong = HTTP1Error(status: 414, code: "request_line_too_long", message: "request line too long")
    /// A header field line exceeds `HTTP1Limits.maxHeaderLine` (431).
    public static let headerLineTooLong = HTTP1Error(status: 431, code: "headers_too_large", message: "header field line too long")
    /// The head exceeds `HTTP1Limits.maxHeadBytes` (431).
    public static let headTooLarge = HTTP1Error(status: 431, code: "headers_too_large", message: "header section too large")
    /// The head has more than `HTTP1Limits.maxHeaderCount` fields (431).
    public static let tooManyHeaders = HTTP1Error(status: 431, code: "too_many_headers", message: "too many header fields")

    // MARK: Line structure

    /// A CR not followed by LF.
    public static let bareCR = bad("bare CR in message head")
    /// An LF not preceded by CR.
    public static let bareLF = bad("bare LF in message head, CRLF required")
    /// A header line starting with whitespace (obsolete line folding).
    public static let obsFold = bad("obsolete line folding in header field")

    // MARK: Request line

    /// The request line is not `method SP request-target SP HTTP-version`.
    public static let invalidRequestLine = bad("malformed request line")
    /// The method is empty or contains non-token characters.
    public static let invalidMethod = bad("invalid method")
    /// The request-target is not origin-form, absolute-form (http/https) or asterisk-form.
    public static let invalidTarget = bad("invalid request-target form")
    /// The request-target contains a control character, space, non-ASCII byte or `#`.
    public static let invalidTargetCharacter = bad("invalid character in request-target")
    /// `*` used as request-target with a method other than OPTIONS.
    public static let asteriskWithoutOptions = bad("asterisk-form request-target is only allowed with OPTIONS")
    /// CONNECT requests are not proxied (501).
    public static let connectNotSupported = HTTP1Error(status: 501, code: "not_implemented", message: "CONNECT is not supported")
    /// The version is not syntactically `HTTP/DIGIT.DIGIT`.
    public static let invalidVersion = bad("invalid HTTP version")
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (505).
    public static let versionNotSupported = HTTP1Error(status: 505, code: "version_not_supported", message: "HTTP version not supported")

    // MARK: Field lines

    /// A field line without a colon.
    public static let missingColon = bad("header field line without colon")
    /// A field line starting with a colon.
    public static let emptyFieldName = bad("empty header field name")
    /// Whitespace between the field name and the colon.
    public static let whitespaceBeforeColon = bad("whitespace between header field name and colon")
    /// A field name with a non-token character (including whitespace inside the name).
    public static let invalidFieldName = bad("invalid character in header field name")
    /// A field value with NUL, a control character other than HTAB, or DEL.
    public static let invalidFieldValue = bad("invalid character in header field value")

    // MARK: Framing

    /// Both Content-Length and Transfer-Encoding present.
    public static let contentLengthAndTransferEncoding = bad("both Content-Length and Transfer-Encoding")
    /// Content-Length that is not a plain decimal number (lists such as `3, 3` included).
    public static let invalidContentLength = bad("invalid Content-Length value")
    /// Content-Length larger than UInt64.
    public static let contentLengthOverflow = bad("Content-Length value too large")
    /// Content-Length field present more than once (requests).
    public static let duplicateContentLength = bad("duplicate Content-Length")
    /// Content-Length fields with different values.
    public static let conflictingContentLength = bad("conflicting Content-Length values")
    /// Transfer-Encoding empty or with malformed list elements.
    public static let invalidTransferEncoding = bad("invalid Transfer-Encoding")
    /// Transfer-Encoding whose final coding is not chunked.
    public static let transferEncodingNotChunked = bad("Transfer-Encoding does not end in chunked")
    /// chunked listed more than once in Transfer-Encoding.
    public static let chunkedTwice = bad("chunked applied more than once")
    /// A transfer coding other than chunked (e.g. `gzip, chunked`) in a request (501).
    public static let unsupportedTransferCoding = HTTP1Error(status: 501, code: "not_implemented", message: "unsupported transfer coding")
    /// Transfer-Encoding in an HTTP/1.0 message.
    public static let transferEncodingHTTP10 = bad("Transfer-Encoding in an HTTP/1.0 message")

    // MARK: Other fields

    /// HTTP/1.1 request without Host.
    public static let missingHost = bad("missing Host header")
    /// More than one Host field.
    public static let multipleHost = bad("multiple Host headers")
    /// Host value with characters not allowed in uri-host [ ":" port ].
    public static let invalidHost = bad("invalid Host header")
    /// Expect with a value other than 100-continue (417).
    public static let expectationFailed = HTTP1Error(status: 417, code: "expectation_failed", message: "unsupported Expect value")
    /// `Upgrade: h2c` (h2c smuggling precondition).
    public static let h2cUpgrade = bad("h2c upgrade is not allowed")
    /// An HTTP2-Settings field (h2c smuggling precondition).
    public static let http2Settings = bad("HTTP2-Settings header is not allowed")
    /// Connection with a non-token element.
    public static let invalidConnection = bad("invalid Connection header")
    /// Connection listing Content-Length or Host, which a proxy would then drop.
    public static let connectionListsEndToEnd = bad("Connection header lists Content-Length or Host")

    // MARK: Responses

    /// The status line is not `HTTP-version SP 3DIGIT [SP reason]` (502).
    public static let invalidStatusLine = HTTP1Error(status: 502, code: "bad_gateway", message: "malformed status line")

    // MARK: Chunked bodies

    /// Empty or non-hex chunk size.
    public static let invalidChunkSize = bad("invalid chunk size")
    /// Chunk size of more than 16 hex digits.
    public static let chunkSizeOverflow = bad("chunk size too large")
    /// Malformed chunk extension.
    public static let invalidChunkExtension = bad("invalid chunk extension")
    /// Chunk size line longer than the decoder's line limit.
    public static let chunkLineTooLong = bad("chunk size line too long")
    /// Chunk data not followed by CRLF.
    public static let missingChunkCRLF = bad("missing CRLF after chunk data")
    /// CR not followed by LF, or bare LF, in chunk framing.
    public static let invalidChunkLineEnding = bad("bare CR or LF in chunked framing")
    /// Malformed trailer field line.
    public static let invalidTrailer = bad("invalid trailer field")
    /// Trailer section larger than the decoder's limit (431).
    public static let trailersTooLarge = HTTP1Error(status: 431, code: "headers_too_large", message: "trailer section too large")
}
