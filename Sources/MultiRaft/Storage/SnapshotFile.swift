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

/// Encodes a snapshot stream (the bytes of a snapshot file) and hands it to `emit` piece by
/// piece: the magic and header at once, then one frame per compressed chunk, then the end
/// marker. `SnapshotWriter` emits into a file; a backup emits into a network reply.
public final class SnapshotEncoder {
    private let emit: ([UInt8]) throws -> Void
    private let chunkSize: Int
    private let level: Int32
    private var pending: [UInt8] = []
    private var compressed: [UInt8] = []
    public private(set) var rawBytes = 0
    public private(set) var streamBytes = 0

    public init(group: GroupID, metadata: SnapshotMetadata, chunkSize: Int = 1 << 20, compressionLevel: Int32 = 6,
                emit: @escaping ([UInt8]) throws -> Void) throws {
        self.emit = emit
        self.chunkSize = chunkSize
        self.level = compressionLevel
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
        try send(out.bytes)
    }

    private func send(_ bytes: [UInt8]) throws {
        try emit(bytes)
        streamBytes += bytes.count
    }

    /// Adds state-machine bytes; full chunks are compressed and emitted as they fill.
    public func write(_ bytes: [UInt8]) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(chunkSize - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if pending.count == chunkSize { try flushChunk() }
        }
    }

    private func flushChunk() throws {
        guard !pending.isEmpty else { return }
        let bound = Int(compressBound(uLong(pending.count)))
        if compressed.count < bound { compressed = [UInt8](repeating: 0, count: bound) }
        var outLen = uLongf(bound)
        let rc = compressed.withUnsafeMutableBufferPointer { out in
            pending.withUnsafeBufferPointer { src in
                compress2(out.baseAddress, &outLen, src.baseAddress, uLong(src.count), level)
            }
        }
        guard rc == Z_OK else { throw StorageError(path: "", reason: "zlib compress2 failed with code \(rc)") }
        let n = Int(outLen)
        var frame = BinaryWriter(capacity: 12 + n)
        frame.write(UInt32(pending.count))
        frame.write(UInt32(n))
        frame.write(CRC32C.checksum(compressed[0..<n]))
        frame.write(Array(compressed[0..<n]))
        try send(frame.bytes)
        rawBytes += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// Adds a chunk frame exactly as a `SnapshotReader` read it (`lastFrame`), holding
    /// `rawCount` bytes of state: copying a snapshot's chunks without compressing them again.
    public func writeFrame(_ frame: [UInt8], rawCount: Int) throws {
        try flushChunk()
        try send(frame)
        rawBytes += rawCount
    }

    /// Emits the last chunk and the end marker.
    public func finish() throws {
        try flushChunk()
        var total = BinaryWriter()
        total.write(UInt64(rawBytes))
        var end = BinaryWriter()
        end.write(UInt32(0))
        end.write(UInt32(8))
        end.write(CRC32C.checksum(total.bytes))
        end.write(total.bytes)
        try send(end.bytes)
    }
}

/// Writes one snapshot file: to a temporary name, fsynced, then renamed into place.
public final class SnapshotWriter {
    public let finalPath: String
    let tempPath: String
    let directory: String
    private let file: DurableFile
    private var encoder: SnapshotEncoder!
    public var rawBytes: Int { encoder.rawBytes }
    public var fileBytes: Int { encoder.streamBytes }

    public init(directory: String, group: GroupID, metadata: SnapshotMetadata,
                chunkSize: Int = 1 << 20, compressionLevel: Int32 = 6) throws(StorageError) {
        self.directory = directory
        try FileSystem.makeDirectory(directory)
        finalPath = directory + "/" + SnapshotFormat.fileName(group: group, index: metadata.index)
        tempPath = finalPath + ".tmp"
        let file = try DurableFile(path: tempPath, mode: .truncateCreate)
        self.file = file
        encoder = try Self.storage(tempPath) {
            try SnapshotEncoder(group: group, metadata: metadata, chunkSize: chunkSize, compressionLevel: compressionLevel) { try file.append($0) }
        }
    }

    /// Runs `body`, reporting any failure as a `StorageError` of `path`.
    private static func storage<T>(_ path: String, _ body: () throws -> T) throws(StorageError) -> T {
        do {
            return try body()
        } catch let e as StorageError {
            throw e.path.isEmpty ? StorageError(path: path, offset: e.offset, reason: e.reason) : e
        } catch {
            throw StorageError(path: path, reason: "\(error)")
        }
    }

    /// Adds state-machine bytes; full chunks are compressed and written as they fill.
    public func write(_ bytes: [UInt8]) throws(StorageError) {
        try Self.storage(tempPath) { try encoder.write(bytes) }
    }

    /// See `SnapshotEncoder.writeFrame`.
    public func writeFrame(_ frame: [UInt8], rawCount: Int) throws(StorageError) {
        try Self.storage(tempPath) { try encoder.writeFrame(frame, rawCount: rawCount) }
    }

    /// Completes the file: last chunk, end marker, fsync, rename, directory fsync.
    @discardableResult
    public func finish() throws(StorageError) -> String {
        try Self.storage(tempPath) { try encoder.finish() }
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

    public convenience init(path: String) throws(StorageError) {
        try self.init(file: try DurableFile(path: path, mode: .readOnly), at: 0)
    }

    /// Reads a snapshot stream that starts at `base` in `file` (a snapshot file, or a section
    /// of a larger file such as a backup). Errors name absolute offsets in `file`.
    public init(file: DurableFile, at base: Int) throws(StorageError) {
        let path = file.path
        self.path = path
        self.file = file
        let magic = try file.read(at: base, count: 8)
        guard magic == SnapshotFormat.magic else {
            throw StorageError(path: path, offset: base, reason: "not a MyStore snapshot (bad magic)")
        }
        let lens = try file.read(at: base + 8, count: 8)
        guard lens.count == 8 else { throw StorageError(path: path, offset: base + 8, reason: "truncated header") }
        let hlen = Int(WriteAheadLog.readU32(lens, 0)), hcrc = WriteAheadLog.readU32(lens, 4)
        guard hlen <= 1 << 20 else { throw StorageError(path: path, offset: base + 8, reason: "implausible header length \(hlen)") }
        let h = try file.read(at: base + 16, count: hlen)
        guard h.count == hlen, CRC32C.checksum(h) == hcrc else {
            throw StorageError(path: path, offset: base + 16, reason: "header checksum mismatch")
        }
        var r = BinaryReader(h)
        do throws(DecodeError) {
            group = try r.readUInt64()
            let index = try r.read(LogIndex.self)
            let term = try r.read(Term.self)
            metadata = SnapshotMetadata(index: index, term: term, configuration: try Configuration.decode(from: &r))
        } catch {
            throw StorageError(path: path, offset: base + 16, reason: "undecodable header: \(error)")
        }
        offset = base + 16 + hlen
        streamChecksum = CRC32C.checksum(h, crc: CRC32C.checksum(lens, crc: CRC32C.checksum(magic)))
    }

    /// CRC-32C of every stream byte read so far (magic, header, chunk frames, end marker).
    public private(set) var streamChecksum: UInt32 = 0
    /// The frame (header and compressed bytes) of the chunk `nextChunk` returned last.
    public private(set) var lastFrame: [UInt8] = []

    /// Where the stream ends in the file: the offset just past the end marker, once
    /// `nextChunk` returned nil.
    public var endOffset: Int? { finished ? offset : nil }

    /// Compressed bytes read so far, frames included (for progress reports).
    public var position: Int { offset }

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
        streamChecksum = CRC32C.checksum(body, crc: CRC32C.checksum(head, crc: streamChecksum))
        lastFrame = head + body
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
