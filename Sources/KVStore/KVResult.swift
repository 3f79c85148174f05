import MultiRaft

/// The outcome of applying one command, sent back to the client; maps 1:1 to RESP
/// (simple string OK, null bulk, integer, bulk string, error, array).
public enum KVResult: Sendable, Equatable {
    case ok
    case null
    case integer(Int64)
    case bulk([UInt8])
    /// An error reply; the text starts with its Redis error code, e.g. "ERR ...".
    case error(String)
    case array([KVResult])
}

extension KVResult {
    /// Nesting accepted when decoding, so hostile input cannot exhaust the stack.
    static let maxDecodeDepth = 8

    func encode(into w: inout BinaryWriter) {
        switch self {
        case .ok: w.write(UInt8(0))
        case .null: w.write(UInt8(1))
        case .integer(let v):
            w.write(UInt8(2))
            w.write(UInt64(bitPattern: v))
        case .bulk(let b):
            w.write(UInt8(3))
            w.writeBlob(b)
        case .error(let message):
            w.write(UInt8(4))
            w.writeBlob(Array(message.utf8))
        case .array(let items):
            w.write(UInt8(5))
            w.write(UInt32(items.count))
            for item in items { item.encode(into: &w) }
        }
    }

    static func decode(from r: inout BinaryReader, depth: Int = 0) throws(DecodeError) -> KVResult {
        let tag = try r.readUInt8()
        switch tag {
        case 0: return .ok
        case 1: return .null
        case 2: return .integer(Int64(bitPattern: try r.readUInt64()))
        case 3: return .bulk(try r.readBlob())
        case 4:
            guard let text = String(validating: try r.readBlob(), as: UTF8.self) else {
                throw DecodeError("error reply is not valid UTF-8")
            }
            return .error(text)
        case 5:
            guard depth < maxDecodeDepth else { throw DecodeError("reply nested deeper than \(maxDecodeDepth)") }
            let n = Int(try r.readUInt32())
            guard n <= r.remaining else { throw DecodeError("array of \(n) replies exceeds the input") }
            var items: [KVResult] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try decode(from: &r, depth: depth + 1)) }
            return .array(items)
        default:
            throw DecodeError("unknown reply tag \(tag)")
        }
    }
}
