import Foundation
import MyStoreClient
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif

/// The `mystore-server` processes, one per namespace, with their membership file, data
/// directories and logs under the run directory.
final class Cluster: @unchecked Sendable {
    let network: TestNetwork
    let serverBinary: String
    let directory: String
    let port: Int
    let shardCount: Int
    let extraArgs: [String]
    let addresses: [NodeAddress]
    let shardMap: ShardMap
    private let processes = Locked<[Int: Process]>([:])
    private let paused = Locked<Set<Int>>([])

    init(network: TestNetwork, serverBinary: String, directory: String, port: Int, shardCount: Int, extraArgs: [String]) throws {
        self.network = network
        self.serverBinary = serverBinary
        self.directory = directory
        self.port = port
        self.shardCount = shardCount
        self.extraArgs = extraArgs
        addresses = (0..<network.count).map { NodeAddress(host: network.address($0), port: UInt16(port))! }
        shardMap = try Placement.initial(nodes: addresses, shardCount: shardCount, replicationFactor: min(3, network.count))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (addresses.map(\.description).joined(separator: "\n") + "\n").write(toFile: membershipPath, atomically: true, encoding: .utf8)
    }

    var count: Int { network.count }
    var membershipPath: String { directory + "/cluster.membership" }
    func logPath(_ i: Int) -> String { directory + "/node\(i).log" }

    func start(_ i: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: which("ip") ?? "/usr/sbin/ip")
        // `ip netns exec` execs the server, so the process id is the server's.
        p.arguments = ["netns", "exec", network.namespace(i), serverBinary,
                       "--self", addresses[i].description, "--membership", membershipPath,
                       "--data-dir", directory + "/data\(i)",
                       "--set", "shard_count=\(shardCount)", "--set", "tick_interval_ms=50",
                       "--set", "peer_port_offset=500", "--set", "http_port_offset=1000"] + extraArgs
        if !FileManager.default.fileExists(atPath: logPath(i)) { _ = FileManager.default.createFile(atPath: logPath(i), contents: nil) }
        let out = FileHandle(forWritingAtPath: logPath(i))!
        out.seekToEndOfFile()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        processes.withLock { $0[i] = p }
    }

    func startAll() throws { for i in 0..<count { try start(i) } }

    func isRunning(_ i: Int) -> Bool { processes.withLock { $0[i]?.isRunning ?? false } }

    /// SIGKILL, then waits for the process to be gone.
    func kill9(_ i: Int) {
        guard let p = processes.withLock({ $0.removeValue(forKey: i) }) else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        paused.withLock { _ = $0.remove(i) }
    }

    func pause(_ i: Int) {
        guard let p = processes.withLock({ $0[i] }) else { return }
        Glibc.kill(p.processIdentifier, SIGSTOP)
        paused.withLock { _ = $0.insert(i) }
    }

    func resume(_ i: Int) {
        guard let p = processes.withLock({ $0[i] }) else { return }
        Glibc.kill(p.processIdentifier, SIGCONT)
        paused.withLock { _ = $0.remove(i) }
    }

    /// Resumes paused nodes and restarts dead ones.
    func reviveAll() {
        for i in 0..<count {
            if paused.withLock({ $0.contains(i) }) { resume(i) }
            if !isRunning(i) {
                kill9(i)
                try? start(i)
            }
        }
    }

    func stopAll() {
        for i in 0..<count {
            if let p = processes.withLock({ $0[i] }) { Glibc.kill(p.processIdentifier, SIGCONT) }
            kill9(i)
        }
    }

    func connection(_ i: Int, timeout: Double) throws -> RESPConnection {
        try RESPConnection(to: addresses[i], settings: ConnectionSettings(timeout: .milliseconds(Int(timeout * 1000))))
    }

    /// The node's view of the shards: shard id -> (role, term, leader address).
    func status(_ i: Int) -> [Int: (role: String, term: Int, leader: String?)]? {
        guard let c = try? connection(i, timeout: 1), let reply = try? c.send([Array("MYSTORE.STATUS".utf8)]), let text = reply.text,
              let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let shards = json["shards"] as? [[String: Any]] else { return nil }
        var result: [Int: (role: String, term: Int, leader: String?)] = [:]
        for s in shards {
            guard let id = s["shard"] as? Int else { continue }
            result[id] = (s["role"] as? String ?? "", s["term"] as? Int ?? 0, s["leader"] as? String)
        }
        return result
    }

    /// The node that leads the shard holding `key`, by the highest term any node reports.
    func leader(ofKey key: String) -> Int? {
        guard let shard = shardMap.shard(forKey: Array(key.utf8)) else { return nil }
        var best: (term: Int, node: Int)?
        for i in 0..<count where isRunning(i) && !paused.withLock({ $0.contains(i) }) {
            if let st = status(i)?[shard.id.rawValue], st.role == "leader", best == nil || st.term > best!.term {
                best = (st.term, i)
            }
        }
        return best?.node
    }

    /// Waits until every node answers and each knows a leader for every shard it hosts.
    func waitUntilReady(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var ready = true
            for i in 0..<count {
                guard let st = status(i), !st.isEmpty, st.values.allSatisfy({ $0.leader != nil }) else {
                    ready = false
                    break
                }
            }
            if ready { return true }
            sleepSeconds(0.2)
        }
        return false
    }
}
