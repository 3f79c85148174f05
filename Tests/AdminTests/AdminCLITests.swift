import Foundation
import MyStoreClient
import ShardRouter
import Testing
@testable import Admin

@Suite("mystore CLI: arguments, tables, JSON")
struct AdminCLITests {
    @Test func parsesDataCommandsWithGlobalOptions() throws {
        let cas = try #require(try AdminCommand.parseAsRoot(
            ["cas", "k", "old", "new", "--endpoint", "127.0.0.1:7001", "--endpoint", "127.0.0.1:7002", "--json", "--timeout", "0.5"]
        ) as? CasCommand)
        #expect((cas.key, cas.expected, cas.new) == ("k", "old", "new"))
        #expect(cas.cluster.json && cas.cluster.timeout == 0.5)
        #expect(try cas.cluster.nodes() == [NodeAddress(host: "127.0.0.1", port: 7001)!, NodeAddress(host: "127.0.0.1", port: 7002)!])
        #expect(cas.cluster.settings().connection.readTimeout == .milliseconds(500))

        let get = try #require(try AdminCommand.parseAsRoot(["get", "k", "--history", "5"]) as? GetCommand)
        #expect(get.history == 5 && get.cluster.membership == "cluster.membership" && !get.cluster.json)

        let del = try #require(try AdminCommand.parseAsRoot(["del", "a", "b", "c"]) as? DelCommand)
        #expect(del.keys == ["a", "b", "c"])
        #expect(try AdminCommand.parseAsRoot(["put", "k", "v"]) is PutCommand)
        #expect(try AdminCommand.parseAsRoot(["status", "--json"]) is StatusCommand)
        #expect(try AdminCommand.parseAsRoot(["shards"]) is ShardsCommand)
        #expect(try AdminCommand.parseAsRoot(["members", "--membership", "x"]) is MembersCommand)
    }

    @Test func rejectsBadArguments() {
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["cas", "k", "old"]) }
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["get", "k", "--history", "0"]) }
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["del"]) }
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["put", "k", "v", "--timeout", "-1"]) }
        let bad = try? AdminCommand.parseAsRoot(["get", "k", "--endpoint", "nonsense"]) as? GetCommand
        #expect(throws: AdminError.self) { _ = try bad?.cluster.nodes() }
    }

    static let statusSample = """
        {"node":"127.0.0.1:7001","health":"ok","shards":[
          {"shard":1,"role":"leader","term":3,"applied":120,"commit":120,"leader":"127.0.0.1:7001"},
          {"shard":2,"role":"follower","term":4,"applied":80,"commit":81,"leader":"127.0.0.1:7002"},
          {"shard":0,"role":"leader","term":2,"applied":5,"commit":5,"leader":"127.0.0.1:7001"}]}
        """

    @Test func rendersTheStatusTable() throws {
        let status = try NodeStatus(json: Array(Self.statusSample.utf8))
        let rows = [
            StatusRow(node: "127.0.0.1:7001", status: status),
            StatusRow(node: "127.0.0.1:7002", downBecause: "connection refused to 127.0.0.1:7002"),
        ]
        #expect(StatusRow.table(rows) == """
            NODE            LEADS  REPLICAS  TERM  APPLIED  HEALTH
            127.0.0.1:7001  0,1    3         4     205      ok
            127.0.0.1:7002  -      -         -     -        down (connection refused to 127.0.0.1:7002)
            """)
        #expect(throws: AdminError.self) { _ = try NodeStatus(json: Array("{\"node\":1}".utf8)) }
    }

    @Test func statusJSONHasOneObjectPerNode() throws {
        let status = try NodeStatus(json: Array(Self.statusSample.utf8))
        let json = try Output.json([StatusRow(node: "127.0.0.1:7001", status: status), StatusRow(node: "n:1", downBecause: "timeout")])
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(decoded.count == 2)
        #expect(Set(decoded[0].keys) == ["node", "health", "shards_led", "replicas", "term", "applied", "shards"])
        #expect(decoded[0]["shards_led"] as? [Int] == [0, 1])
        #expect((decoded[0]["shards"] as? [[String: Any]])?.first?["commit"] as? Int == 120)
        #expect(decoded[1]["health"] as? String == "down" && decoded[1]["error"] as? String == "timeout")
    }

    @Test func rendersShardsAsTableAndJSON() throws {
        let a = NodeAddress(host: "10.0.0.1", port: 7001)!, b = NodeAddress(host: "10.0.0.2", port: 7002)!
        let rows = ShardsCommand.rows([
            ClusterShard(slotRanges: [SlotRange(0, 8191)!], replicas: [.init(node: a, role: "master"), .init(node: b, role: "replica")]),
            ClusterShard(slotRanges: [SlotRange(8192, 16000)!, SlotRange(16383, 16383)!], replicas: [.init(node: b, role: "master", health: "online")]),
        ])
        #expect(ShardsCommand.table(rows) == """
            SHARD  SLOTS             LEADER         REPLICAS
            0      0-8191            10.0.0.1:7001  10.0.0.2:7002
            1      8192-16000,16383  10.0.0.2:7002
            """)
        let json = try Output.json(rows)
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(decoded[1]["slots"] as? [String] == ["8192-16000", "16383"])
        #expect(decoded[1]["leader"] as? String == "10.0.0.2:7002")
        #expect((decoded[0]["replicas"] as? [[String: Any]])?.map { $0["role"] as? String } == ["master", "replica"])
    }

    @Test func dataCommandJSONShapes() throws {
        #expect(try Output.json(GetCommand.Value(key: "k", value: nil)).contains("\"value\" : null"))
        #expect(try Output.json(DelCommand.Result(deleted: 2)) == "{\n  \"deleted\" : 2\n}")
        #expect(try Output.json([GetCommand.HistoryEntry(index: 7, value: "v")]).contains("\"index\" : 7"))
        #expect(try Output.json(GetCommand.HistoryEntry(index: 3, value: nil)) == "{\n  \"index\" : 3,\n  \"value\" : null\n}")
    }
}
