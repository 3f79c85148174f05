import Foundation
import MyStoreClient
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Stopping a node with SIGTERM hands its leaderships over before it exits, so its shards never
/// wait out an election and clients see no failed request.
/// What the writer thread shares with the test (the connection is used by that thread only).
final class WriterState: @unchecked Sendable {
    let connection: RESPConnection
    let failures = Mutex<[String]>([])
    let writes = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
    init(_ connection: RESPConnection) { self.connection = connection }
}

@Suite(.serialized) struct GracefulStopTests {
    /// Shards (of 16) led by the node on `port`, from its own status.
    func ledShards(_ cluster: LocalCluster, _ port: Int) -> Set<Int>? {
        guard let c = try? cluster.connection(port, timeout: .seconds(5)), let json = try? c.send([bytes("MYSTORE.STATUS")]).text,
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let shards = object["shards"] as? [[String: Any]] else { return nil }
        return Set(shards.filter { ($0["role"] as? String) == "leader" }.compactMap { $0["shard"] as? Int })
    }

    @Test func sigtermHandsLeadershipsOverAndExitsCleanly() throws {
        let ports = [12187, 12188, 12189]
        let cluster = try LocalCluster(name: "graceful", ports: ports)
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // The stopped node must lead something: move leaderships onto it if it leads nothing.
        let stopped = 12187
        for port in ports { _ = cluster.eventually(port, ["PING"]) }
        var led = ledShards(cluster, stopped) ?? []
        for _ in 0..<100 where led.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
            led = ledShards(cluster, stopped) ?? []
        }
        try #require(!led.isEmpty, "node \(stopped) leads no shard")

        // Writes through another node, to keys of every shard, until told to stop.
        let state = WriterState(try cluster.connection(12188, timeout: .seconds(15)))
        let thread = Thread {
            var i = 0
            while !state.done.load(ordering: .relaxed) && i < 200_000 {
                let batch = (0..<16).map { [bytes("SET"), bytes("key:\(i + $0)"), bytes("v\(i + $0)")] }
                let replies = (try? state.connection.pipeline(batch)) ?? []
                if replies.count != 16 { state.failures.withLock { $0.append("connection failed at \(i)") }; return }
                for (k, r) in replies.enumerated() where r != .simpleString("OK") {
                    // TRYAGAIN says "not executed, retry" (a forward that met the moving leadership
                    // too many hops in a row); a client retries it, as Redis Cluster clients do.
                    var reply = r
                    for _ in 0..<3 where reply.errorMessage?.hasPrefix("TRYAGAIN") == true {
                        Thread.sleep(forTimeInterval: 0.05)
                        reply = (try? state.connection.send(batch[k])) ?? reply
                    }
                    if reply != .simpleString("OK") { state.failures.withLock { $0.append(String(describing: reply)) } }
                }
                state.writes.add(16, ordering: .relaxed)
                i += 16
            }
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.5)

        let started = Date()
        cluster.signal(stopped, SIGTERM)
        let process = try #require(cluster.processes[stopped])
        while process.isRunning && Date().timeIntervalSince(started) < 15 { Thread.sleep(forTimeInterval: 0.01) }
        let exitSeconds = Date().timeIntervalSince(started)
        // Right after the exit, the other nodes already lead every shard the stopped node led:
        // no election timeout (1-2 s here) had to pass.
        let remaining = (ledShards(cluster, 12188) ?? []).union(ledShards(cluster, 12189) ?? [])
        Thread.sleep(forTimeInterval: 0.5)
        state.done.store(true, ordering: .relaxed)
        while thread.isExecuting { Thread.sleep(forTimeInterval: 0.01) }

        #expect(!process.isRunning && process.terminationStatus == 0, "exit status \(process.terminationStatus) after \(exitSeconds) s")
        #expect(exitSeconds < 10, "the stop took \(exitSeconds) s")
        #expect(led.isSubset(of: remaining), "shards \(led.subtracting(remaining).sorted()) had no leader right after the stop")
        #expect(state.failures.withLock { $0.isEmpty }, "failed writes: \(state.failures.withLock { $0.prefix(5) })")
        #expect(state.writes.load(ordering: .relaxed) > 0)
        let log = (try? String(contentsOfFile: cluster.logPath(stopped), encoding: .utf8)) ?? ""
        // "handed over X of Y leaderships": every one it held when the stop began.
        let words = log.split(whereSeparator: { $0 == " " || $0 == "\n" })
        let at = words.firstIndex(of: "over").map { $0 + 1 }
        let handed = at.flatMap { Int(words[$0]) }, held = at.flatMap { Int(words[$0 + 2]) }
        #expect(handed != nil && handed == held && held! > 0, "\(log.suffix(400))")
    }
}
