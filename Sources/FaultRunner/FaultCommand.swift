import ArgumentParser
import Dispatch
import Foundation
import Linearizability
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

@main
struct FaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore-fault",
        abstract: "Fault-injection test of a real MyStore cluster, checked for linearizability.",
        subcommands: [RunCommand.self, CheckCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

/// Exit codes: 0 linearizable, 1 violation, 2 setup failure, 3 checker inconclusive, 77 skipped.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start nodes in network namespaces, drive clients, inject faults, check the history."
    )

    @Option(help: "Seconds of load and faults.") var duration: Double = 30
    @Option(help: "Number of nodes.") var nodes: Int = 3
    @Option(help: "Comma-separated faults: \(FaultKind.allCases.map(\.rawValue).joined(separator: ",")), or none.")
    var faults: String?
    @Option(name: .customLong("plant-bug"), help: "Run the nodes with a planted bug: stale-read, skip-wal or moved-after-append (with --client-mode cluster).")
    var plantBug: String?
    @Option(name: .customLong("client-mode"), help: "How clients reach the cluster: any-node (each operation to a random node, which forwards it) or cluster (Redis Cluster clients: nodes answer -MOVED, clients route by CLUSTER SLOTS and trust MOVED/TRYAGAIN to mean not executed).")
    var clientMode: String = ClientMode.anyNode.rawValue
    @Option(help: "Concurrent clients.") var clients: Int = 6
    @Option(help: "Number of keys.") var keys: Int = 10
    @Option(help: "Shards in the cluster.") var shards: Int = 8
    @Option(help: "Random seed (faults and operations).") var seed: UInt64?
    @Option(help: "Client operation timeout in seconds.") var timeout: Double = 2
    @Option(help: "Folder for the history, summary and node logs.") var out: String?
    @Option(help: "The mystore-server binary.") var server: String?
    @Option(help: "First three octets of the test subnet.") var subnet = "10.77.0"
    @Option(help: "Client port of every node (each node has its own address).") var port = 14001
    @Option(help: "Name prefix of namespaces and links (at most 8 characters).") var tag: String?
    @Option(help: "Seconds the checker may spend per key.") var checkSeconds: Double = 120

    func validate() throws {
        guard nodes >= 3 && nodes <= 9 else { throw ValidationError("--nodes must be 3 to 9") }
        guard duration > 0 && duration <= 86_400 else { throw ValidationError("--duration must be in (0, 86400]") }
        guard clients >= 1 && clients <= 64, keys >= 1 && keys <= 1000 else { throw ValidationError("--clients 1-64, --keys 1-1000") }
        if let plantBug, !["stale-read", "skip-wal", "moved-after-append"].contains(plantBug) {
            throw ValidationError("--plant-bug must be stale-read, skip-wal or moved-after-append")
        }
        if plantBug == "moved-after-append" && clientMode != ClientMode.cluster.rawValue {
            throw ValidationError("--plant-bug moved-after-append needs --client-mode cluster (only Redis Cluster clients trust -MOVED)")
        }
        _ = try faultKinds()
        guard ClientMode(rawValue: clientMode) != nil else {
            throw ValidationError("--client-mode must be \(ClientMode.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        if let tag, tag.count > 8 || tag.isEmpty || !tag.allSatisfy({ $0.isLetter || $0.isNumber }) {
            throw ValidationError("--tag: 1-8 letters or digits")
        }
    }

    /// The faults to inject; a planted bug without --faults gets the faults that expose it.
    func faultKinds() throws -> [FaultKind] {
        let text = faults ?? (plantBug == "stale-read" ? "zombie-leader" : plantBug == "skip-wal" ? "kill-majority"
            : plantBug == "moved-after-append" ? "isolate-leader,zombie-leader" : FaultKind.allCases.map(\.rawValue).joined(separator: ","))
        if text == "none" { return [] }
        return try text.split(separator: ",").map { name in
            guard let k = FaultKind(rawValue: String(name)) else {
                throw ValidationError("unknown fault '\(name)'; known: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return k
        }
    }

    func run() throws {
        if let reason = TestNetwork.available() {
            print("mystore-fault: skipped: \(reason)")
            throw ExitCode(77)
        }
        let seed = self.seed ?? UInt64(historyNanos() & 0xFFFF_FFFF)
        let tag = self.tag ?? "mf\(getpid() % 100_000)"
        let dir = out ?? "/tmp/mystore-fault-\(tag)"
        let kinds = try faultKinds()
        let binary = server ?? siblingServer()
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("mystore-fault: server binary \(binary) not found (build mystore-server or pass --server)")
            throw ExitCode(2)
        }
        // A previous run's data, logs and results in the same folder would leak into this one.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        where name.hasPrefix("data") || name.hasPrefix("node") || name == "history.jsonl" || name == "summary.json" {
            try? FileManager.default.removeItem(atPath: dir + "/" + name)
        }
        let network = TestNetwork(tag: tag, subnet: subnet, nodes: nodes)
        let mode = ClientMode(rawValue: clientMode)!
        let bugArgs = plantBug.map { ["--unsafe-planted-bug", $0] } ?? []
        let modeArgs = mode == .cluster ? ["--set", "client_redirects=moved"] : []
        let cluster = try Cluster(network: network, serverBinary: binary, directory: dir, port: port, shardCount: shards, extraArgs: bugArgs + modeArgs)
        Cleanup.shared.register {
            cluster.stopAll()
            network.tearDown()
        }
        defer { Cleanup.shared.runAll() }
        Cleanup.shared.installSignalHandlers()

        log.say("run \(tag): \(nodes) nodes, \(clients) clients, \(keys) keys, \(Int(duration)) s, seed \(seed), clients \(mode.rawValue), faults \(kinds.map(\.rawValue).joined(separator: ",")), planted bug \(plantBug ?? "none"), output in \(dir)")
        do {
            try network.setUp()
            try cluster.startAll()
        } catch {
            log.say("setup failed: \(error)")
            throw ExitCode(2)
        }
        guard cluster.waitUntilReady(seconds: 90) else {
            log.say("the cluster did not become ready within 90 s; see \(dir)/node*.log")
            throw ExitCode(2)
        }
        log.say("cluster ready")

        let workload = Workload(cluster: cluster, keys: keys, clients: clients, timeout: timeout, seed: seed, mode: mode)
        let scheduler = FaultScheduler(cluster: cluster, kinds: kinds, keys: workload.keys, seed: seed)
        let loadStart = log.seconds()
        workload.start()
        let progress = Thread {
            var last = 0.0
            while !workload.isStopped {
                sleepSeconds(1)
                if log.seconds() - last >= 60 {
                    last = log.seconds()
                    log.say("\(workload.liveCount.current) operations so far")
                }
            }
        }
        progress.start()
        scheduler.run(until: loadStart + duration, calm: 1.0...3.0, hold: 2.0...5.0)
        var history = workload.stop()
        let loadSeconds = log.seconds() - loadStart
        log.say("load done: \(history.count) operations in \(String(format: "%.0f", loadSeconds)) s; healing")

        network.heal()
        cluster.reviveAll()
        let healthy = cluster.waitUntilReady(seconds: 90)
        if !healthy { log.say("warning: the cluster is not fully ready 90 s after healing; reading anyway") }
        history += finalReads(cluster: cluster, keys: workload.keys, mode: mode)

        let historyPath = dir + "/history.jsonl"
        try HistoryFile.encode(history).write(toFile: historyPath, atomically: true, encoding: .utf8)
        log.say("checking \(history.count) operations")
        let checkStart = log.seconds()
        let verdicts = LinearizabilityChecker.check(history, limits: CheckLimits(maxSteps: .max, maxSeconds: checkSeconds))
        let summary = Summary(history: history, verdicts: verdicts, faults: scheduler.events, healthyAtEnd: healthy,
                              loadSeconds: loadSeconds, checkSeconds: log.seconds() - checkStart,
                              settings: ["nodes": nodes, "clients": clients, "keys": keys, "shards": shards, "duration_s": duration,
                                         "seed": seed, "client_mode": mode.rawValue, "faults": kinds.map(\.rawValue), "plant_bug": plantBug ?? "none",
                                         "history": historyPath])
        try summary.json().write(toFile: dir + "/summary.json", atomically: true, encoding: .utf8)
        for v in summary.violations { print(v) }
        print(summary.oneLine)
        print("summary: \(dir)/summary.json")
        if summary.verdict != "linearizable" {
            throw ExitCode(summary.verdict == "violation" ? 1 : 3)
        }
    }

    /// Reads every key through every node after healing (retrying until each node answers);
    /// in cluster mode, through the slot-routing client once per node (a node may redirect
    /// a read to another).
    func finalReads(cluster: Cluster, keys: [String], mode: ClientMode) -> [HistoryOp] {
        var ops: [HistoryOp] = []
        let workload = Workload(cluster: cluster, keys: keys.count, clients: 0, timeout: timeout, seed: 0)
        let routing = SlotRoutingClient(cluster: cluster, timeout: 5, seed: 1)
        let deadline = Date().addingTimeInterval(120)
        for key in keys {
            for node in 0..<cluster.count {
                while Date() < deadline {
                    var op = HistoryOp(client: 0, kind: .get, key: key, invoke: historyNanos(), complete: nil, outcome: .fail)
                    let outcome: HistoryOp.Outcome, result: HistoryOp.Value
                    if mode == .cluster {
                        (outcome, result, _) = workload.perform(op, routing: routing)
                    } else if let c = try? cluster.connection(node, timeout: 5) {
                        (outcome, result, _) = workload.perform(op, on: c)
                    } else {
                        (outcome, result) = (.fail, .null)
                    }
                    op.complete = historyNanos()
                    op.outcome = outcome
                    op.result = result
                    if outcome == .ok {
                        ops.append(op)
                        break
                    }
                    sleepSeconds(0.2)
                }
            }
        }
        return ops
    }

    /// mystore-server next to this executable.
    func siblingServer() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("mystore-server").path
    }
}

/// `mystore-fault check HISTORY`: checks a recorded history file.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Check a history file (JSON lines) for linearizability.")

    @Argument(help: "The history file.") var history: String
    @Option(help: "Seconds the checker may spend per key.") var checkSeconds: Double = 120

    func run() throws {
        let ops = try HistoryFile.read(path: history)
        let started = log.seconds()
        let verdicts = LinearizabilityChecker.check(ops, limits: CheckLimits(maxSteps: .max, maxSeconds: checkSeconds))
        let summary = Summary(history: ops, verdicts: verdicts, faults: [], healthyAtEnd: true, loadSeconds: 0,
                              checkSeconds: log.seconds() - started, settings: [:])
        for v in summary.violations { print(v) }
        print(summary.oneLine)
        if summary.verdict != "linearizable" { throw ExitCode(summary.verdict == "violation" ? 1 : 3) }
    }
}

/// Cleanup that runs once: at the end of the run, on SIGINT/SIGTERM, or on an error exit.
final class Cleanup: @unchecked Sendable {
    static let shared = Cleanup()
    private let actions = Locked<[@Sendable () -> Void]>([])
    private var sources: [any DispatchSourceSignal] = []

    func register(_ action: @escaping @Sendable () -> Void) { actions.withLock { $0.append(action) } }

    func runAll() {
        let list = actions.withLock { a in
            defer { a = [] }
            return a
        }
        for action in list.reversed() { action() }
    }

    func installSignalHandlers() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                log.say("signal \(number): cleaning up")
                runAll()
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}
