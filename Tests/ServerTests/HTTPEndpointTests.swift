import Foundation
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import Server

/// The HTTP endpoint over a real loopback socket (port 0). Each test closes its listener,
/// event loops and node before returning.
@Suite("HTTP endpoint")
struct HTTPEndpointTests {
    struct Response {
        var status: Int
        var headers: String
        var body: String
    }

    /// Sends `request` on a new connection and reads until the server closes it.
    static func send(_ request: String, port: Int) throws -> String {
        try RESPListenerTests.exchange(port: port, request: Array(request.utf8), expectedBytes: 1 << 20)
    }

    static func get(_ path: String, method: String = "GET", port: Int) throws -> Response {
        let raw = try send("\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", port: port)
        return try parse(raw)
    }

    static func parse(_ raw: String) throws -> Response {
        let split = try #require(raw.range(of: "\r\n\r\n"))
        let head = String(raw[..<split.lowerBound])
        let statusLine = try #require(head.split(separator: "\r\n").first)
        let status = try #require(Int(statusLine.split(separator: " ")[1]))
        return Response(status: status, headers: head, body: String(raw[split.upperBound...]))
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func withListener(_ routes: HTTPRoutes, _ body: (Int) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener: HTTPListener
        do {
            listener = try await HTTPListener.start(host: "127.0.0.1", port: 0, routes: routes, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        do {
            try await body(try #require(listener.port))
        } catch {
            try? await listener.channel.close()
            try? await group.shutdownGracefully()
            throw error
        }
        try await listener.channel.close()
        try await group.shutdownGracefully()
    }

    static let statusText = #"{"node":"127.0.0.1:7001","node_id":1,"health":"ok","meta":"leader","shards":[{"shard":0,"role":"leader","term":2,"applied":5,"commit":5,"last":5,"leader":"127.0.0.1:7001"}]}"#

    @Test func healthReasons() {
        #expect(NodeHealth.evaluate(hostRunning: true, shardsWithoutLeader: []).json == #"{"status":"ok"}"#)
        let down = NodeHealth.evaluate(hostRunning: false, shardsWithoutLeader: [3])
        #expect(down.problems == ["the Raft host is not running", "no known leader for shard 3"])
        let many = NodeHealth.evaluate(hostRunning: true, shardsWithoutLeader: Array(0..<13))
        #expect(many.problems == ["no known leader for shards 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 3 more"])
    }

    @Test func healthStatusNotFoundAndMethods() async throws {
        let healthy = NIOLockedValueBox(true)
        let routes = HTTPRoutes(
            health: { NodeHealth.evaluate(hostRunning: true, shardsWithoutLeader: healthy.withLockedValue { $0 } ? [] : [2]) },
            status: { Self.statusText },
            metrics: { Array("# nothing\n".utf8) }
        )
        try await Self.withListener(routes) { port in
            let ok = try Self.get("/health", port: port)
            #expect(ok.status == 200)
            #expect(ok.body == #"{"status":"ok"}"#)
            #expect(ok.headers.contains("Content-Length: 15"))

            healthy.withLockedValue { $0 = false }
            let down = try Self.get("/health?verbose=1", port: port)
            #expect(down.status == 503)
            #expect(try Self.json(down.body)["reason"] as? String == "no known leader for shard 2")

            let status = try Self.get("/status", port: port)
            #expect(status.status == 200)
            let shards = try #require(try Self.json(status.body)["shards"] as? [[String: Any]])
            #expect(shards.first?["role"] as? String == "leader")

            #expect(try Self.get("/nope", port: port).status == 404)
            let post = try Self.get("/metrics", method: "POST", port: port)
            #expect(post.status == 405)
            #expect(post.headers.contains("Allow: GET"))
            #expect(try Self.get("/health", method: "DELETE", port: port).status == 405)
        }
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let routes = HTTPRoutes(health: { NodeHealth(problems: []) }, status: { "{}" }, metrics: { [] })
        try await Self.withListener(routes) { port in
            let raw = try Self.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", port: port)
            #expect(raw.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
            #expect(raw.hasSuffix("{}"))
        }
    }

    @Test func garbageClosesOnlyThatConnection() async throws {
        let routes = HTTPRoutes(health: { NodeHealth(problems: []) }, status: { "{}" }, metrics: { [] })
        try await Self.withListener(routes) { port in
            var random = SeededGenerator(state: 11)
            for _ in 0..<10 {
                let garbage = (0..<2000).map { _ in UInt8.random(in: 0...255, using: &random) }
                let reply = try RESPListenerTests.exchange(port: port, request: garbage, expectedBytes: 1 << 20)
                #expect(reply.isEmpty || reply.hasPrefix("HTTP/1.1 400"))
            }
            let bad = try Self.send("GET /health HTTP/9.9 what\r\n\r\n", port: port)
            #expect(bad.isEmpty || bad.hasPrefix("HTTP/1.1 400"))
            #expect(try Self.get("/health", port: port).status == 200)
        }
    }

    @Test func metricsExposeEveryMetricName() async throws {
        let metrics = NodeMetrics()
        metrics.walSynced(seconds: 0.002, records: 3)
        metrics.proposed(shard: 4)
        metrics.requestTimer("GET").recordNanoseconds(150_000)
        metrics.requestTimer("NO-SUCH-COMMAND").recordNanoseconds(1_000)
        let samples = [NodeMetrics.ShardSample(shard: 4, isLeader: true, term: 7, commitIndex: 12, appliedIndex: 11)]
        var activity = HostActivity()
        activity.rounds = 5
        activity.readies = 9
        activity.batchesSent = 4
        activity.messagesReceived = 6
        activity.messagesSent[Int(Message.Kind.append.rawValue)] = 7
        activity.snapshotsWritten = 2
        activity.snapshotBytesWritten = 4_096
        let scraped = activity
        let routes = HTTPRoutes(health: { NodeHealth(problems: []) }, status: { "{}" },
                                metrics: { metrics.render(shards: samples, activity: scraped) })
        try await Self.withListener(routes) { port in
            let response = try Self.get("/metrics", port: port)
            #expect(response.status == 200)
            #expect(response.headers.contains("Content-Type: text/plain; version=0.0.4"))
            let text = response.body
            for name in ["mystore_shard_is_leader", "mystore_shard_term", "mystore_shard_commit_index", "mystore_shard_applied_index",
                         "mystore_proposals_total", "mystore_wal_fsyncs_total", "mystore_wal_records_total",
                         "mystore_wal_fsync_seconds_bucket", "mystore_request_seconds_bucket"] {
                #expect(text.contains(name), "missing \(name)")
            }
            #expect(text.contains(#"mystore_shard_term{shard="4"} 7"#))
            #expect(text.contains(#"mystore_shard_is_leader{shard="4"} 1"#))
            #expect(text.contains(#"mystore_proposals_total{shard="4"} 1"#))
            #expect(text.contains("mystore_wal_records_total 3"))
            #expect(text.contains(#"mystore_request_seconds_count{command="GET"} 1"#))
            #expect(text.contains(#"mystore_request_seconds_count{command="OTHER"} 1"#))
            #expect(!text.contains("NO-SUCH-COMMAND"))
            #expect(text.contains("mystore_raft_rounds_total 5"))
            #expect(text.contains("mystore_raft_readies_total 9"))
            #expect(text.contains("mystore_raft_batches_sent_total 4"))
            #expect(text.contains("mystore_raft_messages_received_total 6"))
            #expect(text.contains("mystore_snapshots_written_total 2"))
            #expect(text.contains("mystore_snapshot_state_bytes_written_total 4096"))
            #expect(text.contains(#"mystore_raft_messages_sent_total{kind="append"} 7"#))
            #expect(text.contains(#"mystore_raft_messages_sent_total{kind="appendResponse"} 0"#))
        }
        // A second scrape with the same activity does not count it twice.
        let again = String(decoding: metrics.render(shards: samples, activity: {
            var a = HostActivity()
            a.rounds = 5
            a.messagesSent[Int(Message.Kind.append.rawValue)] = 7
            return a
        }()), as: UTF8.self)
        #expect(again.contains("mystore_raft_rounds_total 5"))
        #expect(again.contains(#"mystore_raft_messages_sent_total{kind="append"} 7"#))
    }

    /// A one-node cluster's Raft host (no peer transport, so no ports besides HTTP): health turns
    /// 200 once its shards elect themselves, /status is MYSTORE.STATUS, a write shows in /metrics.
    @Test func servesARunningNode() async throws {
        let dir = try StartupPlanTests.temporaryDirectory(files: ["m": "127.0.0.1:7001\n"])
        defer { StartupPlanTests.cleanUp(dir) }
        let plan = try StartupPlan.make(selfAddress: "127.0.0.1:7001", membershipPath: dir + "/m", configPath: nil,
                                        dataDirectoryFlag: dir + "/data",
                                        overrides: ["replication_factor=1", "shard_count=2", "tick_interval_ms=5"], environment: [:])
        try LocalFiles.prepareDirectory(plan.dataDirectory, what: "data directory")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node: ClusterNode
        do {
            let identity = try NodeIdentity.establish(plan: plan, existing: nil, joined: nil)
            node = try ClusterNode(plan: plan, identity: identity, eventLoops: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let router = CommandRouter(node: node, config: plan.config, loop: group.next())
        let running = NIOLockedValueBox(true)
        let routes = HTTPRoutes.node(node, router: router, metrics: .shared, hostRunning: running)
        node.host.start()
        defer { node.host.stop() }
        do {
            try await Self.withListener(routes) { port in
                var health = try Self.get("/health", port: port)
                for _ in 0..<200 where health.status != 200 {
                    try await Task.sleep(for: .milliseconds(20))
                    health = try Self.get("/health", port: port)
                }
                #expect(health.status == 200)
                let status = try Self.get("/status", port: port)
                #expect(status.body == router.statusJSON())
                #expect((try Self.json(status.body)["shards"] as? [[String: Any]])?.count == 2)

                let done = NIOLockedValueBox<RESPValue?>(nil)
                var session = RouteSession()
                router.execute([Array("SET".utf8), Array("k".utf8), Array("v".utf8)], session: &session, hops: 0) { v in
                    done.withLockedValue { $0 = v }
                }
                for _ in 0..<200 where done.withLockedValue({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
                #expect(done.withLockedValue { $0 } != nil)
                let metrics = try Self.get("/metrics", port: port).body
                #expect(metrics.contains("mystore_proposals_total{shard="))
                #expect(metrics.contains(#"mystore_shard_is_leader{shard="0"} 1"#))
                #expect(metrics.contains("mystore_wal_fsyncs_total"))

                running.withLockedValue { $0 = false }
                let stopped = try Self.get("/health", port: port)
                #expect(stopped.status == 503)
                #expect(stopped.body.contains("the Raft host is not running"))
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
