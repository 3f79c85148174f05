import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The node's client-facing RESP server on its membership address.
struct RESPListener {
    /// The bound server socket; closing it stops accepting clients.
    let channel: any Channel
    /// The open client connections.
    let connections: ConnectionCounter

    /// Binds `host:port` (port 0 picks a free one) and starts serving clients on `group`.
    static func start(
        host: String,
        port: Int,
        identity: ServerIdentity,
        limits: RESPLimits,
        maxConnections: Int,
        group: any EventLoopGroup,
        router: CommandRouter? = nil
    ) async throws -> RESPListener {
        let connections = ConnectionCounter(limit: maxConnections)
        let startedAt = ContinuousClock.now
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let clientID = connections.open() else {
                        // Over the limit: tell the client why, then hang up.
                        ServerCounters.connectionsRejected.add(1, ordering: .relaxed)
                        Logs.clients.limited(Logs.limiter, key: "max-connections", .warning,
                                             "refused a client: max_connections (\(maxConnections)) reached",
                                             metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                        var buffer = channel.allocator.buffer(capacity: 64)
                        buffer.writeRESPValue(.error("ERR max number of clients reached (max_connections is \(maxConnections))"))
                        channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
                        return
                    }
                    Logs.clients.debug("accepted a client", metadata: ["client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")", "id": "\(clientID)"])
                    connections.track(channel, id: clientID)
                    ServerCounters.connectionsReceived.add(1, ordering: .relaxed)
                    ServerCounters.connectedClients.add(1, ordering: .relaxed)
                    channel.closeFuture.whenComplete { _ in
                        connections.closed(id: clientID)
                        ServerCounters.connectedClients.subtract(1, ordering: .relaxed)
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder(limits: limits)))
                    try channel.pipeline.syncOperations.addHandler(
                        RESPConnectionHandler(identity: identity, clientID: clientID, startedAt: startedAt, router: router, limits: limits)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return RESPListener(channel: channel, connections: connections)
    }

    /// The port actually bound (useful when started on port 0).
    var port: Int? { channel.localAddress?.port }
}

/// Open client connections, bounded, and the source of client ids.
final class ConnectionCounter: Sendable {
    private struct State {
        var open = 0
        var lastID: Int64 = 0
    }

    private let limit: Int
    private let state = NIOLockedValueBox(State())
    private let channels = NIOLockedValueBox<[Int64: any Channel]>([:])

    init(limit: Int) { self.limit = limit }

    /// Registers a new connection and returns its client id, or nil when at the limit.
    func open() -> Int64? {
        state.withLockedValue { state in
            guard state.open < limit else { return nil }
            state.open += 1
            state.lastID += 1
            return state.lastID
        }
    }

    /// Remembers an admitted connection's channel, for `quiesceAll`.
    func track(_ channel: any Channel, id: Int64) {
        channels.withLockedValue { $0[id] = channel }
    }

    /// Asks every open connection to finish the requests it has and close (a graceful stop):
    /// each gets `ChannelShouldQuiesceEvent`.
    func quiesceAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
    }

    /// Connections open now.
    var openCount: Int { state.withLockedValue { $0.open } }

    /// Unregisters a connection that `open()` admitted.
    func closed(id: Int64) {
        channels.withLockedValue { _ = $0.removeValue(forKey: id) }
        state.withLockedValue { $0.open -= 1 }
    }
}
