import NIOCore
import NIOEmbedded
import Testing
@testable import Server

@Suite("Connection: commands and the channel pipeline")
struct ConnectionTests {
    static let identity = ServerIdentity(address: "127.0.0.1:7001", clusterSize: 3, processID: 42)

    static func reply(_ parts: String...) -> RESPValue {
        var session = ClientSession(id: 7)
        return ConnectionCommands.reply(to: RESPCommand(parts: parts.map { ByteBuffer(string: $0) }),
                                        session: &session, identity: identity, uptimeSeconds: 5)
    }

    static func wire(_ value: RESPValue) -> String {
        var buffer = ByteBuffer()
        buffer.writeRESPValue(value)
        return String(buffer: buffer)
    }

    @Test func pingEchoSelect() {
        #expect(Self.wire(Self.reply("PING")) == "+PONG\r\n")
        #expect(Self.wire(Self.reply("ping", "hi")) == "$2\r\nhi\r\n")
        #expect(Self.wire(Self.reply("PING", "a", "b")) == "-ERR wrong number of arguments for 'ping' command\r\n")
        #expect(Self.wire(Self.reply("ECHO", "x y")) == "$3\r\nx y\r\n")
        #expect(Self.wire(Self.reply("SELECT", "0")) == "+OK\r\n")
        #expect(Self.wire(Self.reply("COMMAND", "COUNT")) == ":\(CommandTable.commands.count)\r\n")
        #expect(Self.wire(Self.reply("CLIENT", "ID")) == ":7\r\n")
    }

    @Test func unknownCommandUsesRedisWording() {
        #expect(Self.wire(Self.reply("GET", "foo")) == "-ERR unknown command 'GET', with args beginning with: 'foo' \r\n")
        #expect(Self.wire(Self.reply("nope")) == "-ERR unknown command 'nope', with args beginning with: \r\n")
        let long = String(repeating: "a", count: 300)
        guard case .error(let message) = Self.reply("X", long, "b") else { Issue.record("expected an error"); return }
        #expect(message.utf8.count < 300)
    }

    @Test func infoAndHello() {
        guard case .verbatim(let text) = Self.reply("INFO") else { Issue.record("expected verbatim text"); return }
        #expect(text.hasPrefix("# Server\r\n"))
        #expect(text.contains("mystore_version:\(ServerIdentity.version)\r\n"))
        #expect(text.contains("node_address:127.0.0.1:7001\r\n"))
        #expect(text.contains("cluster_size:3\r\n"))
        // Redis's sections and field names, in Redis's order.
        let headers = text.split(separator: "\r\n").filter { $0.hasPrefix("# ") }
        #expect(headers == ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# Cpu", "# Cluster", "# Keyspace"])
        for field in ["redis_version:7.2.0", "redis_mode:cluster", "connected_clients:", "used_memory:", "role:master", "used_cpu_sys:", "cluster_enabled:1"] {
            #expect(text.contains("\r\n" + field), "\(field)")
        }
        guard case .verbatim(let cluster) = Self.reply("INFO", "cluster") else { Issue.record("expected verbatim text"); return }
        #expect(cluster == "# Cluster\r\ncluster_enabled:1\r\n")
        guard case .verbatim(let none) = Self.reply("INFO", "nosuchsection") else { Issue.record("expected verbatim text"); return }
        #expect(none.isEmpty)
        #expect(Self.wire(Self.reply("HELLO", "4")) == "-NOPROTO unsupported protocol version\r\n")
        guard case .map(let fields) = Self.reply("HELLO", "2", "SETNAME", "me") else { Issue.record("expected a map"); return }
        #expect(fields.count == 14 && fields[5] == .integer(2))
    }

    @Test func clientNames() {
        var session = ClientSession(id: 1)
        let set = RESPCommand(parts: ["CLIENT", "SETNAME", "worker"].map { ByteBuffer(string: $0) })
        #expect(ConnectionCommands.reply(to: set, session: &session, identity: Self.identity, uptimeSeconds: 0) == .ok)
        #expect(session.name == "worker")
        let get = RESPCommand(parts: ["client", "getname"].map { ByteBuffer(string: $0) })
        #expect(ConnectionCommands.reply(to: get, session: &session, identity: Self.identity, uptimeSeconds: 0) == .bulk("worker"))
    }

    static func pipeline() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder(limits: RESPLimits(maxRequestBytes: 64))))
        try channel.pipeline.syncOperations.addHandler(RESPConnectionHandler(identity: identity, clientID: 1, startedAt: .now))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()  // makes it active
        #expect(channel.isActive)
        return channel
    }

    static func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// HELLO 3 switches the connection to RESP3 from its own reply on (nulls, maps, sets,
    /// verbatim text); HELLO 2 switches back.
    @Test func helloThreeSpeaksRESP3() throws {
        let channel = try Self.pipeline()
        try channel.writeInbound(ByteBuffer(string: "HELLO 3\r\nPING\r\nINFO\r\nCLIENT GETNAME\r\nHELLO 2\r\nCLIENT GETNAME\r\nINFO\r\n"))
        let out = try Self.output(channel)
        #expect(out.hasPrefix("%7\r\n$6\r\nserver\r\n$7\r\nmystore\r\n"), "\(out.prefix(60))")
        #expect(out.contains("$5\r\nproto\r\n:3\r\n") && out.contains("$5\r\nproto\r\n:2\r\n"))
        #expect(out.contains("+PONG\r\n=") && out.contains("\r\ntxt:# Server\r\n"), "INFO is verbatim text in RESP3")
        #expect(out.contains("\r\n_\r\n*14\r\n"), "CLIENT GETNAME's null is `_` in RESP3, then HELLO 2 is a flat array")
        #expect(out.contains("\r\n$-1\r\n$") && out.hasSuffix("\r\n") && !out.hasSuffix("=") , "back in RESP2: `$-1` and a bulk INFO")
        _ = try channel.finish()
    }

    @Test func valuesInBothProtocols() {
        func wire(_ v: RESPValue, _ p: RESPProtocol) -> String {
            var b = ByteBuffer()
            b.writeRESPValue(v, protocol: p)
            return String(buffer: b)
        }
        let map = RESPValue.map([.bulk("a"), .integer(1)]), set = RESPValue.set([.simpleString("x")])
        #expect(wire(.null, .resp2) == "$-1\r\n" && wire(.null, .resp3) == "_\r\n")
        #expect(wire(map, .resp2) == "*2\r\n$1\r\na\r\n:1\r\n" && wire(map, .resp3) == "%1\r\n$1\r\na\r\n:1\r\n")
        #expect(wire(set, .resp2) == "*1\r\n+x\r\n" && wire(set, .resp3) == "~1\r\n+x\r\n")
        #expect(wire(.verbatim("hi"), .resp2) == "$2\r\nhi\r\n" && wire(.verbatim("hi"), .resp3) == "=6\r\ntxt:hi\r\n")
        #expect(wire(.array([.null, .map([])]), .resp3) == "*2\r\n_\r\n%0\r\n")
        // A forwarded reply (RESP2 bytes) reaches a RESP3 client with RESP3 nulls.
        let raw = RESPValue.raw(ByteBuffer(string: "*2\r\n$1\r\nv\r\n$-1\r\n"))
        #expect(wire(raw, .resp2) == "*2\r\n$1\r\nv\r\n$-1\r\n" && wire(raw, .resp3) == "*2\r\n$1\r\nv\r\n_\r\n")
    }

    /// A graceful stop's quiesce event: the connection answers what it received, reads
    /// nothing more and closes.
    @Test func quiesceFinishesThenCloses() throws {
        let channel = try Self.pipeline()
        try channel.writeInbound(ByteBuffer(string: "PING a\r\nPING b\r\n"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel) == "$1\r\na\r\n$1\r\nb\r\n")
        #expect(!channel.isActive)
    }

    @Test func pipelinedRepliesInOrder() throws {
        let channel = try Self.pipeline()
        try channel.writeInbound(ByteBuffer(string: "PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\na\r\nGET k\r\nPING b\r\n"))
        #expect(try Self.output(channel) == "+PONG\r\n$1\r\na\r\n-ERR unknown command 'GET', with args beginning with: 'k' \r\n$1\r\nb\r\n")
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test func protocolErrorRepliesThenCloses() throws {
        let channel = try Self.pipeline()
        _ = try? channel.writeInbound(ByteBuffer(string: "PING\r\n*1\r\n$x\r\nPING\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel) == "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
        #expect(!channel.isActive)
    }

    @Test func oversizedRequestRepliesThenCloses() throws {
        let channel = try Self.pipeline()
        _ = try? channel.writeInbound(ByteBuffer(string: "*2\r\n$3\r\nSET\r\n$100\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel) == "-ERR Protocol error: request exceeds max_request_bytes (64 bytes)\r\n")
        #expect(!channel.isActive)
    }

    @Test func quitRepliesAndDropsLaterRequests() throws {
        let channel = try Self.pipeline()
        _ = try? channel.writeInbound(ByteBuffer(string: "QUIT\r\nPING\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try Self.output(channel) == "+OK\r\n")
        #expect(!channel.isActive)
    }
}
