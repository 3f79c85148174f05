import Foundation
import MyStoreClient
import ShardRouter
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A cluster whose membership file names its hosts (`node-a:12341`), with the names in a hosts
/// file of the test's own: every server and every client command runs in a private mount
/// namespace (`unshare -m`) where that file is bind-mounted over /etc/hosts, so the names go
/// through the real getaddrinfo. One node then restarts under the same name at a new IP.
@Suite("Host names", .serialized, .enabled(if: NamedHostCluster.available, "needs root, unshare and mount (a private mount namespace with a test hosts file over /etc/hosts)"))
struct HostNameTests {
    @Test func clusterOfNamesKeepsWorkingAfterANodeMovesToANewIP() throws {
        let cluster = try NamedHostCluster(ips: ["node-a": "127.0.0.11", "node-b": "127.0.0.12", "node-c": "127.0.0.13"],
                                           ports: ["node-a": 12341, "node-b": 12342, "node-c": 12343])
        defer { cluster.shutdown() }
        // node-b listens on every interface and advertises its name; the others listen on
        // their name's address.
        try cluster.start("node-a")
        try cluster.start("node-b", args: ["--set", "bind=0.0.0.0"])
        try cluster.start("node-c")
        try #require(cluster.waitUntilReady(), "the named cluster never got a leader for every shard\n\(cluster.logs())")

        // The nodes advertise their names, not addresses.
        let slots = try #require(cluster.slotOwners(via: "node-a"))
        #expect(Set(slots.map(\.host)) == ["node-a", "node-b", "node-c"], "CLUSTER SLOTS names \(Set(slots.map(\.host)))")

        if let c = try? cluster.connection("node-a"), let shards = try? c.send([bytes("CLUSTER"), bytes("SHARDS")]),
           let first = shards.elements?.first?.elements, first.count == 4, let node = first[3].elements?.first?.elements {
            var fields: [String: RESPReply] = [:]
            for i in stride(from: 0, to: node.count - 1, by: 2) { fields[node[i].text ?? ""] = node[i + 1] }
            #expect(fields["hostname"]?.text?.hasPrefix("node-") == true, "CLUSTER SHARDS node fields: \(fields.keys.sorted())")
            #expect(fields["endpoint"]?.text == fields["hostname"]?.text)
        } else {
            Issue.record("CLUSTER SHARDS gave no node")
        }

        // Writes and reads through the client library and the CLI, by name.
        for i in 0..<6 {
            let put = cluster.cli(["put", "before:\(i)", "v\(i)", "--endpoint", "node-\(["a", "b", "c"][i % 3]):\(12341 + i % 3)"])
            #expect(put.status == 0 && put.output.contains("OK"), "put before:\(i): \(put.output)")
        }
        for i in 0..<6 {
            let get = cluster.cli(["get", "before:\(i)", "--endpoint", "node-c:12343"])
            #expect(get.status == 0 && get.output.trimmingCharacters(in: .whitespacesAndNewlines) == "v\(i)", "get before:\(i): \(get.output)")
        }
        #expect(cluster.established(toIP: "127.0.0.13", port: 22343) > 0, "no peer connection to node-c's first address")

        // node-c stops, moves to a new address under the same name, and starts again.
        cluster.stop("node-c")
        try cluster.setIP("node-c", "127.0.0.23")
        try cluster.start("node-c")
        try #require(cluster.waitUntilReady(), "the cluster did not recover after node-c moved to 127.0.0.23\n\(cluster.logs())")

        // It listens on its name's new address; node-b listens on every interface.
        #expect(cluster.log("node-c").contains("serving RESP on 127.0.0.23"), "node-c's log:\n\(cluster.logs())")
        #expect(cluster.log("node-b").contains("serving RESP on 0.0.0.0"), "node-b's log:\n\(cluster.logs())")

        // Its peers redialled the name and reached the new address (node-a and node-b dial
        // node-c, the highest id), and none still talks to the old one.
        var reconnected = 0
        for _ in 0..<100 {
            reconnected = cluster.established(toIP: "127.0.0.23", port: 22343)
            if reconnected >= 2 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(reconnected >= 2, "peer connections to node-c at 127.0.0.23: \(reconnected)\n\(cluster.peerSockets())\n\(cluster.logs())")
        #expect(cluster.established(toIP: "127.0.0.13", port: 22343) == 0)

        // node-c serves again: its replicas caught up (a read on it waits for its replica to
        // apply the leader's commit index, learnt over the peer connections).
        for i in 0..<6 {
            let get = cluster.cli(["get", "before:\(i)", "--endpoint", "node-c:12343"])
            #expect(get.status == 0 && get.output.trimmingCharacters(in: .whitespacesAndNewlines) == "v\(i)", "get before:\(i) on moved node-c: \(get.output)")
        }
        // Shards node-c leads take writes (a quorum needs node-c's connections to its peers):
        // wait for the node to take back the leaderships it prefers, then write keys of those
        // shards through another node (forwarded to node-c) and read them through a third.
        var ledByC: [SlotOwner] = []
        for _ in 0..<200 {
            ledByC = (cluster.slotOwners(via: "node-a") ?? []).filter { $0.host == "node-c" }
            if !ledByC.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(!ledByC.isEmpty, "node-c leads no shard after its move\n\(cluster.logs())")
        let keys = try #require(cluster.keys(count: 4, inSlotsOf: ledByC, via: "node-a"))
        for key in keys {
            let put = cluster.cli(["put", key, "after-" + key, "--endpoint", "node-a:12341"])
            #expect(put.status == 0 && put.output.contains("OK"), "put \(key) (led by node-c): \(put.output)")
            let get = cluster.cli(["get", key, "--endpoint", "node-b:12342"])
            #expect(get.output.trimmingCharacters(in: .whitespacesAndNewlines) == "after-" + key, "get \(key): \(get.output)")
        }
        // And through node-c itself, for every shard: keys spread over all slots.
        for i in 0..<8 {
            let put = cluster.cli(["put", "after:\(i)", "w\(i)", "--endpoint", "node-c:12343"])
            #expect(put.status == 0 && put.output.contains("OK"), "put after:\(i) via node-c: \(put.output)")
        }
    }
}

/// A cluster on IPv6 loopback, membership lines `[::1]:port`: the nodes listen and dial over
/// IPv6, `-MOVED` names the leader as Redis 7 does (`::1:port`, the host bare), and the cluster
/// client follows it.
@Suite("IPv6 addresses", .serialized)
struct IPv6AddressTests {
    @Test func ipv6ClusterServesAndRedirectsAsRedis() throws {
        let ports = [12351, 12352, 12353]
        let cluster = try LocalCluster(name: "ipv6", ports: ports, extraArgs: ["--set", "client_redirects=moved"],
                                       hosts: Dictionary(uniqueKeysWithValues: ports.map { ($0, "::1") }))
        defer { cluster.shutdown() }
        #expect(try String(contentsOfFile: cluster.membershipPath, encoding: .utf8) == "[::1]:12351\n[::1]:12352\n[::1]:12353\n")
        try cluster.startAll()
        try #require(cluster.waitUntilReady(), "the IPv6 cluster never got a leader for every shard")

        // A write to a shard node 12351 does not lead is redirected, with the host bare.
        let c = try cluster.connection(12351)
        var moved: String?
        for i in 0..<200 where moved == nil {
            let reply = try c.send([bytes("SET"), bytes("v6:\(i)"), bytes("x")])
            if let message = reply.errorMessage, message.hasPrefix("MOVED ") { moved = message }
        }
        let message = try #require(moved, "no MOVED reply from a node leading only some shards")
        let words = message.split(separator: " ")
        #expect(words.count == 3 && (words[2] == "::1:12352" || words[2] == "::1:12353"), "MOVED reply: \(message)")

        // redis-cli -c (where installed: scripts/test installs it) follows the bare form too.
        if let redisCLI = ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let slot = try #require(words.count == 3 ? Int(words[1]) : nil)
            var key = ""
            for i in 0..<5_000 where key.isEmpty {
                if case .integer(let s)? = try? c.send([bytes("CLUSTER"), bytes("KEYSLOT"), bytes("cli:\(i)")]), s == slot { key = "cli:\(i)" }
            }
            try #require(!key.isEmpty)
            let set = run(redisCLI, ["-c", "-h", "::1", "-p", "12351", "SET", key, "via-redis-cli"])
            #expect(set.status == 0 && set.output.trimmingCharacters(in: .whitespacesAndNewlines) == "OK", "redis-cli -c SET: \(set.output)")
            let get = run(redisCLI, ["-c", "-h", "::1", "-p", "12351", "GET", key])
            #expect(get.output.trimmingCharacters(in: .whitespacesAndNewlines) == "via-redis-cli", "redis-cli -c GET: \(get.output)")
        }

        // The cluster client follows MOVED and CLUSTER SLOTS to IPv6 nodes.
        let client = try ClusterClient(seeds: [NodeAddress(parsing: "[::1]:12351")])
        for i in 0..<20 {
            #expect(try client.set(bytes("v6:\(i)"), bytes("value\(i)")))
        }
        for i in 0..<20 {
            #expect(try client.get(bytes("v6:\(i)")) == bytes("value\(i)"))
        }
    }
}

/// A slot range and the host:port that CLUSTER SLOTS names as its master.
struct SlotOwner: Sendable {
    let first: Int
    let last: Int
    let host: String
    let port: Int
}

/// `mystore-server` processes whose membership names their hosts, each in a mount namespace of
/// its own that sees the test's hosts file as /etc/hosts. The test talks to the nodes' current
/// IP addresses directly only to poll their state; everything that must resolve names (the
/// servers, the `mystore` CLI) runs in such a namespace.
final class NamedHostCluster: @unchecked Sendable {
    let root: String
    let ports: [String: Int]
    private(set) var ips: [String: String]
    private var processes: [String: Process] = [:]

    static let unshare = "/usr/bin/unshare"
    /// Bind-mounts the hosts file (`$0`) over /etc/hosts, then runs the command (`$@`); the
    /// namespace is private, so nothing of it is seen outside, and it ends with its process.
    static let script = "mount --bind \"$0\" /etc/hosts && exec \"$@\""

    /// Root, `unshare` and the right to mount in a new namespace.
    static var available: Bool {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: unshare) else { return false }
        return run(unshare, ["-m", "--propagation", "private", "sh", "-c", script, "/etc/hosts", "true"], timeout: 10).status == 0
    }

    static var binaryDirectory: URL {
        URL(fileURLWithPath: LocalCluster.serverBinary).deletingLastPathComponent()
    }

    init(ips: [String: String], ports: [String: Int]) throws {
        root = "/tmp/mystore-it-hostnames-\(getpid())"
        self.ips = ips
        self.ports = ports
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let lines = ports.keys.sorted().map { "\($0):\(ports[$0]!)" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: membershipPath, atomically: true, encoding: .utf8)
        try writeHosts()
    }

    var membershipPath: String { root + "/cluster.membership" }
    var hostsPath: String { root + "/hosts" }
    func logPath(_ name: String) -> String { root + "/\(name).log" }

    /// Rewrites the hosts file in place (same inode), so every namespace's bind mount shows it.
    private func writeHosts() throws {
        var text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
        for name in ips.keys.sorted() { text += "\(ips[name]!) \(name)\n" }
        let fd = open(hostsPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
    }

    func setIP(_ name: String, _ ip: String) throws {
        ips[name] = ip
        try writeHosts()
    }

    /// Starts `name`'s server in a namespace of its own (the process id is the server's:
    /// `unshare` without `--fork` and `sh`'s `exec` replace themselves).
    func start(_ name: String, args: [String] = []) throws {
        processes[name] = try launch(Self.unshare, ["-m", "--propagation", "private", "sh", "-c", Self.script, hostsPath, LocalCluster.serverBinary,
                                                    "--self", "\(name):\(ports[name]!)", "--membership", membershipPath,
                                                    "--data-dir", root + "/data-\(name)", "--set", "tick_interval_ms=50"] + args,
                                     log: logPath(name))
    }

    /// Stops `name` with SIGTERM (a graceful stop), SIGKILL after 15 s.
    func stop(_ name: String) {
        guard let p = processes.removeValue(forKey: name) else { return }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    func shutdown() {
        for p in processes.values where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in processes.values { p.waitUntilExit() }
        processes.removeAll()
        try? FileManager.default.removeItem(atPath: root)
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }

    func logs() -> String {
        ports.keys.sorted().map { name in
            "--- \(name)\n" + log(name).split(separator: "\n").suffix(20).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Runs the `mystore` CLI in a namespace that resolves the names (bounded by 30 s).
    func cli(_ args: [String]) -> (status: Int32, output: String) {
        let mystore = Self.binaryDirectory.appendingPathComponent("mystore").path
        return run(Self.unshare, ["-m", "--propagation", "private", "sh", "-c", Self.script, hostsPath, mystore] + args, timeout: 30)
    }

    /// A connection to `name`'s current address, for polling.
    func connection(_ name: String) throws -> RESPConnection {
        try RESPConnection(to: NodeAddress(host: ips[name]!, port: UInt16(ports[name]!))!, settings: ConnectionSettings(timeout: .seconds(5)))
    }

    /// Waits until every running node answers and every shard it hosts knows its leader.
    func waitUntilReady(seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let ready = processes.keys.allSatisfy { name in
                guard let c = try? connection(name), let json = try? c.send([bytes("MYSTORE.STATUS")]).text else { return false }
                return json.contains("\"shards\"") && !json.contains("\"leader\":null")
            }
            if ready { return true }
            usleep(100_000)
        }
        return false
    }

    /// CLUSTER SLOTS as `name` answers it: each range's master.
    func slotOwners(via name: String) -> [SlotOwner]? {
        guard let c = try? connection(name), case .array(let ranges)? = try? c.send([bytes("CLUSTER"), bytes("SLOTS")]) else { return nil }
        return ranges.compactMap { range -> SlotOwner? in
            guard case .array(let fields) = range, fields.count >= 3, case .integer(let first) = fields[0], case .integer(let last) = fields[1],
                  case .array(let master) = fields[2], master.count >= 2, let host = master[0].text, case .integer(let port) = master[1]
            else { return nil }
            return SlotOwner(first: Int(first), last: Int(last), host: host, port: Int(port))
        }
    }

    /// `count` keys whose slots fall in `owners`' ranges (CLUSTER KEYSLOT on `name`).
    func keys(count: Int, inSlotsOf owners: [SlotOwner], via name: String) -> [String]? {
        guard let c = try? connection(name) else { return nil }
        var keys: [String] = []
        for i in 0..<5_000 where keys.count < count {
            let key = "moved:\(i)"
            guard case .integer(let slot)? = try? c.send([bytes("CLUSTER"), bytes("KEYSLOT"), bytes(key)]) else { return nil }
            if owners.contains(where: { $0.first <= Int(slot) && Int(slot) <= $0.last }) { keys.append(key) }
        }
        return keys.count == count ? keys : nil
    }

    /// /proc/net/tcp read to its end (it reports no size, and may hold thousands of lines).
    static func tcpTable() -> String {
        let fd = open("/proc/net/tcp", O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n > 0 { bytes += chunk[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The lines of /proc/net/tcp that involve a peer port, for failure messages.
    func peerSockets() -> String {
        let ports = Set(self.ports.values.map { String(format: "%04X", $0 + 10_000) })
        return Self.tcpTable().split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && (ports.contains(String(fields[1].suffix(4))) || ports.contains(String(fields[2].suffix(4))))
        }.joined(separator: "\n")
    }

    /// Established TCP connections (IPv4, /proc/net/tcp of this network namespace) whose remote
    /// end is `ip:port`.
    func established(toIP ip: String, port: Int) -> Int {
        let table = Self.tcpTable()
        let octets = ip.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4 else { return 0 }
        // The kernel prints the address as the in-memory 32-bit word: network order read little-endian.
        let word = octets[0] | octets[1] << 8 | octets[2] << 16 | octets[3] << 24
        let remote = String(format: "%08X:%04X", word, port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2] == remote && fields[3] == "01"  // 01: ESTABLISHED
        }.count
    }
}
