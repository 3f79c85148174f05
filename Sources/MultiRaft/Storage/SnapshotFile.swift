import CZlib

/// The on-disk snapshot format. A snapshot is a stream of state-machine bytes cut into chunks
/// (about 1 MiB), each deflated with zlib on its own and checksummed, so both writing and
/// reading hold one chunk in memory whatever the snapshot's size.
///
///     "MYSNAP1\n"
///     header: [length u32][crc32c u32][group u64][index u64][term u64][configuration]
///     chunk*: [raw length u32][compressed length u32][crc32c of compressed u32][compressed]
///     end:    [0 u32][8 u32][crc32c u32][total raw bytes u64]
public enum SnapshotFormat {
    static let magic: [UInt8] = Array("MYSNAP1\n".utf8)
    /// Upper bound on one chunk's raw size accepted when reading (bytes).
    static let maxChunk = 64 << 20

    public static func fileName(group: GroupID, index: LogIndex) -> String {
        "snap-\(hex(group))-\(hex(index.rawValue)).snap"
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
}

/// Writes one snapshot file: to a temporary name, fsynced, then renamed into place.
public final class SnapshotWriter {
    public let finalPath: String
    let tempPath: String
    let directory: String
    private let file: DurableFile
    private let chunkSize: Int
    private let level: Int32
    private var pending: [UInt8] = []
    private var compressed: [UInt8] = []
    private var header = BinaryWriter()
    public private(set) var rawBytes = 0
    public private(set) var fileBytes = 0

    public init(directory: String, group: GroupID, metadata: SnapshotMetadata,
                chunkSize: Int = 1 << 20, compressionLevel: Int32 = 6) throws(StorageError) {
        self.directory = directory
        self.chunkSize = chunkSize
        self.level = compressionLevel
        try FileSystem.makeDirectory(directory)
        finalPath = directory + "/" + SnapshotFormat.fileName(group: group, index: metadata.index)
        tempPath = finalPath + ".tmp"
        file = try DurableFile(path: tempPath, mode: .truncateCreate)
        pending.reserveCapacity(chunkSize)
        var h = BinaryWriter()
        h.write(group)
        h.write(metadata.index)
        h.write(metadata.term)
        metadata.configuration.encode(into: &h)
        var out = BinaryWriter()
        out.write(SnapshotFormat.magic)
        out.write(UInt32(h.bytes.count))
        out.write(CRC32C.checksum(h.bytes))
        out.write(h.bytes)
        try emit(out.bytes)
    }

    private func emit(_ bytes: [UInt8]) throws(StorageError) {
        try file.append(bytes)
        fileBytes += bytes.count
    }

    /// Adds state-machine bytes; full chunks are compressed and written as they fill.
    public func write(_ bytes: [UInt8]) throws(StorageError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(chunkSize - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if pending.count == chunkSize { try flushChunk() }
        }
    }

    private func flushChunk() throws(StorageError) {
        guard !pending.isEmpty else { return }
        let bound = Int(compressBound(uLong(pending.count)))
        if compressed.count < bound { compressed = [UInt8](repeating: 0, count: bound) }
        var outLen = uLongf(bound)
        let rc = compressed.withUnsafeMutableBufferPointer { out in
            pending.withUnsafeBufferPointer { src in
                compress2(out.baseAddress, &outLen, src.baseAddress, uLong(src.count), level)
            }
        }
        guard rc == Z_OK else { throw StorageError(path: tempPath, reason: "zlib compress2 failed with code \(rc)") }
        let n = Int(outLen)
        var frame = BinaryWriter(capacity: 12 + n)
        frame.write(UInt32(pending.count))
        frame.write(UInt32(n))
        frame.write(CRC32C.checksum(compressed[0..<n]))
        frame.write(Array(compressed[0..<n]))
        try emit(frame.bytes)
        rawBytes += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// Completes the file: last chunk, end marker, fsync, rename, directory fsync.
    @discardableResult
    public func finish() throws(StorageError) -> String {
        try flushChunk()
        var total = BinaryWriter()
        total.write(UInt64(rawBytes))
        var end = BinaryWriter()
        end.write(UInt32(0))
        end.write(UInt32(8))
        end.write(CRC32C.checksum(total.bytes))
        end.write(total.bytes)
        try emit(end.bytes)
        try file.sync()
        try FileSystem.rename(tempPath, finalPath)
        try FileSystem.syncDirectory(directory)
        return finalPath
    }

    /// Abandons the file.
    public func abort() { try? FileSystem.remove(tempPath) }
}

/// Reads a snapshot file chunk by chunk, verifying every checksum.
public final class SnapshotReader {
    public let path: String
    public let group: GroupID
    public let metadata: SnapshotMetadata
    private let file: DurableFile
    private var offset: Int
    private var rawSeen = 0
    private var finished = false

    public init(path: String) throws(StorageError) {
        self.path = path
        file = try DurableFile(path: path, mode: .readOnly)
        let magic = try file.read(at: 0, count: 8)
        guard magic == SnapshotFormat.magic else {
            throw StorageError(path: path, offset: 0, reason: "not a MyStore snapshot (bad magic)")
        }
        let lens = try file.read(at: 8, count: 8)
        guard lens.count == 8 else { throw StorageError(path: path, offset: 8, reason: "truncated header") }
        let hlen = Int(WriteAheadLog.readU32(lens, 0)), hcrc = WriteAheadLog.readU32(lens, 4)
        guard hlen <= 1 << 20 else { throw StorageError(path: path, offset: 8, reason: "implausible header length \(hlen)") }
        let h = try file.read(at: 16, count: hlen)
        guard h.count == hlen, CRC32C.checksum(h) == hcrc else {
            throw StorageError(path: path, offset: 16, reason: "header checksum mismatch")
        }
        var r = BinaryReader(h)
        do throws(DecodeError) {
            group = try r.readUInt64()
            let index = try r.read(LogIndex.self)
            let term = try r.read(Term.self)
            metadata = SnapshotMetadata(index: index, term: term, configuration: try Configuration.decode(from: &r))
        } catch {
            throw StorageError(path: path, offset: 16, reason: "undecodable header: \(error)")
        }
        offset = 16 + hlen
    }

    /// The next chunk of state-machine bytes, or nil after the verified end marker.
    public func nextChunk() throws(StorageError) -> [UInt8]? {
        if finished { return nil }
        let head = try file.read(at: offset, count: 12)
        guard head.count == 12 else { throw StorageError(path: path, offset: offset, reason: "truncated: chunk header missing") }
        let raw = Int(WriteAheadLog.readU32(head, 0)), comp = Int(WriteAheadLog.readU32(head, 4)), crc = WriteAheadLog.readU32(head, 8)
        guard raw <= SnapshotFormat.maxChunk, comp <= SnapshotFormat.maxChunk + 1024 else {
            throw StorageError(path: path, offset: offset, reason: "implausible chunk size \(raw)/\(comp)")
        }
        let body = try file.read(at: offset + 12, count: comp)
        guard body.count == comp else { throw StorageError(path: path, offset: offset, reason: "truncated chunk") }
        guard CRC32C.checksum(body) == crc else { throw StorageError(path: path, offset: offset, reason: "chunk checksum mismatch") }
        let at = offset
        offset += 12 + comp
        if raw == 0 {
            guard comp == 8, Int(WriteAheadLog.readU32(body, 0)) | Int(WriteAheadLog.readU32(body, 4)) << 32 == rawSeen else {
                throw StorageError(path: path, offset: at, reason: "end marker does not match the \(rawSeen) bytes read")
            }
            finished = true
            return nil
        }
        var out = [UInt8](repeating: 0, count: raw)
        var outLen = uLongf(raw)
        let rc = out.withUnsafeMutableBufferPointer { o in
            body.withUnsafeBufferPointer { b in uncompress(o.baseAddress, &outLen, b.baseAddress, uLong(b.count)) }
        }
        guard rc == Z_OK, Int(outLen) == raw else {
            throw StorageError(path: path, offset: at, reason: "chunk does not inflate (zlib code \(rc))")
        }
        rawSeen += raw
        return out
    }

    /// Reads everything (for small snapshots and tests).
    public func readAll() throws(StorageError) -> [UInt8] {
        var all: [UInt8] = []
        while let c = try nextChunk() { all.append(contentsOf: c) }
        return all
    }
}
