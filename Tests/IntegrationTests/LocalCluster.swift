import Foundation
import MyStoreClient
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif

/// Real `mystore-server` processes on loopback, with their own membership file and data
/// directories under /tmp. Every process is killed and every file removed by `shutdown()`.
final class LocalCluster: @unchecked Sendable {
    let root: String
    let ports: [Int]
    let extraArgs: [String]
    /// Each node's IP address: 127.0.0.1 unless given. Nodes on addresses of their own can be
    /// cut apart by address (see `LoopbackPartition`).
    let hosts: [Int: String]
    private(set) var processes: [Int: Process] = [:]

    /// The server binary, built next to the test bundle by `swift build --build-tests`.
    static var serverBinary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("mystore-server").path
    }

    init(name: String, ports: [Int], extraArgs: [String] = [], hosts: [Int: String] = [:]) throws {
        root = "/tmp/mystore-it-\(name)-\(getpid())"
        self.ports = ports
        self.extraArgs = extraArgs
        self.hosts = hosts
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try (ports.map { address($0) }.joined(separator: "\n") + "\n").write(toFile: membershipPath, atomically: true, encoding: .utf8)
    }

    var membershipPath: String { root + "/cluster.membership" }
    func host(_ port: Int) -> String { hosts[port] ?? "127.0.0.1" }
    /// The node's membership line (an IPv6 host in brackets).
    func address(_ port: Int) -> String { NodeAddress(host: host(port), port: UInt16(port))!.description }
    func dataDir(_ port: Int) -> String { root + "/data-\(port)" }
    func logPath(_ port: Int) -> String { root + "/node-\(port).log" }

    /// Starts (or restarts) the node on `port`.
    func start(_ port: Int, args: [String] = []) throws {
        processes[port] = try launch(Self.serverBinary, ["--self", address(port), "--membership", membershipPath, "--data-dir", dataDir(port),
                                                         "--set", "tick_interval_ms=50"] + extraArgs + args, log: logPath(port))
    }

    func startAll() throws { for port in ports { try start(port) } }

    /// Sends `signal` to a running node and leaves it running (SIGSTOP, SIGCONT).
    func signal(_ port: Int, _ signal: Int32) {
        guard let p = processes[port] else { return }
        Glibc.kill(p.processIdentifier, signal)
    }

    func kill(_ port: Int, signal: Int32 = SIGKILL) {
        guard let p = processes.removeValue(forKey: port) else { return }
        Glibc.kill(p.processIdentifier, signal)
        p.waitUntilExit()
    }

    func shutdown() {
        for port in Array(processes.keys) { kill(port) }
        // MYSTORE_KEEP_TEST_DATA=1 keeps the logs and data directories for a look afterwards.
        if ProcessInfo.processInfo.environment["MYSTORE_KEEP_TEST_DATA"] == nil { try? FileManager.default.removeItem(atPath: root) }
    }

    func connection(_ port: Int, timeout: Duration = .seconds(10)) throws -> RESPConnection {
        try RESPConnection(to: NodeAddress(host: host(port), port: UInt16(port))!, settings: ConnectionSettings(timeout: timeout))
    }

    /// Waits until every node answers and every shard it hosts knows its leader.
    func waitUntilReady(seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var ready = true
            for port in processes.keys {
                guard let c = try? connection(port), let reply = try? c.send([Array("MYSTORE.STATUS".utf8)]), let json = reply.text,
                      json.contains("\"shards\""), !json.contains("\"leader\":null") else {
                    ready = false
                    break
                }
            }
            if ready { return true }
            usleep(100_000)
        }
        return false
    }

    /// Sends `command` until it gets a non-error reply or `seconds` pass (elections, restarts).
    func eventually(_ port: Int, _ command: [String], seconds: Double = 30) -> RESPReply? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let c = try? connection(port), let r = try? c.send(command.map { Array($0.utf8) }), r.errorMessage == nil { return r }
            usleep(100_000)
        }
        return nil
    }
}

/// Starts a process in the background with its output (stdout and stderr) in a fresh `log` file.
func launch(_ path: String, _ args: [String], log logPath: String) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    // Appended to across restarts, so a restarted node's earlier lines stay.
    if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
    let log = FileHandle(forWritingAtPath: logPath)!
    log.seekToEndOfFile()
    p.standardOutput = log
    p.standardError = log
    try p.run()
    return p
}

/// Runs a command line to completion (bounded), returning its exit status and output.
func run(_ path: String, _ args: [String], timeout: Double = 30) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    guard (try? p.run()) != nil else { return (-1, "cannot start \(path)") }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
