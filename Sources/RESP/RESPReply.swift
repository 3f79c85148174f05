/// One RESP2 reply from a node.
public enum RESPReply: Hashable, Sendable {
    /// `+text`: a status such as `OK` or `PONG`.
    case simpleString(String)
    /// `-text`: an error; the first word is its code (`ERR`, `MOVED`, `TRYAGAIN`, ...).
    case error(String)
    /// `:n`: a signed 64-bit integer.
    case integer(Int64)
    /// `$n`: a binary-safe byte string.
    case bulkString([UInt8])
    /// `$-1`: the null bulk string (a missing value).
    case null
    /// `*n`: an array of replies, possibly nested.
    case array([RESPReply])
    /// `*-1`: the null array.
    case nullArray

    /// The bytes of a bulk or simple string, nil for any other reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// The text of a bulk or simple string (UTF-8, invalid sequences repaired), nil otherwise.
    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// The value of an integer reply, or of a string reply holding a decimal integer.
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString, .simpleString: text.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The elements of an array reply, nil otherwise.
    public var elements: [RESPReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// The message of an error reply, nil otherwise.
    public var errorMessage: String? {
        if case .error(let message) = self { message } else { nil }
    }

    /// Whether this is `$-1` or `*-1`.
    public var isNull: Bool { self == .null || self == .nullArray }

    /// Which of the RESP2 types a reply is, without its contents (what
    /// ``RESPParser/skipReply(_:from:to:)`` reports).
    public enum Kind: Hashable, Sendable {
        case simpleString, error, integer, bulkString, null, array, nullArray
    }

    /// This reply's type.
    public var kind: Kind {
        switch self {
        case .simpleString: .simpleString
        case .error: .error
        case .integer: .integer
        case .bulkString: .bulkString
        case .null: .null
        case .array: .array
        case .nullArray: .nullArray
        }
    }
}

extension RESPReply: CustomStringConvertible {
    /// A short, redis-cli-like rendering for messages (long values are cut at 80 characters).
    public var description: String {
        func cut(_ text: String) -> String { text.count > 80 ? String(text.prefix(77)) + "..." : text }
        switch self {
        case .simpleString(let text): return cut(text)
        case .error(let message): return "(error) " + cut(message)
        case .integer(let value): return "(integer) \(value)"
        case .bulkString(let bytes): return "\"" + cut(String(decoding: bytes, as: UTF8.self)) + "\""
        case .null, .nullArray: return "(nil)"
        case .array(let elements):
            return "[" + elements.prefix(8).map(\.description).joined(separator: ", ") + (elements.count > 8 ? ", ...]" : "]")
        }
    }
}
