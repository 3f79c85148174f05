import MyStoreClient
import ShardRouter
import Testing

@Suite("RESP connection over loopback")
struct RESPConnectionTests {
    @Test func sendsTheCommandAsRESPOnTheWire() throws {
        let server = try FakeRESPServer { _, _ in .reply(Wire.ok) }
        defer { server.stop() }
        let connection = try RESPConnection(to: server.node)
        #expect(try connection.send(["SET", "greeting", "héllo"].bytes) == .simpleString("OK"))
        #expect(server.bytes == Array("*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$6\r\nhéllo\r\n".utf8))
    }

    @Test func readsAReplySplitAcrossPackets() throws {
        let server = try FakeRESPServer { _, _ in
            .replyInPieces(["*2\r\n$5\r\nhel", "lo\r", "\n:7", "\r\n"])
        }
        defer { server.stop() }
        let connection = try RESPConnection(to: server.node)
        #expect(try connection.send(["GET", "k"].bytes) == .array([.bulkString(Array("hello".utf8)), .integer(7)]))
    }

    @Test func pipelineReturnsRepliesInOrder() throws {
        let server = try FakeRESPServer { command, _ in .reply(Wire.bulk(command.last ?? "")) }
        defer { server.stop() }
        let connection = try RESPConnection(to: server.node)
        let commands = (0..<50).map { ["ECHO", "m\($0)"].bytes }
        let replies = try connection.pipeline(commands)
        #expect(replies == (0..<50).map { .bulkString(Array("m\($0)".utf8)) })
        #expect(server.commands.count == 50)
    }

    @Test func connectionRefusedNamesTheEndpoint() throws {
        let port = try FakeRESPServer.closedPort()
        let node = try #require(NodeAddress(host: "127.0.0.1", port: port))
        #expect(throws: ClientError.connectionRefused(node)) { _ = try RESPConnection(to: node) }
        #expect(ClientError.connectionRefused(node).description == "connection refused to 127.0.0.1:\(port)")
    }

    @Test func readTimeoutClosesTheConnection() throws {
        let server = try FakeRESPServer { _, _ in .silent }
        defer { server.stop() }
        let connection = try RESPConnection(to: server.node, settings: ConnectionSettings(timeout: .milliseconds(200)))
        let started = ContinuousClock.now
        let error = #expect(throws: ClientError.self) { _ = try connection.send(["GET", "k"].bytes) }
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(error?.description == "timeout after 0.2 s waiting for a reply from \(server.node)")
        #expect(!connection.isOpen)
    }

    @Test func garbageIsAProtocolErrorAtItsByte() throws {
        let server = try FakeRESPServer { _, _ in .reply("+OK\r\n%7\r\n") }
        defer { server.stop() }
        let connection = try RESPConnection(to: server.node)
        let error = #expect(throws: ClientError.self) { _ = try connection.pipeline([["PING"].bytes, ["PING"].bytes]) }
        #expect(error == .protocolError(server.node, offset: 5, reason: "unknown reply type byte '%'"))
        #expect(error?.description.hasPrefix("protocol error at byte 5 from 127.0.0.1:") == true)
    }
}
