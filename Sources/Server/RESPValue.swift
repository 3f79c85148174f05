import NIOCore
import RESP

/// A reply, written in the connection's protocol: RESP2, or RESP3 after `HELLO 3`
/// (``ByteBuffer/writeRESPValue(_:protocol:)``).
enum RESPValue: Hashable, Sendable {
    /// `+OK`: a short status; must not contain CR or LF.
    case simpleString(String)
    /// `-ERR message`: the message should start with an upper-case error code.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `$-1`: the nil reply.
    case null
    /// `*-1`: the nil array (EXEC when a WATCHed key changed); `_` in RESP3 as `null`.
    case nullArray
    /// `*2 ...`: a sequence of values.
    indirect case array([RESPValue])
    /// A reply already in RESP2 wire format (from a node this command was forwarded to).
    case raw(ByteBuffer)
    /// Field names and values, alternating: a RESP3 map (`%`); in RESP2 a flat array.
    indirect case map([RESPValue])
    /// An unordered collection: a RESP3 set (`~`); in RESP2 an array.
    indirect case set([RESPValue])
    /// Text for people (INFO): a RESP3 verbatim string (`=`, format `txt`); in RESP2 a bulk string.
    case verbatim(String)

    /// A bulk string holding UTF-8 text.
    static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    /// The `+OK` status.
    static let ok = RESPValue.simpleString("OK")

    /// About how many bytes the value holds (its payloads; framing left out), for the bound on
    /// a connection's unsent replies.
    var approximateBytes: Int {
        switch self {
        case .simpleString(let text), .error(let text): text.utf8.count
        case .integer, .null, .nullArray: 8
        case .bulkString(let bytes), .raw(let bytes): bytes.readableBytes
        case .array(let elements), .map(let elements), .set(let elements): elements.reduce(8) { $0 + $1.approximateBytes }
        case .verbatim(let text): text.utf8.count
        }
    }

    /// A reply forwarded from another node (`.raw` wire bytes) parsed back into a value, when
    /// the bytes are exactly one well-formed reply; any other value as it is.
    var parsedIfRaw: RESPValue {
        if case .raw(let bytes) = self, let reply = Self.rawParser.reply(exactlyIn: bytes.readableBytesView) {
            return RESPValue(reply)
        }
        return self
    }

    /// Reads replies forwarded between nodes (default limits: they come from peers).
    private static let rawParser = RESPParser()

    /// A parsed reply as a value.
    init(_ reply: RESPReply) {
        switch reply {
        case .simpleString(let text): self = .simpleString(text)
        case .error(let text): self = .error(text)
        case .integer(let number): self = .integer(number)
        case .bulkString(let bytes): self = .bulkString(ByteBuffer(bytes: bytes))
        case .null: self = .null
        case .nullArray: self = .nullArray
        case .array(let elements): self = .array(elements.map(RESPValue.init))
        }
    }
}

/// The protocol a connection speaks: RESP2 until `HELLO 3`.
enum RESPProtocol: Int, Hashable, Sendable {
    case resp2 = 2
    case resp3 = 3
}

extension ByteBuffer {
    /// Appends `value` in the wire format of `proto`. Newlines in status and error text become
    /// spaces, since they would end the reply early. RESP3 adds its null, map, set and verbatim
    /// types; everything else is written the same in both.
    mutating func writeRESPValue(_ value: RESPValue, protocol proto: RESPProtocol = .resp2) {
        switch value {
        case .simpleString(let text):
            writeStaticString("+")
            writeString(text.replacingNewlines())
            writeStaticString("\r\n")
        case .error(let text):
            writeStaticString("-")
            writeString(text.replacingNewlines())
            writeStaticString("\r\n")
        case .integer(let number):
            writeString(":\(number)\r\n")
        case .bulkString(let bytes):
            writeString("$\(bytes.readableBytes)\r\n")
            writeImmutableBuffer(bytes)
            writeStaticString("\r\n")
        case .null:
            if proto == .resp3 { writeStaticString("_\r\n") } else { writeStaticString("$-1\r\n") }
        case .nullArray:
            if proto == .resp3 { writeStaticString("_\r\n") } else { writeStaticString("*-1\r\n") }
        case .array(let elements):
            writeString("*\(elements.count)\r\n")
            for element in elements { writeRESPValue(element, protocol: proto) }
        case .map(let elements):
            writeString(proto == .resp3 ? "%\(elements.count / 2)\r\n" : "*\(elements.count)\r\n")
            for element in elements { writeRESPValue(element, protocol: proto) }
        case .set(let elements):
            writeString(proto == .resp3 ? "~\(elements.count)\r\n" : "*\(elements.count)\r\n")
            for element in elements { writeRESPValue(element, protocol: proto) }
        case .verbatim(let text):
            if proto == .resp3 {
                writeString("=\(text.utf8.count + 4)\r\ntxt:")
            } else {
                writeString("$\(text.utf8.count)\r\n")
            }
            writeString(text)
            writeStaticString("\r\n")
        case .raw(let bytes):
            // Forwarded replies are RESP2 on the wire between nodes; a RESP3 client gets them
            // re-encoded (its nulls differ).
            let parsed = proto == .resp3 ? value.parsedIfRaw : value
            if case .raw = parsed {
                writeImmutableBuffer(bytes)
            } else {
                writeRESPValue(parsed, protocol: proto)
            }
        }
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}
