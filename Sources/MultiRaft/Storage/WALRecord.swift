/// One record of the node's write-ahead log. Records of all groups are interleaved.
public enum WALRecord: Sendable, Equatable {
    /// Entries of a group; the stored log of that group is truncated at the first entry's
    /// index before they are appended (a new leader may overwrite an uncommitted suffix).
    case entries(group: GroupID, entries: [Entry])
    case hardState(group: GroupID, state: HardState)
    /// Entries up to `through` are covered by a durable snapshot and no longer needed.
    case compacted(group: GroupID, through: LogIndex)
    /// A snapshot received from the leader replaced the whole log of the group.
    case installedSnapshot(group: GroupID, index: LogIndex)
    /// The group left this node; none of its records are needed any more.
    case removed(group: GroupID)

    var group: GroupID {
        switch self {
        case .entries(let g, _), .hardState(let g, _), .compacted(let g, _), .installedSnapshot(let g, _), .removed(let g): g
        }
    }

    /// Record frame: [length: u32][crc32c: u32][type: u8][payload]; length and CRC cover
    /// type and payload.
    static let headerSize = 8

    func encode(into w: inout BinaryWriter) {
        let start = w.bytes.count
        w.write(UInt32(0))  // length, patched below
        w.write(UInt32(0))  // crc, patched below
        switch self {
        case .entries(let g, let ents):
            w.write(UInt8(1))
            w.write(g)
            w.write(UInt32(ents.count))
            for e in ents { e.encode(into: &w) }
        case .hardState(let g, let hs):
            w.write(UInt8(2))
            w.write(g)
            w.write(hs.term)
            w.write(hs.vote)
            w.write(hs.commit)
        case .compacted(let g, let i):
            w.write(UInt8(3))
            w.write(g)
            w.write(i)
        case .removed(let g):
            w.write(UInt8(4))
            w.write(g)
        case .installedSnapshot(let g, let i):
            w.write(UInt8(5))
            w.write(g)
            w.write(i)
        }
        w.patchRecordHeader(at: start)
    }

    static func decode(_ body: ArraySlice<UInt8>) throws(DecodeError) -> WALRecord {
        var r = BinaryReader(Array(body))
        let type = try r.readUInt8()
        let g = try r.readUInt64()
        switch type {
        case 1:
            let n = try r.readUInt32()
            guard Int(n) <= r.remaining / 21 + 1 else { throw DecodeError("entry count \(n) exceeds the record") }
            var ents: [Entry] = []
            ents.reserveCapacity(Int(n))
            for _ in 0..<n { ents.append(try Entry.decode(from: &r)) }
            for k in ents.indices.dropFirst() where ents[k - 1].index == .max || ents[k].index != ents[k - 1].index + 1 {
                throw DecodeError("entries are not contiguous")
            }
            return .entries(group: g, entries: ents)
        case 2:
            return .hardState(group: g, state: HardState(term: try r.read(Term.self), vote: try r.read(ReplicaID.self), commit: try r.read(LogIndex.self)))
        case 3:
            return .compacted(group: g, through: try r.read(LogIndex.self))
        case 4:
            return .removed(group: g)
        case 5:
            return .installedSnapshot(group: g, index: try r.read(LogIndex.self))
        default:
            throw DecodeError("unknown record type \(type)")
        }
    }
}

extension BinaryWriter {
    /// Fills in the length and CRC of a record whose header starts at `start`.
    mutating func patchRecordHeader(at start: Int) {
        let bodyStart = start + WALRecord.headerSize
        let length = UInt32(bytes.count - bodyStart)
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[bodyStart...])) }
        patch(UInt32: length, at: start)
        patch(UInt32: crc, at: start + 4)
    }
}
