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
        ], hosts: hosts)
        let partition = LoopbackPartition()
        defer {
            partition.heal()
            cluster.shutdown()
        }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let leader = try #require(Self.waitFor(seconds: 30) { ports.first { Self.shardStatus(cluster, $0)?.leads == true } }, "no node leads shard 0")
        let followers = ports.filter { $0 != leader }
        nonisolated(unsafe) let writer = try cluster.connection(leader, timeout: .seconds(60))
        #expect(try writer.send([bytes("SET"), bytes("k0"), bytes("before")]) == .simpleString("OK"))
        let lastBefore = followers.map { Self.shardStatus(cluster, $0)?.last ?? 0 }

        // The followers' answers to the leader are dropped: they store what it sends, it
        // cannot commit.
        for f in followers { try partition.drop(from: hosts[f]!, to: hosts[leader]!) }
        let reply = LockedBox<RESPReply?>(nil)
        let done = DispatchSemaphore(value: 0)
        let sentAt = Date()
        Thread.detachNewThread {
            let r: RESPReply
            do { r = try writer.send([bytes("SET"), bytes("k1"), bytes("w3.17942")]) } catch { r = .error("CLIENT \(error)") }
            reply.set(r)
            done.signal()
        }
        let stored = Self.waitFor(seconds: 10) { () -> Bool? in
            zip(followers, lastBefore).allSatisfy { (Self.shardStatus(cluster, $0)?.last ?? 0) > $1 } ? true : nil
        }
        #expect(stored == true, "the followers did not receive the write")
        // Now the leader is cut off entirely: the followers elect a leader that commits the
        // write, and the old leader steps down with it pending.
        for f in followers { try partition.drop(from: hosts[leader]!, to: hosts[f]!) }
        let newLeader = Self.waitFor(seconds: 30) { followers.first { Self.shardStatus(cluster, $0)?.leads == true } }
        #expect(newLeader != nil, "the followers elected no leader")
        #expect(Self.waitFor(seconds: 30) { Self.shardStatus(cluster, leader)?.leads == false ? true : nil } == true, "the old leader did not step down")

        if c.healsInTime {
            #expect(Date().timeIntervalSince(sentAt) < Double(timeoutMillis) / 1000 - 2, "too slow to heal before the deadline")
            partition.heal()
        }
        #expect(done.wait(timeout: .now() + 60) == .success, "no reply to the write")
        partition.heal()
        let answer = try #require(reply.get())
        print("WriteOutcomeTests: \(c.testDescription): the write got \(answer) after \(Int(Date().timeIntervalSince(sentAt) * 1000)) ms")
        if let message = answer.errorMessage {
            let code = String(message.prefix { $0 != " " })
            #expect(!Self.notExecuted.contains(code), "a write that reached the log was answered as not executed: -\(message)")
            #expect(code == "UNCERTAIN", "an error other than the outcome-unknown one: -\(message)")
            #expect(!c.healsInTime, "the partition healed in time, yet the outcome is unknown: -\(message)")
        } else {
            #expect(answer == .simpleString("OK"), "\(answer)")
        }
        // The followers had the entry, so the new leader committed it: the write was applied,
        // and a "not executed" answer would have been a lie.
        let reader = try cluster.connection(newLeader ?? followers[0])
        #expect(readEventually(reader, "k1")?.text == "w3.17942", "the write was not applied: the scenario did not happen")
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
