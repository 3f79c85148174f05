/// Encodes commands the way every Redis client sends them: a RESP2 array of bulk strings,
/// `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument. Binary-safe.
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

    private static let crlf: [UInt8] = [13, 10]
}
