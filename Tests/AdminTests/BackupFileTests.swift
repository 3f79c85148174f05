import Foundation
import KVStore
import MultiRaft
import ShardRouter
import Testing
@testable import Admin

/// The backup file format: what the writer writes reads back, and every damage (a flipped
/// byte anywhere, a truncation at any length, garbage) is an error naming where, never a crash.
@Suite("backup file: format, damage, restore manifest")
struct BackupFileTests {
    static let ranges = [[SlotRange(0, 8191)!], [SlotRange(8192, 16383)!]]
    static let node = NodeAddress(host: "127.0.0.1", port: 7001)!

    /// A backup of two shards holding `keys` keys each, written by the real writer from real
    /// state machines through the snapshot encoder in small chunks (many chunk frames).
    static func makeBackup(_ path: String, keys: Int = 40) throws {
        let header = BackupHeader(createdMillis: 1_700_000_000_000, metaIndex: 9,
                                  shards: ranges.enumerated().map { .init(id: ShardID(rawValue: $0), slotRanges: $1) })
        let writer = try BackupFileWriter(path: path, header: header)
        for (k, r) in ranges.enumerated() {
            let sm = KVStateMachine()
            for i in 0..<keys {
                let request = KVRequest(timestampMillis: 1_000, command: .append(key: Array("s\(k)-key\(i)".utf8), value: Array("value \(i)".utf8)))
                _ = sm.apply(index: LogIndex(rawValue: UInt64(i + 1)), data: request.encoded())
            }
            try writer.beginSection(shard: ShardID(rawValue: k), slotRanges: r, appliedIndex: UInt64(keys))
            let encoder = try SnapshotEncoder(group: GroupID(k + 1), metadata: SnapshotMetadata(index: LogIndex(rawValue: UInt64(keys)), term: 0, configuration: Configuration()),
                                              chunkSize: 200, compressionLevel: 1) { try writer.writeStream($0) }
            try sm.writeSnapshot { try encoder.write($0) }
            try encoder.finish()
            try writer.endSection()
        }
        try writer.finish()
    }

    static func temp(_ name: String) -> String { NSTemporaryDirectory() + "/mystore-backup-test-\(getpid())-\(name)" }

    @Test func roundTrip() throws {
        let path = Self.temp("ok")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.makeBackup(path)
        let r = try BackupFileReader(path: path)
        #expect(r.header.metaIndex == 9 && r.header.shards.count == 2)
        #expect(r.sections.map(\.keys) == [40, 40])
        #expect(r.sections.map(\.appliedIndex) == [40, 40])
        #expect(r.sections.map(\.slotRanges) == Self.ranges)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    /// A shard whose stream broke off is dropped from the file and written again.
    @Test func anAbandonedSectionLeavesNoTrace() throws {
        let path = Self.temp("abandon")
        let reference = Self.temp("abandon-ref")
        defer { for p in [path, reference] { try? FileManager.default.removeItem(atPath: p) } }
        try Self.makeBackup(reference)
        let header = try BackupFileReader(path: reference).header
        let writer = try BackupFileWriter(path: path, header: header)
        try writer.beginSection(shard: ShardID(rawValue: 0), slotRanges: Self.ranges[0], appliedIndex: 40)
        try writer.writeStream(Array(repeating: 0xAB, count: 5_000))
        try writer.abandonSection()
        // The sections as the reference file holds them, copied after the abandoned one.
        let ref = try BackupFileReader(path: reference)
        for s in ref.sections {
            try writer.beginSection(shard: s.shard, slotRanges: s.slotRanges, appliedIndex: s.appliedIndex)
            try ref.copy(offset: s.streamOffset, count: s.streamBytes) { (b: [UInt8]) throws(StorageError) in try writer.writeStream(b) }
            try writer.endSection()
        }
        try writer.finish()
        let r = try BackupFileReader(path: path)
        #expect(r.sections.map(\.keys) == [40, 40])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: URL(fileURLWithPath: reference)))
    }

    @Test func everyFlippedByteIsCaught() throws {
        let path = Self.temp("flip")
        let bad = Self.temp("flip-bad")
        defer { for p in [path, bad] { try? FileManager.default.removeItem(atPath: p) } }
        try Self.makeBackup(path, keys: 12)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var uncaught: [Int] = []
        for position in 0..<original.count {
            var d = original
            d[position] ^= UInt8(1 << (position % 8))
            try d.write(to: URL(fileURLWithPath: bad))
            do {
                _ = try BackupFileReader(path: bad)
                uncaught.append(position)
            } catch {
                #expect(error.offset != nil || error.reason.contains("checksum"), "\(error)")
            }
        }
        #expect(uncaught.isEmpty, "flipped bytes not caught at \(uncaught.prefix(10)) of \(original.count)")
    }

    @Test func damageNamesTheShardAndOffset() throws {
        let path = Self.temp("where")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.makeBackup(path)
        let r = try BackupFileReader(path: path)
        var d = try Data(contentsOf: URL(fileURLWithPath: path))
        let inside = r.sections[1].streamOffset + r.sections[1].streamBytes / 2
        d[inside] ^= 0xFF
        try d.write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: BackupFileError.self) { try BackupFileReader(path: path) }
        #expect(error.shard == ShardID(rawValue: 1), "\(error)")
        #expect(error.offset != nil && error.offset! <= inside, "\(error)")
        #expect("\(error)".contains("shard 1"))
    }

    @Test func everyTruncationIsCaught() throws {
        let path = Self.temp("cut")
        let bad = Self.temp("cut-bad")
        defer { for p in [path, bad] { try? FileManager.default.removeItem(atPath: p) } }
        try Self.makeBackup(path, keys: 12)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in 0..<original.count {
            try original.prefix(length).write(to: URL(fileURLWithPath: bad))
            #expect(throws: BackupFileError.self, "cut at \(length)") { try BackupFileReader(path: bad) }
        }
        // Bytes appended after the trailer are damage too.
        try (original + Data([0])).write(to: URL(fileURLWithPath: bad))
        #expect(throws: BackupFileError.self) { try BackupFileReader(path: bad) }
    }

    @Test func garbageIsRefused() throws {
        let bad = Self.temp("garbage")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        var rng = SystemRandomNumberGenerator()
        for size in [0, 1, 8, 20, 36, 100, 4096, 70_000] {
            for withMagic in [false, true] {
                var bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if withMagic && size >= 8 { bytes.replaceSubrange(0..<8, with: BackupFormat.magic) }
                try Data(bytes).write(to: URL(fileURLWithPath: bad))
                #expect(throws: BackupFileError.self) { try BackupFileReader(path: bad) }
            }
        }
        #expect(throws: BackupFileError.self) { try BackupFileReader(path: Self.temp("does-not-exist")) }
    }

    @Test func restoreManifestRoundTripsAndRefusesGarbage() throws {
        let m = RestoreManifest(shards: [.init(shard: ShardID(rawValue: 0), slotRanges: [SlotRange(0, 100)!, SlotRange(200, 300)!], appliedIndex: 7),
                                         .init(shard: ShardID(rawValue: 1), slotRanges: [SlotRange(101, 199)!], appliedIndex: 0)])
        #expect(try RestoreManifest(parsing: m.encoded) == m)
        for text in ["", "mystore-restore v1", "mystore-restore v1\nshards 2\nshard 0 0-100 7\n", "mystore-restore v1\nshards x\n",
                     "mystore-restore v1\nshards 1\nshard 0 100-0 7\n", "mystore-restore v1\nshards 1\nshard 0 0-99999 7\n",
                     "mystore-restore v2\nshards 1\nshard 0 0-1 1\n", "mystore-restore v1\nshards 1\nshard -1 0-1 1\n"] {
            #expect(throws: RestoreManifestError.self, "\(text)") { try RestoreManifest(parsing: text) }
        }
        let map = try ShardMap(shards: [Shard(id: ShardID(rawValue: 0), slotRanges: [SlotRange(0, 8191)!], replicas: [Self.node]),
                                        Shard(id: ShardID(rawValue: 1), slotRanges: [SlotRange(8192, 16383)!], replicas: [Self.node])])
        let same = RestoreManifest(shards: map.shards.map { .init(shard: $0.id, slotRanges: $0.slotRanges, appliedIndex: 1) })
        #expect(same.mismatch(with: map) == nil)
        #expect(m.mismatch(with: map) != nil)
    }

    @Test func parsesBackupAndRestoreCommands() throws {
        let save = try #require(try AdminCommand.parseAsRoot(["backup", "out.bak", "--endpoint", "127.0.0.1:7001"]) as? BackupSave)
        #expect(save.file == "out.bak" && save.cluster.endpoints == ["127.0.0.1:7001"])
        let verify = try #require(try AdminCommand.parseAsRoot(["backup", "verify", "out.bak"]) as? BackupVerify)
        #expect(verify.file == "out.bak")
        let restore = try #require(try AdminCommand.parseAsRoot(["restore", "out.bak", "--membership", "m", "--data-dir-root", "d"]) as? RestoreCommand)
        #expect(restore.membership == "m" && restore.dataDirRoot == "d")
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["restore", "out.bak", "--membership", "m"]) }
    }
}
