import NIOCore

/// Bounds on what one client request may hold, so a client cannot make the node buffer
/// without limit.
struct RESPLimits: Hashable, Sendable {
    /// Largest request, framing included. Default 4 MiB (bytes).
    var maxRequestBytes = 4_194_304
    /// Most elements in one command, its name included. Default 65536 (count).
    var maxArguments = 65_536
    /// Longest inline command line. Default 64 KiB (bytes).
    var maxInlineBytes = 65_536

    /// The limits a node's config asks for.
    init(_ config: NodeConfig) {
        maxRequestBytes = config.maxRequestBytes
        maxArguments = config.maxRequestArgs
        maxInlineBytes = config.maxInlineBytes
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
}

/// Splits a client's byte stream into commands: RESP arrays of bulk strings (what client
/// libraries and `redis-cli` send) and inline commands (a line of space-separated words, as
/// typed into `telnet` or `nc`).
///
/// Pure: it only looks at the bytes it is given, so tests drive it without a socket. A
/// request is consumed only once complete; an incomplete one is parsed again when more bytes
/// arrive (cheap, since bulk bodies are skipped by length and requests are bounded).
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPCommand

    /// Longest `*<count>` or `$<length>` header line, CRLF excluded (bytes).
    static let maxHeaderLineBytes = 32

    let limits: RESPLimits

    init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPCommand? {
        // Empty requests (`*0`, blank lines) are consumed silently, as Redis does.
        while true {
            guard let (parts, consumed) = try parseRequest(buffer.readableBytesView) else { return nil }
            buffer.moveReaderIndex(forwardBy: consumed)
            if !parts.isEmpty { return RESPCommand(parts: parts) }
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPCommand? {
        try decode(buffer: &buffer)
    }

    /// Parses one request at the start of `bytes`: its parts and how many bytes it took, or
    /// nil when more bytes are needed.
    func parseRequest(_ bytes: ByteBufferView) throws(RESPProtocolError) -> (parts: [ByteBuffer], consumed: Int)? {
        guard let first = bytes.first else { return nil }
        return first == UInt8(ascii: "*") ? try parseArray(bytes) : try parseInline(bytes)
    }

    private func parseArray(_ bytes: ByteBufferView) throws(RESPProtocolError) -> (parts: [ByteBuffer], consumed: Int)? {
        let start = bytes.startIndex
        guard let header = try headerLine(bytes, from: start) else { return nil }
        let count = header.value
        guard count <= limits.maxArguments else {
            throw RESPProtocolError(message: "invalid multibulk length")
        }
        var position = header.next
        var parts: [ByteBuffer] = []
        parts.reserveCapacity(max(0, min(count, 1024)))
        for _ in 0..<max(0, count) {
            guard position < bytes.endIndex else { return nil }
            guard bytes[position] == UInt8(ascii: "$") else {
                throw RESPProtocolError(message: "expected '$', got '\(Character(Unicode.Scalar(bytes[position])))'")
            }
            guard let lengthLine = try headerLine(bytes, from: position) else { return nil }
            let length = lengthLine.value
            guard length >= 0 else {
                throw RESPProtocolError(message: "invalid bulk length")
            }
            guard length <= limits.maxRequestBytes else {
                throw RESPProtocolError(message: "request exceeds max_request_bytes (\(limits.maxRequestBytes) bytes)")
            }
            let bodyEnd = lengthLine.next + length
            guard bodyEnd + 2 - start <= limits.maxRequestBytes else {
                throw RESPProtocolError(message: "request exceeds max_request_bytes (\(limits.maxRequestBytes) bytes)")
            }
            guard bodyEnd + 2 <= bytes.endIndex else { return nil }
            guard bytes[bodyEnd] == UInt8(ascii: "\r"), bytes[bodyEnd + 1] == UInt8(ascii: "\n") else {
                throw RESPProtocolError(message: "bulk string of \(length) bytes is not followed by CRLF")
            }
            parts.append(ByteBuffer(bytes[lengthLine.next..<bodyEnd]))
            position = bodyEnd + 2
        }
        return (parts, position - start)
    }

    /// A `*N` or `$N` line starting at `from`: its text (without CRLF) and where the next
    /// line starts; nil when the line is not complete yet.
    /// The number on a `*N` or `$N` line starting at `from` and the index after its CRLF, or
    /// nil while the line is incomplete. Only an optional minus and digits may follow the type
    /// byte (`+5`, ` 5` or an empty number are refused, as Redis does).
    private func headerLine(_ bytes: ByteBufferView, from: Int) throws(RESPProtocolError) -> (value: Int, next: Int)? {
        let searchEnd = min(bytes.endIndex, from + Self.maxHeaderLineBytes + 2)
        guard let newline = bytes[from..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) else {
            if searchEnd - from >= Self.maxHeaderLineBytes + 2 {
                throw RESPProtocolError(message: "header line longer than \(Self.maxHeaderLineBytes) bytes")
            }
            return nil
        }
        guard newline > from, bytes[newline - 1] == UInt8(ascii: "\r") else {
            throw RESPProtocolError(message: "header line not terminated by CRLF")
        }
        let invalid = RESPProtocolError(message: bytes[from] == UInt8(ascii: "*") ? "invalid multibulk length" : "invalid bulk length")
        var i = from + 1
        let end = newline - 1
        let negative = i < end && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < end else { throw invalid }
        var value = 0
        while i < end {
            let digit = Int(bytes[i]) - 48
            guard digit >= 0, digit <= 9 else { throw invalid }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw invalid }
            value = sum
            i += 1
        }
        return (negative ? -value : value, newline + 1)
    }

    private func parseInline(_ bytes: ByteBufferView) throws(RESPProtocolError) -> (parts: [ByteBuffer], consumed: Int)? {
        let start = bytes.startIndex
        let searchEnd = min(bytes.endIndex, start + limits.maxInlineBytes + 1)
        guard let newline = bytes[start..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) else {
            if searchEnd - start > limits.maxInlineBytes {
                throw RESPProtocolError(message: "too big inline request (max_inline_bytes is \(limits.maxInlineBytes))")
            }
            return nil
        }
        var lineEnd = newline
        if lineEnd > start, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let words = bytes[start..<lineEnd].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard words.count <= limits.maxArguments else {
            throw RESPProtocolError(message: "too many arguments (max_request_args is \(limits.maxArguments))")
        }
        return (words.map { ByteBuffer($0) }, newline + 1 - start)
    }
}
