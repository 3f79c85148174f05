import Foundation
import KVStore
import MultiRaft
import MyStoreClient
import NIOCore
import NIOEmbedded
import ShardRouter
@testable import KVStore
@testable import MultiRaft
@testable import Admin
@testable import Server

/// Every decoder that reads bytes from outside the process: clients, peers, disk, operators.
extension FuzzTarget {
    static let all: [FuzzTarget] = [
        respServer, respClient, peerFrame, raftMessage, walRecords, walRecovery, snapshotFile, kvSnapshot, kvRequest,
        nodeConfig, membership, backupFile, restoreManifest,
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    // MARK: RESP

    static let respSeeds: [[UInt8]] = [
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", "PING\r\n", "SET k v NX\r\n",
        "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nIFEQ\r\n$1\r\nu\r\n*1\r\n$4\r\nPING\r\n", "*0\r\n\r\n*1\r\n$0\r\n\r\n",
        "*2\r\n$4\r\nINCR\r\n$2\r\nk1\r\n*2\r\n$3\r\nDEL\r\n$2\r\nk1\r\n", "GET \"quoted key\" 'x'\r\n",
    ].map { Array($0.utf8) }

    /// The server's request decoder, fed the input in two steps (incomplete requests).
    static let respServer = FuzzTarget(name: "resp-server", seeds: respSeeds) { bytes in
        var decoder = RESPDecoder(limits: RESPLimits(maxRequestBytes: 1 << 16, maxArguments: 1024, maxInlineBytes: 4096))
        var buffer = ByteBuffer(bytes: bytes[..<(bytes.count / 2)])
        var commands = 0
        do {
            while try decoder.decode(buffer: &buffer) != nil { commands += 1 }
            buffer.writeBytes(bytes[(bytes.count / 2)...])
            while try decoder.decode(buffer: &buffer) != nil { commands += 1 }
            return true
        } catch {
            return false
        }
    }

    static let replySeeds: [[UInt8]] = [
        "+OK\r\n", "-ERR bad\r\n", ":42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "*-1\r\n",
        "*3\r\n*2\r\n:1\r\n$1\r\nx\r\n*0\r\n+PONG\r\n", "*2\r\n:0\r\n*2\r\n*3\r\n:0\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n",
    ].map { Array($0.utf8) }

    /// The client library's reply parser, fed in two appends.
    static let respClient = FuzzTarget(name: "resp-client", seeds: replySeeds) { bytes in
        var parser = RESPParser(maxBulkBytes: 1 << 20, maxNestingDepth: 32)
        do {
            parser.append(bytes[..<(bytes.count / 2)])
            while try parser.next() != nil {}
            parser.append(bytes[(bytes.count / 2)...])
            while try parser.next() != nil {}
            return true
        } catch {
            return false
        }
    }

    // MARK: Peers

    static func sampleMessages() -> [Message] {
        var append = Message(kind: .append, from: 1, to: 2, term: 3)
        append.logTerm = 2
        append.index = 10
        append.commit = 9
        append.entries = [Entry(term: 3, index: 11, data: Array("payload".utf8)), Entry(term: 3, index: 12, kind: .confChange, data: [1, 2, 3])]
        var response = Message(kind: .appendResponse, from: 2, to: 1, term: 3)
        response.reject = true
        response.rejectHint = 7
        var heartbeat = Message(kind: .heartbeat, from: 1, to: 3, term: 3)
        heartbeat.context = Array("read-7".utf8)
        var snapshot = Message(kind: .snapshot, from: 1, to: 2, term: 4)
        var conf = Configuration()
        conf.voters = [1, 2, 3]
        conf.learners = [4]
        conf.retired = [9]
        snapshot.snapshot = Snapshot(metadata: SnapshotMetadata(index: 50, term: 4, configuration: conf), data: [9, 9, 9])
        return [append, response, heartbeat, snapshot, Message(kind: .vote, from: 3, to: 1, term: 5)]
    }

    /// Peer frame bodies (without the 8-byte length and CRC header).
    static var peerBodies: [[UInt8]] {
        let frames: [PeerFrame] = [
            .hello(node: 2, cluster: 0xABCDEF),
            .raft(sampleMessages().enumerated().map { (group: UInt64($0.offset), message: $0.element) }),
            .forward(id: 7, hops: 1, budgetMillis: 4_000, arguments: [Array("SET".utf8), Array("k".utf8), Array("v".utf8)]),
            .reply(id: 7, resp: Array("+OK\r\n".utf8)),
            .groupRequest(id: 8, group: 3, op: .confChange(.addLearner(12))),
            .groupRequest(id: 9, group: 3, op: .transfer(2)),
            .groupReply(id: 8, result: .progress(ReplicaProgress(leader: 1, term: 4, lastIndex: 90, commitIndex: 88, voters: [1, 2, 3],
                                                                  learners: [12], isJoint: false, match: [1: 90, 2: 90, 3: 70, 12: 5],
                                                                  active: [1, 2, 12], snapshotting: [12]))),
            .groupReply(id: 9, result: .failed("not the leader of group 3")),
        ]
        return frames.map { Array($0.encoded().dropFirst(8)) }
    }

    /// The peer stream decoder in a channel: length, checksum, then the frame.
    static let peerFrame = FuzzTarget(name: "peer-frame", seeds: peerBodies.map { [0, 0, 0, 0, 0, 0, 0, 0] + $0 },
                                      repair: { b in
                                          guard b.count >= 8 else { return }
                                          writeU32(&b, 0, UInt32(b.count - 8))
                                          repairFrames(&b, from: 0)
                                      }) { bytes in
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerFrameDecoder()))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes[..<(bytes.count / 2)]))
            try channel.writeInbound(ByteBuffer(bytes: bytes[(bytes.count / 2)...]))
            var frames = 0
            while try channel.readInbound(as: PeerFrame.self) != nil { frames += 1 }
            return frames > 0
        } catch {
            return false
        }
    }

    /// Raft messages as the codec reads them from a frame (several in a row).
    static let raftMessage = FuzzTarget(name: "raft-message", seeds: sampleMessages().map { m in
        var w = BinaryWriter()
        m.encode(into: &w)
        return w.bytes
    }) { bytes in
        var r = BinaryReader(bytes)
        do {
            while r.remaining > 0 { _ = try Message.decode(from: &r) }
            return true
        } catch {
            return false
        }
    }

    // MARK: Disk

    static var walSegment: [UInt8] {
        var w = BinaryWriter()
        let records: [WALRecord] = [
            .hardState(group: 0, state: HardState(term: 3, vote: 1, commit: 10)),
            .entries(group: 1, entries: [Entry(term: 1, index: 1, data: [1, 2]), Entry(term: 2, index: 2, kind: .confChange, data: [3])]),
            .entries(group: 1, entries: [Entry(term: 2, index: 2, data: Array("overwrite".utf8))]),
            .compacted(group: 1, through: 1),
            .installedSnapshot(group: 2, index: 40),
            .removed(group: 3),
        ]
        for r in records { r.encode(into: &w) }
        return w.bytes
    }

    /// The WAL's record reader over a whole segment's bytes, as recovery walks it (including
    /// the search for valid records after a damaged one).
    static let walRecords = FuzzTarget(name: "wal-records", seeds: [walSegment], repair: { repairFrames(&$0, from: 0) }) { bytes in
        var offset = 0
        while offset < bytes.count {
            switch WriteAheadLog.parse(bytes, at: offset, maxRecord: 1 << 20) {
            case .record(_, let next): offset = next
            case .bad:
                _ = WriteAheadLog.hasValidRecord(bytes, after: offset, maxRecord: 1 << 20)
                return false
            }
        }
        return true
    }

    /// Whole WAL recovery from a segment file holding the input (tail repair included).
    static let walRecovery: FuzzTarget = {
        let dir = scratchDirectory("wal")
        return FuzzTarget(name: "wal-recovery", seeds: [walSegment], repair: { repairFrames(&$0, from: 0) }, maxLength: 1 << 14) { bytes in
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: dir + "/" + WriteAheadLog.segmentName(1), contents: Data(bytes))
            var settings = WALSettings(directory: dir)
            settings.maxRecordBytes = 1 << 20
            return (try? WriteAheadLog(settings: settings)) != nil
        }
    }()

    /// KV snapshot streams of a few states.
    static var kvSnapshots: [[UInt8]] {
        var result: [[UInt8]] = []
        let machine = KVStateMachine()
        var index: LogIndex = 0
        func apply(_ c: KVCommand, client: UInt64 = 0, seq: UInt64 = 0) {
            index += 1
            _ = machine.apply(index: index, data: KVRequest(clientID: client, sequence: seq, timestampMillis: 1000 + index.rawValue, command: c).encoded())
        }
        for round in 0..<3 {
            apply(.set(key: Array("a\(round)".utf8), value: Array("v".utf8), condition: .always, expiry: .none, returnOld: false))
            apply(.set(key: Array("b".utf8), value: Array("\(round)".utf8), condition: .always, expiry: .afterMillis(50_000), returnOld: false), client: 5, seq: UInt64(round + 1))
            apply(.incrementBy(key: Array("n".utf8), delta: 3))
            apply(.delete(keys: [Array("a0".utf8)]))
            var out: [UInt8] = []
            machine.writeSnapshot { out.append(contentsOf: $0) }
            result.append(out)
        }
        return result
    }

    /// The key-value state machine's snapshot decoder, fed in pieces.
    static let kvSnapshot = FuzzTarget(name: "kv-snapshot", seeds: kvSnapshots) { bytes in
        let machine = KVStateMachine()
        var pieces = stride(from: 0, to: bytes.count, by: 97).map { Array(bytes[$0..<min(bytes.count, $0 + 97)]) }[...]
        do {
            try machine.restore { pieces.popFirst() }
            return true
        } catch {
            return false
        }
    }

    /// Snapshot files (header, zlib chunks, end marker) holding KV snapshots, in small chunks.
    static let snapshotFile: FuzzTarget = {
        let dir = scratchDirectory("snap")
        var conf = Configuration()
        conf.voters = [1, 2, 3]
        let seeds: [[UInt8]] = kvSnapshots.enumerated().compactMap { n, data in
            guard let w = try? SnapshotWriter(directory: dir, group: 1, metadata: SnapshotMetadata(index: LogIndex(n + 1), term: 2, configuration: conf), chunkSize: 64) else { return nil }
            guard (try? w.write(data)) != nil, let path = try? w.finish() else { return nil }
            return (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Array($0) }
        }
        try? FileManager.default.removeItem(atPath: scratchRoot)
        let path = dir + "/fuzz.snap"
        return FuzzTarget(name: "snapshot-file", seeds: seeds, repair: { b in
            guard b.count >= 16 else { return }
            let hlen = Int(readU32(b, 8))
            guard hlen <= b.count - 16 else { return }
            writeU32(&b, 12, CRC32C.checksum(Array(b[16..<(16 + hlen)])))
            var at = 16 + hlen
            while at + 12 <= b.count {
                let comp = Int(readU32(b, at + 4))
                guard comp <= b.count - at - 12 else { return }
                writeU32(&b, at + 8, CRC32C.checksum(Array(b[(at + 12)..<(at + 12 + comp)])))
                at += 12 + comp
            }
        }) { bytes in
            if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            }
            guard let reader = try? SnapshotReader(path: path) else { return false }
            return (try? reader.readAll()) != nil
        }
    }()

    /// Raft entry payloads of the KV shards (decoded and applied to a state machine).
    static let kvRequest: FuzzTarget = {
        let commands: [KVCommand] = [
            .set(key: Array("k".utf8), value: Array("v".utf8), condition: .ifEqual(Array("u".utf8)), expiry: .atMillis(99), returnOld: true),
            .set(key: Array("k".utf8), value: Array("v".utf8), condition: .ifAbsent, expiry: .keep, returnOld: false),
            .delete(keys: [Array("a".utf8), Array("b".utf8)]), .incrementBy(key: Array("n".utf8), delta: -5),
            .append(key: Array("k".utf8), value: Array("tail".utf8)), .getDelete(key: Array("k".utf8)),
            .getSet(key: Array("k".utf8), value: Array("w".utf8)), .multiSet(pairs: [(Array("x".utf8), Array("1".utf8))]), .noop,
        ]
        let seeds = commands.map { KVRequest(clientID: 3, sequence: 4, timestampMillis: 1000, command: $0).encoded() }
        return FuzzTarget(name: "kv-request", seeds: seeds) { bytes in
            guard (try? KVRequest.decode(bytes)) != nil else { return false }
            _ = KVStateMachine().apply(index: 1, data: bytes)
            return true
        }
    }()

    // MARK: Operators' files

    /// The node config: file text, and the same lines as environment variables and --set flags.
    static let nodeConfig: FuzzTarget = {
        let seeds = [
            (try? String(contentsOfFile: "config/mystore.conf", encoding: .utf8)) ?? "",
            "shard_count = 16\nreplication_factor = 3\n# comment\n\ntick_interval_ms=50\nclient_redirects = moved\ndata_dir = /tmp/x\n",
            "election_ticks = 10\nheartbeat_ticks = 1\nmax_value_bytes = 1048576\n",
        ].map { Array($0.utf8) }
        return FuzzTarget(name: "node-config", seeds: seeds) { bytes in
            let lines = text(bytes).split(whereSeparator: \.isNewline).map(String.init)
            var env: [String: String] = [:]
            for line in lines {
                let kv = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { env["MYSTORE_" + kv[0].uppercased()] = kv[1] }
            }
            let fromFile = (try? NodeConfig.load(file: (text(bytes), "fuzz.conf"), environment: [:], overrides: [])) != nil
            _ = try? NodeConfig.load(file: nil, environment: env, overrides: [])
            _ = try? NodeConfig.load(file: nil, environment: [:], overrides: lines.map { $0.replacingOccurrences(of: " ", with: "") })
            return fromFile
        }
    }()

    static let membership = FuzzTarget(name: "membership", seeds: [
        "127.0.0.1:7001\n127.0.0.1:7002\n127.0.0.1:7003\n", "# nodes\n  10.0.0.1:7001  \r\n\n[::1]:7002\nhost-name.example:65535\n",
    ].map { Array($0.utf8) }) { bytes in
        let text = text(bytes)
        for line in text.split(whereSeparator: \.isNewline) { _ = try? NodeAddress(parsing: String(line)) }
        guard let m = try? Membership(parsing: text, source: "fuzz.membership") else { return false }
        return (try? Placement.initial(nodes: m.nodes, shardCount: 16, replicationFactor: min(3, m.nodes.count))) != nil
    }

    // MARK: Backups

    /// `mystore backup verify` / `restore` reading a backup file: two shards of KV snapshots in
    /// small chunks. The repair rewrites the trailer's whole-file checksum, so damage behind it
    /// reaches the records, the snapshot streams and the state decoder.
    static let backupFile: FuzzTarget = {
        let dir = scratchDirectory("backup")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ranges = [[SlotRange(0, 8191)!], [SlotRange(8192, 16383)!]]
        var seeds: [[UInt8]] = []
        for (n, pair) in [(kvSnapshots[0], kvSnapshots[kvSnapshots.count - 1]), (kvSnapshots[kvSnapshots.count - 1], kvSnapshots[0])].enumerated() {
            let path = dir + "/seed-\(n).backup"
            let header = BackupHeader(createdMillis: 1, metaIndex: 3, shards: ranges.enumerated().map { .init(id: ShardID(rawValue: $0), slotRanges: $1) })
            guard let w = try? BackupFileWriter(path: path, header: header) else { continue }
            for (k, state) in [pair.0, pair.1].enumerated() {
                let index = LogIndex(rawValue: 10 + UInt64(k))
                guard (try? w.beginSection(shard: ShardID(rawValue: k), slotRanges: ranges[k], appliedIndex: index.rawValue)) != nil,
                      let e = try? SnapshotEncoder(group: GroupID(k + 1), metadata: SnapshotMetadata(index: index, term: 0, configuration: Configuration()),
                                                   chunkSize: 96, compressionLevel: 1, emit: { try w.writeStream($0) }),
                      (try? e.write(state)) != nil, (try? e.finish()) != nil, (try? w.endSection()) != nil else { continue }
            }
            if (try? w.finish()) != nil, let d = try? Data(contentsOf: URL(fileURLWithPath: path)) { seeds.append(Array(d)) }
        }
        let path = dir + "/fuzz.backup"
        return FuzzTarget(name: "backup-file", seeds: seeds, repair: { b in
            let t = BackupFormat.trailerBytes
            guard b.count >= t + 8 else { return }
            var body = BinaryWriter()
            body.write(BackupFormat.trailerTag)
            body.write(UInt32(2))
            body.write(UInt64(b.count - t))
            body.write(CRC32C.checksum(Array(b[..<(b.count - t)])))
            b.replaceSubrange((b.count - t)..., with: BackupFormat.record(body.bytes))
        }) { bytes in
            if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            }
            return (try? BackupFileReader(path: path)) != nil
        }
    }()

    /// The manifest `mystore restore` leaves for a node's first start.
    static let restoreManifest = FuzzTarget(name: "restore-manifest", seeds: [
        "mystore-restore v1\nshards 2\nshard 0 0-8191 17\nshard 1 8192-16383 4\n", "mystore-restore v1\nshards 1\nshard 0 0-10,20-16383 0\n",
    ].map { Array($0.utf8) }) { bytes in
        guard let m = try? RestoreManifest(parsing: text(bytes)) else { return false }
        _ = m.mismatch(with: try! ShardMap(shards: [Shard(id: ShardID(rawValue: 0), slotRanges: [SlotRange.all], replicas: [NodeAddress(host: "a", port: 1)!])]))
        return true
    }
}
