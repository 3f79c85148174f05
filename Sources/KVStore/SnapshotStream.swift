import MultiRaft

/// Cuts snapshot bytes into pieces of at most `pieceBytes` for a sink, keeping a running
/// CRC-32C of everything written. Large values are split across pieces, so no piece and no
/// buffer ever exceeds the bound.
///
/// Fields go straight into the current piece (no buffer of their own), and the checksum is
/// taken over each piece as it leaves rather than over every field: a snapshot is mostly
/// small fields, and this is the loop that serialises every key of a shard.
struct SnapshotOutput {
    let pieceBytes: Int
    /// The piece being filled: `used` bytes of it.
    private var buffer: [UInt8]
    private var used = 0
    private var crc: UInt32 = 0
    /// Bytes at the start of `buffer` already folded into `crc`.
    private var summed = 0

    init(pieceBytes: Int) {
        self.pieceBytes = max(pieceBytes, 16)
        buffer = [UInt8](repeating: 0, count: self.pieceBytes)
    }

    /// CRC-32C of every byte written with the checked calls so far.
    mutating func checksum() -> UInt32 {
        fold()
        return crc
    }

    mutating func write(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { try append($0, to: sink) }
    }

    mutating func write(_ v: UInt8, to sink: ([UInt8]) throws -> Void) rethrows {
        if used + 1 > pieceBytes { try flush(to: sink) }
        buffer[used] = v
        used += 1
    }

    mutating func write(_ v: UInt32, to sink: ([UInt8]) throws -> Void) rethrows {
        if used + 4 > pieceBytes { try flush(to: sink) }
        let at = used
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self) }
        used += 4
    }

    mutating func write(_ v: UInt64, to sink: ([UInt8]) throws -> Void) rethrows {
        if used + 8 > pieceBytes { try flush(to: sink) }
        let at = used
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self) }
        used += 8
    }

    /// A length-prefixed byte string.
    mutating func writeBlob(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        try write(UInt32(bytes.count), to: sink)
        try write(bytes, to: sink)
    }

    /// Bytes outside the checksum (the trailer that carries it).
    mutating func writeUnchecked(_ bytes: [UInt8], to sink: ([UInt8]) throws -> Void) rethrows {
        fold()
        try bytes.withUnsafeBytes { try append($0, to: sink, checked: false) }
        summed = used
    }

    private mutating func fold() {
        guard summed < used else { return }
        let (from, to) = (summed, used)
        crc = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[from..<to]), crc: crc) }
        summed = used
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer, to sink: ([UInt8]) throws -> Void, checked: Bool = true) rethrows {
        var from = 0
        while from < bytes.count {
            let take = min(pieceBytes - used, bytes.count - from)
            let at = used
            buffer.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + at).copyMemory(from: bytes.baseAddress! + from, byteCount: take)
            }
            used += take
            from += take
            if used == pieceBytes {
                if !checked { summed = used }
                try flush(to: sink)
            }
        }
    }

    mutating func flush(to sink: ([UInt8]) throws -> Void) rethrows {
        guard used > 0 else { return }
        fold()
        let piece = Array(buffer[0..<used])
        used = 0
        summed = 0
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
