import Foundation
import MyStoreClient
import ShardRouter
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the client threads of one run share with the test.
final class LoadState: @unchecked Sendable {
    let done = Atomic<Bool>(false)
    /// Set once every client has done its first operation: failures count from then on.
    let measuring = Atomic<Bool>(false)
    let started = Date()
    let warmedUp = Atomic<Int>(0)
    let ops = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
    let acknowledged = Mutex<[String: String]>([:])
}

/// 64 clients (48 threads of MyStoreClient and 16 of redis-py's RedisCluster) write and read
/// while every node of a 3-node cluster restarts in turn. Stopped gracefully (SIGTERM), the
/// restart costs no operation; killed (SIGKILL), it does, with the same clients and retries.
@Suite(.serialized) struct RollingRestartTests {
    static let ports = [12196, 12197, 12198]
    static let swiftClients = 48
    static let pythonClients = 16

    /// The repository's root (for scripts/redis-py-load.py).
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A client that retries within 1.5 s: enough for a graceful restart, not for the election
    /// a kill needs (1-2 s of silence at the default 100 ms tick, then a vote).
    static var settings: ClusterSettings {
        ClusterSettings(connection: ConnectionSettings(timeout: .seconds(1)),
                        retry: RetryPolicy(maxAttempts: 8, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(300), budget: .milliseconds(1_500)))
    }

    /// Whether every node answers and all its shards have a leader and applied what they know committed.
    static func healthy(_ cluster: LocalCluster) -> Bool {
        for port in ports {
            guard let c = try? cluster.connection(port, timeout: .seconds(2)), let json = try? c.send([bytes("MYSTORE.STATUS")]).text,
                  let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                  let shards = object["shards"] as? [[String: Any]], !shards.isEmpty else { return false }
            for s in shards {
                guard s["leader"] is String || s["leader"] is Int, let applied = s["applied"] as? Int, let commit = s["commit"] as? Int,
                      applied >= commit else { return false }
            }
        }
        return true
    }

    static func waitHealthy(_ cluster: LocalCluster, seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if healthy(cluster) { return true }
            usleep(200_000)
        }
        return false
    }

    /// One client thread: SET a new key, GET it back, until told to stop.
    static func swiftClient(_ index: Int, seeds: [NodeAddress], state: LoadState) -> Thread {
        let thread = Thread {
            guard let client = try? ClusterClient(seeds: seeds, settings: settings) else {
                state.failures.withLock { $0.append("client \(index): cannot start") }
                return
            }
            var seq = 0
            var acked: [String: String] = [:]
            var warm = false
            while !state.done.load(ordering: .relaxed) {
                seq += 1
                let key = "sw:\(index):\(seq)", value = "v\(seq)"
                do {
                    _ = try client.set(bytes(key), bytes(value))
                    acked[key] = value
                    let got = try client.get(bytes(key))
                    if got != bytes(value) { state.failures.withLock { $0.append("\(key): read \(String(describing: got))") } }
                    state.ops.add(2, ordering: .relaxed)
                    if !warm { warm = true; state.warmedUp.add(1, ordering: .relaxed) }
                } catch where state.measuring.load(ordering: .relaxed) {
                    let at = String(format: "%.1f", Date().timeIntervalSince(state.started))
                    state.failures.withLock { $0.append("\(key) at \(at) s: \(error)") }
                } catch {
                    // Before every client has done its first operation (start-up): not counted.
                }
            }
            client.close()
            state.acknowledged.withLock { $0.merge(acked) { a, _ in a } }
        }
        thread.start()
        return thread
    }

    struct PythonResult: Decodable {
        var ops: Int
        var failures: Int
        var errors: [String]
        var acked: Int
        var missing: Int
    }

    /// Runs the clients while `restart` goes through the nodes; returns the Swift clients'
    /// failures, the redis-py clients' result and the Swift writes acknowledged but not read back.
    func runLoad(_ cluster: LocalCluster, restart: (Int) throws -> Void) throws -> (swift: [String], python: PythonResult, swiftLost: [String], ops: Int) {
        let seeds = Self.ports.map { NodeAddress(host: "127.0.0.1", port: UInt16($0))! }
        let state = LoadState()
        let stopFile = cluster.root + "/stop-load", measureFile = cluster.root + "/measure-load"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Self.root.appendingPathComponent("scripts/redis-py-load.py").path,
                            "--nodes", Self.ports.map { "127.0.0.1:\($0)" }.joined(separator: ","),
                            "--threads", "\(Self.pythonClients)", "--stop-file", stopFile, "--measure-file", measureFile,
                            "--max-seconds", "150", "--timeout", "1"]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try python.run()
        defer { if python.isRunning { Glibc.kill(python.processIdentifier, SIGKILL) } }
        let threads = (0..<Self.swiftClients).map { Self.swiftClient($0, seeds: seeds, state: state) }

        // Every client has done an operation, then the load runs a while before the first restart.
        let warmDeadline = Date().addingTimeInterval(30)
        while state.warmedUp.load(ordering: .relaxed) < Self.swiftClients && Date() < warmDeadline { usleep(20_000) }
        state.measuring.store(true, ordering: .relaxed)
        FileManager.default.createFile(atPath: measureFile, contents: Data())
        Thread.sleep(forTimeInterval: 2)
        for port in Self.ports {
            try restart(port)
            #expect(Self.waitHealthy(cluster), "the cluster is healthy again after restarting \(port)")
            Thread.sleep(forTimeInterval: 1)
        }
        Thread.sleep(forTimeInterval: 1)
        state.done.store(true, ordering: .relaxed)
        FileManager.default.createFile(atPath: stopFile, contents: Data())
        let deadline = Date().addingTimeInterval(60)
        while threads.contains(where: { $0.isExecuting }) && Date() < deadline { usleep(10_000) }
        while python.isRunning && Date() < deadline { usleep(10_000) }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let result = try JSONDecoder().decode(PythonResult.self, from: Data(text.utf8))

        // Every write acknowledged to a Swift client reads back.
        let checker = try ClusterClient(seeds: seeds)
        var lost: [String] = []
        for (key, value) in state.acknowledged.withLock({ $0 }) where (try? checker.get(bytes(key))) != bytes(value) {
            lost.append(key)
        }
        checker.close()
        return (state.failures.withLock { $0 }, result, lost, state.ops.load(ordering: .relaxed) + result.ops)
    }

    func startCluster(_ name: String) throws -> LocalCluster {
        // The default tick (100 ms), as a production cluster runs: elections take 1-2 s.
        let cluster = try LocalCluster(name: name, ports: Self.ports, extraArgs: ["--set", "tick_interval_ms=100"])
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        #expect(Self.waitHealthy(cluster))
        return cluster
    }

    @Test func aRollingRestartCostsNoOperation() throws {
        let cluster = try startCluster("rolling")
        defer { cluster.shutdown() }
        let result = try runLoad(cluster) { port in
            cluster.signal(port, SIGTERM)
            let p = try #require(cluster.processes[port])
            let deadline = Date().addingTimeInterval(15)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            #expect(!p.isRunning && p.terminationStatus == 0)
            try cluster.start(port)
        }
        print("rolling restart (SIGTERM): \(result.ops) operations, \(result.swift.count) MyStoreClient and \(result.python.failures) redis-py failures, \(result.python.acked) redis-py writes checked")
        #expect(result.swift.isEmpty, "\(result.swift.count) failed operations of MyStoreClient: \(result.swift.prefix(5))")
        #expect(result.python.failures == 0, "\(result.python.failures) failed operations of redis-py: \(result.python.errors)")
        #expect(result.swiftLost.isEmpty && result.python.missing == 0, "acknowledged writes lost: \(result.swiftLost.prefix(5)), redis-py \(result.python.missing)")
        #expect(result.python.acked > 0 && result.ops > 1_000, "the clients did work: \(result.ops) operations")
    }

    /// The same restart with SIGKILL: the clients see errors (the difference the graceful stop makes),
    /// yet no acknowledged write is lost.
    @Test func killingInsteadShowsClientErrors() throws {
        let cluster = try startCluster("killed")
        defer { cluster.shutdown() }
        let result = try runLoad(cluster) { port in
            cluster.kill(port)
            try cluster.start(port)
        }
        print("rolling restart (SIGKILL): \(result.ops) operations, \(result.swift.count) MyStoreClient and \(result.python.failures) redis-py failures")
        #expect(result.swift.count + result.python.failures > 0, "a kill -9 should cost operations")
        #expect(result.swiftLost.isEmpty && result.python.missing == 0, "acknowledged writes lost: \(result.swiftLost.prefix(5)), redis-py \(result.python.missing)")
    }
}
