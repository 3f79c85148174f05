import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real `mystore-server` processes in network namespaces under `mystore-fault` (the same
/// runner as scripts/fault-test, built next to the test bundle). Needs root, `ip netns` and
/// iptables; skipped otherwise.
@Suite("Fault injection", .serialized, .enabled(if: FaultRun.available, "needs root, ip netns and iptables"))
struct FaultInjectionTests {
    @Test func shortRunsWithKillsAndPartitionsPass() throws {
        for (n, faults) in ["kill,kill-leader,partition,isolate-leader", "pause,bridge,kill-majority,kill"].enumerated() {
            let run = try FaultRun(["--duration", "\(FaultRun.seconds)", "--faults", faults, "--seed", "\(100 + n)"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.summary["verdict"] as? String == "linearizable")
            let ops = run.summary["operations"] as? [String: Any]
            #expect((ops?["ok"] as? Int ?? 0) > 100, "too few operations succeeded: \(ops ?? [:])")
            let faultsInjected = run.summary["faults"] as? [String: Any]
            #expect((faultsInjected?["total"] as? Int ?? 0) >= 2)
        }
    }

    /// Redis Cluster clients: the nodes answer -MOVED, the clients route by slot and take
    /// MOVED/TRYAGAIN for "not executed", so a write answered that way and applied anyway is
    /// a violation.
    @Test func shortRunWithRedisClusterClientsPasses() throws {
        let run = try FaultRun(["--duration", "\(FaultRun.seconds)", "--client-mode", "cluster",
                                "--faults", "isolate-leader,zombie-leader,kill-leader,partition,pause", "--seed", "103"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.summary["verdict"] as? String == "linearizable")
        let ops = run.summary["operations"] as? [String: Any]
        #expect((ops?["ok"] as? Int ?? 0) > 100, "too few operations succeeded: \(ops ?? [:])")
    }

    /// The router's old behaviour, answering -MOVED/-TRYAGAIN for a write in the log, is
    /// caught by the cluster-client mode.
    @Test func plantedMovedAfterAppendIsFlagged() throws {
        // It needs a write appended just before its leader is cut off, so some 30 s runs miss
        // it: up to six runs.
        try expectFlagged("moved-after-append", ["--client-mode", "cluster"], seeds: 7...12)
    }

    @Test func plantedStaleReadIsFlagged() throws {
        try expectFlagged("stale-read")
    }

    @Test func plantedSkipWALIsFlagged() throws {
        try expectFlagged("skip-wal")
    }

    /// Detection depends on timing (a stale read needs a read at the deposed leader after a newer
    /// write elsewhere), so a run may miss the bug on a busy machine: up to three runs, with
    /// different seeds, and any of them flagging the bug passes. A clean run must never be flagged.
    func expectFlagged(_ bug: String, _ extra: [String] = [], seeds: ClosedRange<Int> = 7...9) throws {
        var outputs: [String] = []
        for seed in seeds {
            let run = try FaultRun(["--duration", "\(FaultRun.seconds)", "--plant-bug", bug, "--seed", "\(seed)"] + extra)
            if run.status == 1 && run.summary["verdict"] as? String == "violation" { return }
            #expect(run.status == 0 || run.status == 1, "\(run.output)")
            outputs.append(run.output)
        }
        Issue.record("--plant-bug \(bug) was not flagged in \(seeds.count) runs:\n\(outputs.joined(separator: "\n---\n"))")
    }
}

/// One `mystore-fault run`, bounded in time, with its summary.
struct FaultRun {
    static let seconds = ProcessInfo.processInfo.environment["MYSTORE_FAULT_SECONDS"].flatMap(Int.init) ?? 30

    static var binDirectory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    static var available: Bool {
        guard getuid() == 0 else { return false }
        let tools = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
            && ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        return tools && FileManager.default.isExecutableFile(atPath: binDirectory.appendingPathComponent("mystore-fault").path)
    }

    let status: Int32
    let output: String
    let summary: [String: Any]

    /// Runs of this process, so each gets its own namespace names and subnet.
    nonisolated(unsafe) static var runs = 0

    init(_ args: [String]) throws {
        Self.runs += 1
        let number = Self.runs
        let out = "/tmp/mystore-faulttest-\(getpid())-\(number)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = Self.binDirectory.appendingPathComponent("mystore-fault")
        p.arguments = ["run", "--server", Self.binDirectory.appendingPathComponent("mystore-server").path, "--out", out,
                       "--tag", "mft\(getpid() % 10000)\(number % 10)", "--subnet", "10.77.\(100 + number % 100)"] + args
        let logFile = out + ".log"
        FileManager.default.createFile(atPath: logFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: logFile) }
        let handle = FileHandle(forWritingAtPath: logFile)!
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        // Load, healing, final reads and the check, with room to spare; then it is killed.
        let deadline = Date().addingTimeInterval(Double(Self.seconds) + 300)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            usleep(3_000_000)
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        p.waitUntilExit()
        status = p.terminationStatus
        output = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        let data = (try? Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) ?? Data("{}".utf8)
        summary = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
