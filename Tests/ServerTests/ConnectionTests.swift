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
        guard case .bulkString(let info) = Self.reply("INFO") else { Issue.record("expected bulk"); return }
        let text = String(buffer: info)
        #expect(text.hasPrefix("# Server\r\n"))
        #expect(text.contains("mystore_version:\(ServerIdentity.version)\r\n"))
        #expect(text.contains("node_address:127.0.0.1:7001\r\n"))
        #expect(text.contains("cluster_size:3\r\n"))
        #expect(Self.wire(Self.reply("HELLO", "3")).hasPrefix("-NOPROTO"))
        guard case .array(let fields) = Self.reply("HELLO", "2", "SETNAME", "me") else { Issue.record("expected array"); return }
        #expect(fields.count == 14)
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
