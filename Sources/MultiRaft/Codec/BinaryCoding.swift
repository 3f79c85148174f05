/// Little-endian binary writer used by every on-disk and on-wire format of the project.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ v: UInt8) { bytes.append(v) }
    public mutating func write(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func write(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    /// A replica id, term or index, as its `UInt64`.
    public mutating func write<N: RaftNumber>(_ v: N) { write(v.rawValue) }
    /// Overwrites four bytes at `offset` (for length and checksum fields written last).
    public mutating func patch(UInt32 v: UInt32, at offset: Int) {
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }
    public mutating func write(_ v: [UInt8]) { bytes.append(contentsOf: v) }
    public mutating func reserve(_ n: Int) { bytes.reserveCapacity(bytes.count + n) }
    /// Empties the buffer, keeping its capacity.
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }
    /// A length-prefixed byte string.
    public mutating func writeBlob(_ v: [UInt8]) {
        write(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    public mutating func writeIDs(_ ids: Set<ReplicaID>) {
        write(UInt32(ids.count))
        for id in ids.sorted() { write(id) }
    }
}

/// Reader matching `BinaryWriter`; every read is bounds-checked and throws on truncation.
public struct BinaryReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else {
            throw DecodeError("truncated: needed \(n) bytes at offset \(offset), have \(remaining)")
        }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func readUInt8() throws(DecodeError) -> UInt8 { try take(1).first! }
    /// The next `n` bytes, as they are.
    public mutating func readBytes(_ n: Int) throws(DecodeError) -> [UInt8] { Array(try take(n)) }
    /// A replica id, term or index, written as its `UInt64`.
    public mutating func read<N: RaftNumber>(_: N.Type = N.self) throws(DecodeError) -> N { N(rawValue: try readUInt64()) }
    public mutating func readBool() throws(DecodeError) -> Bool { try readUInt8() != 0 }
    public mutating func readUInt32() throws(DecodeError) -> UInt32 {
        var v: UInt32 = 0
        for (i, b) in try take(4).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        return v
    }
    public mutating func readUInt64() throws(DecodeError) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
    /// A length-prefixed byte string of at most `limit` bytes.
    public mutating func readBlob(limit: Int = 1 << 30) throws(DecodeError) -> [UInt8] {
        let n = Int(try readUInt32())
        guard n <= limit else { throw DecodeError("blob of \(n) bytes exceeds the limit of \(limit)") }
        return Array(try take(n))
    }
    public mutating func readIDs() throws(DecodeError) -> Set<ReplicaID> {
        let n = try readUInt32()
        guard Int(n) * 8 <= remaining else { throw DecodeError("id set of \(n) entries exceeds the input") }
        var s = Set<ReplicaID>()
        for _ in 0..<n { s.insert(try read(ReplicaID.self)) }
        return s
    }
}

extension Configuration {
    public func encode(into w: inout BinaryWriter) {
        w.writeIDs(voters)
        w.writeIDs(outgoing)
        w.writeIDs(learners)
        w.writeIDs(learnersNext)
        w.write(autoLeave)
        w.writeIDs(retired)
    }

    public static func decode(from r: inout BinaryReader) throws(DecodeError) -> Configuration {
        var c = Configuration(voters: try r.readIDs())
        c.outgoing = try r.readIDs()
        c.learners = try r.readIDs()
        c.learnersNext = try r.readIDs()
        c.autoLeave = try r.readBool()
        c.retired = try r.readIDs()
        return c
    }
}
