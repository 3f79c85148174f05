import Foundation
import MyStoreClient
import ShardRouter
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mystore backup`, `backup verify` and `restore` against real nodes: a backup taken while
/// clients write holds every write acknowledged before it started, and a new cluster started
/// on the restored directories serves them.
///
/// Ports 123xx (peer ports +10000, HTTP +1000): 12301-12303 the source cluster, 12311-12313
/// the restored one.
@Suite(.serialized) struct BackupRestoreTests {
    static let shardArgs = ["--set", "shard_count=4"]

    /// Writers that keep setting fresh keys (`live-<writer>-<n>` = `<n>`) and record, in
    /// order, every key acknowledged.
    final class Writers: @unchecked Sendable {
        let ports: [Int]
        private let lock = NSLock()
        private var acked: [String] = []
        private var stopFlag = false
        private var threads: [Thread] = []
        private let done = DispatchGroup()

        init(ports: [Int]) { self.ports = ports }

        func start(count: Int) {
            for w in 0..<count {
                done.enter()
                let t = Thread { [self] in
                    defer { done.leave() }
                    var conn: RESPConnection?
                    var n = 0
                    while !lock.withLock({ stopFlag }) {
                        let port = ports[(w + n) % ports.count]
                        if conn == nil { conn = try? RESPConnection(to: NodeAddress(host: "127.0.0.1", port: UInt16(port))!, settings: ConnectionSettings(timeout: .seconds(5))) }
                        guard let c = conn else { usleep(50_000); continue }
                        let key = "live-\(w)-\(n)"
                        if let r = try? c.send([Array("SET".utf8), Array(key.utf8), Array("\(n)".utf8)]) {
                            if r == .simpleString("OK") { lock.withLock { acked.append(key) } }
                        } else {
                            conn = nil
                        }
                        n += 1
                    }
                }
                threads.append(t)
                t.start()
            }
        }

        /// The keys acknowledged so far.
        var acknowledged: [String] { lock.withLock { acked } }

        func stop() {
            lock.withLock { stopFlag = true }
            _ = done.wait(timeout: .now() + 30)
        }
    }

    /// The last lines of every node's log, for a failure message.
    static func logs(_ cluster: LocalCluster) -> String {
        cluster.ports.map { port in
            let text = (try? String(contentsOfFile: cluster.logPath(port), encoding: .utf8)) ?? ""
            return "node \(port):\n" + text.split(separator: "\n").suffix(8).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    @Test func backupWhileWritingRestoresEveryAcknowledgedWrite() throws {
        let source = try LocalCluster(name: "backup-src", ports: [12301, 12302, 12303], extraArgs: Self.shardArgs)
        let target = try LocalCluster(name: "backup-dst", ports: [12311, 12312, 12313], extraArgs: Self.shardArgs)
        let writers = Writers(ports: source.ports)
        defer {
            writers.stop()
            source.shutdown()
            target.shutdown()
        }
        try source.startAll()
        #expect(source.waitUntilReady())

        // A few thousand keys, some with a history and a deletion, before the backup.
        let c = try source.connection(12301)
        for batch in stride(from: 0, to: 3_000, by: 250) {
            let replies = try c.pipeline((batch..<batch + 250).map { [bytes("SET"), bytes("k\($0)"), bytes("value-\($0)")] })
            #expect(replies.allSatisfy { $0 == .simpleString("OK") })
        }
        #expect(try c.send([bytes("SET"), bytes("k7"), bytes("second")]) == .simpleString("OK"))
        #expect(try c.send([bytes("DEL"), bytes("k8")]).integer == 1)

        writers.start(count: 2)
        usleep(300_000)
        // Every key acknowledged before the backup process starts must be in the backup.
        let before = writers.acknowledged
        let file = source.root + "/cluster.backup"
        let backup = run(RebalanceTests.adminBinary, ["backup", file, "--endpoint", "127.0.0.1:12302"], timeout: 120)
        usleep(200_000)
        writers.stop()
        #expect(backup.status == 0, "backup: \(backup.output)")
        #expect(backup.output.contains("4/4 shards"), "a progress line on stderr: \(backup.output)")
        #expect(before.count > 10, "the writers got writes acknowledged before the backup: \(before.count)")

        // verify passes on the file ...
        let verify = run(RebalanceTests.adminBinary, ["backup", "verify", file], timeout: 60)
        #expect(verify.status == 0 && verify.output.contains("OK") && verify.output.contains("4 shards"), "verify: \(verify.output)")

        // ... and fails on a copy with one flipped byte: in the header, inside a shard's
        // stream, in a section's records, in the trailer.
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        let size = original.count
        for position in [3, 12, 30, size / 3, size / 2, size - 40, size - 5] {
            var damaged = original
            damaged[position] ^= 0x20
            let copy = source.root + "/damaged-\(position).backup"
            try damaged.write(to: URL(fileURLWithPath: copy))
            let r = run(RebalanceTests.adminBinary, ["backup", "verify", copy], timeout: 60)
            #expect(r.status != 0 && r.output.contains("damaged"), "a byte flipped at \(position) of \(size): \(r.output)")
        }
        let truncated = source.root + "/truncated.backup"
        try original.prefix(size / 2).write(to: URL(fileURLWithPath: truncated))
        let t = run(RebalanceTests.adminBinary, ["backup", "verify", truncated], timeout: 60)
        #expect(t.status != 0 && t.output.contains("damaged"), "truncated: \(t.output)")

        // restore: a bad membership line and a non-empty directory are refused.
        let badMembership = target.root + "/bad.membership"
        try "127.0.0.1:12311\nnot-an-address\n".write(toFile: badMembership, atomically: true, encoding: .utf8)
        let root = target.root + "/restored"
        let bad = run(RebalanceTests.adminBinary, ["restore", file, "--membership", badMembership, "--data-dir-root", root])
        #expect(bad.status != 0 && bad.output.contains("not-an-address"), "bad membership: \(bad.output)")
        let occupied = root + "/127.0.0.1_12312"
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: true)
        try "x".write(toFile: occupied + "/something", atomically: true, encoding: .utf8)
        let refused = run(RebalanceTests.adminBinary, ["restore", file, "--membership", target.membershipPath, "--data-dir-root", root])
        #expect(refused.status != 0 && refused.output.contains("not empty"), "non-empty directory: \(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: root + "/127.0.0.1_12311/restore"), "nothing written when refused")
        try FileManager.default.removeItem(atPath: occupied)
        let cut = run(RebalanceTests.adminBinary, ["restore", truncated, "--membership", target.membershipPath, "--data-dir-root", root])
        #expect(cut.status != 0 && cut.output.contains("damaged"), "truncated backup: \(cut.output)")
        #expect(!FileManager.default.fileExists(atPath: root + "/127.0.0.1_12311"), "nothing written for a damaged backup")

        let restore = run(RebalanceTests.adminBinary, ["restore", file, "--membership", target.membershipPath, "--data-dir-root", root], timeout: 60)
        #expect(restore.status == 0, "restore: \(restore.output)")
        // One directory per member, named as the server names its default data directory.
        for port in target.ports {
            try FileManager.default.moveItem(atPath: root + "/127.0.0.1_\(port)", toPath: target.dataDir(port))
        }
        try target.startAll()
        #expect(target.waitUntilReady(), "\(Self.logs(target))")
        for port in target.ports {
            #expect(!FileManager.default.fileExists(atPath: target.dataDir(port) + "/restore"), "the seed is gone after the first start")
        }

        let r = try target.connection(12313)
        var wrong: [String] = []
        for k in 0..<3_000 where k != 7 && k != 8 {
            if readEventually(r, "k\(k)")?.text != "value-\(k)" { wrong.append("k\(k)") }
        }
        #expect(readEventually(r, "k7")?.text == "second")
        #expect(readEventually(r, "k8") == .null)
        for key in before {
            let n = key.split(separator: "-").last.map(String.init)
            if readEventually(r, key)?.text != n { wrong.append(key) }
        }
        #expect(wrong.isEmpty, "acknowledged before the backup, missing after the restore: \(wrong.prefix(10))")
        // The restored cluster takes writes, and its history continues the backup's.
        #expect(try r.send([bytes("SET"), bytes("k1"), bytes("after")]) == .simpleString("OK"))
        #expect(readEventually(try target.connection(12311), "k1")?.text == "after")
        if case .array(let versions)? = try? r.send([bytes("MYSTORE.HISTORY"), bytes("k7"), bytes("5")]) {
            #expect(versions.count == 2, "k7's two versions survive the restore: \(versions)")
        }

        // A restored directory is an ordinary data directory afterwards: restart one node.
        target.kill(12312)
        try target.start(12312)
        #expect(target.waitUntilReady(), "\(Self.logs(target))")
        #expect(readEventually(try target.connection(12312), "k2999")?.text == "value-2999")
    }
}
