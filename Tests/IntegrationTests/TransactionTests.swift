import Foundation
import Linearizability
import MyStoreClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// MULTI/EXEC/WATCH against a real cluster.
@Suite(.serialized) struct TransactionIntegrationTests {
    static let key = "counter{w}"

    /// Optimistic increments (WATCH, GET, MULTI, SET v+1, EXEC) by several clients on one key,
    /// while the leader of the key's shard is killed and restarted. No update may be lost: the
    /// final value is the number of EXECs that succeeded (plus at most those whose outcome the
    /// client could not learn), and the history, with each EXEC that ran recorded as a
    /// compare-and-set against the value read after WATCH, is linearizable.
    @Test func watchedIncrementsLoseNothingWhileTheLeaderIsKilled() throws {
        let ports = [12371, 12372, 12373]
        let cluster = try LocalCluster(name: "watch", ports: ports, extraArgs: ["--set", "shard_count=4", "--set", "request_timeout_ms=8000"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // The counter starts at 0, so every compare-and-set compares with a value.
        #expect(cluster.eventually(ports[0], ["SET", Self.key, "0"]) == .simpleString("OK"))

        let history = Mutex<[HistoryOp]>([])
        let stop = Atomic<Bool>(false)
        let refusals = Atomic<Int>(0)
        let clients = 6
        let threads = (0..<clients).map { client in
            Thread {
                var port = ports[client % ports.count]
                var connection: RESPConnection?
                func nanos() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds) }
                var ops: [HistoryOp] = []
                for _ in 0..<1_500 where !stop.load(ordering: .relaxed) {
                    // The EXEC in flight: if the connection breaks, its outcome is unknown.
                    var exec: HistoryOp?
                    do {
                        if connection == nil { connection = try cluster.connection(port, timeout: .seconds(12)) }
                        guard let c = connection else { continue }
                        guard try c.send([bytes("WATCH"), bytes(Self.key)]) == .simpleString("OK") else {
                            usleep(50_000)
                            continue
                        }
                        var get = HistoryOp(client: client, kind: .get, key: Self.key, invoke: nanos(), complete: nil, outcome: .unknown)
                        let value = try c.send([bytes("GET"), bytes(Self.key)])
                        get.complete = nanos()
                        guard value.errorMessage == nil else {
                            _ = try? c.send([bytes("UNWATCH")])
                            usleep(50_000)
                            continue
                        }
                        get.outcome = .ok
                        get.result = value.text.map { .string($0) } ?? .null
                        ops.append(get)
                        let current = value.text.flatMap { Int64($0) } ?? 0
                        let next = String(current + 1)
                        // EXEC is a compare-and-set: it succeeds only if the key is unchanged since WATCH.
                        exec = HistoryOp(client: client, kind: .setIfEq, key: Self.key, args: [next, value.text ?? ""], invoke: nanos(),
                                         complete: nil, outcome: .unknown)
                        let replies = try c.pipeline([[bytes("MULTI")], [bytes("SET"), bytes(Self.key), bytes(next)], [bytes("EXEC")]])
                        switch replies.last {
                        case .array(let results)? where results == [.simpleString("OK")]:
                            exec?.outcome = .ok
                            exec?.result = .string("OK")
                            exec?.complete = nanos()
                        case .nullArray?:
                            // Refused: the key changed since WATCH, perhaps before the GET, so
                            // this is no compare-and-set against the value read. It changed
                            // nothing, and stays out of the history.
                            refusals.add(1, ordering: .relaxed)
                            exec = nil
                        default:
                            break  // an error (UNCERTAIN): the outcome is unknown
                        }
                        if let exec { ops.append(exec) }
                    } catch {
                        // The connection broke (its node was killed): the EXEC in flight is unknown.
                        if let exec { ops.append(exec) }
                        connection = nil
                        port = ports[(ports.firstIndex(of: port)! + 1) % ports.count]
                        usleep(100_000)
                    }
                }
                history.withLock { $0.append(contentsOf: ops) }
            }
        }
        for t in threads { t.start() }

        // Let the clients work, then kill the node leading the key's shard, then bring it back.
        sleep(3)
        let victim = Self.leaderPort(cluster, ports)
        #expect(victim != nil, "some node leads the key's shard")
        if let victim {
            cluster.kill(victim)
            sleep(4)
            try cluster.start(victim)
        }
        sleep(4)
        stop.store(true, ordering: .relaxed)
        for t in threads { t.join(timeout: 60) }

        let ops = history.withLock { $0 }
        let succeeded = ops.filter { $0.kind == .setIfEq && $0.outcome == .ok && $0.result == .string("OK") }.count
        let refused = refusals.load(ordering: .relaxed)
        let unknown = ops.filter { $0.kind == .setIfEq && $0.outcome == .unknown }.count
        let survivor = ports.first { $0 != victim } ?? ports[0]
        let final = cluster.eventually(survivor, ["GET", Self.key])?.text.flatMap { Int($0) } ?? 0
        print("TransactionIntegrationTests: \(succeeded) EXECs succeeded, \(refused) refused (key changed), \(unknown) unknown; final value \(final); killed \(victim ?? 0)")
        #expect(succeeded >= 30, "the clients made progress")
        #expect(refused > 0, "the clients contended")
        #expect(final >= succeeded && final <= succeeded + unknown, "no update lost, none applied twice")
        let verdict = LinearizabilityChecker.checkKey(Self.key, ops, initial: "0", limits: CheckLimits(maxSteps: 50_000_000, maxSeconds: 60))
        #expect(verdict == .linearizable, "\(verdict)")
    }

    /// redis-py 8 with its defaults (RESP3), as `Redis` on one node and as `RedisCluster`:
    /// connect, get/set, pipelines, transactions on hash-tagged keys with WATCH, scan_iter,
    /// expire/ttl (scripts/redis-py-compat.py; scripts/test installs redis-py).
    @Test func redisPyWithItsDefaults() throws {
        let ports = [12374, 12375, 12376]
        let cluster = try LocalCluster(name: "redis-py", ports: ports)
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = run("/usr/bin/env", ["python3", root.appendingPathComponent("scripts/redis-py-compat.py").path,
                                          "--nodes", ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")], timeout: 120)
        print("TransactionIntegrationTests: redis-py: \(result.output)")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\"RedisCluster: watch\""), "the cluster client's checks ran")
    }

    /// Active expiry: with no writes at all, a key whose time has come leaves DBSIZE, and a
    /// WATCH on it fails the EXEC (Redis's "WATCH will consider touched expired keys").
    @Test func expiredKeysLeaveWithoutWrites() throws {
        let ports = [12377, 12378, 12379]
        let cluster = try LocalCluster(name: "active-expiry", ports: ports)
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        #expect(cluster.eventually(ports[0], ["SET", "short", "v", "PX", "300"]) == .simpleString("OK"))
        #expect(cluster.eventually(ports[0], ["SET", "watched", "v", "PX", "300"]) == .simpleString("OK"))
        let c = try cluster.connection(ports[1])
        #expect(try c.send([bytes("WATCH"), bytes("watched")]) == .simpleString("OK"))
        #expect(try c.send([bytes("DBSIZE")]) == .integer(2))
        let deadline = Date().addingTimeInterval(5)
        var size = RESPReply.integer(-1)
        while Date() < deadline {
            size = try c.send([bytes("DBSIZE")])
            if size == .integer(0) { break }
            usleep(50_000)
        }
        #expect(size == .integer(0), "expired keys leave within a few ticks, with no write to move the clock")
        let exec = try c.pipeline([[bytes("MULTI")], [bytes("PING")], [bytes("EXEC")]])
        #expect(exec.last == .nullArray, "the watched key expired: EXEC fails")
    }

    /// The port of the node that leads the shard of `key`, from CLUSTER SLOTS.
    static func leaderPort(_ cluster: LocalCluster, _ ports: [Int]) -> Int? {
        guard let slot = cluster.eventually(ports[0], ["CLUSTER", "KEYSLOT", key]).flatMap({ if case .integer(let n) = $0 { Int(n) } else { nil } }),
              case .array(let ranges)? = cluster.eventually(ports[0], ["CLUSTER", "SLOTS"]) else { return nil }
        for case .array(let range) in ranges where range.count >= 3 {
            guard case .integer(let lo) = range[0], case .integer(let hi) = range[1], lo <= slot, slot <= hi,
                  case .array(let master) = range[2], master.count >= 2, case .integer(let port) = master[1] else { continue }
            return Int(port)
        }
        return nil
    }
}

extension Thread {
    /// Waits up to `timeout` seconds for the thread to finish.
    func join(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        while !isFinished && Date() < deadline { usleep(20_000) }
    }
}
