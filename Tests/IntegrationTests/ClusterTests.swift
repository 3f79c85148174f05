import Foundation
import MyStoreClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Three real nodes on loopback. Each test uses its own ports and data, and stops every
/// process it started.
@Suite(.serialized) struct ClusterTests {
    // 10,000 keys written through one node read back through each of the others.
    @Test func writesThroughOneNodeReadBackThroughEveryOther() throws {
        let cluster = try LocalCluster(name: "rw", ports: [12101, 12102, 12103])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let writer = try cluster.connection(12101)
        for batch in stride(from: 0, to: 10_000, by: 250) {
            let replies = try writer.pipeline((batch..<batch + 250).map { [bytes("SET"), bytes("key:\($0)"), bytes("value-\($0)")] })
            #expect(replies.allSatisfy { $0 == .simpleString("OK") }, "batch \(batch): \(replies.first { $0 != .simpleString("OK") }.map(String.init(describing:)) ?? "")")
        }
        for port in [12102, 12103] {
            let reader = try cluster.connection(port)
            var wrong = 0
            for batch in stride(from: 0, to: 10_000, by: 500) {
                let replies = try reader.pipeline((batch..<batch + 500).map { [bytes("GET"), bytes("key:\($0)")] })
                // An error reply (an election, a timeout on a loaded machine) is retried; only a
                // wrong value counts.
                for (k, r) in replies.enumerated() where r.text != "value-\(batch + k)" {
                    if readEventually(reader, "key:\(batch + k)")?.text != "value-\(batch + k)" { wrong += 1 }
                }
            }
            #expect(wrong == 0, "node \(port) returned \(wrong) wrong values")
            #expect(try reader.send([bytes("DBSIZE")]).integer == 10_000)
        }
        // INFO's keyspace counts the shards each node leads: over the nodes, every key once.
        var total = 0
        for port in [12101, 12102, 12103] {
            let text = try cluster.connection(port).send([bytes("INFO"), bytes("keyspace")]).text ?? ""
            #expect(text.hasPrefix("# Keyspace\r\n"), "\(text)")
            if let field = text.split(separator: "\r\n").first(where: { $0.hasPrefix("db0:keys=") }) {
                total += Int(field.dropFirst("db0:keys=".count).prefix(while: { $0.isNumber })) ?? 0
            }
        }
        #expect(total == 10_000, "keys over the nodes' INFO keyspace: \(total)")
        // GETRANGE reads through any node; FLUSHALL empties every shard; later writes work.
        let any = try cluster.connection(12102)
        #expect(try any.send([bytes("GETRANGE"), bytes("key:42"), bytes("0"), bytes("4")]).text == "value")
        #expect(try any.send([bytes("FLUSHALL")]) == .simpleString("OK"))
        #expect(try any.send([bytes("DBSIZE")]).integer == 0)
        #expect(try any.send([bytes("GET"), bytes("key:42")]) == .null)
        #expect(try any.send([bytes("SET"), bytes("after"), bytes("1")]) == .simpleString("OK"))
        #expect(try writer.send([bytes("DBSIZE")]).integer == 1)
        // mystore-bench bounded by a count smaller than its connection count ends (a worker
        // whose connections got no request used to wait forever) and reports that count.
        let bench = URL(fileURLWithPath: LocalCluster.serverBinary).deletingLastPathComponent().appendingPathComponent("mystore-bench").path
        let (status, output) = run(bench, ["put", "--endpoints", "127.0.0.1:12101,127.0.0.1:12102,127.0.0.1:12103", "-c", "8", "-n", "1", "--threads", "2",
                                           "--warmup", "0", "--keys", "100", "--preload", "--quiet", "--json", "--server-name", "mystore-server"],
                                   timeout: 60)
        #expect(status == 0, "mystore-bench: \(output)")
        #expect(output.contains("\"ops\":1,"), "mystore-bench: \(output)")
    }

    // kill -9 of a node leading shards while a client writes: every acknowledged write is
    // readable after the elections, and after the node comes back.
    @Test func acknowledgedWritesSurviveKillingALeader() throws {
        let cluster = try LocalCluster(name: "kill", ports: [12111, 12112, 12113])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // Leader balancing hands node 12113 its share of leaderships within a few seconds.
        var status = ""
        let settle = Date().addingTimeInterval(20)
        while !status.contains("\"role\":\"leader\"") && Date() < settle {
            status = (try? cluster.connection(12113).send([bytes("MYSTORE.STATUS")]).text) ?? ""
            if !status.contains("\"role\":\"leader\"") { usleep(200_000) }
        }
        #expect(status.contains("\"role\":\"leader\""), "node 12113 leads shards")
        var acked: [Int] = []
        var conn = try cluster.connection(12111)
        let start = Date()
        var i = 0
        while Date().timeIntervalSince(start) < 12 && i < 100_000 {
            if i == 300 { cluster.kill(12113) }
            if let r = try? conn.send([bytes("SET"), bytes("k\(i)"), bytes("v\(i)")]) {
                if r == .simpleString("OK") { acked.append(i) }
            } else if let c = try? cluster.connection(12111) {
                conn = c
            }
            i += 1
        }
        #expect(acked.count > 300, "writes continued after the kill: \(acked.count) acknowledged of \(i)")
        let reader = try cluster.connection(12112)
        let lost = acked.filter { k in readEventually(reader, "k\(k)")?.text != "v\(k)" }
        #expect(lost.isEmpty, "acknowledged writes lost after the kill: \(lost.prefix(10))")
        try cluster.start(12113)
        #expect(cluster.waitUntilReady())
        let back = try cluster.connection(12113)
        var wrong: [String] = []
        for k in acked {
            let r = readEventually(back, "k\(k)")
            if r?.text != "v\(k)" { wrong.append("k\(k): \(r.map(String.init(describing:)) ?? "no reply")") }
        }
        #expect(wrong.isEmpty, "the restarted node misses acknowledged writes: \(wrong.prefix(10))")
    }

    // All nodes stopped and restarted: everything acknowledged is still there.
    @Test func everythingSurvivesAFullRestart() throws {
        let cluster = try LocalCluster(name: "restart", ports: [12121, 12122, 12123])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let c = try cluster.connection(12122)
        for batch in stride(from: 0, to: 2_000, by: 200) {
            let replies = try c.pipeline((batch..<batch + 200).map { [bytes("SET"), bytes("r\($0)"), bytes("\($0)")] })
            #expect(replies.allSatisfy { $0 == .simpleString("OK") }, "\(replies.first { $0 != .simpleString("OK") }.map(String.init(describing:)) ?? "")")
        }
        #expect(try c.send([bytes("INCRBY"), bytes("counter"), bytes("41")]).integer == 41)
        for port in cluster.ports { cluster.kill(port, signal: port == 12121 ? SIGTERM : SIGKILL) }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        #expect(cluster.eventually(12123, ["INCR", "counter"])?.integer == 42)
        let r = try cluster.connection(12121)
        let missing = (0..<2_000).filter { readEventually(r, "r\($0)")?.text != "\($0)" }
        #expect(missing.isEmpty, "missing after restart: \(missing.prefix(10))")
        #expect(try r.send([bytes("DBSIZE")]).integer == 2_001)
    }

    // redis-cli works as a client; `redis-cli -c` follows -MOVED when the cluster redirects.
    @Test func redisCliAndClusterRedirects() throws {
        let cli = ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].first { FileManager.default.fileExists(atPath: $0) }
        try #require(cli != nil, "redis-cli is missing: scripts/test installs Debian's redis-tools")
        let cluster = try LocalCluster(name: "cli", ports: [12131, 12132, 12133], extraArgs: ["--set", "client_redirects=moved"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // Find a key whose shard node 12131 does not lead: a plain client sees MOVED.
        var movedKey: String?
        let c = try cluster.connection(12131)
        for k in 0..<200 {
            if let e = try c.send([bytes("SET"), bytes("user:\(k)"), bytes("x")]).errorMessage, e.hasPrefix("MOVED") {
                movedKey = "user:\(k)"
                break
            }
        }
        let key = try #require(movedKey)
        let plain = run(cli!, ["-p", "12131", "SET", key, "hello"])
        #expect(plain.output.contains("MOVED"))
        let followed = run(cli!, ["-c", "-p", "12131", "SET", key, "hello"])
        #expect(followed.status == 0 && followed.output.contains("OK"), "\(followed.output)")
        let read = run(cli!, ["-c", "-p", "12132", "GET", key])
        #expect(read.output.contains("hello"), "\(read.output)")
        #expect(run(cli!, ["-p", "12133", "PING"]).output.contains("PONG"))
        #expect(run(cli!, ["-p", "12133", "CLUSTER", "KEYSLOT", "foo"]).output.contains("12182"))
    }

    // A garbage byte stream on a node's port gets that connection closed; every other client
    // is served on.
    @Test func garbageOnAPortDisturbsNoOtherClient() throws {
        let cluster = try LocalCluster(name: "garbage", ports: [12141, 12142, 12143])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let good = try cluster.connection(12141)
        #expect(try good.send([bytes("SET"), bytes("g"), bytes("1")]) == .simpleString("OK"))
        var rng = SystemRandomNumberGenerator()
        for port in [12141, 12141 + 10_000] {  // client port and peer port
            for _ in 0..<5 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                if ok == 0 {
                    let junk = (0..<65_536).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                close(fd)
            }
        }
        #expect(try good.send([bytes("GET"), bytes("g")]).text == "1")
        #expect(try cluster.connection(12141).send([bytes("INCR"), bytes("g")]).integer == 2)
    }

    // Each startup error is one line naming what is wrong, and a non-zero exit.
    @Test func startupErrorsAreClear() throws {
        let cluster = try LocalCluster(name: "errors", ports: [12151, 12152, 12153])
        defer { cluster.shutdown() }
        let server = LocalCluster.serverBinary
        let bad = cluster.root + "/bad.membership"
        try "127.0.0.1:12151\n127.0.0.1:notaport\n".write(toFile: bad, atomically: true, encoding: .utf8)
        var r = run(server, ["--self", "127.0.0.1:12151", "--membership", bad, "--data-dir", cluster.dataDir(12151)])
        #expect(r.status != 0 && r.output.contains("bad.membership:2") && r.output.contains("notaport"), "\(r.output)")

        r = run(server, ["--self", "127.0.0.1:12159", "--membership", cluster.membershipPath, "--data-dir", cluster.dataDir(12159)])
        #expect(r.status != 0 && r.output.contains("12159") && r.output.contains("not listed"), "\(r.output)")

        let blocker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(blocker) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(12152).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(blocker, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(blocker, 1)
        r = run(server, ["--self", "127.0.0.1:12152", "--membership", cluster.membershipPath, "--data-dir", cluster.dataDir(12152)])
        #expect(r.status != 0 && r.output.contains("12152") && r.output.contains("in use"), "\(r.output)")

        let foreign = cluster.root + "/foreign"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try "something else".write(toFile: foreign + "/notes.txt", atomically: true, encoding: .utf8)
        r = run(server, ["--self", "127.0.0.1:12153", "--membership", cluster.membershipPath, "--data-dir", foreign])
        #expect(r.status != 0 && r.output.contains("not a MyStore data directory"), "\(r.output)")

        let file = cluster.root + "/plainfile"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        r = run(server, ["--self", "127.0.0.1:12153", "--membership", cluster.membershipPath, "--data-dir", file])
        #expect(r.status != 0 && r.output.contains("plainfile"), "\(r.output)")

        // Another cluster's data directory is refused too.
        try cluster.start(12153)
        usleep(1_500_000)
        cluster.kill(12153, signal: SIGTERM)
        let other = try LocalCluster(name: "errors-other", ports: [12153, 12154, 12155])
        defer { other.shutdown() }
        r = run(server, ["--self", "127.0.0.1:12153", "--membership", other.membershipPath, "--data-dir", cluster.dataDir(12153)])
        #expect(r.status != 0 && r.output.contains("belongs to another cluster"), "\(r.output)")
        #expect(r.output.split(separator: "\n").count == 1, "one line: \(r.output)")
    }
}

/// GET, retried while the cluster answers with an error (an election or catch-up in progress,
/// -TRYAGAIN); a wrong value is returned at once.
func readEventually(_ c: RESPConnection, _ key: String, seconds: Double = 20) -> RESPReply? {
    let deadline = Date().addingTimeInterval(seconds)
    var last: RESPReply?
    repeat {
        last = try? c.send([bytes("GET"), bytes(key)])
        if let r = last, r.errorMessage == nil { return r }
        usleep(50_000)
    } while Date() < deadline
    return last
}
