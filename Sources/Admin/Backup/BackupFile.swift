import KVStore
import MultiRaft
import ShardRouter

/// The backup file `mystore backup` writes. Little-endian; every part is checksummed with
/// CRC-32C, and the shards' states are snapshot streams in the format of the nodes' own
/// snapshot files (`SnapshotFile.swift`: zlib chunks of about 1 MiB, each checksummed, an end
/// marker with the total), copied verbatim from the shard leaders:
///
///     "MYBACKUP"
///     header:  record { [format u32 = 1] [created, wall ms u64] [meta index u64]
///                       [shard count u32] ([shard id u32] [ranges u32] ([first u16] [last u16])*)* }
///     section* (one per shard, in the header's order):
///              record { "SHRD" [shard id u32] [applied index u64] [ranges u32] ([first u16] [last u16])* }
///              snapshot stream (header with group = shard + 1 and index = applied index)
///              record { "SEND" [shard id u32] [stream bytes u64] [stream crc32c u32] }
///     trailer: record { "MYBKEND!" [sections u32] [bytes before the trailer u64] [crc32c of them u32] }
///
///     record:  [body length u32] [crc32c of body u32] [body]
///
/// A flipped byte anywhere fails at least one check: the records' own checksums, the snapshot
/// stream's header and chunk checksums and its end marker, the section's stream checksum, or
/// the trailer's checksum of the whole file before it.
enum BackupFormat {
    static let magic: [UInt8] = Array("MYBACKUP".utf8)
    static let version: UInt32 = 1
    static let sectionTag: [UInt8] = Array("SHRD".utf8)
    static let sectionEndTag: [UInt8] = Array("SEND".utf8)
    static let trailerTag: [UInt8] = Array("MYBKEND!".utf8)
    /// Upper bound on one record's body accepted when reading.
    static let maxRecord = 1 << 20
    /// The trailer record's size: frame, tag, count, length, checksum.
    static let trailerBytes = 8 + 8 + 4 + 8 + 4

    static func record(_ body: [UInt8]) -> [UInt8] {
        var w = BinaryWriter(capacity: body.count + 8)
        w.write(UInt32(body.count))
        w.write(CRC32C.checksum(body))
        w.write(body)
        return w.bytes
    }

    static func writeRanges(_ ranges: [SlotRange], into w: inout BinaryWriter) {
        w.write(UInt32(ranges.count))
        for r in ranges {
            w.write(UInt8(truncatingIfNeeded: r.first.rawValue)); w.write(UInt8(truncatingIfNeeded: r.first.rawValue >> 8))
            w.write(UInt8(truncatingIfNeeded: r.last.rawValue)); w.write(UInt8(truncatingIfNeeded: r.last.rawValue >> 8))
        }
    }

    static func readRanges(_ r: inout BinaryReader) throws(DecodeError) -> [SlotRange] {
        let n = try r.readUInt32()
        guard Int(n) <= r.remaining / 4 else { throw DecodeError("slot range count \(n) exceeds the record") }
        var ranges: [SlotRange] = []
        for _ in 0..<n {
            let a = Int(try r.readUInt8()) | Int(try r.readUInt8()) << 8
            let b = Int(try r.readUInt8()) | Int(try r.readUInt8()) << 8
            guard let range = SlotRange(a, b) else { throw DecodeError("bad slot range \(a)-\(b)") }
            ranges.append(range)
        }
        return ranges
    }
}

/// What the header says: the cluster's shards (ids and slots) at one meta index.
struct BackupHeader: Equatable {
    struct ShardInfo: Equatable {
        var id: ShardID
        var slotRanges: [SlotRange]
    }

    var createdMillis: UInt64
    var metaIndex: UInt64
    var shards: [ShardInfo]

    func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(BackupFormat.version)
        w.write(createdMillis)
        w.write(metaIndex)
        w.write(UInt32(shards.count))
        for s in shards {
            w.write(UInt32(s.id.rawValue))
            BackupFormat.writeRanges(s.slotRanges, into: &w)
        }
        return w.bytes
    }

    static func decode(_ body: [UInt8]) throws(DecodeError) -> BackupHeader {
        var r = BinaryReader(body)
        let version = try r.readUInt32()
        guard version == BackupFormat.version else { throw DecodeError("unknown backup format version \(version)") }
        var h = BackupHeader(createdMillis: try r.readUInt64(), metaIndex: try r.readUInt64(), shards: [])
        let n = try r.readUInt32()
        guard n > 0, Int(n) <= Slot.count, Int(n) <= r.remaining / 8 else { throw DecodeError("implausible shard count \(n)") }
        var seen = Set<Int>()
        for _ in 0..<n {
            let id = Int(try r.readUInt32())
            guard seen.insert(id).inserted else { throw DecodeError("shard \(id) is listed twice") }
            h.shards.append(ShardInfo(id: ShardID(rawValue: id), slotRanges: try BackupFormat.readRanges(&r)))
        }
        guard r.remaining == 0 else { throw DecodeError("\(r.remaining) trailing bytes in the header") }
        return h
    }
}

/// Writes a backup file: to `path.tmp`, fsynced, renamed into place by `finish`.
final class BackupFileWriter {
    let path: String
    private let tempPath: String
    private let file: DurableFile
    private(set) var bytes = 0
    private var crc: UInt32 = 0
    private var sections = 0
    private var section: (shard: ShardID, start: Int, crc: UInt32)?
    /// Where the current section's header starts, and the file's checksum there.
    private var sectionMark: (bytes: Int, crc: UInt32)?

    init(path: String, header: BackupHeader) throws(StorageError) {
        self.path = path
        tempPath = path + ".tmp"
        file = try DurableFile(path: tempPath, mode: .truncateCreate)
        try emit(BackupFormat.magic)
        try emit(BackupFormat.record(header.encoded()))
    }

    private func emit(_ b: [UInt8]) throws(StorageError) {
        try file.append(b)
        crc = CRC32C.checksum(b, crc: crc)
        bytes += b.count
    }

    func beginSection(shard: ShardID, slotRanges: [SlotRange], appliedIndex: UInt64) throws(StorageError) {
        sectionMark = (bytes, crc)
        var w = BinaryWriter()
        w.write(BackupFormat.sectionTag)
        w.write(UInt32(shard.rawValue))
        w.write(appliedIndex)
        BackupFormat.writeRanges(slotRanges, into: &w)
        try emit(BackupFormat.record(w.bytes))
        section = (shard, bytes, 0)
    }

    /// Bytes of the current section's snapshot stream, as the leader sent them.
    func writeStream(_ b: [UInt8]) throws(StorageError) {
        try emit(b)
        if var s = section {
            s.crc = CRC32C.checksum(b, crc: s.crc)
            section = s
        }
    }

    /// Drops the section begun last (its stream broke off), so the shard can be written again.
    func abandonSection() throws(StorageError) {
        guard let mark = sectionMark else { return }
        try file.rewind(to: mark.bytes)
        (bytes, crc) = mark
        section = nil
        sectionMark = nil
    }

    func endSection() throws(StorageError) {
        guard let s = section else { return }
        var w = BinaryWriter()
        w.write(BackupFormat.sectionEndTag)
        w.write(UInt32(s.shard.rawValue))
        w.write(UInt64(bytes - s.start))
        w.write(s.crc)
        try emit(BackupFormat.record(w.bytes))
        section = nil
        sectionMark = nil
        sections += 1
    }

    /// Writes the trailer, fsyncs and renames the file into place.
    func finish() throws(StorageError) {
        var w = BinaryWriter()
        w.write(BackupFormat.trailerTag)
        w.write(UInt32(sections))
        w.write(UInt64(bytes))
        w.write(crc)
        try emit(BackupFormat.record(w.bytes))
        try file.sync()
        try FileSystem.rename(tempPath, path)
    }

    func abort() { try? FileSystem.remove(tempPath) }
}

/// A damaged or unreadable backup file: what is wrong and where.
struct BackupFileError: Error, CustomStringConvertible {
    var path: String
    var offset: Int?
    var shard: ShardID?
    var reason: String
    /// The file could not be opened (absent, unreadable): not damage.
    var opening = false

    var description: String {
        var at: [String] = []
        if let shard { at.append("shard \(shard.rawValue)") }
        if let offset { at.append("offset \(offset)") }
        return "\(path): \(at.isEmpty ? "" : at.joined(separator: ", ") + ": ")\(reason)"
    }
}

/// One shard's section, checked.
struct BackupSection {
    var shard: ShardID
    var slotRanges: [SlotRange]
    var appliedIndex: UInt64
    /// Where the snapshot stream starts and how long it is.
    var streamOffset: Int
    var streamBytes: Int
    var stateBytes: Int
    var keys: Int
}

/// Reads and checks a whole backup file: the checksum of the whole file against the trailer,
/// then every record, every shard's snapshot stream chunk by chunk (checksums, zlib, end
/// marker), and the key-value state each stream decodes to. Memory: one shard's state.
struct BackupFileReader {
    let path: String
    let file: DurableFile
    let size: Int
    private(set) var header: BackupHeader
    private(set) var sections: [BackupSection] = []

    /// Opens and checks `path`. `decodeStates` false skips building each shard's state (the
    /// streams are still read and checked chunk by chunk).
    init(path: String, decodeStates: Bool = true, progress: ((Int, Int) -> Void)? = nil) throws(BackupFileError) {
        self.path = path
        let file: DurableFile
        do {
            file = try DurableFile(path: path, mode: .readOnly)
        } catch {
            throw BackupFileError(path: path, reason: error.reason, opening: true)
        }
        self.file = file
        let size = file.size
        self.size = size
        func fail(_ offset: Int?, _ shard: ShardID?, _ reason: String) -> BackupFileError {
            BackupFileError(path: path, offset: offset, shard: shard, reason: reason)
        }
        guard size >= BackupFormat.magic.count + 8 + BackupFormat.trailerBytes else {
            throw fail(nil, nil, "too short to be a backup (\(size) bytes)")
        }
        let magic = try Self.read(file, path, 0, 8)
        guard magic == BackupFormat.magic else { throw fail(0, nil, "not a MyStore backup (bad magic)") }

        // The trailer and the checksum of everything before it.
        let trailerAt = size - BackupFormat.trailerBytes
        let trailer = try Self.record(file, path, at: trailerAt, limit: BackupFormat.trailerBytes - 8, what: "trailer")
        var t = BinaryReader(trailer.body)
        let tag = (try? t.readBytes(8)) ?? []
        guard tag == BackupFormat.trailerTag, let sectionCount = try? t.readUInt32(), let covered = try? t.readUInt64(),
              let storedCRC = try? t.readUInt32(), t.remaining == 0 else {
            throw fail(trailerAt, nil, "the trailer is malformed (the file may be truncated)")
        }
        guard covered == UInt64(trailerAt) else {
            throw fail(trailerAt, nil, "the trailer covers \(covered) bytes but \(trailerAt) precede it (the file is truncated or extended)")
        }
        var crc: UInt32 = 0
        var at = 0
        while at < trailerAt {
            let n = min(4 << 20, trailerAt - at)
            crc = CRC32C.checksum(try Self.read(file, path, at, n), crc: crc)
            at += n
        }
        guard crc == storedCRC else {
            throw fail(nil, nil, "the file's checksum does not match its trailer: some byte before offset \(trailerAt) is damaged (the checks below name where)")
                .orLocated(by: { () throws(BackupFileError) in _ = try BackupFileReader.structure(file, path, size: size, trailerAt: trailerAt, decodeStates: false, progress: nil) })
        }

        let (h, s) = try Self.structure(file, path, size: size, trailerAt: trailerAt, decodeStates: decodeStates, progress: progress)
        guard s.count == Int(sectionCount) else {
            throw fail(trailerAt, nil, "the trailer counts \(sectionCount) sections, the file holds \(s.count)")
        }
        header = h
        sections = s
    }

    /// Walks the records and streams from the header to the trailer.
    private static func structure(_ file: DurableFile, _ path: String, size: Int, trailerAt: Int, decodeStates: Bool,
                                  progress: ((Int, Int) -> Void)?) throws(BackupFileError) -> (BackupHeader, [BackupSection]) {
        func fail(_ offset: Int?, _ shard: ShardID?, _ reason: String) -> BackupFileError {
            BackupFileError(path: path, offset: offset, shard: shard, reason: reason)
        }
        let h = try record(file, path, at: 8, limit: BackupFormat.maxRecord, what: "header")
        let header: BackupHeader
        do {
            header = try BackupHeader.decode(h.body)
        } catch {
            throw fail(8, nil, "undecodable header: \(error)")
        }
        var sections: [BackupSection] = []
        var at = h.next
        for info in header.shards {
            guard at < trailerAt else { throw fail(at, info.id, "the section of shard \(info.id.rawValue) is missing") }
            let sectionAt = at
            let head = try record(file, path, at: at, limit: BackupFormat.maxRecord, what: "section header", shard: info.id)
            var r = BinaryReader(head.body)
            var section: BackupSection
            do throws(DecodeError) {
                guard try r.readBytes(4) == BackupFormat.sectionTag else { throw DecodeError("not a section header") }
                let id = ShardID(rawValue: Int(try r.readUInt32()))
                let index = try r.readUInt64()
                let ranges = try BackupFormat.readRanges(&r)
                guard r.remaining == 0 else { throw DecodeError("trailing bytes") }
                guard id == info.id, ranges == info.slotRanges else {
                    throw DecodeError("holds \(id) with slots \(ranges), the header lists \(info.id) with \(info.slotRanges) here")
                }
                section = BackupSection(shard: id, slotRanges: ranges, appliedIndex: index, streamOffset: head.next, streamBytes: 0, stateBytes: 0, keys: 0)
            } catch {
                throw fail(sectionAt, info.id, "bad section header: \(error)")
            }

            // The shard's snapshot stream: every chunk checked and inflated, the state decoded.
            let reader: SnapshotReader
            do {
                reader = try SnapshotReader(file: file, at: section.streamOffset)
            } catch {
                throw fail(error.offset, info.id, "snapshot stream: \(error.reason)")
            }
            guard reader.group == GroupID(info.id.rawValue + 1), reader.metadata.index.rawValue == section.appliedIndex else {
                throw fail(section.streamOffset, info.id, "the snapshot stream is of group \(reader.group) at index \(reader.metadata.index), not of this shard at \(section.appliedIndex)")
            }
            var raw = 0
            let source: () throws -> [UInt8]? = {
                guard reader.position < trailerAt else { throw StorageError(path: path, offset: reader.position, reason: "the stream runs into the trailer") }
                let chunk = try reader.nextChunk()
                raw += chunk?.count ?? 0
                progress?(reader.position, size)
                return chunk
            }
            do {
                if decodeStates {
                    var kv = KVSettings()
                    kv.historyDepth = Int(Int32.max)
                    let state = KVStateMachine(settings: kv)
                    try state.restore(from: source)
                    section.keys = state.count
                } else {
                    while try source() != nil {}
                }
            } catch let e as StorageError {
                throw fail(e.offset, info.id, "snapshot stream: \(e.reason)")
            } catch {
                throw fail(reader.position, info.id, "the shard's state does not decode: \(error)")
            }
            guard let end = reader.endOffset else { throw fail(reader.position, info.id, "the snapshot stream has no end marker") }
            section.stateBytes = raw
            section.streamBytes = end - section.streamOffset

            let foot = try record(file, path, at: end, limit: BackupFormat.maxRecord, what: "section end", shard: info.id)
            var f = BinaryReader(foot.body)
            guard (try? f.readBytes(4)) == BackupFormat.sectionEndTag, let id = try? f.readUInt32(), let length = try? f.readUInt64(),
                  let streamCRC = try? f.readUInt32(), f.remaining == 0 else {
                throw fail(end, info.id, "malformed section end")
            }
            guard Int(id) == info.id.rawValue, length == UInt64(section.streamBytes), streamCRC == reader.streamChecksum else {
                throw fail(end, info.id, "the section end does not match the stream before it (shard \(id), \(length) bytes)")
            }
            sections.append(section)
            at = foot.next
        }
        guard at == trailerAt else { throw fail(at, nil, "\(trailerAt - at) unexpected bytes between the last section and the trailer") }
        return (header, sections)
    }

    private static func read(_ file: DurableFile, _ path: String, _ offset: Int, _ count: Int) throws(BackupFileError) -> [UInt8] {
        do {
            return try file.read(at: offset, count: count)
        } catch {
            throw BackupFileError(path: path, offset: offset, reason: "read failed: \(error.reason)")
        }
    }

    /// A checksummed record at `offset`: its body and the offset after it.
    private static func record(_ file: DurableFile, _ path: String, at offset: Int, limit: Int, what: String,
                               shard: ShardID? = nil) throws(BackupFileError) -> (body: [UInt8], next: Int) {
        let frame = try read(file, path, offset, 8)
        guard frame.count == 8 else { throw BackupFileError(path: path, offset: offset, shard: shard, reason: "truncated: \(what) missing") }
        var fr = BinaryReader(frame)
        let n = Int((try? fr.readUInt32()) ?? 0), crc = (try? fr.readUInt32()) ?? 0
        guard n <= limit else { throw BackupFileError(path: path, offset: offset, shard: shard, reason: "\(what): implausible length \(n)") }
        let body = try read(file, path, offset + 8, n)
        guard body.count == n else { throw BackupFileError(path: path, offset: offset, shard: shard, reason: "truncated \(what)") }
        guard CRC32C.checksum(body) == crc else { throw BackupFileError(path: path, offset: offset, shard: shard, reason: "\(what) checksum mismatch") }
        return (body, offset + 8 + n)
    }

    /// Copies `count` bytes at `offset` to `sink` in blocks of at most 4 MiB.
    func copy(offset: Int, count: Int, to sink: ([UInt8]) throws(StorageError) -> Void) throws(BackupFileError) {
        var at = offset
        while at < offset + count {
            let n = min(4 << 20, offset + count - at)
            let block = try Self.read(file, path, at, n)
            guard block.count == n else { throw BackupFileError(path: path, offset: at, reason: "truncated") }
            do {
                try sink(block)
            } catch {
                throw BackupFileError(path: error.path, offset: nil, reason: error.reason)
            }
            at += n
        }
    }
}

extension BackupFileError {
    /// This error, or a more precise one when `locate` (a walk of the structure) finds where
    /// the damage is.
    func orLocated(by locate: () throws(BackupFileError) -> Void) -> BackupFileError {
        do {
            try locate()
            return self
        } catch {
            return BackupFileError(path: error.path, offset: error.offset, shard: error.shard,
                                   reason: error.reason + " (the file's checksum does not match either)")
        }
    }
}
