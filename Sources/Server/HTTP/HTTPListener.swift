import NIOCore
import NIOHTTP1
import NIOPosix

/// The node's HTTP endpoint (`/health`, `/status`, `/metrics`) on its host at the client port
/// plus `http_port_offset`.
struct HTTPListener {
    /// The bound server socket; closing it stops accepting connections.
    let channel: any Channel

    /// HTTP connections open at once; more are closed on accept. Scrapers and probes need few.
    static let maxConnections = 128
    /// A connection idle this long is closed (longer than Prometheus' default 1 min scrape interval).
    static let idleTimeout = TimeAmount.seconds(120)

    /// Binds `host:port` (port 0 picks a free one) and serves `routes` on `group`.
    static func start(host: String, port: Int, routes: HTTPRoutes, group: any EventLoopGroup) async throws -> HTTPListener {
        let connections = ConnectionCounter(limit: maxConnections)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let id = connections.open() else {
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.closed(id: id) }
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(HTTPHandler(routes: routes))
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPListener(channel: channel)
    }

    /// The port actually bound (useful when started on port 0).
    var port: Int? { channel.localAddress?.port }
}
