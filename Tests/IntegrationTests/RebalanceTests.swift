import Foundation
import MyStoreClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Growing and shrinking a running cluster with the admin CLI while a client writes.
///
/// Ports 122xx (peer ports +10000, HTTP +1000): suites run in parallel, and ClusterTests uses
/// 121xx.
@Suite(.serialized) struct RebalanceTests {
    static var adminBinary: String {
        URL(fileURLWithPath: LocalCluster.serverBinary).deletingLastPathComponent().appendingPathComponent("mystore").path
    }

    /// Rows of `mystore node list --json`.
    struct NodeRow: Decodable {
        var id: String
        var address: String
        var state: String
        var replicas: Int
        var leaders: Int
    }

    static func nodeList(_ endpoint: Int) throws -> [NodeRow] {
        let r = run(adminBinary, ["node", "list", "--json", "--endpoint", "127.0.0.1:\(endpoint)"], timeout: 30)
        guard r.status == 0 else { throw CLIError(output: r.output) }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode([NodeRow].self, from: Data(r.output.utf8))
    }

    struct CLIError: Error { var output: String }

    /// A client that keeps overwriting keys while the layout changes; remembers, per key, the
    /// values it may hold now (the last acknowledged one, plus any later write whose outcome
    /// is unknown).
    final class Writer: @unchecked Sendable {
        let ports: [Int]
        let keys: Int
        private let lock = NSLock()
        private var possible: [Int: Set<String>] = [:]
        private var stopFlag = false
        private(set) var acknowledged = 0
        private(set) var failed = 0
        private var thread: Thread?

        init(ports: [Int], keys: Int) {
            self.ports = ports
            self.keys = keys
        }

        func start() {
            let t = Thread { [self] in loop() }
            thread = t
            t.start()
        }

        func stop() {
            lock.lock()
            stopFlag = true
            lock.unlock()
            while thread?.isFinished == false { usleep(20_000) }
        }

        var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stopFlag }

        func expected(_ k: Int) -> Set<String>? { lock.lock(); defer { lock.unlock() }; return possible[k] }

        private func loop() {
            var round = 0
            var conn: RESPConnection?
            let deadline = Date().addingTimeInterval(900)
            while !stopped && Date() < deadline {
                for k in 0..<keys where !stopped {
                    let value = "w\(round)-\(k)"
                    var ok = false
                    for attempt in 0..<20 where !ok {
                        if conn == nil {
                            let port = ports[(k + attempt) % ports.count]
                            conn = try? RESPConnection(to: .init(host: "127.0.0.1", port: UInt16(port))!, settings: ConnectionSettings(timeout: .seconds(10)))
                        }
                        guard let c = conn else { usleep(50_000); continue }
                        // Unknown until acknowledged: the key may now hold this value.
                        lock.lock(); possible[k, default: []].insert(value); lock.unlock()
                        do {
                            let r = try c.send([bytes("SET"), bytes("rw:\(k)"), bytes(value)])
                            if r == .simpleString("OK") { ok = true } else { usleep(50_000) }
                        } catch {
                            conn = nil
                        }
                    }
                    lock.lock()
                    if ok {
                        possible[k] = [value]
                        acknowledged += 1
                    } else {
                        failed += 1
                    }
                    lock.unlock()
                }
                round += 1
            }
        }
    }

    /// Reads `rw:k` and `key:k` back through `port` and counts values the history does not allow.
    static func verify(_ cluster: LocalCluster, port: Int, loaded: Int, writer: Writer) throws -> (wrong: Int, checked: Int, examples: [String]) {
        let reader = try cluster.connection(port)
        var wrong = 0, checked = 0
        var examples: [String] = []
        for batch in stride(from: 0, to: loaded, by: 500) {
            let end = min(loaded, batch + 500)
            let replies = try reader.pipeline((batch..<end).map { [bytes("GET"), bytes("key:\($0)")] })
            for (i, r) in replies.enumerated() where r.text != "value-\(batch + i)" {
                let again = readEventually(reader, "key:\(batch + i)")
                if again?.text != "value-\(batch + i)" {
                    wrong += 1
                    examples.append("key:\(batch + i) = \(String(describing: again))")
                }
            }
            checked += replies.count
        }
        for k in 0..<writer.keys {
            guard let allowed = writer.expected(k) else { continue }
            let v = readEventually(reader, "rw:\(k)")?.text ?? "<missing>"
            if !allowed.contains(v) {
                wrong += 1
                examples.append("rw:\(k) = \(v), allowed \(allowed)")
            }
            checked += 1
        }
        return (wrong, checked, Array(examples.prefix(5)))
    }

    static func balanced(_ rows: [NodeRow], replicasTotal: Int, shards: Int) -> Bool {
        let active = rows.filter { $0.state == "active" }
        guard !active.isEmpty else { return false }
        let r = active.map(\.replicas), l = active.map(\.leaders)
        return r.reduce(0, +) == replicasTotal && r.max()! - r.min()! <= 1 && l.reduce(0, +) == shards && l.max()! - l.min()! <= 1
    }

    // 3 nodes, 16 shards, 50,000 keys; a 4th node joins and takes an even share; then an
    // original node is drained and removed. A client writes throughout and loses nothing.
    @Test func growAndShrinkWhileWriting() throws {
        let ports = [12201, 12202, 12203]
        let cluster = try LocalCluster(name: "grow", ports: ports, extraArgs: [
            "--set", "snapshot_entries=3000", "--set", "snapshot_trailing_entries=300",
        ])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let loaded = 50_000
        let loader = try cluster.connection(12201)
        // The group operations the rebalancer drives travel only between nodes: a client
        // cannot send them.
        for groupCommand in [["MYSTORE.CONFCHANGE", "1", "remove", "2"], ["MYSTORE.TRANSFER", "1", "2"], ["MYSTORE.GROUPPROGRESS", "1"]] {
            let reply = try loader.send(groupCommand.map(bytes))
            #expect(reply.errorMessage?.hasPrefix("ERR unknown command") == true, "\(groupCommand[0]): \(reply)")
        }
        for batch in stride(from: 0, to: loaded, by: 500) {
            var replies = try loader.pipeline((batch..<batch + 500).map { [bytes("SET"), bytes("key:\($0)"), bytes("value-\($0)")] })
            for (i, r) in replies.enumerated() where r != .simpleString("OK") {
                replies[i] = cluster.eventually(12201, ["SET", "key:\(batch + i)", "value-\(batch + i)"]) ?? r
            }
            #expect(replies.allSatisfy { $0 == .simpleString("OK") }, "load batch \(batch)")
        }
        let writer = Writer(ports: ports, keys: 300)
        writer.start()
        defer { writer.stop() }

        // Grow: a fourth node joins, is registered, and the cluster rebalances onto it.
        try cluster.start(12204, args: ["--join", "127.0.0.1:12202"])
        let add = run(Self.adminBinary, ["node", "add", "127.0.0.1:12204", "--endpoint", "127.0.0.1:12201"], timeout: 60)
        #expect(add.status == 0, "node add: \(add.output)")
        let rebalance = run(Self.adminBinary, ["rebalance", "--endpoint", "127.0.0.1:12201", "--timeout", "10"], timeout: 600)
        #expect(rebalance.status == 0, "rebalance: \(rebalance.output)")
        var rows = try Self.nodeList(12201)
        #expect(Self.balanced(rows, replicasTotal: 48, shards: 16), "after growing: \(rows.map { "\($0.address) r=\($0.replicas) l=\($0.leaders)" })")
        #expect(rows.first { $0.address == "127.0.0.1:12204" }?.replicas == 12)

        // Shrink: drain and remove node 1.
        let remove = run(Self.adminBinary, ["node", "remove", "1", "--endpoint", "127.0.0.1:12202", "--timeout", "10"], timeout: 600)
        #expect(remove.status == 0, "node remove: \(remove.output)")
        rows = try Self.nodeList(12202)
        #expect(rows.first { $0.id == "1" }?.state == "removed")
        #expect(Self.balanced(rows, replicasTotal: 48, shards: 16), "after removing node 1: \(rows.map { "\($0.address) r=\($0.replicas) l=\($0.leaders)" })")

        writer.stop()
        #expect(writer.acknowledged > 300, "the writer kept writing: \(writer.acknowledged) acknowledged, \(writer.failed) failed")
        for port in [12204, 12203] {
            let result = try Self.verify(cluster, port: port, loaded: loaded, writer: writer)
            #expect(result.wrong == 0, "node \(port): \(result.wrong) of \(result.checked) keys do not hold their latest value: \(result.examples)")
        }
    }

    // The node receiving a shard's snapshot is killed mid-stream; after its restart the move
    // completes and its replica holds every key.
    @Test func receiverKilledMidSnapshotConverges() throws {
        let ports = [12211, 12212, 12213]
        let cluster = try LocalCluster(name: "snapkill", ports: ports, extraArgs: [
            "--set", "shard_count=1", "--set", "snapshot_entries=500", "--set", "snapshot_trailing_entries=10",
            "--set", "snapshot_send_bytes_per_second=400000",
        ])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // About 3 MB of incompressible values: several seconds of streaming at 400 kB/s.
        let writer = try cluster.connection(12211)
        var rng = SystemRandomNumberGenerator()
        var values: [String] = []
        for batch in stride(from: 0, to: 3_000, by: 250) {
            let chunk = (batch..<batch + 250).map { _ in String((0..<1000).map { _ in Character(UnicodeScalar(UInt8.random(in: 33...126, using: &rng))) }) }
            values += chunk
            let replies = try writer.pipeline(chunk.enumerated().map { [bytes("SET"), bytes("big:\(batch + $0.offset)"), bytes($0.element)] })
            #expect(replies.allSatisfy { $0 == .simpleString("OK") })
        }
        try cluster.start(12214, args: ["--join", "127.0.0.1:12211"])
        #expect(run(Self.adminBinary, ["node", "add", "127.0.0.1:12214", "--endpoint", "127.0.0.1:12211"], timeout: 60).status == 0)
        let move = run(Self.adminBinary, ["shard", "move", "0", "--from", "3", "--to", "4", "--no-wait", "--endpoint", "127.0.0.1:12211"], timeout: 60)
        #expect(move.status == 0, "shard move: \(move.output)")

        // Wait until node 4 is receiving, then kill it.
        var receiving = false
        let deadline = Date().addingTimeInterval(60)
        while !receiving && Date() < deadline {
            if let s = try? cluster.connection(12214).send([bytes("MYSTORE.STATUS")]).text, s.contains("\"receiving\":1"), !s.contains("\"bytes_received\":0,") {
                receiving = true
            } else {
                usleep(50_000)
            }
        }
        #expect(receiving, "node 4 started receiving the snapshot")
        cluster.kill(12214)
        let partial = (try? FileManager.default.contentsOfDirectory(atPath: cluster.dataDir(12214) + "/snapshots")) ?? []
        #expect(partial.contains { $0.hasSuffix(".recv") }, "a partial snapshot was on disk when the node died: \(partial)")

        try cluster.start(12214)
        // The move resumes and finishes.
        var done = false
        let until = Date().addingTimeInterval(120)
        while !done && Date() < until {
            if case .array(let p)? = cluster.eventually(12211, ["MYSTORE.MOVES"]), p.count == 2, case .array(let q) = p[1], q.isEmpty { done = true } else { usleep(200_000) }
        }
        #expect(done, "the move finished after the restart; node 4 log: \((try? String(contentsOfFile: cluster.logPath(12214), encoding: .utf8))?.suffix(3000) ?? "")")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: cluster.dataDir(12214) + "/snapshots")) ?? []
        #expect(!files.contains { $0.hasSuffix(".recv") }, "no partial snapshot left: \(files)")
        // Node 4's own replica (READONLY: served locally) holds every key.
        let local = try cluster.connection(12214)
        _ = try local.send([bytes("READONLY")])
        var wrong = -1
        let settle = Date().addingTimeInterval(20)
        while wrong != 0 && Date() < settle {
            wrong = 0
            for batch in stride(from: 0, to: 3_000, by: 500) {
                let replies = try local.pipeline((batch..<batch + 500).map { [bytes("GET"), bytes("big:\($0)")] })
                for (i, r) in replies.enumerated() where r.text != values[batch + i] { wrong += 1 }
            }
            if wrong != 0 { usleep(200_000) }
        }
        #expect(wrong == 0, "node 4's replica is missing or wrong on \(wrong) keys")
    }

    // A replica removed from its group while its node was down never hears of the removal.
    // Once the node runs again, reads through it are forwarded (its replica knows no leader) and
    // the replica is collected (destroyed) within a few checks.
    @Test func replicaRemovedWhileNodeWasStoppedIsCollected() throws {
        let ports = [12221, 12222, 12223]
        let cluster = try LocalCluster(name: "zombie", ports: ports, extraArgs: ["--set", "shard_count=1"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let writer = try cluster.connection(12221)
        let replies = try writer.pipeline((0..<200).map { [bytes("SET"), bytes("z:\($0)"), bytes("v\($0)")] })
        #expect(replies.allSatisfy { $0 == .simpleString("OK") })
        try cluster.start(12224, args: ["--join", "127.0.0.1:12221"])
        #expect(run(Self.adminBinary, ["node", "add", "127.0.0.1:12224", "--endpoint", "127.0.0.1:12221"], timeout: 60).status == 0)

        // Node 3 is down for the whole move (killed, not stopped: a stopped node could still
        // read the removal from its socket buffers when it resumes).
        cluster.kill(12223)
        let move = run(Self.adminBinary, ["shard", "move", "0", "--from", "3", "--to", "4", "--endpoint", "127.0.0.1:12221"], timeout: 120)
        try cluster.start(12223)
        #expect(move.status == 0, "shard move: \(move.output)")
        var answering = false
        let upDeadline = Date().addingTimeInterval(30)
        while !answering && Date() < upDeadline {
            if (try? cluster.connection(12223).send([bytes("PING")])) != nil { answering = true } else { usleep(100_000) }
        }

        func hostsShard(_ port: Int) -> Bool? {
            guard let s = try? cluster.connection(port).send([bytes("MYSTORE.STATUS")]).text else { return nil }
            return s.contains("\"shard\":0,")
        }
        #expect(hostsShard(12223) == true, "node 3 still holds its removed replica right after restarting")
        // Served through node 3 although its replica can no longer confirm a read (a first try
        // may time out while the replica still believes in its old leader).
        let viaNode3 = try cluster.connection(12223)
        var read = try viaNode3.send([bytes("GET"), bytes("z:7")])
        let readDeadline = Date().addingTimeInterval(30)
        while read.text != "v7" && Date() < readDeadline {
            usleep(200_000)
            read = try viaNode3.send([bytes("GET"), bytes("z:7")])
        }
        #expect(read.text == "v7", "GET through node 3: \(read)")

        var collected = false
        let deadline = Date().addingTimeInterval(60)
        while !collected && Date() < deadline {
            if hostsShard(12223) == false { collected = true } else { usleep(500_000) }
        }
        #expect(collected, "node 3 log: \((try? String(contentsOfFile: cluster.logPath(12223), encoding: .utf8))?.suffix(2000) ?? "")")
        // The node's notes reach its log once a second.
        var log = ""
        let logDeadline = Date().addingTimeInterval(10)
        while !log.contains("not in the shard map") && Date() < logDeadline {
            usleep(200_000)
            log = (try? String(contentsOfFile: cluster.logPath(12223), encoding: .utf8)) ?? ""
        }
        #expect(log.contains("not in the shard map"), "the node says why it destroyed the replica: \(log.suffix(1500))")
        // The shard's real replicas were not touched.
        #expect(hostsShard(12221) == true && hostsShard(12222) == true && hostsShard(12224) == true)
        let after = try cluster.connection(12223).send([bytes("GET"), bytes("z:199")])
        #expect(after.text == "v199")
    }
}

