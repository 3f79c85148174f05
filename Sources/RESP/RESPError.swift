/// Why bytes are not RESP2, or exceed a limit of the parser, and where: `offset` counts bytes
/// from the start of the stream (or of the bytes handed to a one-shot parse).
public struct RESPError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A reply starts with a byte that starts no RESP2 type.
        case unknownType(UInt8)
        /// An element of a request array is not a bulk string (its first byte).
        case notABulkString(UInt8)
        /// A `:`, `$` or `*` line (`type`) that is not a decimal integer.
        case notAnInteger(type: UInt8, text: String)
        /// A bulk string length below -1 (or -1 in a request), or above the limit.
        case invalidBulkLength(Int64, limit: Int)
        /// An array length below -1, or above the limit.
        case invalidArrayLength(Int64, limit: Int)
        /// Arrays nested deeper than the limit.
        case nestedTooDeep(limit: Int)
        /// A simple string, error or header line longer than the limit (CRLF excluded).
        case lineTooLong(limit: Int)
        /// A CR not followed by LF.
        case expectedLF
        /// A bulk string of this many bytes not followed by CRLF.
        case expectedCRLF(afterBulkOf: Int)
        /// An inline command line longer than the limit.
        case inlineTooLong(limit: Int)
        /// An inline command with more words than the limit.
        case tooManyArguments(Int, limit: Int)
        /// A request larger than the limit, framing included.
        case requestTooLarge(limit: Int)
    }

    public let offset: Int
    public let kind: Kind

    public init(offset: Int, kind: Kind) {
        self.offset = offset
        self.kind = kind
    }

    /// What is wrong, in words.
    public var reason: String {
        switch kind {
        case .unknownType(let byte): "unknown reply type byte \(Self.show(byte))"
        case .notABulkString(let byte): "expected a bulk string ('$'), got \(Self.show(byte))"
        case .notAnInteger(_, let text): "expected an integer, got \"\(text)\""
        case .invalidBulkLength(let length, let limit): "invalid bulk string length \(length) (limit \(limit))"
        case .invalidArrayLength(let count, let limit): "invalid array length \(count) (limit \(limit))"
        case .nestedTooDeep(let limit): "arrays nested deeper than \(limit)"
        case .lineTooLong(let limit): "line longer than \(limit) bytes"
        case .expectedLF: "expected LF after CR"
        case .expectedCRLF(let length): "expected CRLF after a bulk string of \(length) bytes"
        case .inlineTooLong(let limit): "inline command longer than \(limit) bytes"
        case .tooManyArguments(let count, let limit): "\(count) arguments (limit \(limit))"
        case .requestTooLarge(let limit): "request larger than \(limit) bytes"
        }
    }

    public var description: String { "protocol error at byte \(offset): \(reason)" }

    /// A byte as a quoted character when printable, else as hex.
    public static func show(_ byte: UInt8) -> String {
        (32..<127).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}
