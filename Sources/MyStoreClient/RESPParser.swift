/// A streaming RESP2 reply parser: feed it bytes as they arrive (in any split), take complete
/// replies out in order. It never consumes a partial reply, so a reply split across reads is
/// parsed once all of it is buffered.
public struct RESPParser: Sendable {
    /// Why bytes are not RESP2, and where: `offset` counts bytes from the stream's start.
    public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
        public let offset: Int
        public let reason: String

        public init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }

        public var description: String { "protocol error at byte \(offset): \(reason)" }
    }

    /// Largest bulk string accepted, in bytes.
    public let maxBulkBytes: Int
    /// Deepest array nesting accepted.
    public let maxNestingDepth: Int
    /// Longest simple string, error or header line accepted, in bytes (64 KiB).
    static let maxLineBytes = 64 * 1024

    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first byte not yet consumed.
    private var readIndex = 0
    /// Stream offset of `buffer[0]` (bytes already discarded).
    private var discarded = 0

    public init(maxBulkBytes: Int = 512 * 1024 * 1024, maxNestingDepth: Int = 32) {
        self.maxBulkBytes = maxBulkBytes
        self.maxNestingDepth = maxNestingDepth
    }

    /// Bytes received and not yet consumed by a complete reply.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if readIndex > 0, readIndex == buffer.count || readIndex >= 64 * 1024 {
            // Drop what complete replies consumed, so the buffer does not grow without bound.
            discarded += readIndex
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or nil until more bytes arrive.
    public mutating func next() throws(ProtocolError) -> RESPReply? {
        var index = readIndex
        guard let reply = try parse(at: &index, depth: 0) else { return nil }
        readIndex = index
        return reply
    }

    // MARK: - Parsing (returns nil when the buffer ends before the value does)

    private func parse(at index: inout Int, depth: Int) throws(ProtocolError) -> RESPReply? {
        guard index < buffer.count else { return nil }
        let typeOffset = index
        let type = buffer[index]
        index += 1
        switch type {
        case UInt8(ascii: "+"):
            guard let line = try line(at: &index) else { return nil }
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            guard let line = try line(at: &index) else { return nil }
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let value = try integerLine(at: &index) else { return nil }
            return .integer(value)
        case UInt8(ascii: "$"):
            let headerOffset = index
            guard let length = try integerLine(at: &index) else { return nil }
            if length == -1 { return .null }
            guard length >= 0, length <= maxBulkBytes else {
                throw ProtocolError(offset: discarded + headerOffset, reason: "invalid bulk string length \(length) (limit \(maxBulkBytes))")
            }
            let end = index + Int(length)
            guard end + 2 <= buffer.count else { return nil }
            guard buffer[end] == 13, buffer[end + 1] == 10 else {
                throw ProtocolError(offset: discarded + end, reason: "expected CRLF after a bulk string of \(length) bytes")
            }
            let bytes = Array(buffer[index..<end])
            index = end + 2
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            let headerOffset = index
            guard let count = try integerLine(at: &index) else { return nil }
            if count == -1 { return .nullArray }
            guard count >= 0, count <= Int64(Int32.max) else {
                throw ProtocolError(offset: discarded + headerOffset, reason: "invalid array length \(count)")
            }
            guard depth < maxNestingDepth else {
                throw ProtocolError(offset: discarded + typeOffset, reason: "arrays nested deeper than \(maxNestingDepth)")
            }
            var elements: [RESPReply] = []
            // Each element takes at least 3 bytes; don't reserve for more than could be buffered.
            elements.reserveCapacity(min(Int(count), (buffer.count - index) / 3 + 1))
            for _ in 0..<count {
                guard let element = try parse(at: &index, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw ProtocolError(offset: discarded + typeOffset, reason: "unknown reply type byte \(Self.show(type))")
        }
    }

    /// The bytes up to the next CRLF, advancing past it; nil when no CRLF is buffered yet.
    private func line(at index: inout Int) throws(ProtocolError) -> ArraySlice<UInt8>? {
        var cursor = index
        while cursor < buffer.count {
            if buffer[cursor] == 13 {
                guard cursor + 1 < buffer.count else { return nil }
                guard buffer[cursor + 1] == 10 else {
                    throw ProtocolError(offset: discarded + cursor + 1, reason: "expected LF after CR")
                }
                let line = buffer[index..<cursor]
                index = cursor + 2
                return line
            }
            if cursor - index >= Self.maxLineBytes {
                throw ProtocolError(offset: discarded + cursor, reason: "line longer than \(Self.maxLineBytes) bytes")
            }
            cursor += 1
        }
        return nil
    }

    /// A decimal integer line (`-12\r\n`), advancing past it; nil when incomplete.
    private func integerLine(at index: inout Int) throws(ProtocolError) -> Int64? {
        let start = index
        guard let line = try line(at: &index) else { return nil }
        guard let value = Int64(String(decoding: line, as: UTF8.self)), line.first != UInt8(ascii: "+") else {
            throw ProtocolError(offset: discarded + start, reason: "expected an integer, got \"\(String(decoding: line.prefix(24), as: UTF8.self))\"")
        }
        return value
    }

    private static func show(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}
