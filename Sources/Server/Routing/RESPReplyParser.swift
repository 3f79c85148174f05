import NIOCore

/// Parses one RESP2 reply (as forwarded between nodes) back into a value. Nil when the bytes
/// are not exactly one well-formed reply.
extension RESPValue {
    /// A reply forwarded from another node (`.raw` wire bytes) parsed back into a value;
    /// any other value as it is.
    var parsedIfRaw: RESPValue {
        if case .raw(let b) = self, let parsed = RESPReplyParser.parse(b) { return parsed }
        return self
    }
}

enum RESPReplyParser {
    static func parse(_ buffer: ByteBuffer) -> RESPValue? {
        let bytes = Array(buffer.readableBytesView)
        var i = 0
        guard let v = value(bytes, &i, depth: 0), i == bytes.count else { return nil }
        return v
    }

    private static func line(_ b: [UInt8], _ i: inout Int) -> String? {
        var j = i
        while j + 1 < b.count, !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
        guard j + 1 < b.count else { return nil }
        defer { i = j + 2 }
        return String(decoding: b[i..<j], as: UTF8.self)
    }

    private static func value(_ b: [UInt8], _ i: inout Int, depth: Int) -> RESPValue? {
        guard i < b.count, depth < 16 else { return nil }
        let type = b[i]
        i += 1
        guard let text = line(b, &i) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"): return Int64(text).map { .integer($0) }
        case UInt8(ascii: "$"):
            guard let n = Int(text) else { return nil }
            if n < 0 { return .null }
            guard i + n + 2 <= b.count else { return nil }
            defer { i += n + 2 }
            return .bulkString(ByteBuffer(bytes: b[i..<(i + n)]))
        case UInt8(ascii: "*"):
            guard let n = Int(text) else { return nil }
            if n < 0 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<n {
                guard let v = value(b, &i, depth: depth + 1) else { return nil }
                items.append(v)
            }
            return .array(items)
        default:
            return nil
        }
    }
}
