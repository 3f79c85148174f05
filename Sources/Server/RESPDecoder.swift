import NIOCore
import RESP

/// Bounds on what one client request may hold, so a client cannot make the node buffer
/// without limit.
struct RESPLimits: Hashable, Sendable {
    /// Largest request, framing included. Default 4 MiB (bytes).
    var maxRequestBytes = 4_194_304
    /// Most elements in one command, its name included. Default 65536 (count).
    var maxArguments = 65_536
    /// Longest inline command line. Default 64 KiB (bytes).
    var maxInlineBytes = 65_536
    /// Most requests of one connection executed at once (see `NodeConfig.maxRequestsInFlight`).
    var maxInFlight = 128
    /// Most reply bytes waiting to be sent before the client is disconnected; 0: no limit.
    var outputBufferLimit = 64 << 20

    /// The limits a node's config asks for.
    init(_ config: NodeConfig) {
        maxRequestBytes = config.maxRequestBytes
        maxArguments = config.maxRequestArgs
        maxInlineBytes = config.maxInlineBytes
        maxInFlight = config.maxRequestsInFlight
        outputBufferLimit = config.clientOutputBufferLimit
    }

    /// Limits with explicit values (defaults as documented above).
    init(maxRequestBytes: Int = 4_194_304, maxArguments: Int = 65_536, maxInlineBytes: Int = 65_536) {
        self.maxRequestBytes = maxRequestBytes
        self.maxArguments = maxArguments
        self.maxInlineBytes = maxInlineBytes
    }
}

/// Input that is not a valid request, or exceeds a limit. The connection that sent it gets
/// `-ERR Protocol error: <message>` and is closed: after a framing error the rest of its
/// stream cannot be trusted.
struct RESPProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    let message: String
    var description: String { "Protocol error: \(message)" }

    init(message: String) {
        self.message = message
    }

    /// The parser's error in the words Redis uses for it (clients and tools match on them),
    /// naming the node's settings where a limit was hit.
    init(_ error: RESPError, limits: RESPLimits) {
        switch error.kind {
        case .notAnInteger(let type, _):
            message = type == UInt8(ascii: "*") ? "invalid multibulk length" : "invalid bulk length"
        case .invalidArrayLength:
            message = "invalid multibulk length"
        case .invalidBulkLength(let length, _) where length < 0:
            message = "invalid bulk length"
        case .invalidBulkLength, .requestTooLarge:
            message = "request exceeds max_request_bytes (\(limits.maxRequestBytes) bytes)"
        case .notABulkString(let byte):
            message = "expected '$', got '\(Character(Unicode.Scalar(byte)))'"
        case .lineTooLong(let limit):
            message = "header line longer than \(limit) bytes"
        case .expectedLF:
            message = "header line not terminated by CRLF"
        case .expectedCRLF(let length):
            message = "bulk string of \(length) bytes is not followed by CRLF"
        case .inlineTooLong:
            message = "too big inline request (max_inline_bytes is \(limits.maxInlineBytes))"
        case .tooManyArguments:
            message = "too many arguments (max_request_args is \(limits.maxArguments))"
        case .unknownType, .nestedTooDeep:
            message = error.reason  // reply-only problems; a request never gets them
        }
    }
}

/// Splits a client's byte stream into commands: RESP arrays of bulk strings (what client
/// libraries and `redis-cli` send) and inline commands (a line of space-separated words, as
/// typed into `telnet` or `nc`). The NIO glue around the package's one RESP parser, which
/// reads the buffer in place.
///
/// A request is consumed only once complete; an incomplete one is parsed again when more
/// bytes arrive (cheap, since bulk bodies are skipped by length and requests are bounded).
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPCommand

    /// Longest `*<count>` or `$<length>` header line after its type byte, CRLF excluded (bytes).
    static let maxHeaderLineBytes = 32

    let limits: RESPLimits
    private let parser: RESPParser

    init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
        parser = RESPParser(limits: RESPParser.Limits(
            maxBulkBytes: limits.maxRequestBytes, maxArrayElements: limits.maxArguments, maxLineBytes: Self.maxHeaderLineBytes,
            maxInlineBytes: limits.maxInlineBytes, maxRequestBytes: limits.maxRequestBytes))
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPCommand? {
        // Empty requests (`*0`, blank lines) are consumed silently, as Redis does.
        while true {
            guard let (parts, consumed) = try parseRequest(buffer) else { return nil }
            buffer.moveReaderIndex(forwardBy: consumed)
            if !parts.isEmpty { return RESPCommand(parts: parts) }
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPCommand? {
        try decode(buffer: &buffer)
    }

    /// Parses one request at the start of `buffer`'s readable bytes: its parts and how many
    /// bytes it took, or nil when more bytes are needed.
    func parseRequest(_ buffer: ByteBuffer) throws(RESPProtocolError) -> (parts: [ByteBuffer], consumed: Int)? {
        do {
            return try buffer.withUnsafeReadableBytes { bytes in
                try parser.parseRequest(bytes) { ByteBuffer(bytes: $0) }
            }
        } catch let error as RESPError {
            throw RESPProtocolError(error, limits: limits)
        } catch {
            throw RESPProtocolError(message: "\(error)")
        }
    }
}
