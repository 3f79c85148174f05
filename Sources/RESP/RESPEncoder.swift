/// Encodes commands the way every Redis client sends them: a RESP2 array of bulk strings,
/// `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument. Binary-safe. Also encodes
/// reply values (for tools and tests that play a server).
public enum RESPEncoder {
    /// The wire bytes of one command (name first, then its arguments).
    public static func encode(_ command: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        append(command, to: &out)
        return out
    }

    /// Appends the wire bytes of one command to `buffer` (for pipelines: many into one write).
    public static func append(_ command: [[UInt8]], to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + 16 + command.reduce(0) { $0 + $1.count + 16 })
        buffer.append(UInt8(ascii: "*"))
        buffer.append(contentsOf: String(command.count).utf8)
        buffer.append(contentsOf: crlf)
        for argument in command {
            buffer.append(UInt8(ascii: "$"))
            buffer.append(contentsOf: String(argument.count).utf8)
            buffer.append(contentsOf: crlf)
            buffer.append(contentsOf: argument)
            buffer.append(contentsOf: crlf)
        }
    }

    /// The wire bytes of one reply value. Newlines in status and error text become spaces,
    /// since they would end the reply early.
    public static func encode(_ value: RESPReply) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    /// Appends the wire bytes of one reply value to `buffer`.
    public static func append(_ value: RESPReply, to buffer: inout [UInt8]) {
        func line(_ type: Character, _ text: String) {
            buffer.append(contentsOf: String(type).utf8)
            buffer.append(contentsOf: text.utf8.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 })
            buffer.append(contentsOf: crlf)
        }
        switch value {
        case .simpleString(let text): line("+", text)
        case .error(let text): line("-", text)
        case .integer(let number): line(":", String(number))
        case .bulkString(let bytes):
            line("$", String(bytes.count))
            buffer.append(contentsOf: bytes)
            buffer.append(contentsOf: crlf)
        case .null: line("$", "-1")
        case .nullArray: line("*", "-1")
        case .array(let elements):
            line("*", String(elements.count))
            for element in elements { append(element, to: &buffer) }
        }
    }

    private static let crlf: [UInt8] = [13, 10]
}
