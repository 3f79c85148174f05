import Foundation
import MyStoreClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `log_format = json` writes one JSON object per line with the fields collectors rely on, and
/// `log_level` filters what is written.
@Suite(.serialized) struct LogFormatTests {
    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Every line of a node's log as a JSON object; records a failure for any line that is not.
    func jsonLines(_ cluster: LocalCluster, _ port: Int) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: cluster.logPath(port), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("not a JSON object: \(line)")
                return nil
            }
            return object
        }
    }

    func waitForExit(_ cluster: LocalCluster, _ port: Int) {
        guard let p = cluster.processes[port] else { return }
        let deadline = Date().addingTimeInterval(15)
        while p.isRunning && Date() < deadline { usleep(10_000) }
    }

    @Test func jsonLinesCarryTheOperatorsEvents() throws {
        let ports = [12191, 12192, 12193]
        let cluster = try LocalCluster(name: "logjson", ports: ports, extraArgs: ["--set", "log_format=json"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        #expect(cluster.eventually(12191, ["SET", "k", "v"]) != nil)
        cluster.signal(12191, SIGTERM)
        waitForExit(cluster, 12191)

        var leaderLines = 0
        for port in ports {
            let lines = jsonLines(cluster, port)
            #expect(!lines.isEmpty)
            for object in lines {
                #expect(object["timestamp"] is String && object["logger"] is String && object["message"] is String, "\(object)")
                #expect(object["node"] as? String == "127.0.0.1:\(port)")
                let level = object["level"] as? String ?? "?"
                #expect(Self.levels.dropFirst(2).contains(level), "log_level defaults to info: \(object)")
            }
            let messages = lines.compactMap { $0["message"] as? String }
            #expect(messages.contains { $0.contains("serving RESP") }, "the start-up line, port \(port)")
            #expect(messages.contains { $0.hasPrefix("connected to node") }, "peer connects are logged, port \(port)")
            // Leader changes per shard, with the group as a number.
            leaderLines += lines.filter { ($0["message"] as? String ?? "").contains("is the leader") && $0["group"] is Int }.count
        }
        // 17 groups (16 shards and the meta group), each with a leader seen by three nodes.
        #expect(leaderLines >= 17)
        let stopped = jsonLines(cluster, 12191).compactMap { $0["message"] as? String }
        #expect(stopped.contains { $0.hasPrefix("received SIGTERM") } && stopped.contains { $0.hasPrefix("handed over") } && stopped.last == "stopped")
        let others = jsonLines(cluster, 12192).compactMap { $0["message"] as? String }
        #expect(others.contains { $0.hasPrefix("connection to node") && $0.hasSuffix("closed") }, "peer disconnects are logged")
    }

    @Test func theLevelFiltersWhatIsLogged() throws {
        let port = 12194
        let cluster = try LocalCluster(name: "loglevel", ports: [port],
                                       extraArgs: ["--set", "log_format=json", "--set", "replication_factor=1", "--set", "shard_count=2"])
        defer { cluster.shutdown() }
        try cluster.start(port, args: ["--set", "log_level=warning"])
        #expect(cluster.waitUntilReady())
        #expect(cluster.eventually(port, ["SET", "k", "v"]) != nil)
        cluster.signal(port, SIGTERM)
        waitForExit(cluster, port)
        let quiet = jsonLines(cluster, port)
        #expect(quiet.allSatisfy { ["warning", "error", "critical"].contains($0["level"] as? String ?? "?") }, "\(quiet)")
        #expect(!quiet.contains { ($0["message"] as? String ?? "").contains("serving RESP") })
        cluster.kill(port)

        // The same node at debug level logs its elections' campaigns and its start-up line.
        try? FileManager.default.removeItem(atPath: cluster.logPath(port))
        try cluster.start(port, args: ["--set", "log_level=debug"])
        #expect(cluster.waitUntilReady())
        cluster.signal(port, SIGTERM)
        waitForExit(cluster, port)
        let verbose = jsonLines(cluster, port)
        #expect(verbose.contains { $0["level"] as? String == "debug" }, "\(verbose.prefix(5))")
        #expect(verbose.contains { ($0["message"] as? String ?? "").contains("serving RESP") })
    }

    @Test func aWrongLogSettingStopsTheNodeWithItsName() throws {
        let cluster = try LocalCluster(name: "logbad", ports: [12195])
        defer { cluster.shutdown() }
        let result = run(LocalCluster.serverBinary, ["--self", "127.0.0.1:12195", "--membership", cluster.membershipPath,
                                                     "--data-dir", cluster.dataDir(12195), "--set", "log_format=xml"])
        #expect(result.status != 0)
        #expect(result.output.contains("log_format") && result.output.contains("text or json"), "\(result.output)")
    }
}
