import NIOCore
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Server

/// The real listener on a loopback socket (port 0: the OS picks a free port). Each test stops
/// the listener and its event loops before returning.
@Suite("RESP listener over TCP")
struct RESPListenerTests {
    /// A blocking loopback client: sends `request`, reads until `expected` bytes arrived or
    /// the server closed the connection (2 s receive timeout).
    static func exchange(port: Int, request: [UInt8], expectedBytes: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        _ = send(fd, request, request.count, Int32(MSG_NOSIGNAL))
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while reply.count < expectedBytes {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            reply += chunk[0..<count]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    static func withListener(maxConnections: Int = 100, _ body: (Int) throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let identity = ServerIdentity(address: "127.0.0.1:0", clusterSize: 1, processID: getpid())
        let listener = try await RESPListener.start(host: "127.0.0.1", port: 0, identity: identity,
                                                    limits: RESPLimits(maxRequestBytes: 1024), maxConnections: maxConnections, group: group)
        do {
            guard let port = listener.port else { throw ListenerNotBound() }
            try body(port)
        } catch {
            try? await listener.channel.close()
            try? await group.shutdownGracefully()
            throw error
        }
        try await listener.channel.close()
        try await group.shutdownGracefully()
    }

    struct ListenerNotBound: Error {}

    @Test func pipelinedPingsOverTCP() async throws {
        try await Self.withListener { port in
            let request = Array("PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nQUIT\r\n".utf8)
            let reply = try Self.exchange(port: port, request: request, expectedBytes: 20)
            #expect(reply == "+PONG\r\n$2\r\nhi\r\n+OK\r\n")
        }
    }

    @Test func garbageClosesOnlyThatConnection() async throws {
        try await Self.withListener { port in
            var random = SeededGenerator(state: 7)
            for _ in 0..<20 {
                let garbage = (0..<3000).map { _ in UInt8.random(in: 0...255, using: &random) }
                _ = try Self.exchange(port: port, request: [UInt8(ascii: "*")] + garbage, expectedBytes: 1 << 20)
            }
            let reply = try Self.exchange(port: port, request: Array("PING\r\n".utf8), expectedBytes: 7)
            #expect(reply == "+PONG\r\n")
        }
    }

    @Test func connectionsOverTheLimitAreRefused() async throws {
        try await Self.withListener(maxConnections: 0) { port in
            let reply = try Self.exchange(port: port, request: Array("PING\r\n".utf8), expectedBytes: 1 << 20)
            #expect(reply.hasPrefix("-ERR max number of clients reached"))
        }
    }
}
