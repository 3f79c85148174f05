import MultiRaft

/// Cuts snapshot bytes into pieces of at most `pieceBytes` for a sink, keeping a running
/// CRC-32C of everything written. Large values are split across pieces, so no piece and no
/// buffer ever exceeds the bound.
struct SnapshotOutput {
    let pieceBytes: Int
    private var buffer: [UInt8] = []
    private(set) var checksum: UInt32 = 0

    init(pieceBytes: Int) {
        self.pieceBytes = max(pieceBytes, 16)
        buffer.reserveCapacity(self.pieceBytes)
    }

    mutating func write(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        checksum = CRC32C.checksum(bytes, crc: checksum)
        try append(bytes[...], to: sink)
    }

    /// A length-prefixed byte string.
    mutating func writeBlob(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        var w = BinaryWriter(capacity: 4)
        w.write(UInt32(bytes.count))
        try write(w.bytes, to: sink)
        try write(bytes, to: sink)
    }

    /// Bytes outside the checksum (the trailer that carries it).
    mutating func writeUnchecked(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        try append(bytes[...], to: sink)
    }

    private mutating func append(_ bytes: ArraySlice<UInt8>, to sink: ([UInt8]) throws -> Void) rethrows {
        var rest = bytes
        while !rest.isEmpty {
            let take = min(pieceBytes - buffer.count, rest.count)
            buffer.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if buffer.count == pieceBytes { try flush(to: sink) }
        }
    }

    mutating func flush(to sink: ([UInt8]) throws -> Void) rethrows {
        guard !buffer.isEmpty else { return }
        let piece = buffer
        buffer.removeAll(keepingCapacity: true)
        try sink(piece)
    }
}

/// Reads snapshot bytes from a source of pieces of any size, with bounds-checked reads that
/// name what is missing, and a running CRC-32C of everything consumed.
final class SnapshotInput {
    private let source: () throws -> [UInt8]?
    private var piece: [UInt8] = []
    private var offset = 0
    private var ended = false
    private(set) var checksum: UInt32 = 0
    /// Bytes consumed so far (for error messages).
    private(set) var position = 0

    init(source: @escaping () throws -> [UInt8]?) { self.source = source }

    /// Ensures unread bytes are available in `piece`; false at the end of the stream.
    private func fill() throws -> Bool {
        while offset == piece.count {
            if ended { return false }
            guard let next = try source() else {
                ended = true
                return false
            }
            piece = next
            offset = 0
        }
        return true
    }

    /// Reads exactly `n` bytes, or throws naming `what` was cut short.
    func read(_ n: Int, _ what: @autoclosure () -> String, checked: Bool = true) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < n {
            guard try fill() else {
                throw DecodeError("truncated snapshot: \(what()) needs \(n) bytes at offset \(position), stream ended after \(out.count)")
            }
            let take = min(n - out.count, piece.count - offset)
            let slice = piece[offset..<(offset + take)]
            if checked { checksum = CRC32C.checksum(slice, crc: checksum) }
            if out.isEmpty && take == n { out = Array(slice) } else { out.append(contentsOf: slice) }
            offset += take
        }
        position += n
        return out
    }

    func readUInt8(_ what: @autoclosure () -> String) throws -> UInt8 { try read(1, what())[0] }

    func readUInt32(_ what: @autoclosure () -> String, checked: Bool = true) throws -> UInt32 {
        var r = BinaryReader(try read(4, what(), checked: checked))
        return try r.readUInt32()
    }

    func readUInt64(_ what: @autoclosure () -> String) throws -> UInt64 {
        var r = BinaryReader(try read(8, what()))
        return try r.readUInt64()
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    func readBlob(limit: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        let n = Int(try readUInt32(what()))
        guard n <= limit else {
            throw DecodeError("\(what()) of \(n) bytes at offset \(position) exceeds the limit of \(limit)")
        }
        return try read(n, what())
    }

    /// Whether the stream has no bytes left.
    func atEnd() throws -> Bool { try !fill() }
}
