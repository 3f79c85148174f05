import MyStoreClient
import ShardRouter
import Testing

@Suite("Cluster client: routing, redirects, retries, exactly-once")
struct ClusterClientTests {
    /// Short timeouts and backoff so failure paths finish quickly.
    static func settings(attempts: Int = 6, budget: Duration = .seconds(5)) -> ClusterSettings {
        ClusterSettings(
            connection: ConnectionSettings(timeout: .milliseconds(500)),
            retry: RetryPolicy(maxAttempts: attempts, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(50), budget: budget),
            clientID: 42
        )
    }

    /// Redis 7 writes `-MOVED slot host:port` with an IPv6 host bare and a name as is.
    @Test func parsesRedirectsToNamesAndIPv6() throws {
        #expect(Redirect(errorMessage: "MOVED 3999 ::1:7002") == .moved(Slot(rawValue: 3999)!, NodeAddress(host: "::1", port: 7002)!))
        #expect(Redirect(errorMessage: "ASK 12 [::1]:7002") == .ask(Slot(rawValue: 12)!, NodeAddress(host: "::1", port: 7002)!))
        #expect(Redirect(errorMessage: "MOVED 0 node-a:12341") == .moved(Slot(rawValue: 0)!, NodeAddress(host: "node-a", port: 12341)!))
        #expect(Redirect(errorMessage: "MOVED 0 ::1") == nil)
        #expect(Redirect(errorMessage: "MOVED 16384 node-a:1") == nil)
    }

    @Test func routesEachKeyToTheNodeServingItsSlot() throws {
        let low = try FakeRESPServer { command, _ in .reply(Wire.bulk("low:" + command[1])) }
        let high = try FakeRESPServer { command, _ in .reply(Wire.bulk("high:" + command[1])) }
        defer { low.stop(); high.stop() }
        let map = Wire.clusterSlots([(0, 8191, low.node), (8192, 16383, high.node)])
        let seed = try FakeRESPServer { _, _ in .reply(map) }
        defer { seed.stop() }

        let client = try ClusterClient(seeds: [seed.node], settings: Self.settings())
        let lowKey = key(inSlots: 0...8191), highKey = key(inSlots: 8192...16383)
        #expect(try client.get(Array(lowKey.utf8)) == Array("low:\(lowKey)".utf8))
        #expect(try client.get(Array(highKey.utf8)) == Array("high:\(highKey)".utf8))
        #expect(seed.commands == [["CLUSTER", "SLOTS"]])  // fetched once, then cached
        #expect(low.commands == [["GET", lowKey]])
        #expect(high.commands == [["GET", highKey]])
    }

    @Test func followsMovedAndRefreshesTheMap() throws {
        let movingKey = key(inSlots: 0...16383)
        let slot = Slot(forKey: movingKey).rawValue
        // The new owner answers, and reports the up-to-date map (itself) once asked.
        let newAddress = SharedValue(NodeAddress(host: "127.0.0.1", port: 1)!)
        let newOwner = try FakeRESPServer { command, _ in
            command[0] == "CLUSTER" ? .reply(Wire.clusterSlots([(0, 16383, newAddress.value)])) : .reply(Wire.bulk("from-new"))
        }
        defer { newOwner.stop() }
        newAddress.value = newOwner.node
        let newNode = newOwner.node
        // The old owner redirects; the seed's map is stale and still names the old owner.
        let old = try FakeRESPServer { _, _ in .reply("-MOVED \(slot) \(newNode)\r\n") }
        defer { old.stop() }
        let oldMap = Wire.clusterSlots([(0, 16383, old.node)])
        let seed = try FakeRESPServer { _, _ in .reply(oldMap) }
        defer { seed.stop() }

        let client = try ClusterClient(seeds: [seed.node], settings: Self.settings())
        #expect(try client.get(Array(movingKey.utf8)) == Array("from-new".utf8))
        #expect(old.commands == [["GET", movingKey]])
        // The MOVED marked the map stale; the refresh asked the redirect's target first.
        #expect(newOwner.commands == [["CLUSTER", "SLOTS"], ["GET", movingKey]])
        #expect(client.slotMap?.owner(of: Slot(forKey: movingKey)) == newNode)
        // The next request for that slot goes straight to the new owner.
        #expect(try client.get(Array(movingKey.utf8)) == Array("from-new".utf8))
        #expect(old.commands.count == 1)
        #expect(seed.commands == [["CLUSTER", "SLOTS"]])
    }

    @Test func followsAskOnceWithoutChangingTheMap() throws {
        let importing = try FakeRESPServer { command, _ in .reply(command[0] == "ASKING" ? Wire.ok : Wire.bulk("imported")) }
        defer { importing.stop() }
        let importingNode = importing.node
        let askedKey = key(inSlots: 0...16383)
        let slot = Slot(forKey: askedKey).rawValue
        let owner = try FakeRESPServer { command, _ in .reply("-ASK \(slot) \(importingNode)\r\n") }
        defer { owner.stop() }
        let ownerNode = owner.node
        let seed = try FakeRESPServer { _, _ in .reply(Wire.clusterSlots([(0, 16383, ownerNode)])) }
        defer { seed.stop() }

        let client = try ClusterClient(seeds: [seed.node], settings: Self.settings())
        #expect(try client.get(Array(askedKey.utf8)) == Array("imported".utf8))
        #expect(importing.commands == [["ASKING"], ["GET", askedKey]])
        #expect(client.slotMap?.owner(of: Slot(rawValue: slot)!) == ownerNode)
    }

    @Test func fallsBackToAnyNodeWhenTheClusterHasNoSlotMap() throws {
        let node = try FakeRESPServer { command, _ in
            command[0] == "CLUSTER" ? .reply("-ERR unknown command 'CLUSTER'\r\n") : .reply(Wire.bulk("v"))
        }
        defer { node.stop() }
        let deadPort = try FakeRESPServer.closedPort()
        let dead = try #require(NodeAddress(host: "127.0.0.1", port: deadPort))
        let client = try ClusterClient(seeds: [dead, node.node], settings: Self.settings())
        #expect(try client.get(Array("k".utf8)) == Array("v".utf8))
        #expect(client.slotMap == nil)
    }

    @Test func writesCarryTheSessionAndARetryResendsTheSameSequence() throws {
        // The first write's connection drops before the reply, twice: the write may or may not
        // have been applied, so each retry must carry the same sequence for the server to dedupe.
        let node = try FakeRESPServer { command, connection in
            switch command[0] {
            case "CLUSTER": .reply("-ERR unknown command\r\n")
            case "MYSTORE.EXEC" where command[2] == "1" && connection < 2: .close
            case "GET": .reply(Wire.bulk("v2"))
            default: .reply(Wire.ok)
            }
        }
        defer { node.stop() }
        let client = try ClusterClient(seeds: [node.node], settings: Self.settings())
        #expect(client.clientID == 42)
        #expect(try client.set(Array("k".utf8), Array("v1".utf8)))
        #expect(try client.set(Array("k".utf8), Array("v2".utf8), expireMillis: 1500))
        #expect(try client.get(Array("k".utf8)) == Array("v2".utf8))

        let data = node.commands.filter { $0[0] != "CLUSTER" }
        #expect(node.connectionCount == 3)
        #expect(data == [
            ["MYSTORE.EXEC", "42", "1", "SET", "k", "v1"],
            ["MYSTORE.EXEC", "42", "1", "SET", "k", "v1"],
            ["MYSTORE.EXEC", "42", "1", "SET", "k", "v1"],
            ["MYSTORE.EXEC", "42", "2", "SET", "k", "v2", "PX", "1500"],
            ["GET", "k"],  // reads are sent plain
        ])
    }

    @Test func retriesTransientServerErrors() throws {
        let node = try FakeRESPServer { command, _ in
            .reply(command[0] == "CLUSTER" ? "*0\r\n" : "-TRYAGAIN slot is moving\r\n")
        }
        defer { node.stop() }
        let client = try ClusterClient(seeds: [node.node], settings: Self.settings(attempts: 3))
        let error = #expect(throws: ClientError.self) { _ = try client.incr(Array("n".utf8), by: 2) }
        guard case .retriesExhausted(let attempts, _, let last) = error else {
            Issue.record("expected retriesExhausted, got \(String(describing: error))")
            return
        }
        #expect(attempts == 3)
        #expect(last == .serverError(node.node, message: "TRYAGAIN slot is moving"))
        // Every try re-sent the same write.
        #expect(Set(node.commands.filter { $0[0] != "CLUSTER" }) == [["MYSTORE.EXEC", "42", "1", "INCRBY", "n", "2"]])
        #expect(node.commands.filter { $0[0] != "CLUSTER" }.count == 3)
    }

    @Test func anUncertainWriteIsRetriedUnderItsSessionAndNothingElseIs() throws {
        // The first try of the write ends with its outcome unknown; the retry carries the same
        // sequence (the server dedupes it) and gets the result.
        let tries = SharedValue(0)
        let node = try FakeRESPServer { command, _ in
            if command[0] == "CLUSTER" { return .reply("*0\r\n") }
            if command[0] == "MYSTORE.EXEC" {
                tries.value += 1
                return .reply(tries.value == 1 ? "-UNCERTAIN outcome unknown\r\n" : ":7\r\n")
            }
            return .reply("-UNCERTAIN outcome unknown\r\n")
        }
        defer { node.stop() }
        let client = try ClusterClient(seeds: [node.node], settings: Self.settings(attempts: 3))
        #expect(try client.incr(Array("n".utf8), by: 2) == 7)
        #expect(node.commands.filter { $0[0] != "CLUSTER" } == Array(repeating: ["MYSTORE.EXEC", "42", "1", "INCRBY", "n", "2"], count: 2))
        // Without a session a retry could apply the write twice: the reply is returned as is.
        let plain = try client.command([Array("INCR".utf8), Array("n".utf8)], on: node.node)
        #expect(plain == .error("UNCERTAIN outcome unknown"))
        #expect(node.commands.filter { $0[0] == "INCR" }.count == 1)
    }

    @Test func backoffStaysWithinTheTimeBudget() throws {
        let node = try FakeRESPServer { _, _ in .reply("-CLUSTERDOWN electing\r\n") }
        defer { node.stop() }
        var settings = Self.settings(attempts: 1000, budget: .milliseconds(300))
        settings.retry.maxBackoff = .milliseconds(40)
        let client = try ClusterClient(seeds: [node.node], settings: settings)
        let started = ContinuousClock.now
        #expect(throws: ClientError.self) { _ = try client.get(Array("k".utf8)) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(250))
        #expect(elapsed < .milliseconds(800))
    }

    @Test func typedHelpersShapeCommandsAndReadReplies() throws {
        let node = try FakeRESPServer { command, _ in
            let inner = command[0] == "MYSTORE.EXEC" ? Array(command.dropFirst(3)) : command
            switch inner[0] {
            case "CLUSTER": return .reply("*0\r\n")
            case "SET": return .reply(inner.contains("IFEQ") ? "$-1\r\n" : Wire.ok)
            case "DEL": return .reply(Wire.integer(inner.count - 1))
            case "INCRBY": return .reply(Wire.integer(10))
            case "MYSTORE.HISTORY":
                return .reply(Wire.array([Wire.array([Wire.integer(7), Wire.bulk("new")]), Wire.array([Wire.integer(3), "$-1\r\n"])]))
            case "MYSTORE.STATUS": return .reply(Wire.bulk("{\"node\":\"x\"}"))
            default: return .reply("-ERR unknown\r\n")
            }
        }
        defer { node.stop() }
        let client = try ClusterClient(seeds: [node.node], settings: Self.settings())
        #expect(try client.set(Array("k".utf8), Array("new".utf8), ifEqual: Array("old".utf8)) == false)
        #expect(node.commands.last == ["MYSTORE.EXEC", "42", "1", "SET", "k", "new", "IFEQ", "old"])
        #expect(try client.set(Array("k".utf8), Array("v".utf8), onlyIfAbsent: true))
        #expect(node.commands.last == ["MYSTORE.EXEC", "42", "2", "SET", "k", "v", "NX"])
        #expect(throws: ClientError.self) { _ = try client.set(Array("k".utf8), [], ifEqual: [], onlyIfAbsent: true) }

        // Keys in different slots are deleted one slot at a time, each its own write.
        let a = "{a}1", b = "{a}2", c = "{c}1"
        #expect(try client.delete([a, b, c].bytes) == 3)
        #expect(node.commands.suffix(2) == [["MYSTORE.EXEC", "42", "3", "DEL", a, b], ["MYSTORE.EXEC", "42", "4", "DEL", c]])

        #expect(try client.incr(Array("n".utf8), by: 10) == 10)
        let history = try client.history(Array("k".utf8), limit: 2)
        #expect(history.map(\.index) == [7, 3])
        #expect(history.map(\.value) == [Array("new".utf8), nil])
        #expect(node.commands.last == ["MYSTORE.HISTORY", "k", "2"])
        #expect(try client.status(node.node) == Array("{\"node\":\"x\"}".utf8))

        let error = #expect(throws: ClientError.self) { _ = try client.command(["BOGUS", "k"].bytes).errorMessage.map { throw ClientError.serverError(nil, message: $0) } }
        #expect(error == .serverError(nil, message: "ERR unknown"))
    }

    @Test func shardsComeFromClusterShardsOrGroupedSlots() throws {
        let a = NodeAddress(host: "10.0.0.1", port: 7001)!, b = NodeAddress(host: "10.0.0.2", port: 7002)!
        let node = try FakeRESPServer { command, _ in
            command[1] == "SHARDS"
                ? .reply("-ERR unknown subcommand\r\n")
                : .reply(Wire.clusterSlots([(0, 99, a), (100, 199, b), (200, 299, a)]))
        }
        defer { node.stop() }
        let client = try ClusterClient(seeds: [node.node], settings: Self.settings())
        let shards = try client.shards()
        #expect(shards.count == 2)
        #expect(shards[0].slotRanges == [SlotRange(0, 99)!, SlotRange(200, 299)!])
        #expect(shards[0].leader?.node == a)

        let reply = RESPReply.array([.array([
            .bulkString(Array("slots".utf8)), .array([.integer(0), .integer(5460)]),
            .bulkString(Array("nodes".utf8)), .array([.array([
                .bulkString(Array("id".utf8)), .bulkString(Array("abc".utf8)),
                .bulkString(Array("port".utf8)), .integer(7001),
                .bulkString(Array("ip".utf8)), .bulkString(Array("10.0.0.1".utf8)),
                .bulkString(Array("role".utf8)), .bulkString(Array("master".utf8)),
                .bulkString(Array("health".utf8)), .bulkString(Array("online".utf8)),
            ])]),
        ])])
        let parsed = try ClusterShard.parse(clusterShards: reply)
        #expect(parsed == [ClusterShard(slotRanges: [SlotRange(0, 5460)!], replicas: [.init(node: a, role: "master", health: "online")])])
    }

    @Test func refusesAnEmptySeedList() {
        #expect(throws: ClientError.noEndpoints) { _ = try ClusterClient(seeds: []) }
    }
}
