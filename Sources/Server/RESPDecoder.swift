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
        guard let count = Int(header.text.dropFirst()), count <= limits.maxArguments else {
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
            guard let length = Int(lengthLine.text.dropFirst()), length >= 0 else {
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
    private func headerLine(_ bytes: ByteBufferView, from: Int) throws(RESPProtocolError) -> (text: String, next: Int)? {
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
        let text = String(decoding: bytes[from..<(newline - 1)], as: UTF8.self)
        // Only `*` or `$`, an optional minus and digits: `Int("+5")` would otherwise pass.
        guard text.dropFirst().allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) else {
            throw RESPProtocolError(message: text.first == "*" ? "invalid multibulk length" : "invalid bulk length")
        }
        return (text, newline + 1)
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
