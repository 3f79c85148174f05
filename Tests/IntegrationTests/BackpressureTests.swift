import Foundation
import MyStoreClient
import ShardRouter
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What one client may cost a node: a client that pipelines requests without reading the
/// replies is pushed back (the node stops reading from it) or disconnected at the output limit,
/// and the node's other clients do not notice.
@Suite(.serialized) struct BackpressureTests {
    /// Resident memory of a process, in bytes.
    func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    /// Median time of `count` GETs of a small key on `connection`, in seconds.
    func medianGet(_ connection: RESPConnection, count: Int = 40) throws -> Double {
        var times: [Double] = []
        for _ in 0..<count {
            let start = Date()
            _ = try connection.send([bytes("GET"), bytes("small")])
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[count / 2]
    }

    // The case: 10,000 pipelined GETs of a 1 MB value, never read. Before backpressure
    // the node read them all and queued every reply (RSS grew by gigabytes).
    @Test func aClientThatDoesNotReadCostsBoundedMemoryAndOthersAreServed() throws {
        let port = 12181
        let cluster = try LocalCluster(name: "backpressure", ports: [port, 12182, 12183])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: 1_000_000)
        #expect(cluster.eventually(port, ["SET", "small", "x"]) != nil)
        let setter = try cluster.connection(port)
        #expect(try setter.send([bytes("SET"), bytes("big"), value]) == .simpleString("OK"))
        let pid = try #require(cluster.processes[port]?.processIdentifier)
        let other = try cluster.connection(port)
        let before = try medianGet(other)
        let rssBefore = rss(pid)

        // The flood, written from a thread of its own: once the node stops reading, the
        // socket's buffers fill and the writes block (bounded by a send timeout).
        let fd = try TCPSocket.connectedDescriptor(to: try NodeAddress(parsing: "127.0.0.1:\(port)"), timeout: .seconds(10))
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var requests: [UInt8] = []
        for _ in 0..<10_000 { RESPEncoder.append([bytes("GET"), bytes("big")], to: &requests) }
        let flood = requests
        let writer = Thread {
            var sent = 0
            while sent < flood.count {
                let n = flood[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                sent += n
            }
        }
        writer.start()

        // Meanwhile another client of the same node is served as usual.
        Thread.sleep(forTimeInterval: 1)
        let during = try medianGet(other)
        Thread.sleep(forTimeInterval: 2)
        let growth = rss(pid) - rssBefore

        // Disconnected by the output limit: reading the socket reaches its end (after the
        // replies sent before the limit). Bounded by the receive timeout and a byte budget.
        var disconnected = false
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var read = 0
        while read < 512 << 20 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { disconnected = true }
            if n <= 0 { break }
            read += n
        }
        #expect(growth < 64 << 20 || disconnected, "RSS grew by \(growth >> 20) MiB and the client stayed connected")
        #expect(during <= before * 4 + 0.02, "a GET took \(during * 1000) ms during the flood, \(before * 1000) ms before")
        // The node is still well: the small key reads back.
        #expect(try other.send([bytes("GET"), bytes("small")]).text == "x")
    }

    // A client that pipelines far more than max_requests_in_flight and reads everything gets
    // every reply, in order: waiting requests are not lost.
    @Test func deepPipelinesBeyondTheInFlightLimitGetEveryReplyInOrder() throws {
        let port = 12184
        let cluster = try LocalCluster(name: "inflight", ports: [port, 12185, 12186], extraArgs: ["--set", "max_requests_in_flight=4"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        #expect(cluster.eventually(port, ["SET", "warm", "1"]) != nil)
        let c = try cluster.connection(port)
        let replies = try c.pipeline((0..<2_000).map { [bytes("SET"), bytes("k\($0 % 50)"), bytes("v\($0)")] } + [[bytes("PING")]]
                                     + (0..<50).map { [bytes("GET"), bytes("k\($0)")] })
        #expect(replies.count == 2_051)
        #expect(replies.prefix(2_000).allSatisfy { $0 == .simpleString("OK") })
        #expect(replies[2_000] == .simpleString("PONG"))
        for k in 0..<50 { #expect(replies[2_001 + k].text == "v\(1_950 + k)") }
    }
}
