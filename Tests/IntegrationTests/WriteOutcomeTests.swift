import Foundation
import MyStoreClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A write that may have reached a Raft log is answered with its result or with
/// `-UNCERTAIN`, never with a reply that Redis clients read as "not executed" (MOVED, ASK,
/// TRYAGAIN, CLUSTERDOWN, MASTERDOWN, LOADING, READONLY) and retry on their own.
@Suite(.serialized) struct WriteOutcomeTests {
    static let notExecuted = ["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "READONLY"]

    struct Case: CustomTestStringConvertible, Sendable {
        /// `client_redirects`.
        var mode: String
        /// Whether the partition heals before the request's deadline (else it lasts until the
        /// node has answered).
        var healsInTime: Bool
        var firstPort: Int
        var subnet: Int
        var testDescription: String { "\(mode), partition \(healsInTime ? "heals in time" : "outlasts the request")" }
    }

    /// The leader of the only shard appends a write while its followers' answers are dropped,
    /// so the followers store the entry but the leader cannot commit it; then the leader is cut
    /// off entirely. The followers elect a leader among themselves, which commits the write;
    /// the old leader steps down with the write pending. Until this was fixed, the old leader
    /// answered that write `-MOVED` (with `client_redirects = moved`) or `-TRYAGAIN`, though it
    /// had been applied. Now it follows the write to the new leader under its session and
    /// answers OK, or, when the partition outlasts the request, `-UNCERTAIN`.
    @Test(.serialized, .enabled(if: LoopbackPartition.available, "needs root and iptables"), arguments: [
        Case(mode: "moved", healsInTime: true, firstPort: 12161, subnet: 1),
        Case(mode: "moved", healsInTime: false, firstPort: 12165, subnet: 2),
        Case(mode: "forward", healsInTime: true, firstPort: 12171, subnet: 3),
    ])
    func aWriteWhoseLeaderIsCutOffIsNotAnsweredAsNotExecuted(_ c: Case) throws {
        let ports = [c.firstPort, c.firstPort + 1, c.firstPort + 2]
        var hosts: [Int: String] = [:]
        for (i, port) in ports.enumerated() { hosts[port] = "127.0.\(c.subnet).\(10 + i)" }
        // Room to heal and follow the write to the new leader; or a deadline the partition outlasts.
        let timeoutMillis = c.healsInTime ? 15_000 : 6_000
        let cluster = try LocalCluster(name: "outcome-\(c.firstPort)", ports: ports, extraArgs: [
            "--set", "client_redirects=\(c.mode)", "--set", "shard_count=1", "--set", "request_timeout_ms=\(timeoutMillis)",
            "--set", "election_ticks=20",
        ], hosts: hosts)
        let partition = LoopbackPartition()
        defer {
            partition.heal()
            cluster.shutdown()
        }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // On a busy machine the leader may step down (check-quorum) before it even appends
        // the write: then "not executed" is the truth, and the scenario is tried again.
        var happened = false
        for attempt in 1...3 where !happened {
            let key = "k\(attempt)", value = "w\(attempt).17942"
            let (answer, applied, millis) = try Self.cutOffTheLeaderWhileItWrites(key, value, cluster, hosts, partition, c, timeoutMillis)
            print("WriteOutcomeTests: \(c.testDescription), attempt \(attempt): the write got \(answer) after \(millis) ms; applied: \(applied)")
            let code = answer.errorMessage.map { String($0.prefix { $0 != " " }) }
            if applied {
                happened = true
                // The followers had the entry and the new leader committed it: a "not executed"
                // answer would be a lie.
                #expect(code.map { !Self.notExecuted.contains($0) } ?? true, "a write that was applied was answered as not executed: \(answer)")
                if let code {
                    #expect(code == "UNCERTAIN", "an error other than the outcome-unknown one: \(answer)")
                    #expect(!c.healsInTime, "the partition healed in time, yet the outcome is unknown: \(answer)")
                } else {
                    #expect(answer == .simpleString("OK"), "\(answer)")
                }
            } else {
                #expect(answer != .simpleString("OK"), "a write that was not applied was answered OK")
            }
        }
        #expect(happened, "in 3 attempts the leader never appended the write before it was cut off")
    }

    /// One try of the scenario on the current leader: its followers' answers are dropped while it
    /// appends `key`, then it is cut off entirely until the followers have elected a leader and
    /// it has stepped down; the partition heals before the deadline or after the reply. Returns
    /// the reply, whether the write was applied, and the milliseconds the reply took.
    static func cutOffTheLeaderWhileItWrites(_ key: String, _ value: String, _ cluster: LocalCluster, _ hosts: [Int: String],
                                             _ partition: LoopbackPartition, _ c: Case, _ timeoutMillis: Int) throws -> (RESPReply, Bool, Int) {
        let ports = cluster.ports
        let leader = try #require(waitFor(seconds: 30) { ports.first { shardStatus(cluster, $0)?.leads == true } }, "no node leads shard 0")
        let followers = ports.filter { $0 != leader }
        nonisolated(unsafe) let writer = try cluster.connection(leader, timeout: .seconds(60))
        #expect(try writer.send([bytes("SET"), bytes("before-\(key)"), bytes("x")]) == .simpleString("OK"))
        let lastBefore = followers.map { shardStatus(cluster, $0)?.last ?? 0 }

        // The followers' answers to the leader are dropped: they store what it sends, it
        // cannot commit.
        for f in followers { try partition.drop(from: hosts[f]!, to: hosts[leader]!) }
        let reply = LockedBox<RESPReply?>(nil)
        let done = DispatchSemaphore(value: 0)
        let sentAt = Date()
        Thread.detachNewThread {
            let r: RESPReply
            do { r = try writer.send([bytes("SET"), bytes(key), bytes(value)]) } catch { r = .error("CLIENT \(error)") }
            reply.set(r)
            done.signal()
        }
        _ = waitFor(seconds: 10) { () -> Bool? in
            zip(followers, lastBefore).allSatisfy { (shardStatus(cluster, $0)?.last ?? 0) > $1 } ? true : nil
        }
        // Now the leader is cut off entirely: the followers elect a leader that commits the
        // write, and the old leader steps down with it pending.
        for f in followers { try partition.drop(from: hosts[leader]!, to: hosts[f]!) }
        let newLeader = waitFor(seconds: 30) { followers.first { shardStatus(cluster, $0)?.leads == true } }
        #expect(newLeader != nil, "the followers elected no leader")
        #expect(waitFor(seconds: 30) { shardStatus(cluster, leader)?.leads == false ? true : nil } == true, "the old leader did not step down")
        if c.healsInTime {
            #expect(Date().timeIntervalSince(sentAt) < Double(timeoutMillis) / 1000 - 2, "too slow to heal before the deadline")
            partition.heal()
        }
        #expect(done.wait(timeout: .now() + 60) == .success, "no reply to the write")
        partition.heal()
        let millis = Int(Date().timeIntervalSince(sentAt) * 1000)
        let reader = try cluster.connection(newLeader ?? followers[0])
        let applied = readEventually(reader, key)?.text == value
        return (reply.get() ?? .error("CLIENT no reply"), applied, millis)
    }

    /// Shard 0 as the node on `port` reports it: whether it leads, and its last log index.
    static func shardStatus(_ cluster: LocalCluster, _ port: Int) -> (leads: Bool, last: Int)? {
        guard let c = try? cluster.connection(port, timeout: .seconds(2)), let json = try? c.send([bytes("MYSTORE.STATUS")]).text,
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let shards = object["shards"] as? [[String: Any]],
              let shard = shards.first(where: { ($0["shard"] as? Int) == 0 }) else { return nil }
        return ((shard["role"] as? String) == "leader", shard["last"] as? Int ?? 0)
    }

    /// Polls `probe` every 50 ms until it gives a value or `seconds` pass.
    static func waitFor<T>(seconds: Double, _ probe: () -> T?) -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if let v = probe() { return v }
            usleep(50_000)
        } while Date() < deadline
        return nil
    }
}

/// One-way cuts between loopback addresses (127.x.y.z), as iptables DROP rules in INPUT;
/// `heal` (also run at deinit) removes every rule it added. Needs root.
final class LoopbackPartition: @unchecked Sendable {
    private var rules: [[String]] = []
    private let lock = NSLock()

    static let iptables = ["/usr/sbin/iptables", "/sbin/iptables"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { getuid() == 0 && iptables != nil }

    /// Drops every packet from `source` to `destination`. The same rule left by an earlier run
    /// that was killed before it could heal is removed first.
    func drop(from source: String, to destination: String) throws {
        let rule = ["INPUT", "-s", source, "-d", destination, "-j", "DROP"]
        for _ in 0..<10 where run(Self.iptables!, ["-w", "-D"] + rule).status == 0 {}
        let r = run(Self.iptables!, ["-w", "-I"] + rule)
        guard r.status == 0 else { throw PartitionError(text: "iptables -I \(rule.joined(separator: " ")): \(r.output)") }
        lock.withLock { rules.append(rule) }
    }

    func heal() {
        let all = lock.withLock { defer { rules = [] }; return rules }
        for rule in all { _ = run(Self.iptables!, ["-w", "-D"] + rule) }
    }

    deinit { heal() }

    struct PartitionError: Error, CustomStringConvertible { var text: String; var description: String { text } }
}

/// A value shared between a test and a thread it starts.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
